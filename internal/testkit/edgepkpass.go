package testkit

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// UnzipPass reads a .pkpass (a zip) into its files by name. It fails the
// test on a bad zip, a bad CRC or a name that stands twice.
func UnzipPass(t testing.TB, pkpass []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(pkpass), int64(len(pkpass)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			t.Fatalf("duplicate zip entry %s", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc) // checks the CRC too
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	return files
}

// CheckManifest checks a pass's manifest.json against its files both
// ways: every file but manifest.json and signature is listed with its
// SHA-1, those two are not listed, and nothing else is. It returns the
// manifest.
func CheckManifest(t testing.TB, files map[string][]byte) map[string]string {
	t.Helper()
	var manifest map[string]string
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	for name, data := range files {
		if name == "manifest.json" || name == "signature" {
			if _, listed := manifest[name]; listed {
				t.Errorf("the manifest lists %s", name)
			}
			continue
		}
		sum := sha1.Sum(data)
		if manifest[name] != hex.EncodeToString(sum[:]) {
			t.Errorf("manifest hash of %s = %q, want %x", name, manifest[name], sum)
		}
	}
	for name := range manifest {
		if files[name] == nil {
			t.Errorf("the manifest lists %s, which is not in the pass", name)
		}
	}
	return manifest
}

// VerifyPassSignature checks a pass's signature over its manifest.json
// with `openssl smime -verify` against root (with the WWDR intermediate
// wwdr), as Apple's tooling would, and that a manifest changed by one
// byte is refused. Without openssl it stops the test as Binary does.
func VerifyPassSignature(t testing.TB, files map[string][]byte, root, wwdr *x509.Certificate) {
	t.Helper()
	openssl := Binary(t, "openssl", "openssl")
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("signature", files["signature"])
	write("manifest.json", files["manifest.json"])
	write("root.pem", CertPEM(root))
	write("wwdr.pem", CertPEM(wwdr))
	verify := func(content string) ([]byte, error) {
		cmd := exec.Command(openssl, "smime", "-verify", "-inform", "DER", "-in", "signature",
			"-content", content, "-CAfile", "root.pem", "-certfile", "wwdr.pem",
			"-purpose", "any", "-binary", "-out", os.DevNull)
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	if out, err := verify("manifest.json"); err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl smime -verify: %v\n%s", err, out)
	}
	tampered := bytes.Clone(files["manifest.json"])
	tampered[len(tampered)/2] ^= 1
	write("tampered.json", tampered)
	if out, err := verify("tampered.json"); err == nil {
		t.Fatalf("openssl accepted a tampered manifest:\n%s", out)
	}
}
