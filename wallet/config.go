package wallet

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
)

// Environment variables read by ConfigFromEnv. Paths name files; the server
// never takes key material itself from the environment.
const (
	EnvApplePassCert            = "LINTEL_APPLE_PASS_CERT"              // PEM: the Pass Type ID certificate (may hold the key and the WWDR too)
	EnvApplePassKey             = "LINTEL_APPLE_PASS_KEY"               // PEM: its private key (unencrypted)
	EnvApplePassP12             = "LINTEL_APPLE_PASS_P12"               // or a .p12 holding certificate and key
	EnvApplePassP12Password     = "LINTEL_APPLE_PASS_P12_PASSWORD"      // its password
	EnvApplePassP12PasswordFile = "LINTEL_APPLE_PASS_P12_PASSWORD_FILE" // or a file holding it
	EnvAppleWWDRCert            = "LINTEL_APPLE_WWDR_CERT"              // PEM or DER: Apple's WWDR intermediate (G4)
	EnvApplePassTypeID          = "LINTEL_APPLE_PASS_TYPE_ID"           // pass.com.example.visitor (default: from the certificate)
	EnvAppleTeamID              = "LINTEL_APPLE_TEAM_ID"                // ABCDE12345 (default: from the certificate)
	EnvAppleSignatureDigest     = "LINTEL_APPLE_SIGNATURE_DIGEST"       // sha256 (default) or sha1

	EnvGoogleIssuerID           = "LINTEL_GOOGLE_WALLET_ISSUER_ID"     // the numeric issuer id
	EnvGoogleServiceAccountFile = "LINTEL_GOOGLE_SERVICE_ACCOUNT_FILE" // service-account key JSON
	EnvGoogleEndpoint           = "LINTEL_GOOGLE_WALLET_ENDPOINT"      // default DefaultGoogleEndpoint
	EnvGoogleTokenURL           = "LINTEL_GOOGLE_WALLET_TOKEN_URL"     // default: token_uri of the service account
	EnvGoogleClassSuffix        = "LINTEL_GOOGLE_WALLET_CLASS_SUFFIX"  // default DefaultGoogleClassSuffix
	EnvGoogleOrigins            = "LINTEL_GOOGLE_WALLET_ORIGINS"       // comma-separated origins allowed to show the save button
)

// Config is the wallet configuration. A nil part is not configured: the
// server then hides that wallet's button.
type Config struct {
	Apple  *AppleConfig
	Google *GoogleConfig
}

// AppleConfig holds the Apple Wallet signing material as read from files.
// Give either CertPEM (+ KeyPEM, unless the key is in the same PEM) or P12.
type AppleConfig struct {
	// PassTypeID and TeamID default to the certificate's UID and OU; when
	// set they must agree with it.
	PassTypeID string
	TeamID     string

	CertPEM []byte
	KeyPEM  []byte

	P12         []byte
	P12Password string

	// WWDR is Apple's intermediate, PEM or DER. It may be omitted when the
	// certificate PEM or the .p12 already carries it.
	WWDR []byte

	// SignatureDigest is the PKCS#7 digest: "sha256" (the default) or
	// "sha1", an escape hatch should some Wallet version refuse SHA-256.
	SignatureDigest string
}

// GoogleConfig holds the Google Wallet issuer settings.
type GoogleConfig struct {
	IssuerID           string
	ServiceAccountJSON []byte
	// Endpoint is the Wallet REST API base URL; empty means
	// DefaultGoogleEndpoint. Tests point it at a local server.
	Endpoint string
	// TokenURL overrides the service account's token_uri.
	TokenURL string
	// ClassSuffix names the one Generic class all visitor passes use;
	// empty means DefaultGoogleClassSuffix.
	ClassSuffix string
	// Origins are the web origins (https://host) allowed to render the save
	// button; a plain link works without them.
	Origins []string
}

// Sentinel causes carried by *ConfigError; test with errors.Is.
var (
	ErrMissingSetting     = errors.New("required setting is missing")
	ErrConflictingSetting = errors.New("conflicting settings")
	ErrBadSetting         = errors.New("invalid value")
	ErrUnreadable         = errors.New("file cannot be read")
	ErrBadCertificate     = errors.New("not a usable certificate")
	ErrBadKey             = errors.New("not a usable private key")
	ErrKeyMismatch        = errors.New("private key does not belong to the certificate")
	ErrP12Password        = errors.New("wrong .p12 password")
	ErrP12Unsupported     = errors.New("unsupported .p12 encryption")
	ErrCertExpired        = errors.New("certificate has expired")
	ErrCertNotYetValid    = errors.New("certificate is not valid yet")
	ErrWrongIntermediate  = errors.New("intermediate certificate did not issue the pass certificate")
	ErrIdentifierMismatch = errors.New("identifier does not match the certificate")
	ErrBadServiceAccount  = errors.New("not a usable service account key")
)

// ConfigError says which setting is wrong and why. Its text never holds key
// material or passwords; file paths and certificate subjects are fine.
type ConfigError struct {
	Setting string // the environment variable name of the setting
	Err     error  // one of the Err* sentinels
	Detail  string // human-readable specifics
}

func (e *ConfigError) Error() string {
	s := "wallet: " + e.Setting + ": " + e.Err.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *ConfigError) Unwrap() error { return e.Err }

func cfgErr(setting string, err error, format string, args ...any) *ConfigError {
	return &ConfigError{Setting: setting, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// ConfigFromEnv reads the wallet settings through getenv (os.Getenv) and the
// files they name through readFile (os.ReadFile). A wallet none of whose
// variables is set stays nil; a half-configured one is an error listing
// every problem at once (errors.Join of *ConfigError). It only reads and
// checks the settings' shape: NewSigner and NewGoogle parse the material.
func ConfigFromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	var cfg Config
	var errs []error
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	read := func(name string) []byte {
		path := get(name)
		if path == "" {
			return nil
		}
		b, err := readFile(path)
		if err != nil {
			errs = append(errs, cfgErr(name, ErrUnreadable, "%s: %s", path, fsReason(err)))
			return nil
		}
		if len(b) == 0 {
			errs = append(errs, cfgErr(name, ErrUnreadable, "%s is empty", path))
		}
		return b
	}

	appleVars := []string{EnvApplePassCert, EnvApplePassKey, EnvApplePassP12, EnvApplePassP12Password,
		EnvApplePassP12PasswordFile, EnvAppleWWDRCert, EnvApplePassTypeID, EnvAppleTeamID, EnvAppleSignatureDigest}
	if anySet(get, appleVars) {
		a := &AppleConfig{PassTypeID: get(EnvApplePassTypeID), TeamID: get(EnvAppleTeamID), SignatureDigest: strings.ToLower(get(EnvAppleSignatureDigest))}
		hasPEM := get(EnvApplePassCert) != "" || get(EnvApplePassKey) != ""
		hasP12 := get(EnvApplePassP12) != ""
		switch {
		case hasPEM && hasP12:
			errs = append(errs, cfgErr(EnvApplePassP12, ErrConflictingSetting,
				"set either %s (+ %s) or %s, not both", EnvApplePassCert, EnvApplePassKey, EnvApplePassP12))
		case hasP12:
			a.P12 = read(EnvApplePassP12)
			pw, pwFile := getenv(EnvApplePassP12Password), get(EnvApplePassP12PasswordFile)
			switch {
			case pw != "" && pwFile != "":
				errs = append(errs, cfgErr(EnvApplePassP12PasswordFile, ErrConflictingSetting,
					"set either %s or %s, not both", EnvApplePassP12Password, EnvApplePassP12PasswordFile))
			case pwFile != "":
				// A trailing newline from `echo secret > file` is not part of the password.
				a.P12Password = strings.TrimRight(string(read(EnvApplePassP12PasswordFile)), "\r\n")
			default:
				a.P12Password = pw
			}
		case get(EnvApplePassCert) == "":
			errs = append(errs, cfgErr(EnvApplePassCert, ErrMissingSetting,
				"Apple Wallet needs %s (+ %s) or %s", EnvApplePassCert, EnvApplePassKey, EnvApplePassP12))
		default:
			a.CertPEM = read(EnvApplePassCert)
			a.KeyPEM = read(EnvApplePassKey) // may be empty: the key can sit in the certificate file
		}
		a.WWDR = read(EnvAppleWWDRCert)
		if a.PassTypeID != "" && !validPassTypeID(a.PassTypeID) {
			errs = append(errs, cfgErr(EnvApplePassTypeID, ErrBadSetting, "%q does not look like pass.<reverse-dns>", a.PassTypeID))
		}
		if a.SignatureDigest != "" && a.SignatureDigest != "sha256" && a.SignatureDigest != "sha1" {
			errs = append(errs, cfgErr(EnvAppleSignatureDigest, ErrBadSetting, "%q is neither sha256 nor sha1", a.SignatureDigest))
		}
		if a.TeamID != "" && !validTeamID(a.TeamID) {
			errs = append(errs, cfgErr(EnvAppleTeamID, ErrBadSetting, "%q is not 10 upper-case letters or digits", a.TeamID))
		}
		cfg.Apple = a
	}

	googleVars := []string{EnvGoogleIssuerID, EnvGoogleServiceAccountFile, EnvGoogleEndpoint, EnvGoogleTokenURL,
		EnvGoogleClassSuffix, EnvGoogleOrigins}
	if anySet(get, googleVars) {
		g := &GoogleConfig{
			IssuerID:    get(EnvGoogleIssuerID),
			Endpoint:    get(EnvGoogleEndpoint),
			TokenURL:    get(EnvGoogleTokenURL),
			ClassSuffix: get(EnvGoogleClassSuffix),
		}
		if g.IssuerID == "" {
			errs = append(errs, cfgErr(EnvGoogleIssuerID, ErrMissingSetting, "Google Wallet needs the issuer id"))
		}
		if get(EnvGoogleServiceAccountFile) == "" {
			errs = append(errs, cfgErr(EnvGoogleServiceAccountFile, ErrMissingSetting, "Google Wallet needs a service account key file"))
		} else {
			g.ServiceAccountJSON = read(EnvGoogleServiceAccountFile)
		}
		for _, o := range strings.Split(get(EnvGoogleOrigins), ",") {
			if o = strings.TrimSpace(o); o != "" {
				g.Origins = append(g.Origins, o)
			}
		}
		if err := g.checkShape(); err != nil {
			errs = append(errs, err)
		}
		cfg.Google = g
	}
	return cfg, errors.Join(errs...)
}

func anySet(get func(string) string, names []string) bool {
	for _, n := range names {
		if get(n) != "" {
			return true
		}
	}
	return false
}

// fsReason keeps the useful part of a file error without repeating the path.
func fsReason(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// checkShape validates the parts of a GoogleConfig that need no parsing of
// the service account.
func (g *GoogleConfig) checkShape() error {
	var errs []error
	if g.IssuerID != "" && !isDigits(g.IssuerID) {
		errs = append(errs, cfgErr(EnvGoogleIssuerID, ErrBadSetting, "%q is not a numeric issuer id", g.IssuerID))
	}
	if g.ClassSuffix != "" && !validGoogleIDPart(g.ClassSuffix) {
		errs = append(errs, cfgErr(EnvGoogleClassSuffix, ErrBadSetting, "%q may only hold letters, digits, '.', '_' and '-'", g.ClassSuffix))
	}
	for _, u := range []struct{ name, v string }{{EnvGoogleEndpoint, g.Endpoint}, {EnvGoogleTokenURL, g.TokenURL}} {
		if u.v != "" && !validHTTPURL(u.v) {
			errs = append(errs, cfgErr(u.name, ErrBadSetting, "%q is not an absolute http(s) URL", u.v))
		}
	}
	for _, o := range g.Origins {
		if !validOrigin(o) {
			errs = append(errs, cfgErr(EnvGoogleOrigins, ErrBadSetting, "%q is not an origin like https://example.com", o))
		}
	}
	return errors.Join(errs...)
}

func validHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

func validOrigin(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil &&
		(u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == ""
}

func isDigits(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validGoogleIDPart: Google Wallet ids are "<issuer>.<suffix>" where the
// suffix holds alphanumerics, '.', '_' or '-'.
func validGoogleIDPart(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validPassTypeID(s string) bool {
	if !strings.HasPrefix(s, "pass.") || len(s) > 255 || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return len(s) > len("pass.")
}

func validTeamID(s string) bool {
	if len(s) != 10 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
