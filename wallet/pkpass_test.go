package wallet

import (
	"archive/zip"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/lintel/lintel/internal/testkit"
)

func TestBuildPass(t *testing.T) {
	pki := newTestPKI(t)
	s := pki.signer(t)
	d := samplePass()
	before := time.Now().Add(-time.Second)
	pkpass, err := s.Build(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Add(time.Second)
	files := testkit.UnzipPass(t, pkpass)

	wantFiles := []string{"icon.png", "icon@2x.png", "icon@3x.png", "logo.png", "logo@2x.png", "logo@3x.png",
		"manifest.json", "pass.json", "signature"}
	var got []string
	for n := range files {
		got = append(got, n)
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(wantFiles, " ") {
		t.Fatalf("files = %v, want %v", got, wantFiles)
	}

	t.Run("manifest", func(t *testing.T) { testkit.CheckManifest(t, files) })

	t.Run("pass.json", func(t *testing.T) {
		var p map[string]any
		if err := json.Unmarshal(files["pass.json"], &p); err != nil {
			t.Fatal(err)
		}
		strs := map[string]string{
			"passTypeIdentifier":  testPassTypeID,
			"serialNumber":        d.SerialNumber,
			"teamIdentifier":      testTeamID,
			"organizationName":    "Acme Offices",
			"description":         "Visitor pass for Acme HQ",
			"logoText":            "Acme HQ",
			"webServiceURL":       "https://lintel.example/wallet",
			"authenticationToken": d.AuthenticationToken,
			"expirationDate":      "2026-11-26T18:00:00-05:00",
			"relevantDate":        "2026-11-24T14:00:00-05:00",
			"foregroundColor":     "rgb(255, 255, 255)",
			"backgroundColor":     "rgb(30, 58, 95)",
			"labelColor":          "rgb(176, 196, 222)",
		}
		for k, want := range strs {
			v, ok := p[k].(string)
			if !ok || v != want {
				t.Errorf("%s = %#v (%T), want string %q", k, p[k], p[k], want)
			}
		}
		if v, ok := p["formatVersion"].(float64); !ok || v != 1 {
			t.Errorf("formatVersion = %#v, want the number 1", p["formatVersion"])
		}
		if v, ok := p["voided"].(bool); !ok || v {
			t.Errorf("voided = %#v, want false", p["voided"])
		}
		if v, ok := p["sharingProhibited"].(bool); !ok || !v {
			t.Errorf("sharingProhibited = %#v, want true", p["sharingProhibited"])
		}
		if len(p["authenticationToken"].(string)) < 16 {
			t.Error("authenticationToken shorter than 16")
		}
		rgb := regexp.MustCompile(`^rgb\(\d{1,3}, \d{1,3}, \d{1,3}\)$`)
		for _, k := range []string{"foregroundColor", "backgroundColor", "labelColor"} {
			if !rgb.MatchString(p[k].(string)) {
				t.Errorf("%s = %q is not rgb(r, g, b)", k, p[k])
			}
		}
		barcodes, ok := p["barcodes"].([]any)
		if !ok || len(barcodes) != 1 {
			t.Fatalf("barcodes = %#v", p["barcodes"])
		}
		for _, bc := range []any{barcodes[0], p["barcode"]} {
			m, ok := bc.(map[string]any)
			if !ok || m["format"] != "PKBarcodeFormatQR" || m["message"] != d.Barcode || m["messageEncoding"] != "iso-8859-1" {
				t.Errorf("barcode = %#v", bc)
			}
		}
		rds, ok := p["relevantDates"].([]any)
		if !ok || len(rds) != 1 {
			t.Fatalf("relevantDates = %#v", p["relevantDates"])
		}
		rd := rds[0].(map[string]any)
		for k, want := range map[string]time.Time{"startDate": d.RelevantDates[0].Start, "endDate": d.RelevantDates[0].End} {
			s, ok := rd[k].(string)
			if !ok {
				t.Fatalf("relevantDates[0].%s = %#v, want a string", k, rd[k])
			}
			tm, err := time.Parse(time.RFC3339, s)
			if err != nil || !tm.Equal(want) {
				t.Errorf("relevantDates[0].%s = %q, want %v", k, s, want)
			}
		}
		gen, ok := p["generic"].(map[string]any)
		if !ok {
			t.Fatalf("generic = %#v", p["generic"])
		}
		fields := map[string]string{}
		for _, group := range []string{"headerFields", "primaryFields", "secondaryFields", "auxiliaryFields", "backFields"} {
			list, ok := gen[group].([]any)
			if !ok {
				t.Fatalf("generic.%s = %#v", group, gen[group])
			}
			for _, f := range list {
				m := f.(map[string]any)
				key, _ := m["key"].(string)
				val, ok := m["value"].(string)
				if key == "" || !ok {
					t.Errorf("field %#v needs a string key and value", m)
				}
				if _, dup := fields[key]; dup {
					t.Errorf("field key %q used twice (keys must be unique in a pass)", key)
				}
				fields[key] = val
			}
		}
		for k, want := range map[string]string{"status": "Valid", "visitor": "Dana Visitor", "site": "Acme HQ",
			"doors": "Front door, Gym", "validity": d.ValidityText, "pin": "482913", "pass_id": d.SerialNumber} {
			if fields[k] != want {
				t.Errorf("field %s = %q, want %q", k, fields[k], want)
			}
		}
		// The PIN must not be on the front of the pass.
		for _, group := range []string{"headerFields", "primaryFields", "secondaryFields", "auxiliaryFields"} {
			if strings.Contains(mustJSON(t, gen[group]), "482913") {
				t.Errorf("PIN shown in %s", group)
			}
		}
	})

	t.Run("signature", func(t *testing.T) {
		p7, err := pkcs7.Parse(files["signature"])
		if err != nil {
			t.Fatal(err)
		}
		if len(p7.Content) != 0 {
			t.Error("signature is not detached")
		}
		if len(p7.Certificates) != 2 || !p7.Certificates[0].Equal(pki.Leaf) || !p7.Certificates[1].Equal(pki.WWDR) {
			t.Errorf("signature carries %d certificates, want the pass certificate and the WWDR intermediate", len(p7.Certificates))
		}
		var signingTime time.Time
		if err := p7.UnmarshalSignedAttribute(pkcs7.OIDAttributeSigningTime, &signingTime); err != nil {
			t.Fatalf("no signingTime: %v", err)
		}
		if signingTime.Before(before.Truncate(time.Second)) || signingTime.After(after) {
			t.Errorf("signingTime %v not within the build (%v .. %v)", signingTime, before, after)
		}
		if !p7.Signers[0].DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA256) {
			t.Errorf("digest algorithm %v, want SHA-256", p7.Signers[0].DigestAlgorithm.Algorithm)
		}
		// Go's own check against the test root...
		p7.Content = files["manifest.json"]
		roots := x509.NewCertPool()
		roots.AddCert(pki.Root)
		if err := p7.VerifyWithChain(roots); err != nil {
			t.Errorf("pkcs7 verify: %v", err)
		}
		// ...and the one that matters: OpenSSL, as Apple's tooling would.
		testkit.VerifyPassSignature(t, files, pki.Root, pki.WWDR)
	})
}

func TestBuildPassSHA1Signature(t *testing.T) {
	pki := newTestPKI(t)
	cfg := pki.config(t)
	cfg.SignatureDigest = "sha1"
	s, err := NewSigner(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := testkit.UnzipPass(t, mustBuild(t, s, samplePass(), nil))
	p7, err := pkcs7.Parse(files["signature"])
	if err != nil {
		t.Fatal(err)
	}
	if !p7.Signers[0].DigestAlgorithm.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA1) {
		t.Errorf("digest algorithm %v, want SHA-1", p7.Signers[0].DigestAlgorithm.Algorithm)
	}
	testkit.VerifyPassSignature(t, files, pki.Root, pki.WWDR)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestBuildVoidedPass(t *testing.T) {
	s := newTestPKI(t).signer(t)
	d := samplePass()
	d.Voided = true
	files := testkit.UnzipPass(t, mustBuild(t, s, d, nil))
	var p passJSON
	if err := json.Unmarshal(files["pass.json"], &p); err != nil {
		t.Fatal(err)
	}
	if !p.Voided {
		t.Error("voided = false")
	}
	if p.RelevantDate != "" || len(p.RelevantDates) != 0 {
		t.Error("a voided pass still asks to show on the lock screen")
	}
	if p.Generic.HeaderFields[0].Value != "No longer valid" {
		t.Errorf("status = %q", p.Generic.HeaderFields[0].Value)
	}
	d.Status = "Revoked"
	files = testkit.UnzipPass(t, mustBuild(t, s, d, nil))
	if err := json.Unmarshal(files["pass.json"], &p); err != nil {
		t.Fatal(err)
	}
	if p.Generic.HeaderFields[0].Value != "Revoked" || p.Generic.HeaderFields[0].ChangeMessage != "Status: %@" {
		t.Errorf("status field = %+v", p.Generic.HeaderFields[0])
	}
}

func mustBuild(t *testing.T, s *Signer, d PassData, im *Images) []byte {
	t.Helper()
	b, err := s.Build(d, im)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildRejectsBadData(t *testing.T) {
	s := newTestPKI(t).signer(t)
	tests := []struct {
		name  string
		edit  func(*PassData)
		field string
	}{
		{"no serial", func(d *PassData) { d.SerialNumber = "" }, "SerialNumber"},
		{"serial with slash", func(d *PassData) { d.SerialNumber = "a/b" }, "SerialNumber"},
		{"serial too long", func(d *PassData) { d.SerialNumber = strings.Repeat("a", 65) }, "SerialNumber"},
		{"other pass type", func(d *PassData) { d.PassTypeIdentifier = "pass.com.other" }, "PassTypeIdentifier"},
		{"other team", func(d *PassData) { d.TeamIdentifier = "ZZZZZ99999" }, "TeamIdentifier"},
		{"no organization", func(d *PassData) { d.OrganizationName = " " }, "OrganizationName"},
		{"no description", func(d *PassData) { d.SiteName = ""; d.Description = "" }, "Description"},
		{"control char", func(d *PassData) { d.VisitorName = "Dana\x1b[31m" }, "VisitorName"},
		{"bad utf8", func(d *PassData) { d.SiteName = "\xff" }, "SiteName"},
		{"empty door", func(d *PassData) { d.Doors = []string{"Front", ""} }, "Doors"},
		{"no barcode", func(d *PassData) { d.Barcode = "" }, "Barcode"},
		{"barcode not latin-1", func(d *PassData) { d.Barcode = "LP1:€" }, "Barcode"},
		{"short auth token", func(d *PassData) { d.AuthenticationToken = "123456789012345" }, "AuthenticationToken"},
		{"auth token with space", func(d *PassData) { d.AuthenticationToken = "1234567890 12345678" }, "AuthenticationToken"},
		{"token without url", func(d *PassData) { d.WebServiceURL = "" }, "WebServiceURL"},
		{"http web service", func(d *PassData) { d.WebServiceURL = "http://lintel.example/wallet" }, "WebServiceURL"},
		{"web service with query", func(d *PassData) { d.WebServiceURL = "https://lintel.example/wallet?x=1" }, "WebServiceURL"},
		{"relevant end before start", func(d *PassData) {
			d.RelevantDates = []DateInterval{{Start: d.Expiration, End: d.ValidFrom}}
		}, "RelevantDates"},
		{"expiration before start", func(d *PassData) { d.Expiration = d.ValidFrom.Add(-time.Hour) }, "Expiration"},
		{"http logo", func(d *PassData) { d.LogoURL = "http://x/logo.png" }, "LogoURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := samplePass()
			tt.edit(&d)
			_, err := s.Build(d, nil)
			var pe *PassError
			if !errors.As(err, &pe) || pe.Field != tt.field || !errors.Is(err, ErrInvalidPass) {
				t.Fatalf("Build error = %v, want a *PassError for %s", err, tt.field)
			}
		})
	}
	// Loopback http is allowed, for test servers; a trailing slash is dropped.
	d := samplePass()
	d.WebServiceURL = "http://127.0.0.1:8080/wallet/"
	d.AuthenticationToken = ""
	if _, err := s.Build(d, nil); err == nil {
		t.Error("a web service without a token was accepted")
	}
	d.AuthenticationToken = "0123456789abcdef"
	pj, err := s.PassJSON(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(pj, []byte(`"webServiceURL":"http://127.0.0.1:8080/wallet"`)) {
		t.Errorf("pass.json = %s", pj)
	}
	// Neither web service nor token: a pass that never updates is fine.
	d.WebServiceURL, d.AuthenticationToken = "", ""
	if _, err := s.Build(d, nil); err != nil {
		t.Errorf("pass without web service: %v", err)
	}
}

func TestBuildAfterCertificateExpired(t *testing.T) {
	pki := newTestPKI(t)
	clock := time.Now()
	s, err := NewSigner(pki.config(t), func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	clock = pki.Leaf.NotAfter.Add(time.Minute)
	_, err = s.Build(samplePass(), nil)
	if !errors.Is(err, ErrCertExpired) {
		t.Fatalf("Build with an expired certificate = %v, want ErrCertExpired", err)
	}
}

func pngOf(t testing.TB, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.NRGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestImages(t *testing.T) {
	def := DefaultImages()
	if got := strings.Join(def.Names(), " "); got != "icon.png icon@2x.png icon@3x.png logo.png logo@2x.png logo@3x.png" {
		t.Fatalf("default images = %s", got)
	}
	for _, f := range def.files {
		if msg := checkPNG(f.data); msg != "" {
			t.Errorf("default %s %s", f.name, msg)
		}
	}

	logo, logo2x := pngOf(t, 160, 50), pngOf(t, 320, 100)
	im, err := LoadImages(fstest.MapFS{
		"logo.png":    {Data: logo},
		"logo@2x.png": {Data: logo2x},
		".DS_Store":   {Data: []byte("junk")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(im.Names(), " "); got != "icon.png icon@2x.png icon@3x.png logo.png logo@2x.png" {
		t.Errorf("override names = %s (the default logo@3x must go with the default logo)", got)
	}
	s := newTestPKI(t).signer(t)
	files := testkit.UnzipPass(t, mustBuild(t, s, samplePass(), im))
	if !bytes.Equal(files["logo.png"], logo) || !bytes.Equal(files["logo@2x.png"], logo2x) {
		t.Error("the site's logo is not in the pass")
	}
	if _, ok := files["logo@3x.png"]; ok {
		t.Error("the default logo@3x.png survived an override")
	}
	if !bytes.Equal(files["icon.png"], def.files[0].data) {
		t.Error("the default icon is missing")
	}
	testkit.CheckManifest(t, files) // the site's logo hashed, the dropped default not listed

	bad := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"unknown name", fstest.MapFS{"strip.png": {Data: logo}}, "strip.png"},
		{"not png", fstest.MapFS{"logo.png": {Data: []byte("GIF89a....")}}, "logo.png"},
		{"variant without base", fstest.MapFS{"logo@2x.png": {Data: logo2x}}, "logo.png"},
		{"huge", fstest.MapFS{"icon.png": {Data: pngOf(t, 2000, 10)}}, "icon.png"},
		{"too many bytes", fstest.MapFS{"icon.png": {Data: append(pngOf(t, 10, 10), make([]byte, maxImageBytes)...)}}, "icon.png"},
		{"directory", fstest.MapFS{"sub/icon.png": {Data: logo}}, "sub"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadImages(tt.files)
			var ie *ImageError
			if !errors.As(err, &ie) || ie.Name != tt.want || !errors.Is(err, ErrBadImage) {
				t.Fatalf("LoadImages = %v, want an *ImageError for %s", err, tt.want)
			}
		})
	}
}

func TestManifestOrderAndPassJSONFirst(t *testing.T) {
	// Thumbnail sorts after pass.json: the manifest must stay in name order.
	im, err := ImagesFromFiles(map[string][]byte{"thumbnail.png": pngOf(t, 90, 90)})
	if err != nil {
		t.Fatal(err)
	}
	m := buildManifest("00", im)
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(m))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if !sort.StringsAreSorted(keys) || len(keys) != 8 || keys[6] != "pass.json" {
		t.Errorf("manifest keys = %v", keys)
	}
}

// A Signer and an image set are shared by all requests: building in
// parallel must be safe (run with -race) and give valid passes.
func TestBuildConcurrently(t *testing.T) {
	s := newTestPKI(t).signer(t)
	im, err := ImagesFromFiles(map[string][]byte{"thumbnail.png": pngOf(t, 90, 90)})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			d := samplePass()
			d.SerialNumber = fmt.Sprintf("pass_%d", i)
			b, err := s.Build(d, im)
			if err == nil {
				_, err = zip.NewReader(bytes.NewReader(b), int64(len(b)))
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
