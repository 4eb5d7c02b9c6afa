package server_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

func TestKeyRotation(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		kek := make([]byte, 32)
		_, _ = rand.Read(kek)
		ctx := context.Background()
		now := time.Now()
		ring, err := server.NewKeyring(ctx, st, kek, time.Hour, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		old := ring.Current()
		tok, err := credential.Issue(old, credential.Claims{Issuer: "i", Subject: "cred_1", Site: "s", User: "u", Groups: []string{},
			Device: &mustKey(t).PublicKey, IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Hour), ID: "j"})
		if err != nil {
			t.Fatal(err)
		}
		kid, err := ring.Rotate(ctx)
		if err != nil || kid == old.KID() || ring.Current().KID() != kid {
			t.Fatalf("rotate: %v %s", err, kid)
		}
		if ring.Public().Len() != 2 {
			t.Fatalf("after rotation %d keys published, want 2", ring.Public().Len())
		}
		// A token signed by the retired key still verifies while it can be live.
		if _, err := (credential.Verifier{Keys: ring.Public(), Issuer: "i"}).Verify(tok, now); err != nil {
			t.Fatalf("old token after rotation: %v", err)
		}
		// Once nothing it signed can be valid, the old key is no longer published.
		now = now.Add(2 * time.Hour)
		if err := ring.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		if ring.Public().Len() != 1 {
			t.Fatalf("expired key still published: %d", ring.Public().Len())
		}
		// Another process with the wrong key-encryption key cannot load them.
		bad := make([]byte, 32)
		if _, err := server.NewKeyring(ctx, st, bad, time.Hour, time.Now); err == nil {
			t.Fatal("keys decrypted with the wrong KEK")
		}
	})
}

func TestLoadKEK(t *testing.T) {
	dir := t.TempDir()
	cfg := server.Config{DataDir: dir}
	k1, err := server.LoadKEK(cfg)
	if err != nil || len(k1) != 32 {
		t.Fatalf("create: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "key-encryption.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	k2, _ := server.LoadKEK(cfg)
	if string(k1) != string(k2) {
		t.Fatal("the key file is not reused")
	}
	cfg.KeyEncryptionKey = "dG9vIHNob3J0"
	if _, err := server.LoadKEK(cfg); err == nil {
		t.Fatal("a short KEK was accepted")
	}
}
