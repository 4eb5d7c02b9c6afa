package models_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestBatchTxBumpsOncePerSite: cards assigned in a batch bump the site's
// bundle version once, at the end; outside a batch once per card; a batch
// that fails bumps nothing.
func TestBatchTxBumpsOncePerSite(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "Batch")
		u := mustUser(t, s, site.ID, nil)
		assign := func(tx *models.Store, n int, prefix string) error {
			for i := range n {
				if err := tx.AssignCard(ctx, &models.Credential{SiteID: site.ID, UserID: u.ID, Kind: models.KindCard, Number: fmt.Sprintf("%s%04d", prefix, i)}); err != nil {
					return err
				}
			}
			return nil
		}
		cases := []struct {
			name string
			run  func() error
			want int64
		}{
			{"batch of 3", func() error { return s.BatchTx(ctx, func(tx *models.Store) error { return assign(tx, 3, "AA") }) }, 1},
			{"no batch, 3", func() error { return assign(s, 3, "BB") }, 3},
			{"failed batch", func() error {
				err := s.BatchTx(ctx, func(tx *models.Store) error {
					if err := assign(tx, 2, "CC"); err != nil {
						return err
					}
					return errors.New("boom")
				})
				if err == nil {
					return errors.New("the failed batch committed")
				}
				return nil
			}, 0},
			{"nested batch", func() error {
				return s.BatchTx(ctx, func(tx *models.Store) error {
					return tx.BatchTx(ctx, func(tx *models.Store) error { return assign(tx, 2, "DD") })
				})
			}, 1},
		}
		for _, tc := range cases {
			before, err := s.SiteVersion(ctx, site.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.run(); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			after, err := s.SiteVersion(ctx, site.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := after - before; got != tc.want {
				t.Errorf("%s: version moved by %d, want %d", tc.name, got, tc.want)
			}
		}
	})
}

// TestImportBatch: each row lands or gets its refusal, all or nothing per
// row, with one bundle bump for the batch.
func TestImportBatch(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "Imp")
		other := &models.User{SiteID: site.ID, Name: "Bob", Phone: "+33611111111"}
		if err := s.CreateUser(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := s.AssignCard(ctx, &models.Credential{SiteID: site.ID, UserID: other.ID, Kind: models.KindCard, Number: "HELD"}); err != nil {
			t.Fatal(err)
		}
		card := func(n string) *models.Credential { return &models.Credential{Kind: models.KindCard, Number: n} }
		missing := "grp_missing"
		rows := []models.ImportRow{
			{User: models.User{Name: "Ann", Phone: "+33622222222"}, Card: card("C1")},                      // new user and card
			{User: models.User{Name: "Ann", Email: "ANN@x.test", Phone: "+33622222222"}, Card: card("C1")}, // the same again: done
			{User: models.User{Name: "Cy", Phone: "+33633333333"}, Card: card("HELD")},                     // card of another user
			{User: models.User{Name: "Bob", Phone: "+33611111111"}, Card: card("HELD")},                    // Bob's own card: done
			{User: models.User{Name: "Di", Email: "di@x.test", GroupID: &missing}},                         // unknown group
		}
		want := []string{"", "", "card_number", "", "group"}
		before, _ := s.SiteVersion(ctx, site.ID)
		refs, err := s.ImportBatch(ctx, site.ID, "key_1", rows)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range refs {
			if r.Field != want[i] {
				t.Errorf("row %d: refusal %+v, want field %q", i, r, want[i])
			}
		}
		if after, _ := s.SiteVersion(ctx, site.ID); after != before+1 {
			t.Errorf("version %d -> %d, want one bump", before, after)
		}
		if _, err := s.FindUserByPhone(ctx, site.ID, "+33633333333"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the refused row's user exists: %v", err)
		}
		ann, err := s.FindUserByPhone(ctx, site.ID, "+33622222222")
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.FindCardByNumber(ctx, site.ID, "C1")
		if err != nil || c.UserID != ann.ID {
			t.Fatalf("card C1: %+v %v", c, err)
		}
	})
}
