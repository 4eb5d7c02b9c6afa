package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// callers of the authorization table, in column order.
var authzCallers = []string{"operator", "site_admin", "admin_role", "member", "visitor", "none", "reader", "no_key", "other_site_admin"}

// Expected cells: ok means authorize let the caller through (whatever the
// handler then answers, never a 5xx); same means the route does not read
// bearer keys at all (every caller gets what a caller without a key gets).
const (
	cellOK   = 0
	cellSame = -1
)

// authzClasses are the rows of docs/roles.md, one expected status per
// caller of authzCallers.
var authzClasses = map[string][]int{
	"public":      {cellSame, cellSame, cellSame, cellSame, cellSame, cellSame, cellSame, cellSame, cellSame},
	"operator":    {cellOK, 403, 403, 403, 403, 403, 403, 401, 403},
	"reader":      {403, 403, 403, 403, 403, 403, cellOK, 401, 403},
	"site_admin":  {cellOK, cellOK, cellOK, 403, 403, 403, 403, 401, 404},
	"site_member": {cellOK, cellOK, cellOK, cellOK, 403, 403, 403, 401, 404},
	"self":        {403, 403, cellOK, cellOK, cellOK, cellOK, 403, 401, 403},
}

// authzRoutes classes every route of routes.go. A route missing here fails
// TestAuthorizationTable: whoever adds a route decides who may call it.
var authzRoutes = map[string]string{
	"GET /healthz":                                "public",
	"GET /readyz":                                 "public",
	"GET /metrics":                                "public",
	"GET /openapi.yaml":                           "public",
	"GET /.well-known/jwks.json":                  "public",
	"POST /v1/invitations/:code/accept":           "public",
	"POST /v1/credentials/:credential/challenge":  "public",
	"POST /v1/credentials/:credential/refresh":    "public",
	"GET /p/:pass":                                "public",
	"GET /invite/:code":                           "public",
	"GET /.well-known/apple-app-site-association": "public",
	"GET /.well-known/assetlinks.json":            "public",
	"GET /v1/passes/:pass/apple.pkpass":           "public",
	"GET /v1/passes/:pass/google":                 "public",
	"POST /wallet/v1/log":                         "public",
	"POST /wallet/v1/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier/:serialNumber":   "public",
	"DELETE /wallet/v1/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier/:serialNumber": "public",
	"GET /wallet/v1/devices/:deviceLibraryIdentifier/registrations/:passTypeIdentifier":                  "public",
	"GET /wallet/v1/passes/:passTypeIdentifier/:serialNumber":                                            "public",

	"GET /v1/reader/bundle":  "reader",
	"GET /v1/reader/stream":  "reader",
	"POST /v1/reader/events": "reader",
	"POST /v1/reader/redeem": "reader",

	"POST /v1/reader/commands/:command/ack":        "reader",
	"GET /v1/sites/:site/readers":                  "site_admin",
	"DELETE /v1/sites/:site/readers/:reader":       "site_admin",
	"POST /v1/sites/:site/doors/:door/unlock":      "site_admin",
	"POST /v1/sites/:site/doors/:door/rotate-keys": "site_admin",

	"POST /v1/sites": "operator",
	"GET /v1/sites":  "operator",

	"GET /v1/sites/:site":                                 "site_admin",
	"POST /v1/sites/:site/doors":                          "site_admin",
	"GET /v1/sites/:site/doors":                           "site_admin",
	"GET /v1/sites/:site/doors/:door":                     "site_admin",
	"PATCH /v1/sites/:site/doors/:door":                   "site_admin",
	"DELETE /v1/sites/:site/doors/:door":                  "site_admin",
	"POST /v1/sites/:site/doors/:door/readers":            "site_admin",
	"POST /v1/sites/:site/groups":                         "site_admin",
	"GET /v1/sites/:site/groups":                          "site_admin",
	"GET /v1/sites/:site/groups/:group":                   "site_admin",
	"PATCH /v1/sites/:site/groups/:group":                 "site_admin",
	"DELETE /v1/sites/:site/groups/:group":                "site_admin",
	"POST /v1/sites/:site/users":                          "site_admin",
	"GET /v1/sites/:site/users":                           "site_admin",
	"GET /v1/sites/:site/users/:user":                     "site_admin",
	"PATCH /v1/sites/:site/users/:user":                   "site_admin",
	"DELETE /v1/sites/:site/users/:user":                  "site_admin",
	"POST /v1/sites/:site/users/:user/api-keys":           "site_admin",
	"POST /v1/sites/:site/users/:user/cut-off":            "site_admin",
	"POST /v1/sites/:site/users/:user/cards":              "site_admin",
	"GET /v1/sites/:site/users/:user/cards":               "site_admin",
	"DELETE /v1/sites/:site/cards/:card":                  "site_admin",
	"POST /v1/sites/:site/cards/:card/lost":               "site_admin",
	"POST /v1/sites/:site/cards/:card/reassign":           "site_admin",
	"POST /v1/sites/:site/users/:user/mobile-credentials": "site_admin",
	"GET /v1/sites/:site/credentials":                     "site_admin",
	"POST /v1/sites/:site/credentials/:credential/revoke": "site_admin",
	"GET /v1/sites/:site/events":                          "site_admin",
	"PUT /v1/sites/:site/doors/:door/booking-schedule":    "site_admin",
	"GET /v1/sites/:site/doors/:door/booking-schedule":    "site_admin",
	"GET /v1/sites/:site/deliveries":                      "site_admin",
	"POST /v1/sites/:site/imports":                        "site_admin",
	"GET /v1/sites/:site/imports/:import":                 "site_admin",
	"GET /v1/sites/:site/imports/:import/events":          "site_admin",
	"GET /v1/sites/:site/deliveries/:delivery":            "site_admin",
	"POST /v1/sites/:site/doors/:door/pins":               "site_admin",
	"GET /v1/sites/:site/doors/:door/pins":                "site_admin",
	"POST /v1/sites/:site/doors/:door/pins/:pin/reveal":   "site_admin",
	"DELETE /v1/sites/:site/doors/:door/pins/:pin":        "site_admin",

	"POST /v1/sites/:site/webhooks":                                         "site_admin",
	"GET /v1/sites/:site/webhooks":                                          "site_admin",
	"GET /v1/sites/:site/webhooks/:webhook":                                 "site_admin",
	"PATCH /v1/sites/:site/webhooks/:webhook":                               "site_admin",
	"DELETE /v1/sites/:site/webhooks/:webhook":                              "site_admin",
	"POST /v1/sites/:site/webhooks/:webhook/rotate-secret":                  "site_admin",
	"GET /v1/sites/:site/webhooks/:webhook/deliveries":                      "site_admin",
	"POST /v1/sites/:site/webhooks/:webhook/deliveries/:delivery/redeliver": "site_admin",

	"GET /v1/sites/:site/doors/:door/availability":         "site_member",
	"POST /v1/sites/:site/doors/:door/bookings":            "site_member",
	"GET /v1/sites/:site/doors/:door/bookings":             "site_member",
	"DELETE /v1/sites/:site/doors/:door/bookings/:booking": "site_member",
	"POST /v1/sites/:site/visitor-passes":                  "site_member",
	"GET /v1/sites/:site/visitor-passes":                   "site_member",
	"GET /v1/sites/:site/visitor-passes/:pass":             "site_member",
	"DELETE /v1/sites/:site/visitor-passes/:pass":          "site_member",
	"GET /v1/sites/:site/visitor-passes/:pass/events":      "site_member",

	"GET /v1/me":                         "self",
	"GET /v1/me/credentials":             "self",
	"GET /v1/me/credentials/:credential": "self",
	"GET /v1/me/passes":                  "self",
	"GET /v1/me/passes/:pass":            "self",
	"GET /v1/me/pins":                    "self",
	"GET /v1/me/bookings":                "self",
	"GET /v1/me/events":                  "self",
}

// roleKeys is a site with a key for every caller of authzCallers.
type roleKeys struct {
	f    fixture
	keys map[string]string
}

func (e *env) roleKeys() roleKeys {
	e.t.Helper()
	f := e.fixture("Maple Court")
	base := "/v1/sites/" + f.site
	group := func(name, role string, doors ...string) string {
		return e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": name, "role": role, "door_ids": doors}).str("id")
	}
	_, adminKey := e.memberOf(f, group("Admin", models.RoleAdmin, f.door), "Adele", "+33600000001")
	_, visitorKey := e.memberOf(f, group("Guests", models.RoleVisitor), "Victor", "+33600000002")
	_, noneKey := e.memberOf(f, group("No Access", models.RoleNone), "Nina", "+33600000003")
	other := e.fixture("Other Court")
	return roleKeys{f: f, keys: map[string]string{
		"operator": e.op, "site_admin": f.admin, "admin_role": adminKey, "member": f.member,
		"visitor": visitorKey, "none": noneKey, "reader": f.reader, "no_key": "", "other_site_admin": other.admin,
	}}
}

// TestAuthorizationTable calls every route of the router as every kind of
// caller and checks what authorize (authz.go) answers: the table of
// docs/roles.md, enforced.
func TestAuthorizationTable(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		e := newEnv(t, st)
		rk := e.roleKeys()
		routes := unchecked(e.handler).(*gin.Engine).Routes()
		seen := map[string]bool{}
		for _, r := range routes {
			op := r.Method + " " + r.Path
			seen[op] = true
			class, listed := authzRoutes[op]
			if strings.HasPrefix(r.Path, "/console") {
				// Console pages read a session cookie, never a bearer
				// key: every key gets what no key gets (their own
				// role × page table is TestConsoleAuthorization).
				class, listed = "public", true
			}
			if !listed {
				t.Errorf("%s has no row in authzRoutes: say who may call it (and in docs/roles.md)", op)
				continue
			}
			path := strings.ReplaceAll(r.Path, ":site", rk.f.site)
			path = strings.NewReplacer(":door", "door_x", ":group", "grp_x", ":user", "usr_x", ":card", "cred_x",
				":credential", "cred_x", ":delivery", "dlv_x", ":pin", "pin_x", ":pass", "pass_x", ":booking", "bkg_x",
				":code", "code_x", ":reader", "rdr_x", ":command", "cmd_x", ":deviceLibraryIdentifier", "dev", ":passTypeIdentifier", "pass.type", ":serialNumber", "serial").Replace(path)
			var first int
			for i, who := range authzCallers {
				status, detail := e.authzCall(r.Method, path, rk.keys[who])
				if i == 0 {
					first = status
				}
				want := authzClasses[class][i]
				cell := fmt.Sprintf("%s %s as %s", r.Method, r.Path, who)
				switch {
				case status >= 500 && want != cellSame:
					t.Errorf("%s = %d: %s", cell, status, detail)
				case want == cellSame:
					if status != first {
						t.Errorf("%s = %d, want %d as for every caller (the route reads no bearer key)", cell, status, first)
					}
				case want == cellOK:
					if denied(status, detail) {
						t.Errorf("%s = %d (%s), want to be let through", cell, status, detail)
					}
				case status != want || !denied(status, detail):
					t.Errorf("%s = %d (%s), want %d from authorize", cell, status, detail, want)
				}
			}
		}
		for op := range authzRoutes {
			if !seen[op] {
				t.Errorf("authzRoutes lists %s, which the router does not serve", op)
			}
		}
	})
}

// denied reports whether a response is authorize's refusal rather than the
// handler's answer: 401, authorize's 403, or the 404 of another site.
func denied(status int, detail string) bool {
	switch status {
	case 401:
		return true
	case 403:
		return strings.HasPrefix(detail, "this endpoint is not open to")
	case 404:
		return detail == "site not found"
	}
	return false
}

// authzCall sends one request (an empty JSON object as body for writes)
// and returns its status and problem detail. The reader stream is cut
// after a moment.
func (e *env) authzCall(method, path, key string) (int, string) {
	e.t.Helper()
	var body *strings.Reader
	if method == "POST" || method == "PUT" || method == "PATCH" {
		body = strings.NewReader("{}")
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, body)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	if strings.HasSuffix(path, "/stream") {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	r := resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	return r.status, r.str("detail")
}

// TestAuthorizationTableCoversClasses keeps the table's classes and
// columns in step.
func TestAuthorizationTableCoversClasses(t *testing.T) {
	var names []string
	for name, row := range authzClasses {
		names = append(names, name)
		if len(row) != len(authzCallers) {
			t.Errorf("class %s has %d cells, want %d", name, len(row), len(authzCallers))
		}
	}
	sort.Strings(names)
	for op, class := range authzRoutes {
		if _, ok := authzClasses[class]; !ok {
			t.Errorf("%s: unknown class %q (have %v)", op, class, names)
		}
	}
}
