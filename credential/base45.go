package credential

import "errors"

// base45 (RFC 9285) packs bytes into the QR alphanumeric alphabet: QR
// codes store those characters at 5.5 bits each, so base45's 1.5
// characters per byte cost 8.25 bits per byte in the symbol, where base64's
// 4/3 characters in QR byte mode cost 10.7. That difference is what keeps a
// 16-door pass at QR version 13.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Index = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

func base45Encode(src []byte) string {
	out := make([]byte, 0, len(src)/2*3+2)
	for i := 0; i+1 < len(src); i += 2 {
		n := int(src[i])<<8 | int(src[i+1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45%45], base45Alphabet[n/2025])
	}
	if len(src)%2 == 1 {
		n := int(src[len(src)-1])
		out = append(out, base45Alphabet[n%45], base45Alphabet[n/45])
	}
	return string(out)
}

var errBase45 = errors.New("invalid base45")

// base45Decode is strict: only the alphabet, no dangling character, and
// no group whose value overflows (so every byte string has one encoding).
func base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, errBase45
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		var v [3]int
		n := 3
		if len(s)-i == 2 {
			n = 2
		}
		for j := 0; j < n; j++ {
			d := base45Index[s[i+j]]
			if d < 0 {
				return nil, errBase45
			}
			v[j] = int(d)
		}
		x := v[0] + v[1]*45 + v[2]*2025
		if n == 3 {
			if x > 0xffff {
				return nil, errBase45
			}
			out = append(out, byte(x>>8), byte(x))
		} else {
			if x > 0xff {
				return nil, errBase45
			}
			out = append(out, byte(x))
		}
	}
	return out, nil
}
