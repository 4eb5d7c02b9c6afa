package notifytest

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestScriptOrder(t *testing.T) {
	var s script
	s.push("", []Reply{{Status: 500}, {Status: 503}})
	s.push("tok", []Reply{{Status: 410}})
	got := []int{s.next("other").Status, s.next("tok").Status, s.next("tok").Status, s.next("tok").Status}
	want := []int{500, 410, 503, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
}

func TestAPNsServerRefusesHTTP1AndAnonymous(t *testing.T) {
	s := NewAPNs(t)
	// The httptest client speaks HTTP/1.1 unless told otherwise.
	c := s.srv.Client()
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = false
	c.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"http/1.1"}
	resp, err := c.Post(s.URL+"/3/device/abcd", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusHTTPVersionNotSupported {
		t.Fatalf("HTTP/1.1 got %d", resp.StatusCode)
	}
	resp, err = s.Client().Post(s.URL+"/3/device/abcd", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || s.Requests()[1].Reason != "InvalidProviderToken" {
		t.Fatalf("no provider token got %d", resp.StatusCode)
	}
}

func TestTwilioServerChecksAuth(t *testing.T) {
	s := NewTwilio(t)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json",
		strings.NewReader("To=%2B14155550123&From=%2B14155550100&Body=hi"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AccountSID, "wrong")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || s.Requests()[0].Code != 20003 {
		t.Fatalf("wrong password got %d", resp.StatusCode)
	}
}

// TestAPNsServerCertificateAuth: a trusted client certificate authorizes
// its topics without a bearer, as Apple does for certificate providers.
func TestAPNsServerCertificateAuth(t *testing.T) {
	s := NewAPNs(t)
	trusted, untrusted := selfSigned(t), selfSigned(t)
	s.TrustCertificate(trusted.Leaf, "pass.a", "pass.b")
	tests := []struct {
		name   string
		client *http.Client
		topic  string
		status int
		reason string
		byCert bool
	}{
		{"trusted, its topic", s.ClientWithCertificate(trusted), "pass.b", 200, "", true},
		// Authenticated, but not for that topic.
		{"trusted, another topic", s.ClientWithCertificate(trusted), "pass.c", 400, "TopicDisallowed", true},
		{"untrusted certificate", s.ClientWithCertificate(untrusted), "pass.a", 403, "BadCertificate", false},
		{"no certificate, no token", s.Client(), "pass.a", 403, "InvalidProviderToken", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/3/device/abcd", strings.NewReader("{}"))
			req.Header.Set("apns-topic", tt.topic)
			resp, err := tt.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			reqs := s.Requests()
			got := reqs[len(reqs)-1]
			if resp.StatusCode != tt.status || got.Reason != tt.reason {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, got.Reason, tt.status, tt.reason)
			}
			if (got.ClientCert == CertFingerprint(trusted.Leaf)) != tt.byCert {
				t.Fatalf("ClientCert = %q", got.ClientCert)
			}
		})
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	return ClientCertificate(t, pkix.Name{CommonName: "client"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
}
