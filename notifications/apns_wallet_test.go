package notifications

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/notifications/notifytest"
)

// TestAPNsRoutesByKind: each kind of message goes through the client Apple
// authenticates it with. Wallet updates present the pass certificate and
// no bearer; app notifications carry the provider token; a provider with
// only the certificate refuses app notifications without sending anything.
func TestAPNsRoutesByKind(t *testing.T) {
	cert := validPassCert(t)
	fp := notifytest.CertFingerprint(cert.Leaf)
	const (
		viaCert  = "certificate"
		viaToken = "token"
		refused  = "refused"
	)
	tests := []struct {
		name   string
		token  bool // the provider has an auth key
		cert   bool // the provider has the pass certificate
		routes map[Kind]string
	}{
		{"token and certificate", true, true, map[Kind]string{
			KindWalletUpdate: viaCert, KindInvitation: viaToken, KindVisitorPass: viaToken, KindRevocation: viaToken}},
		{"certificate only", false, true, map[Kind]string{
			KindWalletUpdate: viaCert, KindInvitation: refused, KindVisitorPass: refused, KindRevocation: refused}},
		// Without the certificate, Wallet updates fall back to the key (what
		// Lintel did before it had the certificate client).
		{"token only", true, false, map[Kind]string{
			KindWalletUpdate: viaToken, KindInvitation: viaToken, KindVisitorPass: viaToken, KindRevocation: viaToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := notifytest.NewAPNs(t)
			srv.TrustCertificate(cert.Leaf, testPassType)
			var p *APNs
			if tt.cert {
				p = newWalletAPNs(t, srv, cert, tt.token)
			} else {
				p = newTestAPNs(t, srv)
			}
			for kind, want := range tt.routes {
				if got := p.CanSend(kind); got != (want != refused) {
					t.Errorf("CanSend(%s) = %v, want %v", kind, got, want != refused)
				}
				before := srv.Count()
				err := p.Send(t.Context(), validMessage(ChannelAPNs, kind))
				reqs := srv.Requests()[before:]
				if want == refused {
					se := Classify(err)
					if se == nil || !se.Permanent || se.Unregistered || !errors.Is(err, errNoAppKey) {
						t.Errorf("%s: %v, want the permanent no-auth-key error", kind, err)
					}
					if len(reqs) != 0 {
						t.Errorf("%s: %d requests reached APNs", kind, len(reqs))
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", kind, err)
					continue
				}
				if len(reqs) != 1 {
					t.Errorf("%s: %d requests", kind, len(reqs))
					continue
				}
				r := reqs[0]
				switch want {
				case viaCert:
					if r.Authorization != "" || r.ClientCert != fp {
						t.Errorf("%s: bearer %v, certificate %q; want no bearer and the pass certificate", kind, r.Authorization != "", r.ClientCert)
					}
				case viaToken:
					if !strings.HasPrefix(r.Authorization, "bearer ") || r.ClientCert != "" || r.PresentedCert != "" {
						t.Errorf("%s: bearer %v, certificate %q/%q; want a bearer and no certificate", kind, r.Authorization != "", r.ClientCert, r.PresentedCert)
					}
				}
				if kind == KindWalletUpdate && (r.Topic != testPassType || string(r.Body) != "{}" || r.Token != testToken) {
					t.Errorf("wallet update: topic %q body %s token %s", r.Topic, r.Body, r.Token)
				}
				if kind != KindWalletUpdate && r.Topic != testTopic {
					t.Errorf("%s: topic %q, want the bundle id", kind, r.Topic)
				}
				if r.ApnsID != apnsID("k1") {
					t.Errorf("%s: apns-id %q", kind, r.ApnsID)
				}
			}
		})
	}
}

// TestAPNsWalletCertificateRefused: APNs's answers to the certificate
// client are classified like any other: a topic the certificate is not for
// and a certificate Apple doesn't know are permanent, and neither drops the
// device's token.
func TestAPNsWalletCertificateRefused(t *testing.T) {
	cert := validPassCert(t)
	tests := []struct {
		name   string
		trust  []string // topics the server trusts the certificate for; nil: unknown certificate
		topic  string
		status int
		reason string
	}{
		{"topic of another pass type", []string{testPassType}, "pass.com.example.other", 400, "TopicDisallowed"},
		{"the app's topic", []string{testPassType}, testTopic, 400, "TopicDisallowed"},
		{"unknown certificate", nil, testPassType, 403, "BadCertificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := notifytest.NewAPNs(t)
			if tt.trust != nil {
				srv.TrustCertificate(cert.Leaf, tt.trust...)
			}
			p := newWalletAPNs(t, srv, cert, true)
			m := validMessage(ChannelAPNs, KindWalletUpdate)
			m.Topic = tt.topic
			se := Classify(p.Send(t.Context(), m))
			if se == nil || !se.Permanent || se.Unregistered || se.Status != tt.status || se.Reason != tt.reason {
				t.Fatalf("got %+v, want permanent %d %s", se, tt.status, tt.reason)
			}
			reqs := srv.Requests()
			if len(reqs) != 1 || reqs[0].PresentedCert != notifytest.CertFingerprint(cert.Leaf) || reqs[0].Authorization != "" {
				t.Fatalf("requests %+v: want one, with the certificate and no bearer", reqs)
			}
		})
	}
}

// TestAPNsWalletRetries: a 500 on the certificate client is temporary, and
// the retry carries the same apns-id.
func TestAPNsWalletRetries(t *testing.T) {
	cert := validPassCert(t)
	srv := notifytest.NewAPNs(t)
	srv.TrustCertificate(cert.Leaf, testPassType)
	p := newWalletAPNs(t, srv, cert, false)
	srv.Script(notifytest.Reply{Status: 500, Reason: "InternalServerError"})
	m := validMessage(ChannelAPNs, KindWalletUpdate)
	if se := Classify(p.Send(t.Context(), m)); se == nil || se.Permanent || se.Status != 500 {
		t.Fatalf("500: %+v", se)
	}
	if err := p.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[0].ApnsID != reqs[1].ApnsID || reqs[1].Status != 200 {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestNewAPNsWalletRejects(t *testing.T) {
	now := time.Now()
	good := validPassCert(t)
	other := validPassCert(t)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name string
		cfg  func() APNsConfig
		want string
	}{
		{"neither token nor certificate", func() APNsConfig { return APNsConfig{} }, "auth key"},
		{"certificate without key", func() APNsConfig {
			c := good
			c.PrivateKey = nil
			return APNsConfig{WalletCertificate: &c}
		}, "no private key"},
		{"key of another certificate", func() APNsConfig {
			c := good
			c.PrivateKey = p256
			return APNsConfig{WalletCertificate: &c}
		}, "does not belong"},
		{"empty chain", func() APNsConfig { return APNsConfig{WalletCertificate: &tls.Certificate{PrivateKey: p256}} }, "no certificate"},
		{"chain does not parse", func() APNsConfig {
			return APNsConfig{WalletCertificate: &tls.Certificate{Certificate: [][]byte{[]byte("nope")}, PrivateKey: p256}}
		}, "wallet certificate"},
		{"expired", func() APNsConfig {
			c := testPassCert(t, now.Add(-48*time.Hour), now.Add(-time.Hour))
			return APNsConfig{WalletCertificate: &c}
		}, "expired on"},
		{"not yet valid", func() APNsConfig {
			c := testPassCert(t, now.Add(time.Hour), now.Add(48*time.Hour))
			return APNsConfig{WalletCertificate: &c}
		}, "not valid before"},
		{"sandbox wallet host", func() APNsConfig { return APNsConfig{WalletCertificate: &other, WalletHost: "sandbox"} }, "never the sandbox"},
		{"plain http wallet host", func() APNsConfig { return APNsConfig{WalletCertificate: &other, WalletHost: "http://127.0.0.1:1"} }, "https"},
		// The certificate doesn't make a half-given token part acceptable.
		{"topic without key", func() APNsConfig { return APNsConfig{WalletCertificate: &other, Topic: testTopic} }, "auth key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewAPNs(tt.cfg(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
	// The certificate's parsed leaf is optional: NewAPNs parses the chain.
	c := good
	c.Leaf = nil
	if _, err := NewAPNs(APNsConfig{WalletCertificate: &c}, nil); err != nil {
		t.Fatalf("certificate without a parsed leaf: %v", err)
	}
}

func TestAPNsDescribeWallet(t *testing.T) {
	cert := validPassCert(t)
	key := testP8(t)
	tests := []struct {
		name      string
		cfg       APNsConfig
		want, not []string
	}{
		{"certificate only", APNsConfig{WalletCertificate: &cert},
			[]string{"Wallet updates only, with the pass certificate (" + testPassType + "), to production", "no auth key for app notifications"}, []string{"topic"}},
		{"token and certificate", APNsConfig{AuthKey: key, KeyID: "ABCDE12345", TeamID: "TEAM123456", Topic: testTopic, Host: "sandbox", WalletCertificate: &cert},
			// Wallet updates stay on production though the app is on the sandbox.
			[]string{"sandbox, topic " + testTopic + "; Wallet updates with the pass certificate (" + testPassType + ")"}, []string{"only", "to "}},
		{"test host", APNsConfig{WalletCertificate: &cert, WalletHost: "https://127.0.0.1:9"},
			[]string{"to https://127.0.0.1:9"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewAPNs(tt.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			d := p.Describe()
			for _, w := range tt.want {
				if !strings.Contains(d, w) {
					t.Errorf("Describe() = %q, lacks %q", d, w)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(d, w) {
					t.Errorf("Describe() = %q, has %q", d, w)
				}
			}
		})
	}
}

// TestRegistryWalletOnlyAPNs: a provider with only the pass certificate
// makes APNs available, but CanSend tells the callers that enqueue app
// notifications that it can't send them.
func TestRegistryWalletOnlyAPNs(t *testing.T) {
	cert := validPassCert(t)
	r, err := NewRegistryFromConfig(context.Background(), Config{APNs: &APNsConfig{WalletCertificate: &cert}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Available(ChannelAPNs) {
		t.Fatal("wallet-only APNs not available")
	}
	for kind, want := range map[Kind]bool{KindWalletUpdate: true, KindInvitation: false, KindVisitorPass: false, KindRevocation: false} {
		if got := r.CanSend(ChannelAPNs, kind); got != want {
			t.Errorf("CanSend(apns, %s) = %v, want %v", kind, got, want)
		}
	}
	// Providers that don't filter kinds send every kind; no provider, none.
	r2 := NewRegistry(nopProvider{ChannelFCM})
	if !r2.CanSend(ChannelFCM, KindInvitation) || r2.CanSend(ChannelAPNs, KindWalletUpdate) {
		t.Error("CanSend without a KindFilter")
	}
	if d := r.Describe(); !strings.Contains(d, "apns configured (Wallet updates only") {
		t.Errorf("Describe() = %q", d)
	}
}
