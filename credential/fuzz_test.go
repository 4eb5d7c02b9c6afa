package credential

import (
	"bytes"
	"github.com/lintel/lintel/internal/testkit"
	"testing"
	"time"
)

// Fuzz targets for every parser of input that comes from outside: a phone
// (presentation, device JWK), a reader (challenge), a camera (pass token) or
// anyone at all (credential token).

func FuzzVerify(f *testing.F) {
	fx := newFixture(f, testNow)
	f.Add(fx.token)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("")
	v := fx.verifier()
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(tok, testNow)
		if err == nil {
			// Only a token our issuer signed can pass, and the fuzzer
			// cannot forge one: anything accepted carries our claims. (The
			// seed is re-signed in each worker, so compare claims, not
			// bytes: ECDSA signatures are randomized.)
			if c == nil || c.Subject != testCred || c.User != testUser || c.ID != "jti-1" {
				t.Fatalf("accepted %q", tok)
			}
			return
		}
		if c != nil || !ReasonOf(err).Valid() {
			t.Fatalf("Verify = %v, %v", c, err)
		}
	})
}

func FuzzParsePresentation(f *testing.F) {
	fx := newFixture(f, testNow)
	ch := Challenge{ReaderID: testReader, Nonce: [NonceSize]byte{7}}
	const signed = "header.payload.signature"
	f.Add(fx.present(f, ch, signed))
	f.Add(fx.present(f, ch, fx.token)) // packed: version 2
	f.Add([]byte{1, 0, 1, 'x'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePresentation(b)
		if err != nil {
			if ReasonOf(err) != ReasonMalformed || p != nil {
				t.Fatalf("ParsePresentation = %v, %v", p, err)
			}
			return
		}
		again, err := p.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted input does not re-encode to itself: %v", err)
		}
		// The device signed two credentials for this challenge; a fuzzed
		// presentation can only pass the proof check with one of them. (The
		// packed seed is issued anew in each worker and ECDSA is randomized,
		// so that one is recognized by its claims, not its bytes.)
		if VerifyProof(&fx.device.PublicKey, ch, p) == nil && p.Credential != signed {
			if c, err := fx.verifier().Verify(p.Credential, testNow); err != nil || c.Subject != testCred || c.ID != "jti-1" {
				t.Fatal("proof verified for a credential the device never signed")
			}
		}
	})
}

// FuzzUnpackCredential: the packed-credential parser never panics, and
// whatever it accepts is canonical: packing the token it rebuilt gives the
// same bytes back (so also a token that unpacks identically).
func FuzzUnpackCredential(f *testing.F) {
	fx := newFixture(f, testNow)
	for _, c := range []Claims{fx.claims, prodClaims(fx, prodGroup), prodClaims(fx), prodClaims(fx, prodGroups(9)...)} {
		packed, err := packCredential(fx.issue(f, c))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(packed)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, d := unpackCredential(b)
		if d != nil {
			if tok != "" || d.Reason != ReasonMalformed {
				t.Fatalf("unpackCredential = %q, %v", tok, d)
			}
			return
		}
		if len(tok) > MaxTokenSize {
			t.Fatalf("rebuilt a %d-byte token", len(tok))
		}
		again, err := packCredential(tok)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted packing is not canonical: %v\n got %x\nwant %x", err, again, b)
		}
		if back, d := unpackCredential(again); d != nil || back != tok {
			t.Fatalf("repacked token unpacks to %q, %v", back, d)
		}
	})
}

func FuzzParseChallenge(f *testing.F) {
	good, _ := Challenge{ReaderID: "reader-front", Time: testNow}.MarshalBinary()
	f.Add(good)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, err := ParseChallenge(b)
		if err != nil {
			if ReasonOf(err) != ReasonMalformed {
				t.Fatalf("error %v", err)
			}
			return
		}
		again, err := ch.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted challenge does not re-encode to itself: %v", err)
		}
	})
}

func FuzzParseDeviceJWK(f *testing.F) {
	good, _ := DeviceJWK(&testkit.Key(f, "device").PublicKey)
	f.Add(good)
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":"","d":""}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pub, err := ParseDeviceJWK(b)
		if err != nil {
			if pub != nil {
				t.Fatal("key returned with an error")
			}
			return
		}
		if !isP256(pub) {
			t.Fatal("accepted a key that is not P-256")
		}
		j, err := DeviceJWK(pub)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseDeviceJWK(j)
		if err != nil || !back.Equal(pub) {
			t.Fatalf("re-encoded key does not round trip: %v", err)
		}
	})
}

func FuzzVerifyPassToken(f *testing.F) {
	k := fixedSigningKey(f, "issuer")
	keys := keySet(f, k)
	want := testPass(3)
	tok, err := IssuePassToken(k, testRand(1), want)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	f.Add("LP1:")
	f.Add("LP1:" + base45Encode(make([]byte, 120)))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := VerifyPassToken(keys, testSite, s, testNow, time.Minute)
		if err == nil && (c.ID != want.ID || len(c.Doors) != 3 || c.Doors[0] != want.Doors[0] || !c.NotAfter.Equal(want.NotAfter)) {
			t.Fatalf("accepted a token the issuer never signed: %q", s)
		}
		if err != nil && (c != nil || !ReasonOf(err).Valid()) {
			t.Fatalf("VerifyPassToken = %v, %v", c, err)
		}
		// The layout parser alone: an accepted body re-encodes to itself.
		pb, d := parsePassToken(s)
		if d != nil {
			return
		}
		c2 := pb.claims
		c2.Site = "x"
		body, err := encodePassBody(k.KID(), c2)
		if err != nil {
			t.Fatalf("parsed claims do not re-encode: %v", err)
		}
		copy(body[:kidPrefixLen], pb.kid[:])
		copy(body[len(body)-len(c2.ID)-1-8*len(c2.Doors)-1-8:], pb.siteHash[:])
		if !bytes.Equal(body, pb.signed) {
			t.Fatalf("re-encoded body differs:\n got %x\nwant %x", body, pb.signed)
		}
	})
}

func FuzzBase45(f *testing.F) {
	f.Add("QED8WEX0")
	f.Add("GGW")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := base45Decode(s)
		if err != nil {
			return
		}
		if base45Encode(b) != s {
			t.Fatalf("%q decodes but is not canonical", s)
		}
	})
}
