package testkit

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"testing"
)

// errRecorder keeps what a helper reports with Errorf.
type errRecorder struct {
	testing.TB
	errs []string
}

func (r *errRecorder) Helper() {}

func (r *errRecorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestCheckManifest: a manifest that matches its files passes, and each
// way it can be wrong is told.
func TestCheckManifest(t *testing.T) {
	icon := []byte("icon")
	sum := sha1.Sum(icon)
	iconSHA1 := hex.EncodeToString(sum[:])
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for name, data := range map[string][]byte{
		"icon.png":      icon,
		"manifest.json": fmt.Appendf(nil, `{"icon.png":%q}`, iconSHA1),
		"signature":     []byte("sig"),
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	files := UnzipPass(t, zb.Bytes())
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, []string{"icon.png", "manifest.json", "signature"}) {
		t.Fatalf("files %v", got)
	}
	if m := CheckManifest(t, files); m["icon.png"] != iconSHA1 {
		t.Fatalf("manifest %v", m)
	}

	files["manifest.json"] = []byte(`{"icon.png":"0000000000000000000000000000000000000000","signature":"x","gone.png":"y"}`)
	r := &errRecorder{TB: t}
	CheckManifest(r, files)
	if len(r.errs) != 3 {
		t.Fatalf("want a wrong hash, a listed signature and a listed file that is not there told, got %q", r.errs)
	}
}
