package models

import (
	"context"
	"strings"

	"gorm.io/gorm/clause"
)

// ImportRow is one validated row of an import: a user (matched by phone,
// then email, or created) and optionally the card to give them. Card's
// number is normalized.
type ImportRow struct {
	User User
	Card *Credential
}

// ImportRefusal is why ImportBatch refused a row; Field is the CSV column.
// The zero value means the row landed.
type ImportRefusal struct{ Field, Message string }

// ImportBatch writes rows in the caller's transaction (or its own) with a
// few statements per row instead of a dozen: the users and cards the rows
// name are read in one query each, inserts that hit a unique index are
// skipped (ON CONFLICT DO NOTHING) rather than failing, so no savepoint is
// needed, the audit records go in one insert, and the site's bundle is
// bumped once. A row is all or nothing: a user created for a row whose
// card turns out to be taken is removed again. Each row gets its refusal
// (zero: done), in order; an error is a failure of the database.
func (s *Store) ImportBatch(ctx context.Context, siteID, actor string, rows []ImportRow) ([]ImportRefusal, error) {
	out := make([]ImportRefusal, len(rows))
	err := s.BatchTx(ctx, func(tx *Store) error {
		ix, err := tx.importIndex(ctx, siteID, rows)
		if err != nil {
			return err
		}
		var audits []Event
		for i := range rows {
			ref, ev, err := tx.importOne(ctx, siteID, actor, ix, &rows[i])
			if err != nil {
				return err
			}
			out[i] = ref
			if ev != nil {
				audits = append(audits, *ev)
			}
		}
		if len(audits) > 0 {
			if _, err := tx.InsertEvents(ctx, audits); err != nil {
				return err
			}
			// Name what the batch touched, so that readers take it as a
			// delta rather than a full bundle.
			refs := make([]Ref, 0, 2*len(audits))
			for _, ev := range audits {
				if ev.UserID != "" {
					refs = append(refs, Ref{RefUser, ev.UserID})
				}
				if ev.CredentialID != "" {
					refs = append(refs, Ref{RefCredential, ev.CredentialID})
				}
			}
			if err := tx.accessChanged(ctx, siteID, refs...); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// importIndex is what a batch already finds in the site: active users by
// phone and by lower-cased email, held cards by number, and the groups
// that exist.
type importIndex struct {
	byPhone, byEmail map[string]*User
	cards            map[string]*Credential
	groups           map[string]bool
}

func (s *Store) importIndex(ctx context.Context, siteID string, rows []ImportRow) (*importIndex, error) {
	var phones, emails, numbers, groups []string
	for _, r := range rows {
		if r.User.Phone != "" {
			phones = append(phones, r.User.Phone)
		}
		if r.User.Email != "" {
			emails = append(emails, strings.ToLower(r.User.Email))
		}
		if r.Card != nil {
			numbers = append(numbers, r.Card.Number)
		}
		if r.User.GroupID != nil {
			groups = append(groups, *r.User.GroupID)
		}
	}
	ix := &importIndex{byPhone: map[string]*User{}, byEmail: map[string]*User{}, cards: map[string]*Credential{}, groups: map[string]bool{}}
	var users []User
	if len(phones)+len(emails) > 0 {
		if err := s.q(ctx).Where("site_id = ? AND status = ? AND (phone IN ? OR LOWER(email) IN ?)", siteID, UserActive,
			append(phones, ""), append(emails, "")).Order("id").Find(&users).Error; err != nil {
			return nil, err
		}
	}
	for i := range users {
		ix.add(&users[i])
	}
	if len(numbers) > 0 {
		var cards []Credential
		if err := s.q(ctx).Where("site_id = ? AND number IN ? AND status IN ?", siteID, numbers, []string{CredActive, CredLost}).
			Find(&cards).Error; err != nil {
			return nil, err
		}
		for i := range cards {
			ix.cards[cards[i].Number] = &cards[i]
		}
	}
	if len(groups) > 0 {
		var ids []string
		if err := s.q(ctx).Model(&Group{}).Where("site_id = ? AND id IN ?", siteID, groups).Pluck("id", &ids).Error; err != nil {
			return nil, err
		}
		for _, id := range ids {
			ix.groups[id] = true
		}
	}
	return ix, nil
}

// add indexes a user; the first (lowest id) of an email keeps it, as
// FindUserByEmail would choose.
func (ix *importIndex) add(u *User) {
	if u.Phone != "" && ix.byPhone[u.Phone] == nil {
		ix.byPhone[u.Phone] = u
	}
	if e := strings.ToLower(u.Email); e != "" && ix.byEmail[e] == nil {
		ix.byEmail[e] = u
	}
}

func (ix *importIndex) find(u *User) *User {
	if f := ix.byPhone[u.Phone]; u.Phone != "" && f != nil {
		return f
	}
	if f := ix.byEmail[strings.ToLower(u.Email)]; u.Email != "" && f != nil {
		return f
	}
	return nil
}

var (
	refusePhone = ImportRefusal{"phone", "a user with this phone number already exists in the site"}
	refuseCard  = ImportRefusal{"card_number", "is already assigned (or marked lost) to another user of the site"}
	refuseGroup = ImportRefusal{"group", "is not a group of this site"}
)

// importOne lands one row and returns its audit record (a card given).
func (s *Store) importOne(ctx context.Context, siteID, actor string, ix *importIndex, r *ImportRow) (ImportRefusal, *Event, error) {
	u := ix.find(&r.User)
	var held *Credential
	if r.Card != nil {
		held = ix.cards[r.Card.Number]
		if held != nil && (u == nil || held.UserID != u.ID) {
			return refuseCard, nil, nil
		}
	}
	created := false
	if u == nil {
		if r.User.GroupID != nil && !ix.groups[*r.User.GroupID] {
			return refuseGroup, nil, nil
		}
		nu := r.User
		now := s.Now()
		nu.ID, nu.SiteID, nu.Status, nu.CreatedAt, nu.UpdatedAt = NewID("usr"), siteID, UserActive, now, now
		res := s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&nu)
		if res.Error != nil {
			return ImportRefusal{}, nil, res.Error
		}
		if res.RowsAffected == 0 { // a concurrent writer took the phone
			return refusePhone, nil, nil
		}
		u, created = &nu, true
		ix.add(u)
	}
	if r.Card == nil || held != nil {
		return ImportRefusal{}, nil, nil // no card, or imported before
	}
	now := s.Now()
	c := *r.Card
	c.ID, c.SiteID, c.UserID, c.Status, c.CreatedAt, c.UpdatedAt = NewID("cred"), siteID, u.ID, CredActive, now, now
	res := s.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&c)
	if res.Error != nil {
		return ImportRefusal{}, nil, res.Error
	}
	if res.RowsAffected == 0 { // taken since importIndex read the cards
		if created {
			if err := s.q(ctx).Delete(&User{}, "id = ?", u.ID).Error; err != nil {
				return ImportRefusal{}, nil, err
			}
			delete(ix.byPhone, u.Phone)
			delete(ix.byEmail, strings.ToLower(u.Email))
		}
		return refuseCard, nil, nil
	}
	ix.cards[c.Number] = &c
	return ImportRefusal{}, &Event{SiteID: siteID, Type: EventAudit, Action: "card.assigned", Actor: actor,
		CredentialID: c.ID, UserID: u.ID, Detail: c.Kind, OccurredAt: now}, nil
}
