package wallet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"github.com/lintel/lintel/internal/testkit"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestNewSignerAcceptsTheUsualShapes(t *testing.T) {
	pki := newTestPKI(t)
	key := testkit.KeyPEM(t, pki.LeafKey)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(pki.LeafKey)})
	tests := []struct {
		name string
		cfg  AppleConfig
	}{
		{"cert, key and WWDR", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(pki.WWDR)}},
		{"PKCS#1 key", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: pkcs1, WWDR: testkit.CertPEM(pki.WWDR)}},
		{"key in the certificate file", AppleConfig{CertPEM: append(testkit.CertPEM(pki.Leaf), key...), WWDR: testkit.CertPEM(pki.WWDR)}},
		{"chain in the certificate file", AppleConfig{CertPEM: testkit.CertPEM(pki.WWDR, pki.Leaf), KeyPEM: key}},
		{"WWDR as DER, as Apple ships it", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key, WWDR: pki.WWDR.Raw}},
		{"WWDR file with root and intermediate", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(pki.Root, pki.WWDR)}},
		{"matching identifiers", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(pki.WWDR),
			PassTypeID: testPassTypeID, TeamID: testTeamID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSigner(tt.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if s.PassTypeID() != testPassTypeID || s.TeamID() != testTeamID || !s.Certificate().Equal(pki.Leaf) || !s.wwdr.Equal(pki.WWDR) {
				t.Errorf("signer = %s %s %v %v", s.PassTypeID(), s.TeamID(), describe(s.cert), describe(s.wwdr))
			}
			if w := s.Warnings(); len(w) != 0 {
				t.Errorf("warnings for fresh certificates: %v", w)
			}
		})
	}
}

func TestNewSignerRefusesBadConfig(t *testing.T) {
	pki := newTestPKI(t)
	key := testkit.KeyPEM(t, pki.LeafKey)
	now := time.Now()

	expired := newTestPKIWith(t, testkit.PKIOptions{NotBefore: now.Add(-400 * 24 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	future := newTestPKIWith(t, testkit.PKIOptions{NotBefore: now.Add(24 * time.Hour)})
	otherTeam := newTestPKIWith(t, testkit.PKIOptions{TeamID: "ZZZZZ99999"})
	// Another intermediate with the same name but another key: the classic
	// "downloaded the G3 instead of the G4" mistake.
	otherWWDR := issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "Test Worldwide Developer Relations Certification Authority", OrganizationalUnit: []string{"G3"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour * 24 * 365), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}, pki.Root, pki.RootKey, testkit.RSAKey(4))
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})

	tests := []struct {
		name    string
		cfg     AppleConfig
		setting string
		err     error
		detail  string // a phrase the operator needs to see
	}{
		{"nothing", AppleConfig{}, EnvApplePassCert, ErrMissingSetting, "no pass certificate"},
		{"no key", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), WWDR: testkit.CertPEM(pki.WWDR)}, EnvApplePassKey, ErrMissingSetting, "no private key"},
		{"wrong key for the certificate", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: testkit.KeyPEM(t, testkit.RSAKey(3)), WWDR: testkit.CertPEM(pki.WWDR)},
			EnvApplePassKey, ErrKeyMismatch, "Pass Type ID: pass.com.lintel.test"},
		{"expired certificate", AppleConfig{CertPEM: testkit.CertPEM(expired.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(expired.WWDR)},
			EnvApplePassCert, ErrCertExpired, "expired on"},
		{"certificate not valid yet", AppleConfig{CertPEM: testkit.CertPEM(future.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(future.WWDR)},
			EnvApplePassCert, ErrCertNotYetValid, "check the clock"},
		{"no WWDR", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key}, EnvAppleWWDRCert, ErrMissingSetting, "Test Worldwide Developer Relations"},
		{"wrong WWDR", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(otherWWDR)},
			EnvAppleWWDRCert, ErrWrongIntermediate, "G4"},
		{"WWDR not a certificate", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key, WWDR: []byte("hello")},
			EnvAppleWWDRCert, ErrBadCertificate, "neither PEM nor DER"},
		{"certificate as DER", AppleConfig{CertPEM: pki.Leaf.Raw, KeyPEM: key, WWDR: testkit.CertPEM(pki.WWDR)},
			EnvApplePassCert, ErrBadCertificate, "openssl x509 -inform DER"},
		{"corrupt certificate", AppleConfig{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 1, 2}}), KeyPEM: key},
			EnvApplePassCert, ErrBadCertificate, "cannot be parsed"},
		{"encrypted key", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: encrypted, WWDR: testkit.CertPEM(pki.WWDR)},
			EnvApplePassKey, ErrBadKey, "encrypted"},
		{"1024-bit key", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: testkit.KeyPEM(t, small), WWDR: testkit.CertPEM(pki.WWDR)},
			EnvApplePassKey, ErrBadKey, "1024 bits"},
		{"EC key", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), WWDR: testkit.CertPEM(pki.WWDR)},
			EnvApplePassKey, ErrBadKey, "RSA"},
		{"unknown digest", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(pki.WWDR), SignatureDigest: "md5"},
			EnvAppleSignatureDigest, ErrBadSetting, "md5"},
		{"p12 and PEM", AppleConfig{P12: []byte{1}, CertPEM: testkit.CertPEM(pki.Leaf)}, EnvApplePassP12, ErrConflictingSetting, "not both"},
		{"not a p12", AppleConfig{P12: []byte("not a p12")}, EnvApplePassP12, ErrBadCertificate, ".p12"},
		{"other pass type id", AppleConfig{CertPEM: testkit.CertPEM(pki.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(pki.WWDR), PassTypeID: "pass.com.other"},
			EnvApplePassTypeID, ErrIdentifierMismatch, testPassTypeID},
		{"other team", AppleConfig{CertPEM: testkit.CertPEM(otherTeam.Leaf), KeyPEM: key, WWDR: testkit.CertPEM(otherTeam.WWDR), TeamID: testTeamID},
			EnvAppleTeamID, ErrIdentifierMismatch, "ZZZZZ99999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSigner(tt.cfg, nil)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Setting != tt.setting || !errors.Is(err, tt.err) {
				t.Fatalf("NewSigner = %v\nwant setting %s, cause %v", err, tt.setting, tt.err)
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("error %q should mention %q", err, tt.detail)
			}
			if strings.Contains(err.Error(), "BEGIN") || strings.Contains(err.Error(), "MII") {
				t.Errorf("error leaks PEM data: %v", err)
			}
		})
	}
}

func TestClientCertificate(t *testing.T) {
	pki := newTestPKI(t)
	c := pki.signer(t).ClientCertificate()
	if len(c.Certificate) != 2 || !bytes.Equal(c.Certificate[0], pki.Leaf.Raw) || !bytes.Equal(c.Certificate[1], pki.WWDR.Raw) {
		t.Fatal("chain is not pass certificate + WWDR")
	}
	// The pair must be usable by crypto/tls as is.
	pair, err := tls.X509KeyPair(testkit.CertPEM(pki.Leaf, pki.WWDR), testkit.KeyPEM(t, c.PrivateKey.(*rsa.PrivateKey)))
	if err != nil || !pair.Leaf.Equal(c.Leaf) {
		t.Fatalf("X509KeyPair: %v", err)
	}
}

func TestSignerWarnsBeforeExpiry(t *testing.T) {
	now := time.Now()
	soon := newTestPKIWith(t, testkit.PKIOptions{NotAfter: now.Add(10 * 24 * time.Hour)})
	s, err := NewSigner(soon.config(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := s.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "expires in 9 days") && !strings.Contains(w[0], "expires in 10 days") {
		t.Errorf("warnings = %v", w)
	}
	// After expiry (a long-running server), the warning says so.
	late, err := NewSigner(soon.config(t), func() time.Time { return now.Add(11 * 24 * time.Hour) })
	if err == nil {
		t.Fatalf("NewSigner accepted an expired certificate: %v", late.Warnings())
	}
	clock := now
	s, err = NewSigner(soon.config(t), func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	clock = now.Add(11 * 24 * time.Hour)
	if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "expired on") {
		t.Errorf("warnings after expiry = %v", w)
	}
}

func TestSignerWithoutUIDNeedsPassTypeID(t *testing.T) {
	pki := newTestPKI(t)
	// A certificate without UID/OU, e.g. a hand-made test certificate.
	bare := issue(t, &x509.Certificate{
		Subject:   pkix.Name{CommonName: "bare"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour * 24),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}, pki.WWDR, pki.WWDRKey, pki.LeafKey)
	cfg := AppleConfig{CertPEM: testkit.CertPEM(bare), KeyPEM: testkit.KeyPEM(t, pki.LeafKey), WWDR: testkit.CertPEM(pki.WWDR)}
	if _, err := NewSigner(cfg, nil); !errors.Is(err, ErrMissingSetting) || !strings.Contains(err.Error(), EnvApplePassTypeID) {
		t.Fatalf("NewSigner = %v, want the pass type id asked for", err)
	}
	cfg.PassTypeID, cfg.TeamID = "pass.com.lintel.bare", "BARE000000"
	s, err := NewSigner(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.PassTypeID() != "pass.com.lintel.bare" || s.TeamID() != "BARE000000" {
		t.Errorf("ids = %s %s", s.PassTypeID(), s.TeamID())
	}
}

// makeP12 runs openssl pkcs12 -export with extra arguments.
func makeP12(t *testing.T, pki *testPKI, password string, args ...string) []byte {
	t.Helper()
	openssl := requireOpenSSL(t)
	dir := t.TempDir()
	writeFile(t, dir, "cert.pem", testkit.CertPEM(pki.Leaf))
	writeFile(t, dir, "key.pem", testkit.KeyPEM(t, pki.LeafKey))
	writeFile(t, dir, "wwdr.pem", testkit.CertPEM(pki.WWDR))
	cmd := exec.Command(openssl, append([]string{"pkcs12", "-export", "-in", "cert.pem", "-inkey", "key.pem",
		"-passout", "pass:" + password, "-out", "pass.p12"}, args...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, out)
	}
	b, err := os.ReadFile(dir + "/pass.p12")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewSignerFromP12(t *testing.T) {
	pki := newTestPKI(t)
	// The encryption Keychain Access uses (and openssl -legacy).
	legacy := []string{"-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"}

	t.Run("legacy p12 with separate WWDR", func(t *testing.T) {
		p12 := makeP12(t, pki, "s3cret pass", legacy...)
		s, err := NewSigner(AppleConfig{P12: p12, P12Password: "s3cret pass", WWDR: testkit.CertPEM(pki.WWDR)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Certificate().Equal(pki.Leaf) {
			t.Error("wrong certificate")
		}
		files := testkit.UnzipPass(t, mustBuild(t, s, samplePass(), nil))
		if len(files["signature"]) == 0 {
			t.Error("no signature")
		}
	})
	t.Run("legacy p12 carrying the WWDR", func(t *testing.T) {
		p12 := makeP12(t, pki, "pw", append(legacy, "-certfile", "wwdr.pem")...)
		s, err := NewSigner(AppleConfig{P12: p12, P12Password: "pw"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !s.wwdr.Equal(pki.WWDR) {
			t.Error("WWDR not taken from the .p12")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		p12 := makeP12(t, pki, "right", legacy...)
		_, err := NewSigner(AppleConfig{P12: p12, P12Password: "wrong", WWDR: testkit.CertPEM(pki.WWDR)}, nil)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Setting != EnvApplePassP12Password || !errors.Is(err, ErrP12Password) {
			t.Fatalf("NewSigner = %v, want ErrP12Password", err)
		}
		if strings.Contains(err.Error(), "wrong") && !strings.Contains(err.Error(), "wrong .p12 password") {
			t.Errorf("error may quote the password: %v", err)
		}
	})
	t.Run("OpenSSL 3 default (AES) encryption", func(t *testing.T) {
		p12 := makeP12(t, pki, "pw")
		_, err := NewSigner(AppleConfig{P12: p12, P12Password: "pw", WWDR: testkit.CertPEM(pki.WWDR)}, nil)
		if !errors.Is(err, ErrP12Unsupported) || !strings.Contains(err.Error(), "-legacy") {
			t.Fatalf("NewSigner = %v, want ErrP12Unsupported with advice", err)
		}
	})
}
