package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

// A credential issued before LINTEL_PUBLIC_URL changed still verifies at
// a reader that synced after the change: the issuer is the installation's,
// stored once, not the public URL of the day.
func TestIssuerSurvivesPublicURLChange(t *testing.T) {
	modelstest.EachURL(t, func(t *testing.T, dbURL string) {
		kek := make([]byte, 32)
		before := newEnvURLConfig(t, dbURL, kek, server.Config{PublicURL: "http://door.example:8080", Throttle: noThrottle})
		f := before.fixture("A")
		p := newPhone(t)
		before.enroll(f, p)

		after := newEnvURLConfig(t, dbURL, kek, server.Config{PublicURL: "https://door.example", Throttle: noThrottle})
		var doc bundle.Bundle
		if err := json.Unmarshal(after.must(200, "GET", "/v1/reader/bundle", f.reader, nil).body, &doc); err != nil {
			t.Fatal(err)
		}
		keys, err := credential.ParseJWKS(doc.Keys)
		if err != nil {
			t.Fatal(err)
		}
		v := credential.Verifier{Keys: keys, Issuer: doc.Issuer, Site: f.site}
		if _, err := v.Verify(p.credential, time.Now()); err != nil {
			t.Fatalf("credential from before the change, bundle issuer %q: %v", doc.Issuer, err)
		}
		// One issued after the change carries the same issuer.
		q := newPhone(t)
		after.enroll(f, q)
		if _, err := v.Verify(q.credential, time.Now()); err != nil {
			t.Fatalf("credential from after the change: %v", err)
		}
	})
}
