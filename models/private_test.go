package models_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/lintel/lintel/models"
)

// TestSQLiteFilesArePrivate: the database file holds PIN hashes, card
// numbers and the sealed signing keys; it is 0600 whatever the umask.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "l.db")
	st, err := models.Open(t.Context(), "sqlite://"+path, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("database file mode %04o, want 0600", perm)
	}
}
