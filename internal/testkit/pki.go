package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// RSA-2048 key generation takes a noticeable fraction of a second; every
// test of a binary shares these five.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 5)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	return keys
})

// RSAKey is one of five shared RSA-2048 keys (i from 0 to 4).
func RSAKey(i int) *rsa.PrivateKey { return rsaKeys()[i] }

// OIDUserID is the UID attribute in which Apple names a certificate's pass
// type id.
var OIDUserID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// ApplePKI is a chain shaped like Apple's: a root, a WWDR-like intermediate
// and a Pass Type ID certificate carrying the pass type id in UID and the
// team id in OU.
type ApplePKI struct {
	Root, WWDR, Leaf          *x509.Certificate
	RootKey, WWDRKey, LeafKey *rsa.PrivateKey
}

// PKIOptions shape the leaf; zero values take the defaults (valid from an
// hour ago for a year, the given pass type and team).
type PKIOptions struct {
	NotBefore, NotAfter time.Time
	PassTypeID, TeamID  string
}

var serial atomic.Int64

// BuildApplePKI makes the chain; NewApplePKI is the same for a test.
func BuildApplePKI(o PKIOptions) (*ApplePKI, error) {
	p := &ApplePKI{RootKey: RSAKey(0), WWDRKey: RSAKey(1), LeafKey: RSAKey(2)}
	now := time.Now()
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.Add(365 * 24 * time.Hour)
	}
	ca := func(cn, ou string, years int) *x509.Certificate {
		return &x509.Certificate{
			Subject:   pkix.Name{CommonName: cn, OrganizationalUnit: nonEmpty(ou), Organization: []string{"Lintel Test"}},
			NotBefore: now.Add(-48 * time.Hour), NotAfter: now.AddDate(years, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
	}
	var err error
	if p.Root, err = Issue(ca("Test Apple Root CA", "", 20), nil, p.RootKey, p.RootKey); err != nil {
		return nil, err
	}
	if p.WWDR, err = Issue(ca("Test Worldwide Developer Relations Certification Authority", "G4", 10), p.Root, p.RootKey, p.WWDRKey); err != nil {
		return nil, err
	}
	p.Leaf, err = Issue(&x509.Certificate{
		Subject: pkix.Name{
			CommonName:         "Pass Type ID: " + o.PassTypeID,
			OrganizationalUnit: []string{o.TeamID},
			Organization:       []string{"Lintel Test"},
			Country:            []string{"US"},
			ExtraNames:         []pkix.AttributeTypeAndValue{{Type: OIDUserID, Value: o.PassTypeID}},
		},
		NotBefore:   o.NotBefore,
		NotAfter:    o.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, p.WWDR, p.WWDRKey, p.LeafKey)
	return p, err
}

// NewApplePKI is BuildApplePKI failing the test on error.
func NewApplePKI(t testing.TB, o PKIOptions) *ApplePKI {
	t.Helper()
	p, err := BuildApplePKI(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// Issue signs tmpl with parentKey (self-signed when parent is nil) for
// key's public half, with a serial number unique in the test binary.
func Issue(tmpl, parent *x509.Certificate, parentKey, key *rsa.PrivateKey) (*x509.Certificate, error) {
	tmpl.SerialNumber = big.NewInt(1000 + serial.Add(1))
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// CertPEM encodes certificates as PEM, in order.
func CertPEM(cs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range cs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes a private key as PKCS #8 PEM.
func KeyPEM(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// FreshKey is a new random P-256 key, for a test that needs a key unlike
// any other (Key's are the same in every run).
func FreshKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
