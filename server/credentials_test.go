package server_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/models/modelstest"
)

// phone is a device key with what the phone keeps.
type phone struct {
	key        *ecdsa.PrivateKey
	jwk        json.RawMessage
	credID     string
	credential string
	lastReq    time.Time // of challengeRequest: each one later than the last
}

func newPhone(t testing.TB) *phone {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	j, err := credential.DeviceJWK(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return &phone{key: k, jwk: j}
}

// challengeRequest is the body of a refresh-challenge request for credID,
// signed by the phone's device key at at.
func (p *phone) challengeRequest(t testing.TB, credID string, at time.Time) map[string]any {
	t.Helper()
	if !at.After(p.lastReq) {
		at = p.lastReq.Add(time.Millisecond)
	}
	p.lastReq = at.Truncate(time.Millisecond)
	sig, err := credential.SignChallengeRequest(p.key, rand.Reader, credID, at.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"timestamp": at.UTC().Format(time.RFC3339Nano), "signature": base64.RawURLEncoding.EncodeToString(sig)}
}

// enroll issues a mobile credential to the user and accepts it as p.
func (e *env) enroll(f fixture, p *phone) resp {
	e.t.Helper()
	iss := e.must(201, "POST", "/v1/sites/"+f.site+"/users/"+f.user+"/mobile-credentials", f.admin, map[string]any{"deliver_via": "none"})
	inv := iss.json()["invitation"].(map[string]any)
	if !strings.HasSuffix(inv["url"].(string), inv["code"].(string)) || len(inv["code"].(string)) < 26 {
		e.t.Fatalf("invitation: %s", iss.body)
	}
	acc := e.must(200, "POST", "/v1/invitations/"+inv["code"].(string)+"/accept", "", map[string]any{
		"device_public_key": p.jwk, "platform": "ios", "push_token": "tok-1",
	})
	p.credID, p.credential = acc.str("credential_id"), acc.str("credential")
	return acc
}

func TestMobileCredentialLifecycle(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		p := newPhone(t)
		acc := e.enroll(f, p)
		if acc.str("member_key") == "" || acc.str("expires_at") == "" {
			t.Fatalf("accept: %s", acc.body)
		}
		// The member key works for the member, not on admin endpoints.
		e.must(403, "GET", base+"/credentials", acc.str("member_key"), nil)
		r := e.must(200, "GET", base+"/credentials?kind=mobile&status=active", f.admin, nil)
		if items := r.json()["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != p.credID {
			t.Fatalf("list: %s", r.body)
		}

		// The token verifies with nothing but the JWKS over HTTP and jwx's
		// generic verification, and carries the claims of the contract.
		set, err := jwk.Fetch(t.Context(), e.serve()+"/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.ParseString(p.credential, jwt.WithKeySet(set, jwsRequireKid()), jwt.WithValidate(true),
			jwt.WithIssuer("https://lintel.test"), jwt.WithAcceptableSkew(time.Minute))
		if err != nil {
			t.Fatalf("jwx generic verification: %v", err)
		}
		claims := tok.PrivateClaims()
		if tok.Subject() != p.credID || claims["site"] != f.site || claims["uid"] != f.user || tok.JwtID() == "" {
			t.Fatalf("claims: sub=%s %v", tok.Subject(), claims)
		}
		if grp := claims["grp"].([]any); len(grp) != 1 || grp[0] != f.group {
			t.Fatalf("grp: %v", claims["grp"])
		}
		cnf := claims["cnf"].(map[string]any)["jwk"].(map[string]any)
		if cnf["crv"] != "P-256" || cnf["d"] != nil {
			t.Fatalf("cnf: %v", cnf)
		}
		if exp := tok.Expiration().Sub(tok.IssuedAt()); exp != 7*24*time.Hour {
			t.Fatalf("lifetime %s", exp)
		}

		// Refresh needs a fresh challenge signed by the device key.
		refresh := func(signer *ecdsa.PrivateKey, reuse string) (resp, string) {
			ch := reuse
			if ch == "" {
				ch = e.must(200, "POST", "/v1/credentials/"+p.credID+"/challenge", "", p.challengeRequest(t, p.credID, time.Now())).str("challenge")
			}
			raw, _ := base64.RawURLEncoding.DecodeString(ch)
			sig, err := credential.SignRefresh(signer, rand.Reader, raw, p.credID)
			if err != nil {
				t.Fatal(err)
			}
			return e.do("POST", "/v1/credentials/"+p.credID+"/refresh", "", map[string]any{
				"challenge": ch, "signature": base64.RawURLEncoding.EncodeToString(sig)}), ch
		}
		r, used := refresh(p.key, "")
		if r.status != 200 || r.str("credential") == "" || r.str("credential") == p.credential {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		if r, _ = refresh(p.key, used); r.status != 401 || r.str("code") != "challenge_invalid" {
			t.Fatalf("replayed challenge: %d %s", r.status, r.body)
		}
		other := newPhone(t)
		if r, _ = refresh(other.key, ""); r.status != 401 || r.str("code") != "bad_proof" {
			t.Fatalf("other device's signature: %d %s", r.status, r.body)
		}
		e.must(404, "POST", "/v1/credentials/cred_nope/challenge", "", p.challengeRequest(t, "cred_nope", time.Now()))

		// Revoked: no refresh, and the deny list says so.
		e.must(422, "POST", base+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": ""})
		r = e.must(200, "POST", base+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "phone stolen"})
		if r.str("status") != "revoked" || r.str("revoke_reason") != "phone stolen" {
			t.Fatalf("revoke: %s", r.body)
		}
		e.must(409, "POST", base+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "again"})
		if r, _ = refresh(p.key, ""); r.status != 409 || r.str("code") != "credential_revoked" {
			t.Fatalf("refresh revoked: %d %s", r.status, r.body)
		}
		b := e.bundle(f.reader, "")
		if len(b.Revoked) != 1 || b.Revoked[0].CredentialID != p.credID || b.Revoked[0].Until == nil {
			t.Fatalf("deny list: %+v", b.Revoked)
		}
		// The audit trail names the issue and the revocation.
		r = e.must(200, "GET", base+"/events?type=audit", f.admin, nil)
		if !strings.Contains(string(r.body), "credential.revoked") || !strings.Contains(string(r.body), "credential.issued") {
			t.Fatalf("audit: %s", r.body)
		}
	})
}

func jwsRequireKid() jws.WithKeySetSuboption { return jws.WithRequireKid(true) }

func TestInvitationRules(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		issue := func() string {
			r := e.must(201, "POST", "/v1/sites/"+f.site+"/users/"+f.user+"/mobile-credentials", f.admin, nil)
			return r.json()["invitation"].(map[string]any)["code"].(string)
		}
		p := newPhone(t)
		body := map[string]any{"device_public_key": p.jwk, "platform": "android"}

		// Exactly one of many concurrent accepts wins.
		code := issue()
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := e.do("POST", "/v1/invitations/"+code+"/accept", "", body); r.status == 200 {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if r.status != 404 {
					t.Errorf("concurrent accept: %d %s", r.status, r.body)
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d accepts won, want 1", wins)
		}

		// Bad device keys, each named.
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		x := base64.RawURLEncoding.EncodeToString(p384.PublicKey.X.FillBytes(make([]byte, 48)))
		y := base64.RawURLEncoding.EncodeToString(p384.PublicKey.Y.FillBytes(make([]byte, 48)))
		var pj map[string]any
		_ = json.Unmarshal(p.jwk, &pj)
		withD := map[string]any{"kty": "EC", "crv": "P-256", "x": pj["x"], "y": pj["y"], "d": "AAAA"}
		offCurve := map[string]any{"kty": "EC", "crv": "P-256", "x": pj["x"], "y": pj["x"]}
		code = issue()
		for name, key := range map[string]any{
			"P-384":     map[string]any{"kty": "EC", "crv": "P-384", "x": x, "y": y},
			"private d": withD,
			"off curve": offCurve,
			"RSA":       map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"},
			"missing":   nil,
		} {
			r := e.do("POST", "/v1/invitations/"+code+"/accept", "", map[string]any{"device_public_key": key, "platform": "ios"})
			if r.status != 422 || !strings.Contains(strings.Join(r.fields(), ","), "device_public_key") {
				t.Errorf("%s: %d %s", name, r.status, r.body)
			}
		}
		r := e.do("POST", "/v1/invitations/"+code+"/accept", "", map[string]any{"device_public_key": p.jwk, "platform": "windows"})
		if r.status != 422 || r.fields()[0] != "platform" {
			t.Fatalf("platform: %d %s", r.status, r.body)
		}
		// Failed attempts did not use the code up.
		e.must(200, "POST", "/v1/invitations/"+code+"/accept", "", body)
		e.must(404, "POST", "/v1/invitations/not-a-code/accept", "", body)
		e.must(422, "POST", "/v1/sites/"+f.site+"/users/"+f.user+"/mobile-credentials", f.admin, map[string]any{"deliver_via": "pigeon"})
		r = e.must(422, "POST", "/v1/sites/"+f.site+"/users/"+f.user+"/mobile-credentials", f.admin, map[string]any{"deliver_via": "sms"})
		if r.str("code") != "delivery_unavailable" {
			t.Fatalf("sms without provider: %s", r.body)
		}

		// Deactivating the user revokes everything and stops refreshes.
		e.must(200, "DELETE", "/v1/sites/"+f.site+"/users/"+f.user, f.admin, nil)
		list := e.must(200, "GET", "/v1/sites/"+f.site+"/credentials?user_id="+f.user, f.admin, nil)
		for _, it := range list.json()["items"].([]any) {
			if s := it.(map[string]any)["status"]; s != "revoked" {
				t.Fatalf("after deactivation a credential is %v", s)
			}
		}
		if b := e.bundle(f.reader, ""); len(b.Revoked) != 2 {
			t.Fatalf("deny list after deactivation: %+v", b.Revoked)
		}
	})
}

func TestCards(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		g := e.fixture("B")
		base := "/v1/sites/" + f.site
		bob := e.must(201, "POST", base+"/users", f.admin, map[string]any{"name": "Bob", "group_id": f.group}).str("id")

		c := e.must(201, "POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "04:a2-3b 9c", "label": "Primary fob", "kind": "fob"})
		if c.str("number") != "04A23B9C" || c.str("status") != "active" {
			t.Fatalf("card: %s", c.body)
		}
		card := c.str("id")
		// The same number elsewhere in the site is a conflict; in another site it is not.
		e.must(409, "POST", base+"/users/"+bob+"/cards", f.admin, map[string]any{"number": "04a23b9c"})
		e.must(201, "POST", "/v1/sites/"+g.site+"/users/"+g.user+"/cards", g.admin, map[string]any{"number": "04A23B9C"})
		for _, bad := range []map[string]any{{"number": ""}, {"number": "12_34"}, {"number": strings.Repeat("1", 33)}, {"number": "1", "kind": "mobile"}} {
			e.must(422, "POST", base+"/users/"+bob+"/cards", f.admin, bad)
		}
		e.must(404, "POST", base+"/users/"+g.user+"/cards", f.admin, map[string]any{"number": "55"})

		// The reader sees the card as a keyed hash, never the number.
		b := e.bundle(f.reader, "")
		key, _ := base64.RawURLEncoding.DecodeString(b.CardKey)
		if len(b.Cards) != 1 || b.Cards[0].Hash != bundle.CardHash(key, "04A23B9C") || b.Cards[0].UserID != f.user {
			t.Fatalf("bundle cards: %+v", b.Cards)
		}
		raw := e.must(200, "GET", "/v1/reader/bundle", f.reader, nil)
		if strings.Contains(string(raw.body), "04A23B9C") {
			t.Fatal("the card number is in the bundle in plaintext")
		}

		// Reassign: unassign from Ada, assign to Bob.
		e.must(200, "DELETE", base+"/cards/"+card, f.admin, nil)
		e.must(409, "DELETE", base+"/cards/"+card, f.admin, nil)
		c2 := e.must(201, "POST", base+"/users/"+bob+"/cards", f.admin, map[string]any{"number": "04A23B9C"}).str("id")
		if b := e.bundle(f.reader, ""); len(b.Cards) != 1 || b.Cards[0].UserID != bob {
			t.Fatalf("after reassign: %+v", b.Cards)
		}
		// Lost: never honored again, and the number stays taken.
		r := e.must(200, "POST", base+"/cards/"+c2+"/lost", f.admin, nil)
		if r.str("status") != "lost" {
			t.Fatalf("lost: %s", r.body)
		}
		b = e.bundle(f.reader, "")
		if len(b.Cards) != 0 || len(b.LostCards) != 1 || b.LostCards[0].CredentialID != c2 {
			t.Fatalf("after lost: cards %+v lost %+v", b.Cards, b.LostCards)
		}
		e.must(409, "POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "04A23B9C"})
		e.must(409, "POST", base+"/cards/"+c2+"/lost", f.admin, nil)
		e.must(404, "POST", base+"/cards/"+c2+"/lost", g.admin, nil)
		list := e.must(200, "GET", base+"/users/"+bob+"/cards", f.admin, nil)
		if len(list.json()["items"].([]any)) != 1 {
			t.Fatalf("bob's cards: %s", list.body)
		}
	})
}

// bundle fetches and decodes a reader's bundle (since: "" for full).
func (e *env) bundle(readerKey, since string) bundle.Bundle {
	e.t.Helper()
	path := "/v1/reader/bundle"
	if since != "" {
		path += "?since=" + since
	}
	r := e.must(200, "GET", path, readerKey, nil)
	var b bundle.Bundle
	if err := json.Unmarshal(r.body, &b); err != nil {
		e.t.Fatal(err)
	}
	return b
}

func TestBundleSync(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		full := e.must(200, "GET", "/v1/reader/bundle", f.reader, nil)
		tag := full.header.Get("ETag")
		var b bundle.Bundle
		_ = json.Unmarshal(full.body, &b)
		if !b.Full || b.Site.Timezone != "Europe/Paris" || len(b.Groups) != 1 || b.Groups[0].ID != f.group || len(b.Users) != 1 || len(b.Keys) == 0 {
			t.Fatalf("full bundle: %s", full.body)
		}
		if _, err := credential.ParseJWKS(b.Keys); err != nil {
			t.Fatalf("bundle keys: %v", err)
		}
		// Unchanged: 304.
		req := httptest.NewRequest("GET", "/v1/reader/bundle", nil)
		req.Header.Set("Authorization", "Bearer "+f.reader)
		req.Header.Set("If-None-Match", tag)
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, req)
		if w.Code != 304 {
			t.Fatalf("If-None-Match: %d", w.Code)
		}
		// Only a revocation since: a delta.
		p := newPhone(t)
		e.enroll(f, p)
		v1 := e.bundle(f.reader, "").Version
		e.must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "lost"})
		d := e.bundle(f.reader, jsonNum(v1))
		if d.Full || d.Since != v1 || len(d.Revoked) != 1 || d.Revoked[0].CredentialID != p.credID || d.Version <= v1 {
			t.Fatalf("delta: %+v", d)
		}
		// A group change since: a delta too, carrying the door's groups whole.
		e.must(200, "PATCH", "/v1/sites/"+f.site+"/groups/"+f.group, f.admin, map[string]any{
			"schedule": map[string]any{"days": []string{"sat"}, "start": "10:00", "end": "12:00"}})
		if d := e.bundle(f.reader, jsonNum(v1)); d.Full || !d.Door || d.Groups[0].Schedule == nil || d.Groups[0].Schedule.Start != "10:00" {
			t.Fatalf("after group change: %+v", d)
		}
		e.must(422, "GET", "/v1/reader/bundle?since=banana", f.reader, nil)
		e.must(422, "GET", "/v1/reader/bundle?since=999999", f.reader, nil)
		e.must(403, "GET", "/v1/reader/bundle", f.admin, nil)
		e.must(403, "GET", "/v1/sites/"+f.site+"/doors", f.reader, nil)
	})
}

func jsonNum(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestReaderEvents(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		g := e.fixture("B")
		now := time.Now().UTC()
		ev := func(id string, ago time.Duration, granted bool, reason string) map[string]any {
			return map[string]any{"event_id": id, "occurred_at": now.Add(-ago).Format(time.RFC3339Nano), "granted": granted,
				"reason": reason, "method": "ble", "user_id": f.user, "credential_id": "cred_x"}
		}
		batch := []any{ev("evt-0001", 3*time.Second, true, ""), ev("evt-0002", 2*time.Second, false, "revoked"), ev("evt-0002", 2*time.Second, false, "revoked")}
		r := e.must(200, "POST", "/v1/reader/events", f.reader, map[string]any{"events": batch})
		if r.json()["accepted"].(float64) != 2 {
			t.Fatalf("first upload: %s", r.body)
		}
		r = e.must(200, "POST", "/v1/reader/events", f.reader, map[string]any{"events": batch})
		if r.json()["accepted"].(float64) != 0 || r.json()["duplicates"].(float64) != 3 {
			t.Fatalf("re-upload: %s", r.body)
		}
		// The same event id from another site's reader is its own event.
		e.must(200, "POST", "/v1/reader/events", g.reader, map[string]any{"events": batch[:1]})

		bad := []struct {
			name  string
			ev    map[string]any
			field string
		}{
			{"short id", ev("x", 0, true, ""), "events[0].event_id"},
			{"bad reason", ev("evt-0009", 0, false, "because"), "events[0].reason"},
			{"bad method", map[string]any{"event_id": "evt-00010", "occurred_at": now.Format(time.RFC3339), "granted": true, "method": "telepathy"}, "events[0].method"},
			{"no time", map[string]any{"event_id": "evt-00011", "granted": true, "method": "pin"}, "events[0].occurred_at"},
		}
		for _, tt := range bad {
			r := e.do("POST", "/v1/reader/events", f.reader, map[string]any{"events": []any{tt.ev}})
			if r.status != 422 || !strings.Contains(strings.Join(r.fields(), ","), tt.field) {
				t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			}
		}
		many := make([]any, 1001)
		for i := range many {
			many[i] = ev("evt-big-"+jsonNum(int64(i)), 0, true, "")
		}
		e.must(422, "POST", "/v1/reader/events", f.reader, map[string]any{"events": many})

		r = e.must(200, "GET", "/v1/sites/"+f.site+"/events?type=access&door_id="+f.door, f.admin, nil)
		items := r.json()["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["event_id"] != "evt-0002" || items[0].(map[string]any)["reason"] != "revoked" {
			t.Fatalf("events newest first: %s", r.body)
		}
		e.must(422, "GET", "/v1/sites/"+f.site+"/events?since=yesterday", f.admin, nil)

		// A reader whose clock runs two days ahead keeps its event, marked.
		e.must(200, "POST", "/v1/reader/events", f.reader, map[string]any{"events": []any{ev("evt-skewed", -48*time.Hour, true, "")}})
		r = e.must(200, "GET", "/v1/sites/"+f.site+"/events?type=access", f.admin, nil)
		if !strings.Contains(string(r.body), "clock_skew") {
			t.Fatalf("skewed event: %s", r.body)
		}
	})
}

// readSSE returns a channel of (event, data) from a stream response.
func readSSE(t testing.TB, resp *http.Response) <-chan [2]string {
	out := make(chan [2]string, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev != "":
				out <- [2]string{ev, data}
				ev, data = "", ""
			}
		}
	}()
	return out
}

func openStream(t testing.TB, base, readerKey string) <-chan [2]string {
	t.Helper()
	ch, _ := openStreamWith(t, base, readerKey, nil)
	return ch
}

func waitEvent(t testing.TB, ch <-chan [2]string, event, contains string) time.Time {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream closed while waiting for %s", event)
			}
			if ev[0] == event && strings.Contains(ev[1], contains) {
				return time.Now()
			}
		case <-timeout:
			t.Fatalf("no %s event containing %q", event, contains)
		}
	}
}

func TestStreamDeliversRevocation(t *testing.T) {
	eachSiteURL(t, "A", func(t *testing.T, e *env, f fixture) {
		p := newPhone(t)
		e.enroll(f, p)
		base := e.serve() // closed after the stream's own cleanup closes it
		ch := openStream(t, base, f.reader)
		e.must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "lost"})
		waitEvent(t, ch, "revoked", p.credID)
		e.must(200, "PATCH", "/v1/sites/"+f.site+"/doors/"+f.door, f.admin, map[string]any{"name": "Main lobby"})
		waitEvent(t, ch, "bundle", `"kind":"access"`)
	})
}

// TestTwoInstancesOnPostgres: a revocation made through instance A reaches
// a reader streaming from instance B, through LISTEN/NOTIFY.
func TestTwoInstancesOnPostgres(t *testing.T) {
	dbURL := modelstest.PostgresSchemaURL(t)
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	a := newEnvURL(t, dbURL, kek)
	b := newEnvURL(t, dbURL, kek)
	f := a.fixture("A")
	p := newPhone(t)
	a.enroll(f, p)
	ch := openStream(t, b.serve(), f.reader)
	start := time.Now()
	a.must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "lost"})
	got := waitEvent(t, ch, "revoked", p.credID)
	t.Logf("revocation through A reached B's stream in %s", got.Sub(start))
	// B serves the same keys, so tokens issued by A verify against B's JWKS.
	var ks credential.KeySet
	r := b.must(200, "GET", "/.well-known/jwks.json", "", nil)
	ks, err := credential.ParseJWKS(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (credential.Verifier{Keys: ks, Issuer: "https://lintel.test"}).Verify(p.credential, time.Now()); err != nil {
		t.Fatalf("A's token against B's keys: %v", err)
	}
	_ = jwa.ES256
}

// A stranger who read the credential id off a tap hammers the challenge
// endpoint (unsigned, signed by another key, replaying the phone's own
// request) while the phone refreshes: every honest refresh succeeds.
func TestRefreshChallengeStranger(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		p := newPhone(t)
		e.enroll(f, p)
		path := "/v1/credentials/" + p.credID + "/challenge"
		stranger := newPhone(t)
		recorded := p.challengeRequest(t, p.credID, clk.Now())
		e.must(200, "POST", path, "", recorded)

		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"no body", nil, 400, "bad_request"},
			{"no signature", map[string]any{"timestamp": clk.Now().Format(time.RFC3339)}, 422, "validation_failed"},
			{"bad timestamp", map[string]any{"timestamp": "yesterday", "signature": recorded["signature"]}, 422, "validation_failed"},
			{"replayed request", recorded, 401, "stale_request"},
			{"another key", stranger.challengeRequest(t, p.credID, clk.Now().Add(time.Second)), 401, "bad_proof"},
			{"too old", (&phone{key: p.key}).challengeRequest(t, p.credID, clk.Now().Add(-2*time.Minute)), 401, "stale_request"},
			{"too new", (&phone{key: p.key}).challengeRequest(t, p.credID, clk.Now().Add(2*time.Minute)), 401, "stale_request"},
			{"another credential's request", p.challengeRequest(t, "cred_other", clk.Now().Add(3*time.Second)), 401, "bad_proof"},
		} {
			r := e.do("POST", path, "", tc.body)
			if r.status != tc.status || r.str("code") != tc.code {
				t.Errorf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
			}
		}
		e.must(404, "POST", "/v1/credentials/cred_nope/challenge", "", p.challengeRequest(t, "cred_nope", clk.Now()))

		stop := make(chan struct{})
		var wg sync.WaitGroup
		var displaced atomic.Int64
		hostile := []any{nil, recorded, stranger.challengeRequest(t, p.credID, clk.Now().Add(5*time.Second)),
			map[string]any{"timestamp": clk.Now().Format(time.RFC3339), "signature": strings.Repeat("A", 86)}}
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					if r := e.do("POST", path, "", hostile[(w+i)%len(hostile)]); r.status == 200 {
						displaced.Add(1)
					}
				}
			})
		}
		at := clk.Now().Add(10 * time.Second)
		for i := range 10 {
			at = at.Add(time.Millisecond)
			ch := e.must(200, "POST", path, "", p.challengeRequest(t, p.credID, at)).str("challenge")
			raw, _ := base64.RawURLEncoding.DecodeString(ch)
			sig, err := credential.SignRefresh(p.key, rand.Reader, raw, p.credID)
			if err != nil {
				t.Fatal(err)
			}
			r := e.do("POST", "/v1/credentials/"+p.credID+"/refresh", "", map[string]any{
				"challenge": ch, "signature": base64.RawURLEncoding.EncodeToString(sig)})
			if r.status != 200 || r.str("credential") == "" {
				t.Errorf("honest refresh %d: %d %s", i, r.status, r.body)
			}
		}
		close(stop)
		wg.Wait()
		if n := displaced.Load(); n != 0 {
			t.Fatalf("the stranger got %d challenges", n)
		}
	})
}
