package reader

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lintel/lintel/ble-reader/store"
)

func noEnv(string) string { return "" }

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeKey(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask aside
		t.Fatal(err)
	}
}

const hexKeyA = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// TestStoreKey: where the store key comes from, and what is refused.
func TestStoreKey(t *testing.T) {
	var keyA []byte
	for i := range 32 {
		keyA = append(keyA, byte(i))
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string) (keyFile string, env map[string]string)
		want    []byte // nil: a fresh random key
		wantErr error  // errors.Is; or any error when wantAny
		wantAny bool
	}{
		{name: "created on first start", setup: func(t *testing.T, dir string) (string, map[string]string) {
			return filepath.Join(dir, "sub", "reader.key"), nil
		}},
		{name: "existing 0600 file", want: keyA, setup: func(t *testing.T, dir string) (string, map[string]string) {
			writeKey(t, filepath.Join(dir, "k"), hexKeyA+"\n", 0o600)
			return filepath.Join(dir, "k"), nil
		}},
		{name: "raw 32 bytes", want: keyA, setup: func(t *testing.T, dir string) (string, map[string]string) {
			writeKey(t, filepath.Join(dir, "k"), string(keyA), 0o400)
			return filepath.Join(dir, "k"), nil
		}},
		{name: "group-readable file refused", wantErr: ErrKeyFileMode, setup: func(t *testing.T, dir string) (string, map[string]string) {
			writeKey(t, filepath.Join(dir, "k"), hexKeyA, 0o640)
			return filepath.Join(dir, "k"), nil
		}},
		{name: "world-readable file refused", wantErr: ErrKeyFileMode, setup: func(t *testing.T, dir string) (string, map[string]string) {
			writeKey(t, filepath.Join(dir, "k"), hexKeyA, 0o604)
			return filepath.Join(dir, "k"), nil
		}},
		{name: "short key refused", wantAny: true, setup: func(t *testing.T, dir string) (string, map[string]string) {
			writeKey(t, filepath.Join(dir, "k"), hexKeyA[:40], 0o600)
			return filepath.Join(dir, "k"), nil
		}},
		{name: "LINTEL_READER_KEY_FILE wins", want: keyA, setup: func(t *testing.T, dir string) (string, map[string]string) {
			writeKey(t, filepath.Join(dir, "env.key"), hexKeyA, 0o600)
			writeKey(t, filepath.Join(dir, "k"), strings.Repeat("ff", 32), 0o600)
			return filepath.Join(dir, "k"), map[string]string{KeyFileEnv: filepath.Join(dir, "env.key")}
		}},
		{name: "LINTEL_READER_KEY_FILE missing is not created", wantErr: fs.ErrNotExist, setup: func(t *testing.T, dir string) (string, map[string]string) {
			return filepath.Join(dir, "k"), map[string]string{KeyFileEnv: filepath.Join(dir, "nope.key")}
		}},
		{name: "systemd credential", want: keyA, setup: func(t *testing.T, dir string) (string, map[string]string) {
			creds := filepath.Join(dir, "creds")
			if err := os.Mkdir(creds, 0o700); err != nil {
				t.Fatal(err)
			}
			writeKey(t, filepath.Join(creds, CredentialName), hexKeyA, 0o400)
			return filepath.Join(dir, "k"), map[string]string{"CREDENTIALS_DIRECTORY": creds}
		}},
		{name: "credentials directory without ours falls back to key_file", setup: func(t *testing.T, dir string) (string, map[string]string) {
			return filepath.Join(dir, "k"), map[string]string{"CREDENTIALS_DIRECTORY": dir}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			keyFile, env := tc.setup(t, dir)
			k, _, err := StoreKey(keyFile, envOf(env))
			switch {
			case tc.wantErr != nil || tc.wantAny:
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("StoreKey = %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if len(k) != store.KeySize {
				t.Fatalf("key of %d bytes", len(k))
			}
			if tc.want != nil && !bytes.Equal(k, tc.want) {
				t.Fatalf("key %x, want %x", k, tc.want)
			}
			if tc.want == nil {
				fi, err := os.Stat(keyFile)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("created key file: %v, %v", fi, err)
				}
				again, _, err := StoreKey(keyFile, envOf(env))
				if err != nil || !bytes.Equal(again, k) {
					t.Fatalf("second start read %x, %v; want the created %x", again, err, k)
				}
			}
		})
	}
}

// TestDaemonStoreSealed: the daemon seals reader.db with the key file, and
// refuses to start on a store sealed with another key, saying so.
func TestDaemonStoreSealed(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.ServerURL, cfg.ReaderToken, cfg.DataDir, cfg.BLE.Mode, cfg.StatusAddr = "http://127.0.0.1:1", "tok", dir, "off", ""
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := New(cfg, Options{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Store.SaveBundle([]byte(`{"pin_key":"c2VjcmV0LXBpbi1rZXk"}`), d.now()); err != nil {
		t.Fatal(err)
	}
	d.closeAll()
	raw, err := os.ReadFile(filepath.Join(dir, StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("c2VjcmV0LXBpbi1rZXk")) {
		t.Fatal("the PIN key is in reader.db in plaintext")
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultKeyFile)); err != nil {
		t.Fatalf("no key file created: %v", err)
	}

	other := filepath.Join(t.TempDir(), "other.key")
	writeKey(t, other, strings.Repeat("ab", 32), 0o600)
	_, err = New(cfg, Options{Getenv: envOf(map[string]string{KeyFileEnv: other})})
	if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), "sealed with another key") {
		t.Fatalf("New with another key = %v, want a clear ErrWrongKey", err)
	}
}

func FuzzParseStoreKey(f *testing.F) {
	f.Add([]byte(hexKeyA + "\n"))
	f.Add(bytes.Repeat([]byte{7}, 32))
	f.Add([]byte("zz"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseStoreKey(b)
		if err == nil && len(k) != store.KeySize {
			t.Fatalf("key of %d bytes accepted", len(k))
		}
	})
}
