package reader

import (
	"encoding/json"
	"testing"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
)

// TestEngineTapCacheEmptiedOnApply: a repeat tap is answered from the
// engine's TapCache, and every bundle applied empties it, whatever changed.
func TestEngineTapCacheEmptiedOnApply(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, f *fixture)
		want   wire.Result
	}{
		{"same bundle again", func(t *testing.T, f *fixture) {}, wire.Result{Status: wire.StatusGranted}},
		{"newer version, nothing for this token", func(t *testing.T, f *fixture) {
			f.doc.Version++
		}, wire.Result{Status: wire.StatusGranted}},
		{"revocation", func(t *testing.T, f *fixture) {
			f.doc.Revoked = []bundle.Revoked{{CredentialID: tCred}}
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonRevoked}},
		{"key change", func(t *testing.T, f *fixture) {
			k, err := credential.NewSigningKey(testkit.Key(t, "rotated"))
			if err != nil {
				t.Fatal(err)
			}
			ks, err := credential.NewKeySet(k.Public())
			if err != nil {
				t.Fatal(err)
			}
			jwks, err := ks.JWKS()
			if err != nil {
				t.Fatal(err)
			}
			f.doc.Keys = json.RawMessage(jwks)
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonUnknownKey}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tok := f.token(tCred, tUser, "residents")
			for i := range 2 {
				if got := f.tap(uint64(i+1), tok); got.Status != wire.StatusGranted {
					t.Fatalf("tap %d: %v", i+1, got)
				}
				if n := f.eng.verified.Len(); n != 1 {
					t.Fatalf("after tap %d the cache holds %d, want 1", i+1, n)
				}
			}
			doc := *f.doc
			f.doc = &doc
			tc.change(t, f)
			f.apply()
			if n := f.eng.verified.Len(); n != 0 {
				t.Fatalf("after Apply the cache holds %d, want 0", n)
			}
			if got := f.tap(3, tok); got != tc.want {
				t.Fatalf("tap after Apply = %v, want %v", got, tc.want)
			}
		})
	}
}
