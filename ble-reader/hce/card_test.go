package hce

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/internal/testkit"
)

// challengeHex is a valid challenge: version 1, nonce 00..0F, time, reader
// id "rdr".
const challengeHex = "01 000102030405060708090A0B0C0D0E0F 0000000069FB1120 03 726472"

func TestChallengeFixture(t *testing.T) {
	if _, err := credential.ParseChallenge(testkit.Unhex(t, challengeHex)); err != nil {
		t.Fatal(err)
	}
}

// presenting returns a Presenter of n bytes 0..n-1 (mod 256), or err.
func presenting(n int, err error) Presenter {
	return func(ch []byte) ([]byte, error) {
		if _, perr := credential.ParseChallenge(ch); perr != nil {
			panic("presenter got a challenge the phone should have refused")
		}
		if err != nil {
			return nil, err
		}
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(i)
		}
		return out, nil
	}
}

const (
	selectAID = "00A4040008F04C494E54454C01 00"
	auth      = "801000001D " + challengeHex + " 00"
)

// TestPhoneProcess runs APDU sequences through a fresh phone and checks
// every answer.
func TestPhoneProcess(t *testing.T) {
	seq := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.ToUpper(hex.EncodeToString([]byte{byte(i)})))
		}
		return b.String()
	}
	type step struct{ cmd, want string }
	tests := []struct {
		name    string
		present Presenter
		opt     PhoneOptions
		steps   []step
	}{
		{"short exchange, chained", presenting(300, nil), PhoneOptions{}, []step{
			{selectAID, "0100 9000"},
			{auth, seq(256) + "612C"},
			{"00C000002C", seq(300)[512:] + "9000"},
			{"00C0000000", "6985"}, // nothing pending any more
		}},
		{"reader asks for less each time", presenting(10, nil), PhoneOptions{}, []step{
			{selectAID, "0100 9000"},
			{"801000001D" + challengeHex + "04", "00010203 6106"},
			{"00C0000004", "04050607 6102"},
			{"00C0000000", "0809 9000"},
		}},
		{"Le absent: all of it by GET RESPONSE", presenting(3, nil), PhoneOptions{}, []step{
			{selectAID, "0100 9000"},
			{"801000001D" + challengeHex, "6103"},
			{"00C0000003", "000102 9000"},
		}},
		{"extended", presenting(600, nil), PhoneOptions{Extended: true}, []step{
			{selectAID, "0101 9000"},
			{"801000000000 1D" + challengeHex + "0000", seq(256) + seq(256) + seq(88) + "9000"},
		}},
		{"extended refused when not offered", presenting(600, nil), PhoneOptions{}, []step{
			{selectAID, "0100 9000"},
			{"801000000000 1D" + challengeHex + "0000", "6700"},
		}},
		{"SELECT without answer data (P2 0C, no Le, short Le)", presenting(1, nil), PhoneOptions{}, []step{
			{"00A4040C08F04C494E54454C01", "9000"},
			{"00A4040008F04C494E54454C01", "9000"},
			{"00A4040008F04C494E54454C0101", "6C02"},
			{auth, "00 9000"},
		}},
		{"out of sequence", presenting(1, nil), PhoneOptions{}, []step{
			{auth, "6985"},
			{"00C0000000", "6985"},
			{"8012000003010000", "6985"},
		}},
		{"other AID deselects", presenting(1, nil), PhoneOptions{}, []step{
			{selectAID, "0100 9000"},
			{"00A4040007A0000000031010 00", "6A82"},
			{auth, "6985"},
		}},
		{"bad parameters", presenting(1, nil), PhoneOptions{}, []step{
			{"00A4000008F04C494E54454C0100", "6A86"}, // select by file id
			{selectAID, "0100 9000"},
			{"801001001D" + challengeHex + "00", "6A86"},
			{"00C0000100", "6A86"},
			{"8010000000", "6700"},              // no challenge
			{"80100000050102030405 00", "6A80"}, // not a challenge
			{"80FF000000", "6D00"},              // unknown proprietary INS
			{"00B0000000", "6D00"},              // READ BINARY
			{"A4A4040000", "6E00"},              // unknown class
			{"00A4040005AABB", "6700"},          // Lc 5, 2 data bytes
			{"00", "6700"},                      // not an APDU
			{"8012000000", "6700"},              // RESULT without data
			{"8012010003010000", "6A86"},
			{auth, "00 9000"}, // still works
		}},
		{"no credential", presenting(0, ErrNoCredential), PhoneOptions{}, []step{
			{selectAID, "0100 9000"}, {auth, "6A88"},
		}},
		{"locked", presenting(0, ErrLocked), PhoneOptions{}, []step{
			{selectAID, "0100 9000"}, {auth, "6982"},
		}},
		{"app failure", presenting(0, errors.New("keystore")), PhoneOptions{}, []step{
			{selectAID, "0100 9000"}, {auth, "6F00"},
		}},
		{"new AUTHENTICATE replaces the pending answer", presenting(300, nil), PhoneOptions{}, []step{
			{selectAID, "0100 9000"},
			{auth, seq(256) + "612C"},
			{auth, seq(256) + "612C"},
			{"00C0000000", seq(300)[512:] + "9000"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPhone(tt.present, tt.opt)
			for i, s := range tt.steps {
				got := p.Process(testkit.Unhex(t, s.cmd))
				if want := testkit.Unhex(t, s.want); !bytes.Equal(got, want) {
					t.Fatalf("step %d: %s -> % X, want % X", i, s.cmd, got, want)
				}
			}
		})
	}
}

func TestPhoneResultAndReset(t *testing.T) {
	var got [][]byte
	p := NewPhone(presenting(300, nil), PhoneOptions{OnResult: func(b []byte) { got = append(got, b) }})
	p.Process(testkit.Unhex(t, selectAID))
	if r := p.Process(testkit.Unhex(t, "80120000050101027878")); !bytes.Equal(r, []byte{0x90, 0}) {
		t.Fatalf("RESULT -> % X", r)
	}
	if len(got) != 1 || !bytes.Equal(got[0], testkit.Unhex(t, "0101027878")) {
		t.Fatalf("OnResult got % X", got)
	}
	p.Process(testkit.Unhex(t, auth))
	// A new activation forgets the selection and the pending answer.
	p.Reset()
	if r := p.Process(testkit.Unhex(t, "00C0000000")); !bytes.Equal(r, []byte{0x69, 0x85}) {
		t.Fatalf("GET RESPONSE after reset -> % X", r)
	}
}

func TestGetData(t *testing.T) {
	uid := testkit.Unhex(t, "04A23B9C11D280")
	c, err := NewUIDCard(uid)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ cmd, want string }{
		{"FFCA000000", "04A23B9C11D280 9000"},
		{"FFCA000007", "04A23B9C11D280 9000"},
		{"FFCA00000A", "04A23B9C11D280 6282"},
		{"FFCA000004", "6C07"},
		{"FFCA0000", "6C07"},
		{"FFCA010000", "6A81"}, // historical bytes: not offered
		{"00A4040008F04C494E54454C0100", "6A81"},
		{"FF", "6700"},
	}
	for _, tt := range tests {
		if got := c.Process(testkit.Unhex(t, tt.cmd)); !bytes.Equal(got, testkit.Unhex(t, tt.want)) {
			t.Errorf("%s -> % X, want %s", tt.cmd, got, tt.want)
		}
	}
	// A phone shows a random UID starting with 08, new at each activation.
	p := NewPhone(presenting(1, nil), PhoneOptions{})
	first := p.Process(testkit.Unhex(t, "FFCA000000"))
	if len(first) != 6 || first[0] != 0x08 || !bytes.Equal(first[4:], []byte{0x90, 0}) {
		t.Fatalf("phone UID % X", first)
	}
	p.Reset()
	if again := p.Process(testkit.Unhex(t, "FFCA000000")); bytes.Equal(again, first) {
		t.Logf("same random UID twice (1 in 2^24): % X", again)
	}
}

func TestUIDParsing(t *testing.T) {
	for in, want := range map[string]string{
		"04A23B9C":             "04A23B9C",
		"04:a2:3b:9c":          "04A23B9C",
		"04 A2 3B 9C 11 D2 80": "04A23B9C11D280",
	} {
		b, err := ParseUID(in)
		if err != nil || strings.ToUpper(hex.EncodeToString(b)) != want {
			t.Errorf("ParseUID(%q) = % X, %v", in, b, err)
		}
	}
	for _, in := range []string{"", "04A", "0G", "04-A2-3B-9C-11-D2-80-11-22-33-44-55-66-77-88-99-00"} {
		if _, err := ParseUID(in); err == nil {
			t.Errorf("ParseUID(%q) accepted", in)
		}
	}
	for _, n := range []int{0, 3, 5, 16} {
		if _, err := NewUIDCard(make([]byte, n)); err == nil {
			t.Errorf("NewUIDCard(%d bytes) accepted", n)
		}
	}
}

// TestPhoneATR: the ATR is a valid PC/SC contactless pseudo-ATR (TCK makes
// the XOR of T0..TCK zero), offering T=1.
func TestPhoneATR(t *testing.T) {
	uc, _ := NewUIDCard([]byte{1, 2, 3, 4})
	for _, atr := range [][]byte{NewPhone(nil, PhoneOptions{}).ATR(), uc.ATR()} {
		var x byte
		for _, b := range atr[1:] {
			x ^= b
		}
		if atr[0] != 0x3B || x != 0 || !bytes.Contains(atr[:4], []byte{0x80, 0x01}) {
			t.Errorf("ATR % X", atr)
		}
	}
}
