package notifications

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"testing"
	"time"

	"github.com/lintel/lintel/notifications/notifytest"
)

const testTopic = "com.example.lintel"

func cryptoRand() io.Reader { return rand.Reader }

func testP8(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func testRSAPEM(t testing.TB) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

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
