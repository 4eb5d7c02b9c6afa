package reader

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/lintel/lintel/ble-reader/store"
)

// Where the store key comes from, first match wins (docs/reader.md, "the
// store key"): the file named by KeyFileEnv; the systemd credential
// CredentialName in $CREDENTIALS_DIRECTORY; the configured key_file,
// created on first start.
const (
	KeyFileEnv     = "LINTEL_READER_KEY_FILE"
	CredentialName = "lintel-reader-key"
	// DefaultKeyFile is key_file's default, inside data_dir.
	DefaultKeyFile = "reader.key"
)

// ErrKeyFileMode: a key file that the group or others may read.
var ErrKeyFileMode = errors.New("reader: key file is readable by group or others")

// StoreKey finds the key that seals the store. getenv is os.Getenv in the
// daemon. It returns the key and the file it came from. Only the
// configured file (keyFile) is created when missing; a key named by the
// environment must exist.
func StoreKey(keyFile string, getenv func(string) string) ([]byte, string, error) {
	if p := getenv(KeyFileEnv); p != "" {
		k, err := readKeyFile(p)
		return k, p, err
	}
	if dir := getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		p := filepath.Join(dir, CredentialName)
		if _, err := os.Stat(p); err == nil {
			k, err := readKeyFile(p)
			return k, p, err
		}
	}
	k, err := readKeyFile(keyFile)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = createKeyFile(keyFile)
	}
	return k, keyFile, err
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; chmod 600 it", ErrKeyFileMode, path, fi.Mode().Perm())
	}
	buf := make([]byte, 256)
	n, err := f.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("reader: key file %s: %w", path, err)
	}
	k, err := ParseStoreKey(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("reader: key file %s: %w", path, err)
	}
	return k, nil
}

// ParseStoreKey reads a key file's content: 64 hex digits (as created,
// surrounding white space allowed) or the 32 raw bytes.
func ParseStoreKey(b []byte) ([]byte, error) {
	if s := strings.TrimSpace(string(b)); len(s) == 2*store.KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	if len(b) == store.KeySize {
		return append([]byte(nil), b...), nil
	}
	return nil, fmt.Errorf("want %d hex digits or %d bytes", 2*store.KeySize, store.KeySize)
}

func createKeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	k := make([]byte, store.KeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("reader: creating key file: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(k) + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("reader: writing key file: %w", err)
	}
	return k, nil
}
