package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/lintel/lintel/client"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

// TestClientWalkthrough drives the README walkthrough's API calls through
// the generated client against a real server on both databases: every
// answer must decode into the type the document promises.
func TestClientWalkthrough(t *testing.T) {
	modelstest.Each(t, walkthrough)
}

func walkthrough(t *testing.T, st *models.Store) {
	ctx := t.Context()
	b := server.NewBroker()
	st.OnChange(b.Publish)
	_, h, err := server.New(server.Deps{Store: st, Broker: b, Config: server.Config{PublicURL: "https://lintel.test"}})
	if err != nil {
		t.Fatal(err)
	}
	opKey, err := st.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	op := newClient(t, srv.URL, opKey)

	site := want(t, 201, call(op.CreateSiteWithResponse(ctx, client.SiteRequest{Name: "Maple Court", Timezone: "America/New_York"}))).JSON201
	if site.Timezone != "America/New_York" {
		t.Errorf("site %+v", site)
	}
	s := site.Id
	door := want(t, 201, call(op.CreateDoorWithResponse(ctx, s, client.DoorRequest{Name: ptr("Lobby")}))).JSON201
	rd := want(t, 201, call(op.ProvisionReaderWithResponse(ctx, s, door.Id, client.ReaderProvision{Name: ptr("lobby-pi")}))).JSON201
	if rd.DoorId != door.Id || rd.Token == "" {
		t.Errorf("reader %+v", rd)
	}
	role := client.GroupRequestRoleMember
	group := want(t, 201, call(op.CreateGroupWithResponse(ctx, s, client.GroupRequest{
		Name: ptr("Residents"), Role: &role, DoorIds: &[]string{door.Id},
		Schedule:      &client.Schedule{Days: []client.ScheduleDays{"mon", "tue", "wed", "thu", "fri"}, Start: "07:00", End: "22:00"},
		VisitorPasses: &client.VisitorPassPolicy{Enabled: true, Temporary: true, SingleUse: true},
	}))).JSON201
	if group.Schedule == nil || len(group.DoorIds) != 1 {
		t.Errorf("group %+v", group)
	}
	email := openapi_types.Email("ada@example.com")
	user := want(t, 201, call(op.CreateUserWithResponse(ctx, s, client.UserRequest{
		Name: ptr("Ada Lovelace"), Email: &email, Phone: ptr("+1 415 555 0123"), GroupId: &group.Id,
	}))).JSON201
	if user.Phone != "+14155550123" {
		t.Errorf("phone not normalized: %q", user.Phone)
	}
	found := want(t, 200, call(op.ListUsersWithResponse(ctx, s, &client.ListUsersParams{Q: ptr("lovelace")}))).JSON200
	if len(found.Items) != 1 || found.Items[0].Id != user.Id {
		t.Errorf("search: %+v", found.Items)
	}
	bad := want(t, 422, call(op.CreateUserWithResponse(ctx, s, client.UserRequest{Name: ptr(""), Phone: ptr("0612")}))).ApplicationproblemJSONDefault
	if bad.Code != "validation_failed" || bad.Errors == nil || len(*bad.Errors) < 2 {
		t.Errorf("bad input: %+v", bad)
	}

	// Cards, a mobile credential, revocation.
	fob := client.CardAssignmentKindFob
	card := want(t, 201, call(op.AssignCardWithResponse(ctx, s, user.Id, client.CardAssignment{Number: "04:a2-3b 9c", Kind: &fob, Label: ptr("blue fob")}))).JSON201
	if card.Number == nil || *card.Number != "04A23B9C" {
		t.Errorf("card %+v", card)
	}
	mobile := want(t, 201, call(op.IssueMobileWithResponse(ctx, s, user.Id, client.MobileIssueRequest{}))).JSON201
	if mobile.Invitation.Code == "" || mobile.Status != "pending" {
		t.Errorf("mobile %+v", mobile)
	}
	jwks := want(t, 200, call(op.GetJWKSWithResponse(ctx)))
	if len(jwks.Body) == 0 {
		t.Error("empty key set")
	}
	revoked := want(t, 200, call(op.RevokeCredentialWithResponse(ctx, s, mobile.CredentialId, client.Revocation{Reason: "phone lost"}))).JSON200
	if revoked.Status != client.CredentialStatusRevoked || revoked.RevokedAt == nil {
		t.Errorf("revoked %+v", revoked)
	}
	lost := want(t, 200, call(op.MarkCardLostWithResponse(ctx, s, card.Id))).JSON200
	if lost.Status != client.CredentialStatusLost {
		t.Errorf("lost %+v", lost)
	}

	// Visitor passes: the admin's, then Ada's with her member key.
	now := time.Now().UTC().Truncate(time.Second)
	temp := want(t, 201, call(op.CreatePassWithResponse(ctx, s, passRequest("temporary", "Grace", door.Id, now, now.Add(48*time.Hour))))).JSON201
	if temp.Qr == nil || temp.Link == nil {
		t.Errorf("pass %+v", temp)
	}
	single := want(t, 201, call(op.CreatePassWithResponse(ctx, s, passRequest("single_use", "Courier", door.Id, now, now.Add(4*time.Hour))))).JSON201
	mkey := want(t, 201, call(op.CreateMemberKeyWithResponse(ctx, s, user.Id))).JSON201
	member := newClient(t, srv.URL, mkey.Key)
	want(t, 201, call(member.CreatePassWithResponse(ctx, s, passRequest("temporary", "Tom", door.Id, now, now.Add(3*time.Hour)))))
	refused := want(t, 403, call(member.CreatePassWithResponse(ctx, s, passRequest("recurring", "Tom", door.Id, now, now.Add(24*time.Hour))))).ApplicationproblemJSON403
	if refused.Code != "forbidden" {
		t.Errorf("member recurring pass: %+v", refused)
	}
	passes := want(t, 200, call(op.ListPassesWithResponse(ctx, s, &client.ListPassesParams{Type: ptr(client.ListPassesParamsTypeSingleUse)}))).JSON200
	if len(passes.Items) != 1 || passes.Items[0].Id != single.Id {
		t.Errorf("single-use passes: %+v", passes.Items)
	}

	// The reader syncs, and redeems the single-use pass exactly once.
	reader := newClient(t, srv.URL, rd.Token)
	bundle := want(t, 200, call(reader.ReaderBundleWithResponse(ctx, nil))).JSON200
	if !bundle.Full || bundle.Version == 0 {
		t.Errorf("bundle version %d full %v", bundle.Version, bundle.Full)
	}
	used := want(t, 200, call(reader.RedeemPassWithResponse(ctx, client.RedeemRequest{PassId: single.Id}))).JSON200
	if used.Status != "used" {
		t.Errorf("redeem %+v", used)
	}
	again := want(t, 409, call(reader.RedeemPassWithResponse(ctx, client.RedeemRequest{PassId: single.Id}))).ApplicationproblemJSON409
	if again.Code != "already_used" {
		t.Errorf("second redeem: %+v", again)
	}

	// PINs: an offline one for Ada, listed masked, revealed (audited), deleted.
	pin := want(t, 201, call(op.CreatePINWithResponse(ctx, s, door.Id, pinRequest(user.Id)))).JSON201
	if pin.Pin == nil || len(*pin.Pin) != 10 {
		t.Errorf("offline PIN %+v", pin)
	}
	pins := want(t, 200, call(op.ListPINsWithResponse(ctx, s, door.Id, nil))).JSON200
	if len(pins.Items) != 1 || pins.Items[0].Pin != nil {
		t.Errorf("PIN list not masked: %+v", pins.Items)
	}
	shown := want(t, 200, call(op.RevealPINWithResponse(ctx, s, door.Id, pin.Id))).JSON200
	if shown.Pin == nil || *shown.Pin != *pin.Pin {
		t.Errorf("revealed %+v", shown)
	}
	want(t, 200, call(op.DeletePINWithResponse(ctx, s, door.Id, pin.Id)))

	// The audit trail holds what the walkthrough did.
	audit := client.ListEventsParamsTypeAudit
	events := want(t, 200, call(op.ListEventsWithResponse(ctx, s, &client.ListEventsParams{Type: &audit, Limit: ptr(200)}))).JSON200
	actions := map[string]bool{}
	for _, e := range events.Items {
		actions[e.Action] = true
	}
	for _, a := range []string{"pin.revealed", "credential.revoked"} {
		if !actions[a] {
			t.Errorf("no %s audit event in %v", a, actions)
		}
	}
}

type response interface{ StatusCode() int }

type result[R response] struct {
	r   R
	err error
}

func call[R response](r R, err error) result[R] { return result[R]{r, err} }

// want fails the test unless the call answered status.
func want[R response](t *testing.T, status int, res result[R]) R {
	t.Helper()
	if res.err != nil {
		t.Fatalf("call: %v", res.err)
	}
	if got := res.r.StatusCode(); got != status {
		t.Fatalf("status %d, want %d: %+v", got, status, res.r)
	}
	return res.r
}

func newClient(t *testing.T, url, key string) *client.ClientWithResponses {
	t.Helper()
	c, err := client.NewClientWithResponses(url, client.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func passRequest(typ, visitor, door string, from, to time.Time) client.VisitorPassRequest {
	r := client.VisitorPassRequest{Type: client.VisitorPassRequestType(typ), DoorIds: []string{door}, StartsAt: &from, EndsAt: &to}
	r.Visitor.Name = visitor
	if typ == "recurring" {
		r.Schedule = &client.Schedule{Days: []client.ScheduleDays{"sat"}, Start: "10:00", End: "12:00"}
	}
	return r
}

func pinRequest(user string) client.PINRequest {
	r := client.PINRequest{Mode: client.PINRequestModeOffline, Type: client.PINRequestTypeOneTime}
	r.Assignee.UserId = &user
	return r
}

func ptr[T any](v T) *T { return &v }
