package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/lintel/lintel/client"
)

// admin is an operator's API client whose every call is timed and whose
// failures are named by status and problem code.
type admin struct {
	c *client.ClientWithResponses
}

type slotKey struct{}

// codeSlot receives the problem code of a failed call (codeTransport).
type codeSlot struct{ code string }

// codeTransport reads the stable code of a problem answer into the
// request's slot, leaving the body for the generated client.
type codeTransport struct{ http.RoundTripper }

func (t codeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.RoundTripper.RoundTrip(req)
	slot, _ := req.Context().Value(slotKey{}).(*codeSlot)
	if err != nil || slot == nil || resp.StatusCode < 400 {
		return resp, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &p)
	slot.code = fmt.Sprintf("%d %s", resp.StatusCode, p.Code)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func newAdmin(url, key string, hc *http.Client) (*admin, error) {
	c, err := client.NewClientWithResponses(url, client.WithHTTPClient(&http.Client{Transport: codeTransport{hc.Transport}, Timeout: 60 * time.Second}),
		client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+key)
			return nil
		}))
	return &admin{c: c}, err
}

type response interface{ StatusCode() int }

// call runs one API call, expecting status want; the error names what
// went wrong as errCode does ("409 conflict", "timeout").
func call[R response](ctx context.Context, want int, f func(ctx context.Context) (R, error)) (R, time.Duration, error) {
	slot := &codeSlot{}
	start := time.Now()
	r, err := f(context.WithValue(ctx, slotKey{}, slot))
	d := time.Since(start)
	if err != nil {
		return r, d, apiError{errCode(err)}
	}
	if r.StatusCode() != want {
		code := strings.TrimSpace(slot.code)
		if code == "" {
			code = fmt.Sprint(r.StatusCode())
		}
		return r, d, apiError{code}
	}
	return r, d, nil
}

type apiError struct{ code string }

func (e apiError) Error() string { return "loadgen: server answered " + e.code }

func codeOf(err error) string {
	if e, ok := err.(apiError); ok {
		return e.code
	}
	return errCode(err)
}

// Site is what the seed made: ids the scenarios act on.
type Site struct {
	ID, Group string
	Doors     []string
	Users     []string // a sample of the users (their ids), for passes and PINs
	Cards     []string // a sample of the users' card credential ids
}

// seed makes a site as an operator would: doors, one group opening all of
// them, the users with a card each by a CSV import (the product's bulk
// path), then the readers provisioned door by door.
func (a *admin) seed(ctx context.Context, users, doors, sample int) (*Site, error) {
	site, _, err := call(ctx, 201, func(ctx context.Context) (*client.CreateSiteResponse, error) {
		return a.c.CreateSiteWithResponse(ctx, client.SiteRequest{Name: "Load", Timezone: "Europe/Paris"})
	})
	if err != nil {
		return nil, fmt.Errorf("create site: %w", err)
	}
	s := &Site{ID: site.JSON201.Id}
	for i := range doors {
		d, _, err := call(ctx, 201, func(ctx context.Context) (*client.CreateDoorResponse, error) {
			return a.c.CreateDoorWithResponse(ctx, s.ID, client.DoorRequest{Name: ptr(fmt.Sprintf("D%03d", i))})
		})
		if err != nil {
			return nil, fmt.Errorf("create door: %w", err)
		}
		s.Doors = append(s.Doors, d.JSON201.Id)
	}
	role := client.GroupRequestRoleMember
	g, _, err := call(ctx, 201, func(ctx context.Context) (*client.CreateGroupResponse, error) {
		return a.c.CreateGroupWithResponse(ctx, s.ID, client.GroupRequest{Name: ptr("All"), Role: &role, DoorIds: &s.Doors})
	})
	if err != nil {
		return nil, fmt.Errorf("create group: %w", err)
	}
	s.Group = g.JSON201.Id
	if err := a.importUsers(ctx, s.ID, users); err != nil {
		return nil, err
	}
	lim := min(sample, 200)
	us, _, err := call(ctx, 200, func(ctx context.Context) (*client.ListUsersResponse, error) {
		return a.c.ListUsersWithResponse(ctx, s.ID, &client.ListUsersParams{Limit: &lim})
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	for _, u := range us.JSON200.Items {
		s.Users = append(s.Users, u.Id)
	}
	kind, status := client.ListCredentialsParamsKindCard, client.ListCredentialsParamsStatusActive
	cs, _, err := call(ctx, 200, func(ctx context.Context) (*client.ListCredentialsResponse, error) {
		return a.c.ListCredentialsWithResponse(ctx, s.ID, &client.ListCredentialsParams{Limit: &lim, Kind: &kind, Status: &status})
	})
	if err != nil {
		return nil, fmt.Errorf("list cards: %w", err)
	}
	for _, c := range cs.JSON200.Items {
		s.Cards = append(s.Cards, c.Id)
	}
	return s, nil
}

// importUsers imports n users of the group "All", each with a card, and
// waits for the job.
func (a *admin) importUsers(ctx context.Context, site string, n int) error {
	var csv bytes.Buffer
	csv.WriteString("name,email,phone,group,card_number,card_kind,card_label\n")
	for i := range n {
		fmt.Fprintf(&csv, "U%06d,u%06d@load.example,,All,C%08d,card,\n", i, i, i)
	}
	im, _, err := call(ctx, 202, func(ctx context.Context) (*client.CreateImportResponse, error) {
		return a.c.CreateImportWithBodyWithResponse(ctx, site, nil, "text/csv", &csv)
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	for {
		got, _, err := call(ctx, 200, func(ctx context.Context) (*client.GetImportResponse, error) {
			return a.c.GetImportWithResponse(ctx, site, im.JSON202.Id)
		})
		if err != nil {
			return fmt.Errorf("import status: %w", err)
		}
		switch got.JSON200.Status {
		case client.Done:
			if got.JSON200.Failed > 0 {
				first := ""
				if e := got.JSON200.Errors; e != nil && len(*e) > 0 {
					first = fmt.Sprintf(" (line %d: %s %s)", (*e)[0].Line, (*e)[0].Field, (*e)[0].Message)
				}
				return fmt.Errorf("import: %d rows refused%s", got.JSON200.Failed, first)
			}
			return nil
		case client.Failed:
			return fmt.Errorf("import failed")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// provisioned is a reader as its provisioning answered.
type provisioned struct{ id, door, token string }

// provision registers n readers spread over the doors, a few at a time.
func (a *admin) provision(ctx context.Context, s *Site, n int) ([]provisioned, error) {
	out := make([]provisioned, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	var mu sync.Mutex
	for i := range n {
		g.Go(func() error {
			door := s.Doors[i%len(s.Doors)]
			r, _, err := call(ctx, 201, func(ctx context.Context) (*client.ProvisionReaderResponse, error) {
				return a.c.ProvisionReaderWithResponse(ctx, s.ID, door, client.ReaderProvision{Name: ptr(fmt.Sprintf("r%05d", i))})
			})
			if err != nil {
				return fmt.Errorf("provision reader: %w", err)
			}
			mu.Lock()
			out[i] = provisioned{r.JSON201.ReaderId, door, r.JSON201.Token}
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}

func ptr[T any](v T) *T { return &v }
