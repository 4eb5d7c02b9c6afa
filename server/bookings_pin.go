package server

import (
	"context"
	"time"

	"github.com/lintel/lintel/models"
)

// createBookingPIN makes the PIN of a booking inside its transaction: a
// synced PIN (6 digits chosen by the server, delivered to the door's readers
// through the bundle) valid exactly from..to, the booked window plus grace.
// An offline PIN would have to be rounded out to whole hours and would open
// the door outside the booking, so bookings never use one.
func (s *Service) createBookingPIN(ctx context.Context, who Principal, tx *models.Store, b *models.Booking, from, to time.Time) (*models.PIN, string, error) {
	from, to = from.UTC(), to.UTC()
	userID := b.UserID
	row := &models.PIN{SiteID: b.SiteID, DoorID: b.DoorID, Mode: models.PINCustom, Type: models.PINTimeBound,
		Source: models.PINSourceBooking, StartsAt: from, EndsAt: &to, AssigneeUserID: &userID, CreatedBy: who.actor()}
	var digits string
	if err := tx.CreatePINs(ctx, []*models.PIN{row}, s.syncedCandidates(b.SiteID, &digits),
		errConflict("pin_space_exhausted", "no free PIN was found for this door; try again")); err != nil {
		return nil, "", err
	}
	return row, digits, nil
}

// syncedCandidates draws up to 20 random synced PINs (syncedPINDigits
// digits, the guessable ones skipped), sealed for every row: the first
// that is free on all of the rows' doors wins (the unique index decides).
// *digits receives the latest candidate, so the winner's after insertion.
func (s *Service) syncedCandidates(siteID string, digits *string) models.PINCandidate {
	return func(attempt int, rows []*models.PIN) (bool, error) {
		if attempt >= 20 {
			return false, nil
		}
		var err error
		if *digits, err = randomPIN(syncedPINDigits); err != nil {
			return false, err
		}
		return true, s.fillCustom(siteID, *digits, rows)
	}
}
