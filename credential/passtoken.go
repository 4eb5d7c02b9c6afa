package credential

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lintel/lintel/credential/internal/enum"
	"github.com/lintel/lintel/credential/schedule"
)

// PassType is the kind of visitor pass, as carried in a pass token.
type PassType uint8

// The pass types. Zero is not a type.
const (
	PassRecurring PassType = 1
	PassTemporary PassType = 2
	PassSingleUse PassType = 3
)

var passTypeNames = enum.Names[PassType]{PassRecurring: "recurring", PassTemporary: "temporary", PassSingleUse: "single_use"}

func (t PassType) String() string { return passTypeNames.String("PassType", t) }

// Valid reports whether t is one of the defined types.
func (t PassType) Valid() bool { return t >= PassRecurring && t <= PassSingleUse }

// ParsePassType reads the API's spelling.
func ParsePassType(s string) (PassType, error) {
	if t, ok := passTypeNames.Parse(s); ok {
		return t, nil
	}
	return 0, fmt.Errorf("credential: unknown pass type %q", s)
}

const (
	// PassTokenPrefix starts every pass token; the "1" is the format version.
	PassTokenPrefix = "LP1:"
	// MaxPassDoors is how many doors one pass token can name.
	MaxPassDoors = 16
	// MaxPassIDLen bounds the pass id in a token.
	MaxPassIDLen = 64
	// MaxPassTokenLen is the longest valid token text (16 doors, a
	// schedule and a 64-byte id); longer input is refused unread.
	MaxPassTokenLen = len(PassTokenPrefix) + (passMaxBody+sigSize)/2*3 + 2

	passContext   = "lintel-pass-v1"
	passFlagSched = 0x01
	passFixedHead = kidPrefixLen + 1 + 1 + 8 + 8 // kid, type, flags, nbf, naf
	passSchedLen  = 1 + 2 + 2
	passMaxBody   = passFixedHead + passSchedLen + 8 + 1 + 8*MaxPassDoors + 1 + MaxPassIDLen
)

// PassClaims is the content of a visitor pass token.
type PassClaims struct {
	ID        string
	Site      string
	Type      PassType
	NotBefore time.Time // whole seconds
	NotAfter  time.Time // whole seconds, exclusive
	// Schedule further limits use inside the validity; nil means any time.
	Schedule *schedule.Weekly
	// Doors are DoorHash values of the doors the pass opens (1..16).
	Doors [][8]byte
	// KID is the signing key's id; set by VerifyPassToken.
	KID string
}

// DoorHash is how a pass token names a door: the first 8 bytes of
// SHA-256(door id). A reader compares it with the hash of its own door id.
func DoorHash(doorID string) [8]byte {
	sum := sha256.Sum256([]byte(doorID))
	var h [8]byte
	copy(h[:], sum[:8])
	return h
}

// DoorHashes hashes each door id.
func DoorHashes(doorIDs ...string) [][8]byte {
	out := make([][8]byte, len(doorIDs))
	for i, id := range doorIDs {
		out[i] = DoorHash(id)
	}
	return out
}

// AllowsDoor reports whether the pass names doorID.
func (p PassClaims) AllowsDoor(doorID string) bool {
	h := DoorHash(doorID)
	for _, d := range p.Doors {
		if d == h {
			return true
		}
	}
	return false
}

// InSchedule reports whether t is inside the pass's weekly schedule, seen
// on the wall clock of loc (nil means UTC). A pass without a schedule is
// always inside. Validity (NotBefore/NotAfter) is checked separately by
// VerifyPassToken.
func (p PassClaims) InSchedule(t time.Time, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	return p.Schedule.Contains(t, loc)
}

// IssuePassToken signs p (its KID field is ignored) and returns the QR
// text "LP1:" + base45(body || signature).
func IssuePassToken(k *SigningKey, rand io.Reader, p PassClaims) (string, error) {
	if k == nil {
		return "", errors.New("credential: no signing key")
	}
	body, err := encodePassBody(k.kid, p)
	if err != nil {
		return "", err
	}
	sig, err := signRaw(k.priv, rand, passMessage(body))
	if err != nil {
		return "", err
	}
	return PassTokenPrefix + base45Encode(append(body, sig...)), nil
}

func passMessage(body []byte) []byte {
	msg := make([]byte, 0, len(passContext)+1+len(body))
	msg = append(msg, passContext...)
	msg = append(msg, 0)
	return append(msg, body...)
}

func encodePassBody(kid string, p PassClaims) ([]byte, error) {
	bad := func(field, msg string) error { return &ClaimsError{Field: "pass." + field, Msg: msg} }
	switch {
	case p.ID == "" || len(p.ID) > MaxPassIDLen || !utf8.ValidString(p.ID):
		return nil, bad("id", "must be 1..64 bytes of UTF-8")
	case p.Site == "":
		return nil, bad("site", "required")
	case !p.Type.Valid():
		return nil, bad("type", "unknown")
	case !sane(p.NotBefore.Unix()) || !sane(p.NotAfter.Unix()):
		return nil, bad("not_before/not_after", "out of range")
	case p.NotAfter.Unix() <= p.NotBefore.Unix():
		return nil, bad("not_after", "must be after not_before")
	case p.Schedule != nil && !p.Schedule.Valid():
		return nil, bad("schedule", "invalid window")
	case len(p.Doors) == 0 || len(p.Doors) > MaxPassDoors:
		return nil, bad("doors", fmt.Sprintf("must name 1..%d doors", MaxPassDoors))
	}
	seen := make(map[[8]byte]bool, len(p.Doors))
	for _, d := range p.Doors {
		if seen[d] {
			return nil, bad("doors", "door listed twice")
		}
		seen[d] = true
	}
	prefix, err := KIDPrefix(kid)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, passMaxBody)
	b = append(b, prefix[:]...)
	b = append(b, byte(p.Type))
	var flags byte
	if p.Schedule != nil {
		flags |= passFlagSched
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(p.NotBefore.Unix()))
	b = binary.BigEndian.AppendUint64(b, uint64(p.NotAfter.Unix()))
	if p.Schedule != nil {
		b = append(b, byte(p.Schedule.Days))
		b = binary.BigEndian.AppendUint16(b, uint16(p.Schedule.Start))
		b = binary.BigEndian.AppendUint16(b, uint16(p.Schedule.End))
	}
	site := DoorHash(p.Site)
	b = append(b, site[:]...)
	b = append(b, byte(len(p.Doors)))
	for _, d := range p.Doors {
		b = append(b, d[:]...)
	}
	b = append(b, byte(len(p.ID)))
	return append(b, p.ID...), nil
}

// passBody is a decoded but not yet verified token.
type passBody struct {
	claims   PassClaims
	kid      [kidPrefixLen]byte
	siteHash [8]byte
	signed   []byte
	sig      []byte
}

// parsePassToken decodes the layout strictly; it checks nothing that
// needs a key.
func parsePassToken(token string) (*passBody, *Denial) {
	if len(token) > MaxPassTokenLen {
		return nil, deny(ReasonMalformed, "pass token too long")
	}
	rest, ok := strings.CutPrefix(token, PassTokenPrefix)
	if !ok {
		return nil, deny(ReasonMalformed, "not an LP1 pass token")
	}
	raw, err := base45Decode(rest)
	if err != nil {
		return nil, deny(ReasonMalformed, "pass token is not base45")
	}
	mal := func(msg string) (*passBody, *Denial) { return nil, deny(ReasonMalformed, "pass token: "+msg) }
	if len(raw) < passFixedHead+8+1+8+1+1+sigSize {
		return mal("too short")
	}
	var pb passBody
	r := raw
	copy(pb.kid[:], r)
	r = r[kidPrefixLen:]
	pb.claims.Type = PassType(r[0])
	flags := r[1]
	r = r[2:]
	if !pb.claims.Type.Valid() {
		return mal("unknown type")
	}
	if flags&^passFlagSched != 0 {
		return mal("unknown flags")
	}
	nbf, naf := binary.BigEndian.Uint64(r), binary.BigEndian.Uint64(r[8:])
	r = r[16:]
	if nbf > math.MaxInt64 || naf > math.MaxInt64 || !sane(int64(nbf)) || !sane(int64(naf)) || naf <= nbf {
		return mal("bad validity")
	}
	pb.claims.NotBefore, pb.claims.NotAfter = time.Unix(int64(nbf), 0), time.Unix(int64(naf), 0)
	if flags&passFlagSched != 0 {
		if len(r) < passSchedLen {
			return mal("truncated schedule")
		}
		w := schedule.Weekly{
			Days:  schedule.Days(r[0]),
			Start: schedule.Clock(binary.BigEndian.Uint16(r[1:])),
			End:   schedule.Clock(binary.BigEndian.Uint16(r[3:])),
		}
		if !w.Valid() {
			return mal("invalid schedule")
		}
		pb.claims.Schedule = &w
		r = r[passSchedLen:]
	}
	if len(r) < 8+1 {
		return mal("truncated")
	}
	copy(pb.siteHash[:], r)
	n := int(r[8])
	r = r[9:]
	if n == 0 || n > MaxPassDoors || len(r) < 8*n+1 {
		return mal("bad door count")
	}
	pb.claims.Doors = make([][8]byte, n)
	for i := range pb.claims.Doors {
		copy(pb.claims.Doors[i][:], r[8*i:])
		for _, prev := range pb.claims.Doors[:i] {
			if prev == pb.claims.Doors[i] {
				return mal("door listed twice")
			}
		}
	}
	r = r[8*n:]
	m := int(r[0])
	r = r[1:]
	if m == 0 || m > MaxPassIDLen || len(r) != m+sigSize {
		return mal("bad id length")
	}
	if !utf8.Valid(r[:m]) {
		return mal("id is not UTF-8")
	}
	pb.claims.ID = string(r[:m])
	pb.signed = raw[:len(raw)-sigSize]
	pb.sig = raw[len(raw)-sigSize:]
	return &pb, nil
}

// VerifyPassToken checks a scanned pass token for a reader of site at time
// now, allowing leeway of clock skew (negative means none). Door and
// schedule checks are left to the caller (AllowsDoor, InSchedule), because
// they depend on the reader's door and the site's zone. Every failure is a
// *Denial: malformed, unknown_key, bad_signature, wrong_site, expired or
// not_yet_valid, in that order.
func VerifyPassToken(keys KeySet, site, token string, now time.Time, leeway time.Duration) (*PassClaims, error) {
	pb, d := parsePassToken(token)
	if d != nil {
		return nil, d
	}
	key, ok := keys.lookupPrefix(pb.kid)
	if !ok {
		return nil, deny(ReasonUnknownKey, "pass key not in key set")
	}
	if !verifyRaw(key.Key, passMessage(pb.signed), pb.sig) {
		return nil, deny(ReasonBadSignature, "pass signature does not verify")
	}
	if site == "" || DoorHash(site) != pb.siteHash {
		return nil, deny(ReasonWrongSite, "")
	}
	if leeway < 0 {
		leeway = 0
	}
	c := pb.claims
	c.Site, c.KID = site, key.KID
	if !now.Before(c.NotAfter.Add(leeway)) {
		return nil, deny(ReasonExpired, "")
	}
	if now.Add(leeway).Before(c.NotBefore) {
		return nil, deny(ReasonNotYetValid, "")
	}
	return &c, nil
}
