package wallet

import (
	"bytes"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
	"golang.org/x/crypto/pkcs12"
)

// certWarnBefore is how long before a certificate expires Warnings starts
// saying so: renewing an Apple pass certificate takes a developer account
// login and a new .p12, so a month's notice is welcome.
const certWarnBefore = 30 * 24 * time.Hour

// oidUserID is the UID attribute in which Apple puts the pass type id of a
// Pass Type ID certificate (its OU holds the team id).
var oidUserID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// Signer builds and signs Apple Wallet passes with one Pass Type ID
// certificate. Parsing and checking the certificate chain and key happens
// once in NewSigner; a Signer is immutable and safe for concurrent use.
type Signer struct {
	cert       *x509.Certificate
	key        *rsa.PrivateKey
	wwdr       *x509.Certificate
	passTypeID string
	teamID     string
	digest     asn1.ObjectIdentifier
	defaults   *Images
	now        func() time.Time
}

// NewSigner parses and checks the Apple signing material: the key must
// belong to the certificate, the WWDR intermediate must have issued it, both
// must be valid now, and the pass type and team ids must agree with the
// certificate. now is the clock (nil means time.Now). Every failure is a
// *ConfigError naming the setting to fix.
func NewSigner(cfg AppleConfig, now func() time.Time) (*Signer, error) {
	if now == nil {
		now = time.Now
	}
	var digest asn1.ObjectIdentifier
	switch strings.ToLower(cfg.SignatureDigest) {
	case "", "sha256":
		digest = pkcs7.OIDDigestAlgorithmSHA256
	case "sha1":
		digest = pkcs7.OIDDigestAlgorithmSHA1
	default:
		return nil, cfgErr(EnvAppleSignatureDigest, ErrBadSetting, "%q is neither sha256 nor sha1", cfg.SignatureDigest)
	}
	var certs []*x509.Certificate
	var key any
	switch {
	case len(cfg.P12) > 0 && (len(cfg.CertPEM) > 0 || len(cfg.KeyPEM) > 0):
		return nil, cfgErr(EnvApplePassP12, ErrConflictingSetting, "give either a .p12 or PEM certificate and key, not both")
	case len(cfg.P12) > 0:
		var err error
		if certs, key, err = parseP12(cfg.P12, cfg.P12Password); err != nil {
			return nil, err
		}
	case len(cfg.CertPEM) > 0:
		var err error
		var keyInCert any
		if certs, keyInCert, err = parsePEMBundle(cfg.CertPEM, EnvApplePassCert); err != nil {
			return nil, err
		}
		if len(cfg.KeyPEM) > 0 {
			var keyCerts []*x509.Certificate
			if keyCerts, key, err = parsePEMBundle(cfg.KeyPEM, EnvApplePassKey); err != nil {
				return nil, err
			}
			certs = append(certs, keyCerts...)
		}
		if key == nil {
			key = keyInCert
		}
		if key == nil {
			return nil, cfgErr(EnvApplePassKey, ErrMissingSetting, "no private key in %s or %s", EnvApplePassKey, EnvApplePassCert)
		}
	default:
		return nil, cfgErr(EnvApplePassCert, ErrMissingSetting, "no pass certificate (give %s + %s, or %s)", EnvApplePassCert, EnvApplePassKey, EnvApplePassP12)
	}
	certSetting := EnvApplePassCert
	if len(cfg.P12) > 0 {
		certSetting = EnvApplePassP12
	}
	if len(certs) == 0 {
		return nil, cfgErr(certSetting, ErrBadCertificate, "no certificate found")
	}
	rsaKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, cfgErr(keySetting(cfg), ErrBadKey, "Apple pass certificates use RSA keys, this is a %T", key)
	}
	if rsaKey.N.BitLen() < 2048 {
		return nil, cfgErr(keySetting(cfg), ErrBadKey, "RSA key of %d bits; at least 2048 are needed", rsaKey.N.BitLen())
	}
	if err := rsaKey.Validate(); err != nil {
		return nil, cfgErr(keySetting(cfg), ErrBadKey, "inconsistent RSA key")
	}
	rsaKey.Precompute()

	// The leaf is the certificate the key belongs to; the file may also
	// hold the chain, in any order.
	var leaf *x509.Certificate
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&rsaKey.PublicKey) {
			leaf = c
			break
		}
	}
	if leaf == nil {
		return nil, cfgErr(keySetting(cfg), ErrKeyMismatch, "the key matches none of the %d certificate(s) given (pass certificate %q)",
			len(certs), describe(certs[0]))
	}

	// The WWDR intermediate: whichever candidate actually signed the leaf.
	var given []*x509.Certificate
	if len(cfg.WWDR) > 0 {
		var err error
		if given, err = parseCertificates(cfg.WWDR, EnvAppleWWDRCert); err != nil {
			return nil, err
		}
	}
	candidates := append([]*x509.Certificate(nil), given...)
	for _, c := range certs {
		if c != leaf {
			candidates = append(candidates, c)
		}
	}
	var wwdr *x509.Certificate
	for _, c := range candidates {
		if bytes.Equal(c.RawSubject, leaf.RawIssuer) && leaf.CheckSignatureFrom(c) == nil {
			wwdr = c
			break
		}
	}
	if wwdr == nil {
		if len(cfg.WWDR) > 0 {
			return nil, cfgErr(EnvAppleWWDRCert, ErrWrongIntermediate, "the pass certificate was issued by %q; the file holds %s (Apple's pass certificates are issued by the WWDR G4 intermediate)",
				leaf.Issuer.String(), describeAll(given))
		}
		return nil, cfgErr(EnvAppleWWDRCert, ErrMissingSetting, "the intermediate that issued the pass certificate (%q) was not found; download it from Apple's certificate authority page", leaf.Issuer.String())
	}

	t := now()
	if err := checkValidity(leaf, t, certSetting); err != nil {
		return nil, err
	}
	wwdrSetting := EnvAppleWWDRCert
	if len(cfg.WWDR) == 0 {
		wwdrSetting = certSetting
	}
	if err := checkValidity(wwdr, t, wwdrSetting); err != nil {
		return nil, err
	}

	passTypeID, teamID, err := identifiers(leaf, cfg.PassTypeID, cfg.TeamID)
	if err != nil {
		return nil, err
	}
	return &Signer{
		cert: leaf, key: rsaKey, wwdr: wwdr,
		passTypeID: passTypeID, teamID: teamID, digest: digest,
		defaults: DefaultImages(), now: now,
	}, nil
}

func keySetting(cfg AppleConfig) string {
	switch {
	case len(cfg.P12) > 0:
		return EnvApplePassP12
	case len(cfg.KeyPEM) > 0:
		return EnvApplePassKey
	}
	return EnvApplePassCert
}

// PassTypeID is the pass type identifier passes are signed for.
func (s *Signer) PassTypeID() string { return s.passTypeID }

// TeamID is the Apple developer team identifier.
func (s *Signer) TeamID() string { return s.teamID }

// Certificate returns the Pass Type ID certificate (for its expiry, say).
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// ClientCertificate is the pass certificate (with the WWDR intermediate)
// and key as a TLS client certificate. Apple documents pass update pushes
// as sent to production APNs authenticated with the certificate that signs
// the passes, on the topic PassTypeID(): lintel serve gives it to the APNs
// provider as notifications.APNsConfig.WalletCertificate.
func (s *Signer) ClientCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{s.cert.Raw, s.wwdr.Raw}, PrivateKey: s.key, Leaf: s.cert}
}

// DefaultImages is the built-in image set Build uses when given none.
func (s *Signer) DefaultImages() *Images { return s.defaults }

// Warnings lists conditions worth logging at start-up and daily: a
// certificate that expires within 30 days.
func (s *Signer) Warnings() []string {
	t := s.now()
	var out []string
	for _, c := range []struct {
		what string
		cert *x509.Certificate
	}{{"Apple pass certificate", s.cert}, {"Apple WWDR intermediate", s.wwdr}} {
		left := c.cert.NotAfter.Sub(t)
		switch {
		case left <= 0:
			out = append(out, fmt.Sprintf("%s %q expired on %s; no pass can be signed until it is renewed",
				c.what, describe(c.cert), c.cert.NotAfter.UTC().Format("2006-01-02")))
		case left < certWarnBefore:
			out = append(out, fmt.Sprintf("%s %q expires in %d days (%s); passes cannot be signed after that",
				c.what, describe(c.cert), int(left.Hours()/24), c.cert.NotAfter.UTC().Format("2006-01-02")))
		}
	}
	return out
}

// sign makes the detached PKCS#7 signature of manifest.json that Apple
// wants: signed attributes with the signing time, the pass certificate and
// the WWDR intermediate included, no content.
//
// The digest is SHA-256 unless configured otherwise. Apple's old signpass
// tool and passkit-generator still use SHA-1; OpenSSL's own default (and so
// php-pkpass, which signs through it) has been SHA-256 for years, which
// Wallet accepts, and SHA-1 signatures are deprecated everywhere. SHA-1
// stays available as a setting in case a Wallet version ever refuses
// SHA-256. The manifest's file hashes are SHA-1 either way: that is the
// format.
func (s *Signer) sign(manifest []byte) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(manifest)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(s.digest)
	// AddSigner rather than AddSignerChain: the chain was checked once in
	// NewSigner, and re-checking it costs an RSA verification per pass.
	if err := sd.AddSigner(s.cert, s.key, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, err
	}
	sd.AddCertificate(s.wwdr)
	sd.Detach()
	return sd.Finish()
}

func checkValidity(c *x509.Certificate, t time.Time, setting string) error {
	switch {
	case t.After(c.NotAfter):
		return cfgErr(setting, ErrCertExpired, "%q expired on %s; renew it in the Apple developer account",
			describe(c), c.NotAfter.UTC().Format(time.RFC3339))
	case t.Before(c.NotBefore):
		return cfgErr(setting, ErrCertNotYetValid, "%q is valid from %s (check the clock)",
			describe(c), c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// identifiers takes the pass type id from the certificate's UID and the
// team id from its OU, and checks configured values against them: a pass
// whose passTypeIdentifier differs from its certificate's is silently
// refused by the phone, so catch it at start-up.
func identifiers(leaf *x509.Certificate, passTypeID, teamID string) (string, string, error) {
	var certPassType string
	for _, n := range leaf.Subject.Names {
		if n.Type.Equal(oidUserID) {
			if v, ok := n.Value.(string); ok {
				certPassType = v
			}
		}
	}
	var certTeam string
	if len(leaf.Subject.OrganizationalUnit) == 1 {
		certTeam = leaf.Subject.OrganizationalUnit[0]
	}
	switch {
	case passTypeID != "" && certPassType != "" && passTypeID != certPassType:
		return "", "", cfgErr(EnvApplePassTypeID, ErrIdentifierMismatch, "%q is set but the certificate is for %q", passTypeID, certPassType)
	case passTypeID == "":
		passTypeID = certPassType
	}
	switch {
	case teamID != "" && certTeam != "" && validTeamID(certTeam) && teamID != certTeam:
		return "", "", cfgErr(EnvAppleTeamID, ErrIdentifierMismatch, "%q is set but the certificate belongs to team %q", teamID, certTeam)
	case teamID == "":
		teamID = certTeam
	}
	if passTypeID == "" {
		return "", "", cfgErr(EnvApplePassTypeID, ErrMissingSetting, "the certificate names no pass type id (UID); set it")
	}
	if !validPassTypeID(passTypeID) {
		return "", "", cfgErr(EnvApplePassTypeID, ErrBadSetting, "%q does not look like pass.<reverse-dns>", passTypeID)
	}
	if teamID == "" {
		return "", "", cfgErr(EnvAppleTeamID, ErrMissingSetting, "the certificate names no team id (OU); set it")
	}
	if !validTeamID(teamID) {
		return "", "", cfgErr(EnvAppleTeamID, ErrBadSetting, "%q is not 10 upper-case letters or digits", teamID)
	}
	return passTypeID, teamID, nil
}

// parseP12 reads a PKCS#12 file. golang.org/x/crypto/pkcs12 reads the
// legacy encryption (3DES / RC2 with a SHA-1 MAC) that macOS Keychain Access
// writes; OpenSSL 3 writes AES by default, which gets a message saying how
// to convert.
func parseP12(data []byte, password string) ([]*x509.Certificate, any, error) {
	blocks, err := pkcs12.ToPEM(data, password)
	if err != nil {
		var ni pkcs12.NotImplementedError
		switch {
		case errors.Is(err, pkcs12.ErrIncorrectPassword):
			return nil, nil, cfgErr(EnvApplePassP12Password, ErrP12Password, "the .p12 could not be opened with the password given")
		case errors.As(err, &ni):
			return nil, nil, cfgErr(EnvApplePassP12, ErrP12Unsupported,
				"%s; re-export it with legacy encryption (openssl pkcs12 -export -legacy ..., or Keychain Access) or give the certificate and key as PEM files", ni.Error())
		}
		return nil, nil, cfgErr(EnvApplePassP12, ErrBadCertificate, "not a readable .p12 file")
	}
	var certs []*x509.Certificate
	var key any
	for _, b := range blocks {
		switch b.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, cfgErr(EnvApplePassP12, ErrBadCertificate, "a certificate in the .p12 cannot be parsed")
			}
			certs = append(certs, c)
		default:
			if key != nil {
				return nil, nil, cfgErr(EnvApplePassP12, ErrBadKey, "the .p12 holds more than one private key")
			}
			if key, err = parseKeyDER(b.Bytes); err != nil {
				return nil, nil, cfgErr(EnvApplePassP12, ErrBadKey, "the private key in the .p12 cannot be parsed")
			}
		}
	}
	if key == nil {
		return nil, nil, cfgErr(EnvApplePassP12, ErrBadKey, "the .p12 holds no private key")
	}
	return certs, key, nil
}

// parsePEMBundle reads every certificate and at most one private key from
// PEM data.
func parsePEMBundle(data []byte, setting string) ([]*x509.Certificate, any, error) {
	var certs []*x509.Certificate
	var key any
	rest := data
	found := false
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		found = true
		switch {
		case b.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, nil, cfgErr(setting, ErrBadCertificate, "a CERTIFICATE block cannot be parsed")
			}
			certs = append(certs, c)
		case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "":
			return nil, nil, cfgErr(setting, ErrBadKey,
				"the private key is encrypted; decrypt it (openssl pkey -in key.pem -out plain.pem) and protect the file with mode 0600, or use a .p12")
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			if key != nil {
				return nil, nil, cfgErr(setting, ErrBadKey, "more than one private key")
			}
			k, err := parseKeyDER(b.Bytes)
			if err != nil {
				return nil, nil, cfgErr(setting, ErrBadKey, "the %s block cannot be parsed", b.Type)
			}
			key = k
		}
	}
	if !found {
		return nil, nil, cfgErr(setting, ErrBadCertificate, "no PEM data found (a .cer from Apple is DER: convert it with openssl x509 -inform DER -in pass.cer -out pass.pem)")
	}
	return certs, key, nil
}

// parseCertificates reads PEM or DER certificates (Apple publishes the WWDR
// intermediate as DER .cer).
func parseCertificates(data []byte, setting string) ([]*x509.Certificate, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		certs, _, err := parsePEMBundle(data, setting)
		if err == nil && len(certs) == 0 {
			err = cfgErr(setting, ErrBadCertificate, "no CERTIFICATE block found")
		}
		return certs, err
	}
	certs, err := x509.ParseCertificates(data)
	if err != nil || len(certs) == 0 {
		return nil, cfgErr(setting, ErrBadCertificate, "neither PEM nor DER certificates")
	}
	return certs, nil
}

func parseKeyDER(der []byte) (any, error) {
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("unknown private key format")
}

func describe(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

func describeAll(cs []*x509.Certificate) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = fmt.Sprintf("%q", describe(c))
	}
	return strings.Join(names, ", ")
}
