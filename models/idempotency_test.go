package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// A request whose transaction committed keeps its key even when its
// instance dies before storing the answer: a retry after the lock ran out
// must neither take the key over (it would apply the request twice) nor
// may a release free it; one that did not commit is taken over.
func TestIdempotencyKeyAppliedInItsTransaction(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "A")
		expired := -time.Second // the lock has run out: its holder died
		ada := mustUser(t, s, site.ID, nil)
		for _, tc := range []struct {
			name      string
			commit    func(context.Context) error // nil: crashed before committing
			wantTaken bool
		}{
			{"committed before the crash", func(ctx context.Context) error {
				return s.CreateUser(ctx, &models.User{SiteID: site.ID, Name: "Bob"})
			}, false},
			// On PostgreSQL the issue is one statement without BEGIN: it
			// must still mark the key.
			{"a one-statement issue committed", func(ctx context.Context) error {
				_, _, err := s.IssueMobile(ctx, models.MobileIssue{SiteID: site.ID, UserID: ada.ID, Code: "c0de", TTL: time.Hour})
				return err
			}, false},
			{"crashed before committing", nil, true},
		} {
			key := "k-" + tc.name
			if ok, _, err := s.ClaimIdempotencyKey(ctx, "key1", key, "h", expired, time.Hour); err != nil || !ok {
				t.Fatalf("%s: first claim = %v %v", tc.name, ok, err)
			}
			if tc.commit != nil {
				if err := tc.commit(models.WithIdempotencyClaim(ctx, "key1", key)); err != nil {
					t.Fatal(err)
				}
				// A server error after the commit must not free the key.
				if err := s.ReleaseIdempotencyKey(ctx, "key1", key); err != nil {
					t.Fatal(err)
				}
			}
			taken, rec, err := s.ClaimIdempotencyKey(ctx, "key1", key, "h", time.Minute, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if taken != tc.wantTaken {
				t.Fatalf("%s: retry took the key over = %v, want %v", tc.name, taken, tc.wantTaken)
			}
			if !tc.wantTaken && (rec == nil || !rec.Applied()) {
				t.Fatalf("%s: the record does not say its request was applied: %+v", tc.name, rec)
			}
		}
	})
}
