package reader

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/booking"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/credential/schedule"
)

// snapshot is everything a decision reads, built once per bundle and
// never modified: the engine swaps a pointer, so a decision in progress
// always sees one consistent bundle.
type snapshot struct {
	doc        *bundle.Bundle
	verifier   credential.Verifier
	policy     *credential.DoorPolicy
	pinKey     []byte               // offline PINs; nil when the bundle has none
	customPINs map[string]customPIN // by hash
	pinDeny    map[string]struct{}
	pinsSpent  map[string]struct{}
	pinsActive map[string]struct{}
}

// BuildPolicy turns a bundle document into the policy the core decides
// with. maxStale is the door's cut-off (0: the default, negative: fail
// open). It refuses a document the reader could not decide with (bad
// keys, time zone, schedule or key material) rather than decide wrongly.
func BuildPolicy(doc *bundle.Bundle, syncedAt time.Time, maxStale time.Duration) (*credential.DoorPolicy, credential.Verifier, error) {
	var v credential.Verifier
	if doc == nil || !doc.Full {
		return nil, v, fmt.Errorf("reader: no full bundle")
	}
	keys, err := credential.ParseJWKS(doc.Keys)
	if err != nil {
		return nil, v, fmt.Errorf("reader: bundle keys: %w", err)
	}
	loc := time.UTC
	if doc.Site.Timezone != "" {
		if loc, err = time.LoadLocation(doc.Site.Timezone); err != nil {
			return nil, v, fmt.Errorf("reader: bundle time zone: %w", err)
		}
	}
	p := &credential.DoorPolicy{
		Site: doc.Site.ID, ReaderID: doc.Reader.ID, DoorID: doc.Reader.DoorID, Location: loc,
		Groups:        make(map[string]*schedule.Weekly, len(doc.Groups)),
		Revoked:       make(map[string]struct{}, len(doc.Revoked)),
		UserEpochs:    make(map[string]time.Time),
		UserGroups:    make(map[string]string, len(doc.Users)),
		Cards:         make(map[string]credential.CardHolder, len(doc.Cards)),
		LostCards:     make(map[string]credential.CardHolder, len(doc.LostCards)),
		RevokedPasses: set(doc.PassesRevoked),
		UsedPasses:    set(doc.PassesUsed),
		SyncedAt:      syncedAt,
		MaxStaleness:  maxStale,
	}
	for _, g := range doc.Groups {
		if g.Schedule == nil {
			p.Groups[g.ID] = nil
			continue
		}
		w, err := schedule.Parse(g.Schedule.Days, g.Schedule.Start, g.Schedule.End)
		if err != nil {
			return nil, v, fmt.Errorf("reader: schedule of group %s: %w", g.ID, err)
		}
		p.Groups[g.ID] = &w
	}
	for _, r := range doc.Revoked {
		p.Revoked[r.CredentialID] = struct{}{}
	}
	for _, u := range doc.Users {
		p.UserGroups[u.ID] = u.GroupID
		if u.Epoch != nil {
			p.UserEpochs[u.ID] = *u.Epoch
		}
	}
	if doc.CardKey != "" {
		if p.CardKey, err = base64.RawURLEncoding.DecodeString(doc.CardKey); err != nil || len(p.CardKey) < 16 {
			return nil, v, fmt.Errorf("reader: bundle card key is not base64url of 16+ bytes")
		}
	}
	for _, c := range doc.Cards {
		p.Cards[c.Hash] = credential.CardHolder{CredentialID: c.CredentialID, UserID: c.UserID}
	}
	for _, c := range doc.LostCards {
		p.LostCards[c.Hash] = credential.CardHolder{CredentialID: c.CredentialID, UserID: c.UserID}
	}
	p.ScheduleBased = doc.Reader.ScheduleBased
	for _, b := range doc.Bookings {
		p.Bookings = append(p.Bookings, booking.Window{BookingID: b.ID, UserID: b.UserID, From: b.From, To: b.To})
	}
	v = credential.Verifier{Keys: keys, Issuer: doc.Issuer}
	return p, v, nil
}

func buildSnapshot(doc *bundle.Bundle, syncedAt time.Time, maxStale time.Duration) (*snapshot, error) {
	p, v, err := BuildPolicy(doc, syncedAt, maxStale)
	if err != nil {
		return nil, err
	}
	s := &snapshot{
		doc: doc, verifier: v, policy: p,
		customPINs: make(map[string]customPIN, len(doc.PINs)),
		pinDeny:    set(doc.PINDeny),
		pinsSpent:  set(doc.PINsSpent),
		pinsActive: set(doc.PINsActivated),
	}
	if doc.PINKey != "" {
		k, err := base64.RawURLEncoding.DecodeString(doc.PINKey)
		if err != nil || len(k) != offlinepin.KeySize {
			return nil, fmt.Errorf("reader: bundle pin key is not base64url of %d bytes", offlinepin.KeySize)
		}
		s.pinKey = k
	}
	for _, c := range doc.PINs {
		if c.Hash == "" || c.ID == "" {
			return nil, fmt.Errorf("reader: custom PIN without id or hash")
		}
		cp := customPIN{CustomPIN: c}
		if c.Schedule != nil {
			w, err := schedule.Parse(c.Schedule.Days, c.Schedule.Start, c.Schedule.End)
			if err != nil {
				return nil, fmt.Errorf("reader: schedule of PIN %s: %w", c.ID, err)
			}
			cp.sched = &w
		}
		s.customPINs[c.Hash] = cp
	}
	return s, nil
}

// customPIN is a bundle's custom PIN with its schedule parsed.
type customPIN struct {
	bundle.CustomPIN
	sched *schedule.Weekly
}

// withSyncedAt is s with a newer confirmation time; maps are shared,
// being read-only.
func (s *snapshot) withSyncedAt(t time.Time) *snapshot {
	n := *s
	p := *s.policy
	p.SyncedAt = t
	n.policy = &p
	return &n
}

func set(ids []string) map[string]struct{} {
	m := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		m[id] = struct{}{}
	}
	return m
}
