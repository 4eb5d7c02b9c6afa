package wallet

import (
	"archive/zip"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// PassMIMEType is the Content-Type of a .pkpass file.
const PassMIMEType = "application/vnd.apple.pkpass"

// MinAuthTokenLen is Apple's minimum length for a pass's authenticationToken.
const MinAuthTokenLen = 16

// Field limits. They are far above what a visitor pass needs and keep a
// pass (and its QR code) inside what a phone shows well.
const (
	maxSerialLen   = 64
	maxTextLen     = 200
	maxLongTextLen = 1000
	maxDoors       = 32
	maxBarcodeLen  = 2048
	maxAuthToken   = 256
)

// PassData is everything one visitor pass shows. The server fills it from
// the VisitorPass, its site and doors; Build (Apple) and Google.Object use
// the same value.
type PassData struct {
	// SerialNumber is the pass id: letters, digits, '.', '_', '-'.
	SerialNumber string
	// PassTypeIdentifier and TeamIdentifier default to the Signer's; when
	// set they must equal them (a mismatch would make the phone refuse it).
	PassTypeIdentifier string
	TeamIdentifier     string
	// OrganizationName is shown on the lock screen and in notifications.
	OrganizationName string
	// Description is read out by VoiceOver; empty means "Visitor pass for
	// <SiteName>".
	Description string

	VisitorName string
	SiteName    string
	Doors       []string
	// ValidityText is the validity in plain words (see ValidityText).
	ValidityText string
	// PIN, if set, goes on the back of the pass (never on the front or the
	// lock screen).
	PIN string
	// Status is the front status field; empty means "Valid", or "No longer
	// valid" when Voided. Changes are announced on the lock screen.
	Status string

	// ValidFrom and Expiration bound the pass (Google's validTimeInterval,
	// Apple's expirationDate).
	ValidFrom  time.Time
	Expiration time.Time
	// RelevantDates are the windows in which the phone should surface the
	// pass (Apple relevantDates; the first start is also the legacy
	// relevantDate). A voided pass carries none.
	RelevantDates []DateInterval
	Voided        bool

	// WebServiceURL is the PassKit web service base (the phone appends
	// /v1/...): https, or http to a loopback address for tests.
	// AuthenticationToken (16+ visible ASCII characters) must be set with it.
	WebServiceURL       string
	AuthenticationToken string

	// Barcode is the QR pass token (docs/protocol.md, "LP1:...").
	Barcode string

	// Colors nil means the default Lintel theme.
	Colors *Colors
	// Location is the site's time zone for the dates in pass.json; nil
	// means UTC.
	Location *time.Location
	// AllowSharing lets the holder share the pass (Apple
	// sharingProhibited, Google ONE_USER_ALL_DEVICES otherwise).
	AllowSharing bool
	// LogoURL is a public https URL of the site's logo for Google Wallet,
	// which cannot take image bytes.
	LogoURL string
}

// DateInterval is a time window.
type DateInterval struct {
	Start, End time.Time
}

// RGB is a colour in pass.json's rgb(r, g, b) form.
type RGB struct{ R, G, B uint8 }

func (c RGB) String() string { return fmt.Sprintf("rgb(%d, %d, %d)", c.R, c.G, c.B) }

// Hex is the colour as #rrggbb (Google Wallet).
func (c RGB) Hex() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// Colors are a pass's colours.
type Colors struct {
	Foreground, Background, Label RGB
}

// DefaultColors is the Lintel theme: white on dark blue.
func DefaultColors() Colors {
	return Colors{
		Foreground: RGB{255, 255, 255},
		Background: RGB{30, 58, 95},
		Label:      RGB{176, 196, 222},
	}
}

// ErrInvalidPass is the cause of every *PassError.
var ErrInvalidPass = errors.New("invalid pass data")

// PassError names the PassData field that cannot go into a pass.
type PassError struct {
	Field  string
	Detail string
}

func (e *PassError) Error() string { return "wallet: pass " + e.Field + ": " + e.Detail }

func (e *PassError) Unwrap() error { return ErrInvalidPass }

// Build makes a signed .pkpass (a zip holding pass.json, the images,
// manifest.json and signature). images nil means the default template.
// It fails with a *PassError for unusable data and a *ConfigError if the
// certificate has expired since start-up.
func (s *Signer) Build(d PassData, images *Images) ([]byte, error) {
	if images == nil || len(images.files) == 0 {
		images = s.defaults
	}
	now := s.now()
	if err := checkValidity(s.cert, now, EnvApplePassCert); err != nil {
		return nil, err
	}
	if err := checkValidity(s.wwdr, now, EnvAppleWWDRCert); err != nil {
		return nil, err
	}
	passJSON, err := s.PassJSON(d)
	if err != nil {
		return nil, err
	}
	passSum := sha1.Sum(passJSON)
	manifest := buildManifest(hex.EncodeToString(passSum[:]), images)
	signature, err := s.sign(manifest)
	if err != nil {
		return nil, fmt.Errorf("wallet: signing the manifest: %w", err)
	}

	size := len(passJSON) + len(manifest) + len(signature) + 22
	for _, f := range images.files {
		size += len(f.data) + 2*(len(f.name)+64)
	}
	var buf bytes.Buffer
	buf.Grow(size + 3*160)
	zw := zip.NewWriter(&buf)
	modified := now.UTC().Truncate(time.Second)
	// Stored, not deflated: PNGs are compressed already, the JSON is tiny,
	// and a flate writer would cost more than the rest of the build.
	put := func(name string, data []byte, crc uint32) error {
		w, err := zw.CreateRaw(&zip.FileHeader{
			Name: name, Method: zip.Store, Modified: modified,
			CRC32: crc, CompressedSize64: uint64(len(data)), UncompressedSize64: uint64(len(data)),
		})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := put("pass.json", passJSON, crc32.ChecksumIEEE(passJSON)); err != nil {
		return nil, err
	}
	for _, f := range images.files {
		if err := put(f.name, f.data, f.crc); err != nil {
			return nil, err
		}
	}
	if err := put("manifest.json", manifest, crc32.ChecksumIEEE(manifest)); err != nil {
		return nil, err
	}
	if err := put("signature", signature, crc32.ChecksumIEEE(signature)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// buildManifest writes {"<file>":"<sha1 hex>",...} in name order. Names are
// from a fixed set of plain ASCII, so no JSON escaping is needed.
func buildManifest(passSHA1 string, images *Images) []byte {
	var b bytes.Buffer
	b.Grow(64 * (len(images.files) + 1))
	b.WriteByte('{')
	wrote := false
	entry := func(name, sum string) {
		if wrote {
			b.WriteByte(',')
		}
		wrote = true
		b.WriteByte('"')
		b.WriteString(name)
		b.WriteString(`":"`)
		b.WriteString(sum)
		b.WriteByte('"')
	}
	passDone := false
	for _, f := range images.files {
		if !passDone && f.name > "pass.json" {
			entry("pass.json", passSHA1)
			passDone = true
		}
		entry(f.name, f.sha1)
	}
	if !passDone {
		entry("pass.json", passSHA1)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// pass.json, as Apple documents it (Wallet Passes > Pass). Key order
// follows the struct; omitted keys are optional ones left unset.
type passJSON struct {
	FormatVersion       int             `json:"formatVersion"`
	PassTypeIdentifier  string          `json:"passTypeIdentifier"`
	SerialNumber        string          `json:"serialNumber"`
	TeamIdentifier      string          `json:"teamIdentifier"`
	OrganizationName    string          `json:"organizationName"`
	Description         string          `json:"description"`
	LogoText            string          `json:"logoText,omitempty"`
	ForegroundColor     string          `json:"foregroundColor"`
	BackgroundColor     string          `json:"backgroundColor"`
	LabelColor          string          `json:"labelColor"`
	WebServiceURL       string          `json:"webServiceURL,omitempty"`
	AuthenticationToken string          `json:"authenticationToken,omitempty"`
	RelevantDate        string          `json:"relevantDate,omitempty"`
	RelevantDates       []relevantDate  `json:"relevantDates,omitempty"`
	ExpirationDate      string          `json:"expirationDate,omitempty"`
	Voided              bool            `json:"voided"`
	SharingProhibited   bool            `json:"sharingProhibited,omitempty"`
	Barcodes            []passBarcode   `json:"barcodes"`
	Barcode             *passBarcode    `json:"barcode"`
	Generic             passFieldGroups `json:"generic"`
}

type relevantDate struct {
	StartDate string `json:"startDate"`
	EndDate   string `json:"endDate"`
}

type passBarcode struct {
	Format          string `json:"format"`
	Message         string `json:"message"`
	MessageEncoding string `json:"messageEncoding"`
}

type passFieldGroups struct {
	HeaderFields    []passField `json:"headerFields,omitempty"`
	PrimaryFields   []passField `json:"primaryFields,omitempty"`
	SecondaryFields []passField `json:"secondaryFields,omitempty"`
	AuxiliaryFields []passField `json:"auxiliaryFields,omitempty"`
	BackFields      []passField `json:"backFields,omitempty"`
}

type passField struct {
	Key           string `json:"key"`
	Label         string `json:"label,omitempty"`
	Value         string `json:"value"`
	ChangeMessage string `json:"changeMessage,omitempty"`
}

// PassJSON returns the pass.json that Build would put in the pass, after
// checking d. Exposed for tests and for showing what a pass holds.
func (s *Signer) PassJSON(d PassData) ([]byte, error) {
	if err := s.normalize(&d); err != nil {
		return nil, err
	}
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	date := func(t time.Time) string { return t.In(loc).Format(time.RFC3339) }
	colors := DefaultColors()
	if d.Colors != nil {
		colors = *d.Colors
	}
	bc := passBarcode{Format: "PKBarcodeFormatQR", Message: d.Barcode, MessageEncoding: "iso-8859-1"}
	p := passJSON{
		FormatVersion:       1,
		PassTypeIdentifier:  d.PassTypeIdentifier,
		SerialNumber:        d.SerialNumber,
		TeamIdentifier:      d.TeamIdentifier,
		OrganizationName:    d.OrganizationName,
		Description:         d.Description,
		LogoText:            d.SiteName,
		ForegroundColor:     colors.Foreground.String(),
		BackgroundColor:     colors.Background.String(),
		LabelColor:          colors.Label.String(),
		WebServiceURL:       d.WebServiceURL,
		AuthenticationToken: d.AuthenticationToken,
		Voided:              d.Voided,
		SharingProhibited:   !d.AllowSharing,
		Barcodes:            []passBarcode{bc},
		Barcode:             &bc, // iOS 8 and older read only this one
	}
	if !d.Expiration.IsZero() {
		p.ExpirationDate = date(d.Expiration)
	}
	// A void pass should not pop up on the lock screen any more.
	if !d.Voided && len(d.RelevantDates) > 0 {
		p.RelevantDate = date(d.RelevantDates[0].Start)
		for _, r := range d.RelevantDates {
			p.RelevantDates = append(p.RelevantDates, relevantDate{StartDate: date(r.Start), EndDate: date(r.End)})
		}
	}

	status := d.Status
	if status == "" {
		status = "Valid"
		if d.Voided {
			status = "No longer valid"
		}
	}
	g := &p.Generic
	// The change message makes an update pushed through the web service
	// show on the lock screen ("Status: Revoked").
	g.HeaderFields = []passField{{Key: "status", Label: "STATUS", Value: status, ChangeMessage: "Status: %@"}}
	if d.VisitorName != "" {
		g.PrimaryFields = []passField{{Key: "visitor", Label: "VISITOR", Value: d.VisitorName}}
	}
	if d.SiteName != "" {
		g.SecondaryFields = append(g.SecondaryFields, passField{Key: "site", Label: "SITE", Value: d.SiteName})
	}
	doors := strings.Join(d.Doors, ", ")
	if doors != "" {
		label := "DOOR"
		if len(d.Doors) > 1 {
			label = "DOORS"
		}
		g.SecondaryFields = append(g.SecondaryFields, passField{Key: "doors", Label: label, Value: doors})
	}
	if d.ValidityText != "" {
		g.AuxiliaryFields = []passField{{Key: "validity", Label: "VALID", Value: d.ValidityText, ChangeMessage: "Now valid: %@"}}
	}
	back := []passField{{Key: "how", Label: "How to use", Value: "Show the QR code to the reader at the door."}}
	if d.PIN != "" {
		back = append(back, passField{Key: "pin", Label: "PIN for the keypad", Value: d.PIN, ChangeMessage: "New PIN: %@"})
	}
	if d.ValidityText != "" {
		back = append(back, passField{Key: "validity_back", Label: "Valid", Value: d.ValidityText})
	}
	if doors != "" {
		back = append(back, passField{Key: "doors_back", Label: "Doors", Value: doors})
	}
	back = append(back, passField{Key: "pass_id", Label: "Pass", Value: d.SerialNumber})
	g.BackFields = back

	return json.Marshal(&p)
}

// normalize fills defaults into d and checks every field.
func (s *Signer) normalize(d *PassData) error {
	switch {
	case d.PassTypeIdentifier == "":
		d.PassTypeIdentifier = s.passTypeID
	case d.PassTypeIdentifier != s.passTypeID:
		return &PassError{"PassTypeIdentifier", fmt.Sprintf("%q differs from the signing certificate's %q", d.PassTypeIdentifier, s.passTypeID)}
	}
	switch {
	case d.TeamIdentifier == "":
		d.TeamIdentifier = s.teamID
	case d.TeamIdentifier != s.teamID:
		return &PassError{"TeamIdentifier", fmt.Sprintf("%q differs from the signing certificate's %q", d.TeamIdentifier, s.teamID)}
	}
	if d.Description == "" && d.SiteName != "" {
		d.Description = "Visitor pass for " + d.SiteName
	}
	return checkCommon(d)
}

// checkCommon checks what both wallets need.
func checkCommon(d *PassData) error {
	if !validSerial(d.SerialNumber) {
		return &PassError{"SerialNumber", fmt.Sprintf("must be 1 to %d letters, digits, '.', '_' or '-'", maxSerialLen)}
	}
	texts := []struct {
		field    string
		v        string
		max      int
		required bool
	}{
		{"OrganizationName", d.OrganizationName, maxTextLen, true},
		{"VisitorName", d.VisitorName, maxTextLen, false},
		{"SiteName", d.SiteName, maxTextLen, false},
		{"Description", d.Description, maxTextLen, true},
		{"ValidityText", d.ValidityText, maxLongTextLen, false},
		{"PIN", d.PIN, 32, false},
		{"Status", d.Status, maxTextLen, false},
	}
	for _, t := range texts {
		if t.required && strings.TrimSpace(t.v) == "" {
			return &PassError{t.field, "is required"}
		}
		if msg := checkText(t.v, t.max); msg != "" {
			return &PassError{t.field, msg}
		}
	}
	if len(d.Doors) > maxDoors {
		return &PassError{"Doors", fmt.Sprintf("at most %d doors", maxDoors)}
	}
	for _, door := range d.Doors {
		if strings.TrimSpace(door) == "" {
			return &PassError{"Doors", "a door name is empty"}
		}
		if msg := checkText(door, maxTextLen); msg != "" {
			return &PassError{"Doors", msg}
		}
	}
	if d.Barcode == "" {
		return &PassError{"Barcode", "the QR token is required"}
	}
	if len(d.Barcode) > maxBarcodeLen {
		return &PassError{"Barcode", fmt.Sprintf("longer than %d bytes", maxBarcodeLen)}
	}
	for _, r := range d.Barcode {
		// pass.json declares the message ISO-8859-1; anything outside it
		// (invalid UTF-8 included, which ranges as U+FFFD) would be
		// mangled in the QR code.
		if r > 0xff {
			return &PassError{"Barcode", "holds a character outside ISO-8859-1"}
		}
	}
	if !d.ValidFrom.IsZero() && !d.Expiration.IsZero() && !d.Expiration.After(d.ValidFrom) {
		return &PassError{"Expiration", "must be after ValidFrom"}
	}
	for _, r := range d.RelevantDates {
		if r.Start.IsZero() || r.End.IsZero() || !r.End.After(r.Start) {
			return &PassError{"RelevantDates", "each interval needs a start and a later end"}
		}
	}
	if len(d.RelevantDates) > 64 {
		return &PassError{"RelevantDates", "at most 64 intervals"}
	}
	if d.WebServiceURL != "" || d.AuthenticationToken != "" {
		u := strings.TrimSuffix(d.WebServiceURL, "/")
		if msg := checkWebServiceURL(u); msg != "" {
			return &PassError{"WebServiceURL", msg}
		}
		d.WebServiceURL = u
		if len(d.AuthenticationToken) < MinAuthTokenLen || len(d.AuthenticationToken) > maxAuthToken {
			return &PassError{"AuthenticationToken", fmt.Sprintf("must be %d to %d characters", MinAuthTokenLen, maxAuthToken)}
		}
		for _, c := range []byte(d.AuthenticationToken) {
			// It travels in an HTTP header: "Authorization: ApplePass <token>".
			if c < 0x21 || c > 0x7e {
				return &PassError{"AuthenticationToken", "must be visible ASCII characters"}
			}
		}
	}
	if d.LogoURL != "" {
		if u, err := url.Parse(d.LogoURL); err != nil || u.Scheme != "https" || u.Host == "" {
			return &PassError{"LogoURL", "must be an absolute https URL"}
		}
	}
	return nil
}

func checkWebServiceURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "must be an absolute URL without query or fragment"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		// Wallet itself insists on https; plain http only makes sense for a
		// test server on this machine.
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return ""
		}
		return "must be https (http is allowed for loopback test servers only)"
	}
	return "must be an https URL"
}

func validSerial(s string) bool {
	if s == "" || len(s) > maxSerialLen {
		return false
	}
	return validGoogleIDPart(s)
}

// checkText refuses control characters and overlong values.
func checkText(s string, max int) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if utf8.RuneCountInString(s) > max {
		return fmt.Sprintf("longer than %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "holds a control character"
		}
	}
	return ""
}
