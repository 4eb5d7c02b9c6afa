package notifications

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509/pkix"
	"io"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/notifications/notifytest"
)

const testTopic = "com.example.lintel"

func cryptoRand() io.Reader { return rand.Reader }

func testP8(t testing.TB) []byte { return testkit.KeyPEM(t, testkit.FreshKey(t)) }

func testRSAPEM(t testing.TB) []byte { return testkit.KeyPEM(t, testkit.RSAKey(0)) }

func newTestAPNs(t testing.TB, srv *notifytest.APNsServer) *APNs {
	t.Helper()
	p, err := NewAPNs(APNsConfig{
		AuthKey: srv.AuthKey, KeyID: srv.KeyID, TeamID: srv.TeamID, Topic: testTopic,
		Host: srv.URL, HTTPClient: srv.Client(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestFCM(t testing.TB, srv *notifytest.FCMServer, now func() time.Time) *FCM {
	t.Helper()
	p, err := NewFCM(t.Context(), FCMConfig{
		CredentialsJSON: srv.ServiceAccountJSON(), Endpoint: srv.Endpoint(), HTTPClient: srv.Client(), Now: now,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestSMS(t testing.TB, srv *notifytest.TwilioServer, edit func(*SMSConfig)) *SMS {
	t.Helper()
	cfg := SMSConfig{
		AccountSID: srv.AccountSID, AuthToken: srv.AuthToken, From: "+14155550100",
		BaseURL: srv.URL, HTTPClient: srv.Client(),
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := NewSMS(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sendWithin sends the visitor-pass test message of channel ch through p,
// giving up after timeout unless it is 0.
func sendWithin(t *testing.T, p Provider, ch Channel, timeout time.Duration) error {
	ctx := t.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return p.Send(ctx, validMessage(ch, KindVisitorPass))
}

// mustFail is the classification of a send's error; a send that did not
// fail fails the test.
func mustFail(t *testing.T, err error) *SendError {
	t.Helper()
	se := Classify(err)
	if se == nil {
		t.Fatal("no error")
	}
	return se
}

const testPassType = "pass.com.example.lintel"

// testPassCert makes a self-signed stand-in for a Pass Type ID certificate
// (the pass type id in UID, as Apple issues them) valid from notBefore to
// notAfter. APNs only needs it to be a client certificate with its key;
// P-256 keeps the tests fast where Apple's are RSA.
func testPassCert(t testing.TB, notBefore, notAfter time.Time) tls.Certificate {
	t.Helper()
	return notifytest.ClientCertificate(t, pkix.Name{CommonName: "Pass Type ID: " + testPassType, ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: testkit.OIDUserID, Value: testPassType}}}, notBefore, notAfter)
}

// validPassCert is a pass certificate valid for a year around now.
func validPassCert(t testing.TB) tls.Certificate {
	return testPassCert(t, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
}

// newWalletAPNs is an APNs provider with the pass certificate cert, sending
// Wallet updates to srv (which trusts it for the test pass type when trust
// is set); withToken adds the token part (app notifications) too.
func newWalletAPNs(t testing.TB, srv *notifytest.APNsServer, cert tls.Certificate, withToken bool) *APNs {
	t.Helper()
	cfg := APNsConfig{WalletCertificate: &cert, WalletHost: srv.URL, WalletHTTPClient: srv.ClientWithCertificate(cert)}
	if withToken {
		cfg.AuthKey, cfg.KeyID, cfg.TeamID, cfg.Topic = srv.AuthKey, srv.KeyID, srv.TeamID, testTopic
		cfg.Host, cfg.HTTPClient = srv.URL, srv.Client()
	}
	p, err := NewAPNs(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// configEdit is one change that turns a good configuration into one its
// constructor must refuse.
type configEdit[C any] struct {
	name string
	edit func(*C)
}

// wantRefused checks build refuses good under each edit, one subtest each.
func wantRefused[C any](t *testing.T, good C, edits []configEdit[C], build func(C) error) {
	t.Helper()
	for _, tt := range edits {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			if err := build(c); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
