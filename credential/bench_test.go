package credential

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"github.com/lintel/lintel/internal/testkit"
	"math/big"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/schedule"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// BenchmarkDecide is the full offline decision for one tap against a
// 100,000-entry deny list, for a text (v1) and a packed (v2) presentation,
// the latter also with ids as the server makes them (base32 to rebuild).
// Read it next to BenchmarkTwoRawES256Verify: a decision does two
// signature checks (issuer, device), and everything else should cost
// little beside them (target: within 1.5x). The reader's TapCache is in
// place but emptied before every tap, so each is a first tap (a miss and a
// store).
func BenchmarkDecide(b *testing.B) { benchDecide(b, false) }

// BenchmarkDecideRepeat is BenchmarkDecide for a repeat tap: the token is
// in the TapCache, so only the device proof is a signature check (target:
// within 0.65x of BenchmarkTwoRawES256Verify).
func BenchmarkDecideRepeat(b *testing.B) { benchDecide(b, true) }

func benchDecide(b *testing.B, warm bool) {
	for _, bc := range []struct {
		name      string
		version   byte
		serverIDs bool
	}{
		{"v1", 1, false},
		{"v2", 2, false},
		{"v2-server-ids", 2, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, testNow)
			if bc.serverIDs {
				c := prodClaims(f, prodGroup)
				c.Issuer = testIssuer
				f.token = f.issue(b, c)
				f.policy.Site = c.Site
				f.policy.Groups = map[string]*schedule.Weekly{prodGroup: nil}
			}
			f.policy.Revoked = bigDenyList(100_000, false)
			f.nonces = NewNonceBook(testReader, DefaultNonceTTL, b.N+2)
			d := f.decider()
			d.Verified = NewTapCache(0)
			chs := make([]Challenge, b.N)
			ps := make([][]byte, b.N)
			for i := range chs {
				chs[i] = f.challenge(b)
				p, err := PresentVersion(f.device, nil, chs[i], f.token, bc.version)
				if err != nil {
					b.Fatal(err)
				}
				ps[i] = p
			}
			if warm {
				ch := f.challenge(b)
				if dec := d.Decide(ch, f.present(b, ch, f.token), testNow); !dec.Granted || d.Verified.Len() != 1 {
					b.Fatalf("first tap: %s, %d cached", dec.Reason, d.Verified.Len())
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !warm {
					d.Verified.Reset()
				}
				if dec := d.Decide(chs[i], ps[i], testNow); !dec.Granted {
					b.Fatalf("denied: %s", dec.Reason)
				}
			}
		})
	}
}

// BenchmarkUnpackCredential is what a packed presentation adds to a
// decision: rebuilding the token (point decompression, base32, base64url).
func BenchmarkUnpackCredential(b *testing.B) {
	f := newFixture(b, testNow)
	c := prodClaims(f, prodGroup)
	packed, err := packCredential(f.issue(b, c))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, d := unpackCredential(packed); d != nil {
			b.Fatal(d)
		}
	}
}

// BenchmarkTwoRawES256Verify is the floor for BenchmarkDecide: two P-256
// signature verifications with the standard library and nothing else.
func BenchmarkTwoRawES256Verify(b *testing.B) {
	k1, k2 := testkit.Key(b, "issuer"), testkit.Key(b, "device")
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	r1, s1, err := ecdsa.Sign(nil, k1, h1[:])
	if err != nil {
		b.Fatal(err)
	}
	r2, s2, err := ecdsa.Sign(nil, k2, h2[:])
	if err != nil {
		b.Fatal(err)
	}
	pub1, pub2 := &k1.PublicKey, &k2.PublicKey
	var rs [4]*big.Int = [4]*big.Int{r1, s1, r2, s2}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !ecdsa.Verify(pub1, h1[:], rs[0], rs[1]) || !ecdsa.Verify(pub2, h2[:], rs[2], rs[3]) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkVerify is the credential check alone (one signature).
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, testNow)
	v := f.verifier()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(f.token, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPassToken checks the largest pass token (16 doors).
func BenchmarkVerifyPassToken(b *testing.B) {
	k := fixedSigningKey(b, "issuer")
	keys := keySet(b, k)
	tok, err := IssuePassToken(k, nil, testPass(MaxPassDoors))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := VerifyPassToken(keys, testSite, tok, testNow, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJWXVerify is the same credential check done with jwx's generic
// jwt.Parse (signature + validation), for comparison with BenchmarkVerify:
// the reason the reader's hot path uses its own strict parser.
func BenchmarkJWXVerify(b *testing.B) {
	f := newFixture(b, testNow)
	doc, err := f.keys.JWKS()
	if err != nil {
		b.Fatal(err)
	}
	set, err := jwk.Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	tok := []byte(f.token)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := jwt.Parse(tok, jwt.WithKeySet(set), jwt.WithValidate(true),
			jwt.WithClock(fixedClock(testNow)), jwt.WithIssuer(testIssuer)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecideVsRaw interleaves, tap by tap, a repeat decision (v2, the
// TapCache warm), a first one (the cache emptied) and two raw ES256
// verifications, and reports each decision as a multiple of the raw pair
// measured around it: on a shared machine the ratio holds where the
// separate benchmarks' times drift with the load.
func BenchmarkDecideVsRaw(b *testing.B) {
	f := newFixture(b, testNow)
	f.policy.Revoked = bigDenyList(100_000, false)
	f.nonces = NewNonceBook(testReader, DefaultNonceTTL, 2*b.N+2)
	d := f.decider()
	d.Verified = NewTapCache(0)
	type tap struct {
		ch Challenge
		p  []byte
	}
	taps := make([]tap, 2*b.N)
	for i := range taps {
		ch := f.challenge(b)
		p, err := PresentVersion(f.device, nil, ch, f.token, 2)
		if err != nil {
			b.Fatal(err)
		}
		taps[i] = tap{ch, p}
	}
	k1, k2 := testkit.Key(b, "issuer"), testkit.Key(b, "device")
	h := sha256.Sum256([]byte("one"))
	r1, s1, _ := ecdsa.Sign(nil, k1, h[:])
	r2, s2, _ := ecdsa.Sign(nil, k2, h[:])
	var warm, cold, raw time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if !ecdsa.Verify(&k1.PublicKey, h[:], r1, s1) || !ecdsa.Verify(&k2.PublicKey, h[:], r2, s2) {
			b.Fatal("verify failed")
		}
		t1 := time.Now()
		d.Verified.Reset()
		if dec := d.Decide(taps[2*i].ch, taps[2*i].p, testNow); !dec.Granted {
			b.Fatal(dec.Reason)
		}
		t2 := time.Now()
		if dec := d.Decide(taps[2*i+1].ch, taps[2*i+1].p, testNow); !dec.Granted {
			b.Fatal(dec.Reason)
		}
		t3 := time.Now()
		raw, cold, warm = raw+t1.Sub(t0), cold+t2.Sub(t1), warm+t3.Sub(t2)
	}
	b.ReportMetric(float64(warm)/float64(raw), "warm/raw")
	b.ReportMetric(float64(cold)/float64(raw), "cold/raw")
}
