package hce

import (
	"bytes"
	"testing"

	"github.com/lintel/lintel/ble-reader/nfc/apdu"
	"github.com/lintel/lintel/internal/testkit"
)

// FuzzPhone sends arbitrary APDU sequences (each a length byte and that
// many bytes) to the phone. Every answer must be a response APDU that
// carries no more data than the command asked for, and afterwards a
// proper SELECT and AUTHENTICATE must still work: no sequence can wedge
// the service.
func FuzzPhone(f *testing.F) {
	sel := testkit.Unhex(f, selectAID)
	au := testkit.Unhex(f, auth)
	join := func(cmds ...[]byte) []byte {
		var out []byte
		for _, c := range cmds {
			out = append(append(out, byte(len(c))), c...)
		}
		return out
	}
	f.Add(join(sel, au, testkit.Unhex(f, "00C0000000")))
	f.Add(join(au, sel, testkit.Unhex(f, "8012000003010000"), testkit.Unhex(f, "FFCA000004")))
	f.Add(join(testkit.Unhex(f, "801000000000 1D"+challengeHex+"0000")))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, extended := range []bool{false, true} {
			p := NewPhone(presenting(700, nil), PhoneOptions{Extended: extended})
			rest := in
			for len(rest) > 0 {
				n := min(int(rest[0]), len(rest)-1)
				cmd := rest[1 : 1+n]
				rest = rest[1+n:]
				out := p.Process(cmd)
				r, err := apdu.ParseResponse(out)
				if err != nil {
					t.Fatalf("% X -> % X: %v", cmd, out, err)
				}
				c, err := apdu.ParseCommand(cmd)
				if len(r.Data) > 0 && (err != nil || len(r.Data) > max(c.Ne, 0) && c.Ne != 0 || c.Ne == 0) {
					t.Fatalf("% X (Ne %d) -> %d data bytes", cmd, c.Ne, len(r.Data))
				}
			}
			if got := p.Process(sel); !bytes.HasSuffix(got, []byte{0x90, 0x00}) {
				t.Fatalf("SELECT after the sequence -> % X", got)
			}
			got := p.Process(au)
			if r, _ := apdu.ParseResponse(got); len(r.Data) != 256 || r.SW != apdu.Remaining(700-256) {
				t.Fatalf("AUTHENTICATE after the sequence -> %v", r.SW)
			}
		}
	})
}
