package credential

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"
	"testing"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/lintel/lintel/credential/schedule"
	"github.com/lintel/lintel/internal/testkit"
)

func doorIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("door-%02d", i)
	}
	return ids
}

func testPass(doors int) PassClaims {
	return PassClaims{
		ID: "pass-0f8fad5b-d9cb-469f-a165-70867728950e", Site: testSite, Type: PassRecurring,
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(7 * 24 * time.Hour),
		Schedule: &schedule.Weekly{Days: 0x3e, Start: 9 * 60, End: 17*60 + 30},
		Doors:    DoorHashes(doorIDs(doors)...),
	}
}

func TestPassTokenRoundTrip(t *testing.T) {
	k := fixedSigningKey(t, "issuer")
	keys := keySet(t, fixedSigningKey(t, "old"), k)
	for _, p := range []PassClaims{testPass(1), testPass(16),
		func() PassClaims { p := testPass(3); p.Schedule = nil; p.Type = PassSingleUse; return p }()} {
		tok, err := IssuePassToken(k, testRand(1), p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tok, "LP1:") || strings.Trim(tok[4:], base45Alphabet) != "" {
			t.Fatalf("token %q is not LP1 + base45", tok)
		}
		got, err := VerifyPassToken(keys, testSite, tok, testNow, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != p.ID || got.Site != testSite || got.Type != p.Type || got.KID != k.KID() ||
			!got.NotBefore.Equal(p.NotBefore) || !got.NotAfter.Equal(p.NotAfter) ||
			(got.Schedule == nil) != (p.Schedule == nil) || (p.Schedule != nil && *got.Schedule != *p.Schedule) ||
			len(got.Doors) != len(p.Doors) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, p)
		}
		for i, id := range doorIDs(len(p.Doors)) {
			if !got.AllowsDoor(id) || got.Doors[i] != DoorHash(id) {
				t.Fatalf("door %s lost", id)
			}
		}
		if got.AllowsDoor("door-99") || got.AllowsDoor("") {
			t.Fatal("pass allows a door it does not name")
		}
	}
}

func TestPassInSchedule(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	p := testPass(1) // Mon-Fri 09:00-17:30
	tests := []struct {
		at   time.Time
		loc  *time.Location
		want bool
	}{
		{time.Date(2026, 5, 6, 9, 0, 0, 0, ny), ny, true},
		{time.Date(2026, 5, 6, 17, 30, 0, 0, ny), ny, false},
		{time.Date(2026, 5, 6, 13, 30, 0, 0, time.UTC), ny, true},  // 09:30 EDT
		{time.Date(2026, 5, 6, 13, 30, 0, 0, time.UTC), nil, true}, // UTC 13:30
		{time.Date(2026, 5, 6, 8, 30, 0, 0, time.UTC), nil, false},
		{time.Date(2026, 5, 9, 12, 0, 0, 0, ny), ny, false}, // Saturday
	}
	for _, tt := range tests {
		if got := p.InSchedule(tt.at, tt.loc); got != tt.want {
			t.Errorf("InSchedule(%v, %v) = %v", tt.at, tt.loc, got)
		}
	}
	p.Schedule = nil
	if !p.InSchedule(time.Date(2026, 5, 9, 3, 0, 0, 0, ny), ny) {
		t.Error("a pass without schedule must always be inside")
	}
}

func TestVerifyPassTokenDenials(t *testing.T) {
	k := fixedSigningKey(t, "issuer")
	keys := keySet(t, k)
	p := testPass(4)
	tok, err := IssuePassToken(k, testRand(1), p)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := IssuePassToken(fixedSigningKey(t, "stranger"), testRand(1), p)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base45Decode(tok[4:])
	if err != nil {
		t.Fatal(err)
	}
	reencode := func(edit func([]byte) []byte) string {
		return PassTokenPrefix + base45Encode(edit(append([]byte(nil), raw...)))
	}
	tests := []struct {
		name   string
		tok    string
		site   string
		now    time.Time
		leeway time.Duration
		want   Reason
	}{
		{"ok", tok, testSite, testNow, 0, ""},
		{"wrong prefix", "LP2:" + tok[4:], testSite, testNow, 0, ReasonMalformed},
		{"no prefix", tok[4:], testSite, testNow, 0, ReasonMalformed},
		{"lower case", strings.ToLower(tok), testSite, testNow, 0, ReasonMalformed},
		{"not base45", tok + "!", testSite, testNow, 0, ReasonMalformed},
		{"truncated", tok[:len(tok)-3], testSite, testNow, 0, ReasonMalformed},
		{"extra byte", reencode(func(b []byte) []byte { return append(b, 0) }), testSite, testNow, 0, ReasonMalformed},
		{"too long", tok + strings.Repeat("0", MaxPassTokenLen), testSite, testNow, 0, ReasonMalformed},
		{"empty", "", testSite, testNow, 0, ReasonMalformed},
		{"type 0", reencode(func(b []byte) []byte { b[8] = 0; return b }), testSite, testNow, 0, ReasonMalformed},
		{"type 4", reencode(func(b []byte) []byte { b[8] = 4; return b }), testSite, testNow, 0, ReasonMalformed},
		{"unknown flag", reencode(func(b []byte) []byte { b[9] |= 2; return b }), testSite, testNow, 0, ReasonMalformed},
		{"schedule days 0", reencode(func(b []byte) []byte { b[26] = 0; return b }), testSite, testNow, 0, ReasonMalformed},
		{"door count 0", reencode(func(b []byte) []byte { b[39] = 0; return b }), testSite, testNow, 0, ReasonMalformed},
		{"door count 17", reencode(func(b []byte) []byte { b[39] = 17; return b }), testSite, testNow, 0, ReasonMalformed},
		{"duplicate door", reencode(func(b []byte) []byte { copy(b[48:56], b[40:48]); return b }), testSite, testNow, 0, ReasonMalformed},
		{"unknown key", stranger, testSite, testNow, 0, ReasonUnknownKey},
		{"flipped door bit", reencode(func(b []byte) []byte { b[45] ^= 1; return b }), testSite, testNow, 0, ReasonBadSignature},
		{"extended validity", reencode(func(b []byte) []byte { b[24]++; return b }), testSite, testNow, 0, ReasonBadSignature},
		{"flipped signature", reencode(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), testSite, testNow, 0, ReasonBadSignature},
		{"wrong site", tok, "site-2", testNow, 0, ReasonWrongSite},
		{"no site", tok, "", testNow, 0, ReasonWrongSite},
		{"expired", tok, testSite, p.NotAfter, 0, ReasonExpired},
		{"expired within leeway", tok, testSite, p.NotAfter.Add(29 * time.Second), 30 * time.Second, ""},
		{"expired beyond leeway", tok, testSite, p.NotAfter.Add(30 * time.Second), 30 * time.Second, ReasonExpired},
		{"not yet valid", tok, testSite, p.NotBefore.Add(-time.Second), 0, ReasonNotYetValid},
		{"nbf within leeway", tok, testSite, p.NotBefore.Add(-time.Second), time.Second, ""},
		{"negative leeway is none", tok, testSite, p.NotBefore.Add(-time.Second), -time.Hour, ReasonNotYetValid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyPassToken(keys, tt.site, tt.tok, tt.now, tt.leeway)
			if got := ReasonOf(err); got != tt.want || (err == nil) != (c != nil) {
				t.Fatalf("VerifyPassToken = %v, %v; want %q", c, err, tt.want)
			}
		})
	}
}

func TestIssuePassTokenRejects(t *testing.T) {
	k := fixedSigningKey(t, "issuer")
	tests := map[string]func(*PassClaims){
		"no id":          func(p *PassClaims) { p.ID = "" },
		"id too long":    func(p *PassClaims) { p.ID = strings.Repeat("i", 65) },
		"id not UTF-8":   func(p *PassClaims) { p.ID = "\xff" },
		"no site":        func(p *PassClaims) { p.Site = "" },
		"type 0":         func(p *PassClaims) { p.Type = 0 },
		"no validity":    func(p *PassClaims) { p.NotBefore = time.Time{} },
		"empty validity": func(p *PassClaims) { p.NotAfter = p.NotBefore },
		"bad schedule":   func(p *PassClaims) { p.Schedule = &schedule.Weekly{Days: 1, Start: 10, End: 5} },
		"no doors":       func(p *PassClaims) { p.Doors = nil },
		"17 doors":       func(p *PassClaims) { p.Doors = DoorHashes(doorIDs(17)...) },
		"duplicate door": func(p *PassClaims) { p.Doors = DoorHashes("a", "b", "a") },
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			p := testPass(2)
			edit(&p)
			if tok, err := IssuePassToken(k, testRand(1), p); err == nil {
				t.Fatalf("issued %q", tok)
			}
		})
	}
	if _, err := IssuePassToken(nil, testRand(1), testPass(1)); err == nil {
		t.Fatal("issued without a key")
	}
}

func TestPassType(t *testing.T) {
	for _, s := range []string{"recurring", "temporary", "single_use"} {
		pt, err := ParsePassType(s)
		if err != nil || pt.String() != s {
			t.Fatalf("ParsePassType(%q) = %v, %v", s, pt, err)
		}
	}
	if _, err := ParsePassType("forever"); err == nil {
		t.Fatal("unknown type parsed")
	}
	if PassType(9).String() != "PassType(9)" || PassType(0).Valid() {
		t.Fatal("invalid type")
	}
}

// TestPassTokenQR renders the largest pass token (16 doors, a schedule, a
// 64-byte id) as a QR code at error correction M, checks it fits version
// 13, and decodes it back from the image.
func TestPassTokenQR(t *testing.T) {
	k := fixedSigningKey(t, "issuer")
	for _, idLen := range []int{36, MaxPassIDLen} {
		t.Run(fmt.Sprintf("id %d bytes", idLen), func(t *testing.T) {
			p := testPass(MaxPassDoors)
			p.ID = strings.Repeat("p", idLen)
			tok, err := IssuePassToken(k, testRand(1), p)
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) > MaxPassTokenLen {
				t.Fatalf("token is %d chars, over MaxPassTokenLen %d", len(tok), MaxPassTokenLen)
			}
			code, err := qr.Encode(tok, qr.M, qr.Auto)
			if err != nil {
				t.Fatal(err)
			}
			width := code.Bounds().Dx()
			version := (width - 17) / 4
			t.Logf("%d-char token -> QR version %d (%dx%d modules)", len(tok), version, width, width)
			if version > 13 {
				t.Fatalf("QR version %d > 13", version)
			}
			got := decodeQR(t, code)
			if got != tok {
				t.Fatalf("QR decoded to %q, want %q", got, tok)
			}
			if _, err := VerifyPassToken(keySet(t, k), testSite, got, testNow, 0); err != nil {
				t.Fatalf("scanned token does not verify: %v", err)
			}
		})
	}
}

// decodeQR scales the symbol up, adds the quiet zone a camera would see,
// and reads it with an independent decoder (testkit.DecodeQR).
func decodeQR(t *testing.T, code barcode.Barcode) string {
	t.Helper()
	const px, quiet = 4, 4
	w := code.Bounds().Dx()
	scaled, err := barcode.Scale(code, w*px, w*px)
	if err != nil {
		t.Fatal(err)
	}
	side := (w + 2*quiet) * px
	img := image.NewGray(image.Rect(0, 0, side, side))
	draw.Draw(img, img.Bounds(), &image.Uniform{color.White}, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(quiet*px, quiet*px, side-quiet*px, side-quiet*px), scaled, scaled.Bounds().Min, draw.Src)
	return testkit.DecodeQR(t, img)
}
