package credential

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/lintel/lintel/internal/testkit"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestChallengeRoundTrip(t *testing.T) {
	ch := Challenge{ReaderID: "reader-1", Time: time.Unix(1778061600, 0)}
	copy(ch.Nonce[:], "0123456789abcdef")
	b, err := ch.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{1}, "0123456789abcdef"...)
	want = binary.BigEndian.AppendUint64(want, 1778061600)
	want = append(want, 8)
	want = append(want, "reader-1"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding\n got %x\nwant %x", b, want)
	}
	back, err := ParseChallenge(b)
	if err != nil || back.ReaderID != ch.ReaderID || back.Nonce != ch.Nonce || !back.Time.Equal(ch.Time) {
		t.Fatalf("ParseChallenge = %+v, %v", back, err)
	}
	for _, bad := range []Challenge{{ReaderID: ""}, {ReaderID: strings.Repeat("r", 256)}, {ReaderID: "r", Time: time.Unix(-1, 0)}} {
		if _, err := bad.MarshalBinary(); err == nil {
			t.Errorf("MarshalBinary(%q…) succeeded", bad.ReaderID[:min(len(bad.ReaderID), 4)])
		}
	}
}

func TestParseChallengeRejects(t *testing.T) {
	ch := Challenge{ReaderID: "r1", Time: time.Unix(100, 0)}
	good, _ := ch.MarshalBinary()
	mutate := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := map[string][]byte{
		"empty":        nil,
		"version 0":    mutate(func(b []byte) []byte { b[0] = 0; return b }),
		"version 2":    mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"trailing":     append(append([]byte(nil), good...), 'x'),
		"short id":     good[:len(good)-1],
		"zero id len":  mutate(func(b []byte) []byte { b[25] = 0; return b[:26] }),
		"header only":  good[:26],
		"time > int64": mutate(func(b []byte) []byte { binary.BigEndian.PutUint64(b[17:], math.MaxUint64); return b }),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseChallenge(b); ReasonOf(err) != ReasonMalformed {
				t.Fatalf("err = %v, want malformed", err)
			}
		})
	}
}

// TestPresentationMessage pins the exact signed bytes, built by hand here
// from the specification rather than by the code under test.
func TestPresentationMessage(t *testing.T) {
	ch := Challenge{ReaderID: "door-7"}
	for i := range ch.Nonce {
		ch.Nonce[i] = byte(i)
	}
	cred := "a.b.c"
	th := sha256.Sum256([]byte(cred))
	want := []byte("lintel-presentation-v1\x00\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x06door-7")
	want = append(want, th[:]...)
	if got := presentationMessage(ch, cred); !bytes.Equal(got, want) {
		t.Fatalf("message\n got %x\nwant %x", got, want)
	}
}

// hwSigner stands in for a phone's secure hardware: only crypto.Signer.
type hwSigner struct{ k *ecdsa.PrivateKey }

func (h hwSigner) Public() crypto.PublicKey { return &h.k.PublicKey }
func (h hwSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return h.k.Sign(r, d, o)
}

func TestPresentAndVerifyProof(t *testing.T) {
	f := newFixture(t, testNow)
	ch := f.challenge(t)
	packed, err := packCredential(f.token)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		version, want byte
		body          string // between the length field and the signature
	}{
		{0, 2, string(packed)}, // Present's choice: packed, since it packs
		{1, 1, f.token},
		{2, 2, string(packed)},
	} {
		version, want, body := tt.version, tt.want, tt.body
		for name, signer := range map[string]crypto.Signer{"ecdsa key": f.device, "hardware signer": hwSigner{f.device}} {
			t.Run(fmt.Sprintf("version %d/%s", version, name), func(t *testing.T) {
				raw, err := PresentVersion(signer, rand.Reader, ch, f.token, version)
				if err != nil {
					t.Fatal(err)
				}
				if len(raw) != 1+2+len(body)+64 || raw[0] != want || int(binary.BigEndian.Uint16(raw[1:])) != len(body) ||
					string(raw[3:3+len(body)]) != body {
					t.Fatalf("encoding header %x, len %d", raw[:3], len(raw))
				}
				p, err := ParsePresentation(raw)
				if err != nil {
					t.Fatal(err)
				}
				if p.Credential != f.token || len(p.Signature) != 64 || p.Version != want {
					t.Fatal("parse changed the presentation")
				}
				if err := VerifyProof(&f.device.PublicKey, ch, p); err != nil {
					t.Fatal(err)
				}
				again, err := p.MarshalBinary()
				if err != nil || !bytes.Equal(again, raw) {
					t.Fatalf("re-encoding differs: %v", err)
				}
			})
		}
	}
}

func TestVerifyProofRejects(t *testing.T) {
	f := newFixture(t, testNow)
	ch := f.challenge(t)
	p, err := ParsePresentation(f.present(t, ch, f.token))
	if err != nil {
		t.Fatal(err)
	}
	otherDev := testkit.Key(t, "other device")
	otherCh := ch
	otherCh.Nonce[0] ^= 1
	otherReader := ch
	otherReader.ReaderID = "reader-back"
	derSig, _ := ecdsa.SignASN1(rand.Reader, f.device, []byte("x"))
	tests := []struct {
		name string
		dev  *ecdsa.PublicKey
		ch   Challenge
		p    *Presentation
	}{
		{"other device key", &otherDev.PublicKey, ch, p},
		{"other nonce", &f.device.PublicKey, otherCh, p},
		{"other reader", &f.device.PublicKey, otherReader, p},
		{"other credential", &f.device.PublicKey, ch, &Presentation{Credential: f.token + "x", Signature: p.Signature}},
		{"flipped signature bit", &f.device.PublicKey, ch, &Presentation{Credential: f.token, Signature: flip(p.Signature, 40)}},
		{"zero signature", &f.device.PublicKey, ch, &Presentation{Credential: f.token, Signature: make([]byte, 64)}},
		{"DER signature", &f.device.PublicKey, ch, &Presentation{Credential: f.token, Signature: derSig}},
		{"63-byte signature", &f.device.PublicKey, ch, &Presentation{Credential: f.token, Signature: p.Signature[:63]}},
		{"nil presentation", &f.device.PublicKey, ch, nil},
		{"nil key", nil, ch, p},
		{"no reader id", &f.device.PublicKey, Challenge{Nonce: ch.Nonce}, p},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyProof(tt.dev, tt.ch, tt.p); ReasonOf(err) != ReasonBadProof {
				t.Fatalf("err = %v, want bad_proof", err)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	out := append([]byte(nil), b...)
	out[i] ^= 1
	return out
}

func TestParsePresentationRejects(t *testing.T) {
	sig := bytes.Repeat([]byte{7}, 64)
	enc := func(version byte, n int, tok string, sig []byte) []byte {
		b := []byte{version}
		b = binary.BigEndian.AppendUint16(b, uint16(n))
		return append(append(b, tok...), sig...)
	}
	tests := map[string][]byte{
		"empty":            nil,
		"version 0":        enc(0, 3, "a.b", sig),
		"version 2, a.b":   enc(2, 3, "a.b", sig),
		"version 3":        enc(3, 3, "a.b", sig),
		"length too long":  enc(1, 4, "a.b", sig),
		"length too short": enc(1, 2, "a.b", sig),
		"zero length":      enc(1, 0, "", sig),
		"63-byte sig":      enc(1, 3, "a.b", sig[:63]),
		"65-byte sig":      enc(1, 3, "a.b", append(sig, 0)),
		"oversized":        enc(1, 4030, strings.Repeat("a", 4030), sig),
		"header only":      {1, 0},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if p, err := ParsePresentation(b); ReasonOf(err) != ReasonMalformed || p != nil {
				t.Fatalf("ParsePresentation = %v, %v", p, err)
			}
		})
	}
	// The largest valid presentation parses.
	max := enc(1, 4029, strings.Repeat("a", 4029), sig)
	if _, err := ParsePresentation(max); err != nil || len(max) != MaxPresentationSize {
		t.Fatalf("max-size presentation: %v (len %d)", err, len(max))
	}
}

func TestPresentRejects(t *testing.T) {
	f := newFixture(t, testNow)
	ch := f.challenge(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Present(p384, rand.Reader, ch, f.token); !errors.Is(err, ErrNotP256) {
		t.Errorf("P-384 device: %v", err)
	}
	if _, err := Present(f.device, rand.Reader, ch, ""); err == nil {
		t.Error("empty credential accepted")
	}
	if _, err := Present(f.device, rand.Reader, ch, strings.Repeat("a", 4030)); err == nil {
		t.Error("oversized credential accepted")
	}
	if _, err := Present(f.device, rand.Reader, Challenge{}, f.token); err == nil {
		t.Error("challenge without reader id accepted")
	}
	if _, err := Present(nil, rand.Reader, ch, f.token); err == nil {
		t.Error("nil signer accepted")
	}
}
