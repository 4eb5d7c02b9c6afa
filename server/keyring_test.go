package server_test

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
)

func TestKeyRotation(t *testing.T) {
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) {
		kek := make([]byte, 32)
		_, _ = rand.Read(kek)
		ctx := t.Context()
		now := clk.Now()
		ring, err := server.NewKeyring(ctx, st, kek, time.Hour, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		old := ring.Current()
		tok, err := credential.Issue(old, credential.Claims{Issuer: "i", Subject: "cred_1", Site: "s", User: "u", Groups: []string{},
			Device: &testkit.FreshKey(t).PublicKey, IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Hour), ID: "j"})
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
		clk.Advance(2 * time.Hour)
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
	dir := filepath.Join(t.TempDir(), "data")
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

// TestLoadKEKRefusesOpenModes: a data dir or key file that the group or
// others can read is refused, naming the fix, instead of silently used.
func TestLoadKEKRefusesOpenModes(t *testing.T) {
	tests := []struct {
		name           string
		dirMode, kMode os.FileMode
		want           string
	}{
		{"world-readable dir", 0o755, 0o600, "LINTEL_DATA_DIR"},
		{"group-readable dir", 0o750, 0o600, "LINTEL_DATA_DIR"},
		{"world-readable key", 0o700, 0o644, "key-encryption key file"},
		{"group-readable key", 0o700, 0o640, "key-encryption key file"},
		{"private", 0o700, 0o600, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			cfg := server.Config{DataDir: dir}
			if _, err := server.LoadKEK(cfg); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "key-encryption.key"), tt.kMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, tt.dirMode); err != nil {
				t.Fatal(err)
			}
			_, err := server.LoadKEK(cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("private data dir refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "chmod") {
				t.Fatalf("LoadKEK = %v, want a refusal naming %q and chmod", err, tt.want)
			}
		})
	}
}
