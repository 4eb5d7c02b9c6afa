package webhooks_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/webhooks"
)

// verify is the Standard Webhooks receiver's check, written from the spec
// and not from the sender: the signed content is id.timestamp.body, each
// space-separated "v1,<base64>" is a candidate, compared in constant
// time, and a timestamp more than tolerance away from now is refused.
func verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, h.Get("webhook-id")+"."+h.Get("webhook-timestamp")+".")
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func mustSecret(t *testing.T) (string, []byte) {
	t.Helper()
	s, k, err := webhooks.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s, k
}

// receiver is a TLS test server answering with the statuses in order (the
// last repeats) and counting the requests whose signature verifies.
type receiver struct {
	srv      *httptest.Server
	hits     atomic.Int32
	verified atomic.Int32
}

func newReceiver(t *testing.T, secret string, statuses ...int) *receiver {
	r := &receiver{}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.hits.Add(1)) - 1
		body, _ := io.ReadAll(req.Body)
		if verify(secret, req.Header, body, time.Now(), 5*time.Minute) {
			r.verified.Add(1)
		}
		w.WriteHeader(statuses[min(n, len(statuses)-1)])
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func sender(r *receiver, o webhooks.SenderOptions) *webhooks.Sender {
	o.TLS = r.srv.Client().Transport.(*http.Transport).TLSClientConfig
	return webhooks.NewSender(o)
}

// TestSignatureVerifiesIndependently: an independent receiver verifies
// every signature; after a rotation a receiver holding either secret
// verifies; a tampered body or a stale timestamp does not.
func TestSignatureVerifiesIndependently(t *testing.T) {
	oldS, oldK := mustSecret(t)
	newS, newK := mustSecret(t)
	body, err := webhooks.Body("access.granted", time.Unix(1_900_000_000, 0), map[string]string{"door_id": "door_1"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_900_000_000, 0)
	h := http.Header{}
	h.Set("webhook-id", "whd_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", webhooks.Sign([][]byte{newK, oldK}, "whd_1", now, body))
	cases := []struct {
		name   string
		secret string
		body   []byte
		at     time.Time
		want   bool
	}{
		{"new secret", newS, body, now, true},
		{"old secret in grace", oldS, body, now, true},
		{"other secret", func() string { s, _ := mustSecret(t); return s }(), body, now, false},
		{"tampered body", newS, append([]byte(nil), append(body[:len(body)-1:len(body)-1], ' ', '}')...), now, false},
		{"stale timestamp", newS, body, now.Add(6 * time.Minute), false},
		{"within tolerance", newS, body, now.Add(4 * time.Minute), true},
	}
	for _, tc := range cases {
		if got := verify(tc.secret, h, tc.body, tc.at, 5*time.Minute); got != tc.want {
			t.Errorf("%s: verified=%v, want %v", tc.name, got, tc.want)
		}
	}
	if n := len(strings.Fields(h.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures, want 2 during a rotation", n)
	}
}

// TestCheckURL: the URLs an endpoint may be created with.
func TestCheckURL(t *testing.T) {
	cases := []struct {
		url          string
		allowPrivate bool
		ok           bool
	}{
		{"https://hooks.example.com/lintel", false, true},
		{"http://hooks.example.com/lintel", false, false},
		{"http://127.0.0.1:8080/hook", false, false},
		{"https://127.0.0.1/hook", false, false},
		{"https://169.254.169.254/latest/meta-data", false, false},
		{"https://10.0.0.5/", false, false},
		{"https://192.168.1.1/", false, false},
		{"https://[::1]/", false, false},
		{"https://[fe80::1]/", false, false},
		{"https://[::ffff:127.0.0.1]/", false, false},
		{"https://localhost/", false, false},
		{"https://100.64.0.1/", false, false},
		{"https://user:pw@hooks.example.com/", false, false},
		{"ftp://hooks.example.com/", false, false},
		{"/relative", false, false},
		{"http://127.0.0.1:8080/hook", true, true},
		{"https://10.0.0.5/", true, true},
	}
	for _, tc := range cases {
		err := webhooks.CheckURL(tc.url, tc.allowPrivate)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q, %v) = %v, want ok=%v", tc.url, tc.allowPrivate, err, tc.ok)
		}
	}
}

// fakeDNS resolves every name to one address.
type fakeDNS struct{ addr netip.Addr }

func (f fakeDNS) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{f.addr}, nil
}

func msg(r *receiver, url string, keys ...[]byte) webhooks.Message {
	if url == "" {
		url = r.srv.URL + "/hook"
	}
	return webhooks.Message{ID: "whd_test", URL: url, Body: []byte(`{"type":"access.granted","timestamp":"2030-01-01T00:00:00Z","data":{}}`), Keys: keys}
}

// TestSendRefusesPrivateAddresses: at send time, without the setting, a
// loopback or link-local URL and a name that resolves to a private
// address (DNS rebinding) never reach a receiver.
func TestSendRefusesPrivateAddresses(t *testing.T) {
	secret, key := mustSecret(t)
	r := newReceiver(t, secret, 200)
	port := r.srv.URL[strings.LastIndex(r.srv.URL, ":")+1:]
	cases := []struct {
		name     string
		url      string
		resolver webhooks.Resolver
	}{
		{"loopback http", "http://127.0.0.1:" + port + "/hook", nil},
		{"loopback https", "https://127.0.0.1:" + port + "/hook", nil},
		{"link-local", "https://169.254.169.254:" + port + "/latest", nil},
		{"name resolving to loopback", "https://rebind.example.com:" + port + "/hook", fakeDNS{netip.MustParseAddr("127.0.0.1")}},
		{"name resolving to private", "https://rebind.example.com:" + port + "/hook", fakeDNS{netip.MustParseAddr("10.1.2.3")}},
	}
	for _, tc := range cases {
		s := sender(r, webhooks.SenderOptions{Resolver: tc.resolver, Timeout: 2 * time.Second})
		res := s.Send(context.Background(), msg(r, tc.url, key), false)
		if res.Outcome != webhooks.Retry || res.Status != 0 || res.Error == "" {
			t.Errorf("%s: %+v, want a refused attempt", tc.name, res)
		}
	}
	if n := r.hits.Load(); n != 0 {
		t.Fatalf("the receiver was reached %d times", n)
	}
	// The same name resolving to the test server, with the setting on,
	// is delivered: the refusals above are the guard, not a broken setup.
	s := sender(r, webhooks.SenderOptions{Resolver: fakeDNS{netip.MustParseAddr("127.0.0.1")}, AllowPrivate: true})
	if res := s.Send(context.Background(), msg(r, "https://rebind.example.com:"+port+"/hook", key), true); res.Outcome != webhooks.Delivered {
		t.Fatalf("allowed: %+v", res)
	}
}

// TestSendOutcomes: 500 then 200 is delivered on the second attempt; 410
// disables; a hanging receiver times out; a redirect is not followed.
func TestSendOutcomes(t *testing.T) {
	secret, key := mustSecret(t)
	cases := []struct {
		name     string
		statuses []int
		want     []webhooks.Outcome
	}{
		{"500 then 200", []int{500, 200}, []webhooks.Outcome{webhooks.Retry, webhooks.Delivered}},
		{"410", []int{410}, []webhooks.Outcome{webhooks.Disable}},
		{"redirect", []int{302}, []webhooks.Outcome{webhooks.Retry}},
		{"204", []int{204}, []webhooks.Outcome{webhooks.Delivered}},
	}
	for _, tc := range cases {
		r := newReceiver(t, secret, tc.statuses...)
		s := sender(r, webhooks.SenderOptions{AllowPrivate: true})
		for i, want := range tc.want {
			res := s.Send(context.Background(), msg(r, "", key), true)
			if res.Outcome != want || res.Status != tc.statuses[i] {
				t.Errorf("%s: attempt %d = %+v, want outcome %d status %d", tc.name, i+1, res, want, tc.statuses[i])
			}
		}
		if got := int(r.verified.Load()); got != len(tc.want) || int(r.hits.Load()) != len(tc.want) {
			t.Errorf("%s: %d requests, %d verified, want %d", tc.name, r.hits.Load(), got, len(tc.want))
		}
	}
}

func TestSendTimesOutOnAHangingReceiver(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := webhooks.NewSender(webhooks.SenderOptions{AllowPrivate: true, Timeout: 200 * time.Millisecond,
		TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig})
	start := time.Now()
	res := s.Send(context.Background(), webhooks.Message{ID: "whd_1", URL: srv.URL, Body: []byte("{}")}, true)
	if res.Outcome != webhooks.Retry || res.Status != 0 || !strings.Contains(res.Error, "timed out") {
		t.Fatalf("%+v, want a timed-out attempt", res)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("the attempt took %v with a 200 ms timeout", el)
	}
}

// TestBackoffSpansADay: retries cover at least 24 h, then stop.
func TestBackoffSpansADay(t *testing.T) {
	var total time.Duration
	for n := 1; ; n++ {
		d, ok := webhooks.Backoff(n)
		if !ok {
			if n != webhooks.MaxAttempts {
				t.Fatalf("retries stop after attempt %d, MaxAttempts is %d", n, webhooks.MaxAttempts)
			}
			break
		}
		total += d
	}
	if total < 24*time.Hour {
		t.Fatalf("retries span %v, want at least 24 h", total)
	}
}

func TestParseSecret(t *testing.T) {
	s, k := mustSecret(t)
	got, err := webhooks.ParseSecret(s)
	if err != nil || !hmac.Equal(got, k) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "whsec_", "whsec_!!!", "abc", "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := webhooks.ParseSecret(bad); err == nil {
			t.Errorf("ParseSecret(%q) accepted", bad)
		}
	}
}
