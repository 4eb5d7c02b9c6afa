package wallet

import (
	"errors"
	"github.com/lintel/lintel/internal/testkit"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func filesOf(m map[string][]byte) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if b, ok := m[p]; ok {
			return b, nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
}

func TestConfigFromEnvNothingSet(t *testing.T) {
	cfg, err := ConfigFromEnv(envOf(nil), filesOf(nil))
	if err != nil || cfg.Apple != nil || cfg.Google != nil {
		t.Fatalf("ConfigFromEnv = %+v, %v; want both wallets off", cfg, err)
	}
}

// TestConfigFromEnvEndToEnd wires real files through ConfigFromEnv,
// NewSigner and NewGoogle, the way the server will.
func TestConfigFromEnvEndToEnd(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	env := map[string]string{
		EnvApplePassCert:            writeFile(t, dir, "pass.pem", testkit.CertPEM(pki.Leaf)),
		EnvApplePassKey:             writeFile(t, dir, "pass.key", testkit.KeyPEM(t, pki.LeafKey)),
		EnvAppleWWDRCert:            writeFile(t, dir, "AppleWWDRCAG4.cer", pki.WWDR.Raw),
		EnvApplePassTypeID:          " " + testPassTypeID + " ",
		EnvGoogleIssuerID:           testIssuerID,
		EnvGoogleServiceAccountFile: writeFile(t, dir, "sa.json", serviceAccountJSON(t, testkit.RSAKey(3), "https://oauth2.googleapis.com/token")),
		EnvGoogleOrigins:            "https://lintel.example, https://www.lintel.example",
		EnvGoogleClassSuffix:        "acme_visitor",
	}
	cfg, err := ConfigFromEnv(envOf(env), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Apple == nil || cfg.Google == nil {
		t.Fatal("a wallet is missing")
	}
	if cfg.Apple.PassTypeID != testPassTypeID {
		t.Errorf("pass type id = %q (spaces must be trimmed)", cfg.Apple.PassTypeID)
	}
	if len(cfg.Google.Origins) != 2 || cfg.Google.Origins[1] != "https://www.lintel.example" {
		t.Errorf("origins = %q", cfg.Google.Origins)
	}
	s, err := NewSigner(*cfg.Apple, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Build(samplePass(), nil); err != nil {
		t.Fatal(err)
	}
	g, err := NewGoogle(*cfg.Google, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.ClassID() != testIssuerID+".acme_visitor" || g.endpoint != DefaultGoogleEndpoint || g.tokenURL != "https://oauth2.googleapis.com/token" {
		t.Errorf("google = %s %s %s", g.ClassID(), g.endpoint, g.tokenURL)
	}
}

func TestConfigFromEnvP12(t *testing.T) {
	files := map[string][]byte{"/s/pass.p12": []byte("p12 bytes"), "/s/pw": []byte("pa ss\n"), "/s/wwdr.cer": []byte("der")}
	cfg, err := ConfigFromEnv(envOf(map[string]string{
		EnvApplePassP12: "/s/pass.p12", EnvApplePassP12PasswordFile: "/s/pw", EnvAppleWWDRCert: "/s/wwdr.cer",
	}), filesOf(files))
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.Apple.P12) != "p12 bytes" || cfg.Apple.P12Password != "pa ss" || string(cfg.Apple.WWDR) != "der" {
		t.Errorf("apple = %+v", cfg.Apple)
	}
	// A password given directly is taken as is, spaces included.
	cfg, err = ConfigFromEnv(envOf(map[string]string{EnvApplePassP12: "/s/pass.p12", EnvApplePassP12Password: " pw "}), filesOf(files))
	if err != nil || cfg.Apple.P12Password != " pw " {
		t.Errorf("password = %q, %v", cfg.Apple.P12Password, err)
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	const secret = "SECRET-CONTENT-7f3a"
	files := map[string][]byte{"/c.pem": []byte(secret), "/k.pem": []byte(secret), "/empty": nil, "/p12": []byte(secret)}
	tests := []struct {
		name string
		env  map[string]string
		want []string // settings named in the errors
		errs []error
	}{
		{"missing file", map[string]string{EnvApplePassCert: "/nope.pem", EnvApplePassKey: "/k.pem"},
			[]string{EnvApplePassCert}, []error{ErrUnreadable}},
		{"empty file", map[string]string{EnvApplePassCert: "/c.pem", EnvApplePassKey: "/empty"},
			[]string{EnvApplePassKey}, []error{ErrUnreadable}},
		{"only the pass type id", map[string]string{EnvApplePassTypeID: "pass.com.x"},
			[]string{EnvApplePassCert}, []error{ErrMissingSetting}},
		{"PEM and p12", map[string]string{EnvApplePassCert: "/c.pem", EnvApplePassP12: "/p12"},
			[]string{EnvApplePassP12}, []error{ErrConflictingSetting}},
		{"two passwords", map[string]string{EnvApplePassP12: "/p12", EnvApplePassP12Password: "a", EnvApplePassP12PasswordFile: "/k.pem"},
			[]string{EnvApplePassP12PasswordFile}, []error{ErrConflictingSetting}},
		{"bad ids", map[string]string{EnvApplePassCert: "/c.pem", EnvApplePassTypeID: "com.x", EnvAppleTeamID: "abc"},
			[]string{EnvApplePassTypeID, EnvAppleTeamID}, []error{ErrBadSetting, ErrBadSetting}},
		{"unknown digest", map[string]string{EnvApplePassCert: "/c.pem", EnvAppleSignatureDigest: "MD5"},
			[]string{EnvAppleSignatureDigest}, []error{ErrBadSetting}},
		{"google half set", map[string]string{EnvGoogleEndpoint: "ftp://x"},
			[]string{EnvGoogleIssuerID, EnvGoogleServiceAccountFile, EnvGoogleEndpoint}, []error{ErrMissingSetting, ErrMissingSetting, ErrBadSetting}},
		{"google bad origin and token url", map[string]string{EnvGoogleIssuerID: "1", EnvGoogleServiceAccountFile: "/k.pem",
			EnvGoogleOrigins: "lintel.example", EnvGoogleTokenURL: "/token"},
			[]string{EnvGoogleTokenURL, EnvGoogleOrigins}, []error{ErrBadSetting, ErrBadSetting}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ConfigFromEnv(envOf(tt.env), filesOf(files))
			if err == nil {
				t.Fatal("accepted")
			}
			var got []*ConfigError
			collectConfigErrors(err, &got)
			if len(got) != len(tt.want) {
				t.Fatalf("errors = %v, want settings %v", err, tt.want)
			}
			for i, ce := range got {
				if ce.Setting != tt.want[i] || !errors.Is(ce, tt.errs[i]) {
					t.Errorf("error %d = %v, want %s: %v", i, ce, tt.want[i], tt.errs[i])
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error text leaks file content: %v", err)
			}
		})
	}
}

func collectConfigErrors(err error, out *[]*ConfigError) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			collectConfigErrors(e, out)
		}
		return
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		*out = append(*out, ce)
	}
}

func TestConfigFromEnvReadsNamedFilesOnly(t *testing.T) {
	var read []string
	readFile := func(p string) ([]byte, error) {
		read = append(read, filepath.Base(p))
		return []byte("x"), nil
	}
	_, _ = ConfigFromEnv(envOf(map[string]string{EnvApplePassCert: "/a/cert.pem", EnvApplePassKey: "/a/key.pem"}), readFile)
	if strings.Join(read, ",") != "cert.pem,key.pem" {
		t.Errorf("read %v", read)
	}
}
