package models_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// storedKey reads the stored hash of a key the way a copy of the database
// would.
func storedKey(t *testing.T, st *models.Store, kind string) (lookup string, hash []byte, alg string) {
	t.Helper()
	db, err := st.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	q := "SELECT lookup, hash, hash_alg FROM api_keys WHERE kind = $1"
	if err := db.QueryRow(q, kind).Scan(&lookup, &hash, &alg); err != nil {
		t.Fatalf("api_keys: %v", err)
	}
	return lookup, hash, alg
}

// API key hashes are keyed (HMAC) with a secret that is not in the
// database, so a copy of it cannot test guesses; keys hashed before with
// plain SHA-256 still work and are rehashed on their first use.
func TestAPIKeyHashKeyed(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		ctx := t.Context()
		old, err := st.Bootstrap(ctx, "") // before the server set a key: plain SHA-256
		if err != nil {
			t.Fatal(err)
		}
		plain := sha256.Sum256([]byte(old))
		if _, h, alg := storedKey(t, st, models.KeyOperator); alg != "sha256" || !bytes.Equal(h, plain[:]) {
			t.Fatalf("old key stored as %s", alg)
		}

		st.SetKeyHashKey(bytes.Repeat([]byte{7}, 32))
		site := &models.Site{Name: "A", Timezone: "UTC"}
		if err := st.CreateSite(ctx, site); err != nil {
			t.Fatal(err)
		}
		admin, err := st.CreateAdminKey(ctx, site.ID)
		if err != nil {
			t.Fatal(err)
		}
		adminPlain := sha256.Sum256([]byte(admin))
		if l, h, alg := storedKey(t, st, models.KeyAdmin); alg != "hmac" || bytes.Equal(h, adminPlain[:]) || l[0] != 'h' {
			t.Fatalf("new key stored as %s %x", alg, h)
		}
		for _, k := range []string{old, admin, old} {
			if _, err := st.Authenticate(ctx, k); err != nil {
				t.Fatalf("authenticate: %v", err)
			}
		}
		if _, h, alg := storedKey(t, st, models.KeyOperator); alg != "hmac" || bytes.Equal(h, plain[:]) {
			t.Fatalf("old key not rehashed on use: %s", alg)
		}
		// Under another key-hash key (a copy of the database elsewhere),
		// nothing authenticates.
		st.SetKeyHashKey(bytes.Repeat([]byte{8}, 32))
		if _, err := st.Authenticate(ctx, admin); !errors.Is(err, models.ErrBadKey) {
			t.Fatalf("another hash key: %v", err)
		}
	})
}
