package server

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// createBookingPIN makes the PIN of a booking inside its transaction: a
// synced PIN (6 digits chosen by the server, delivered to the door's readers
// through the bundle) valid exactly from..to, the booked window plus grace.
// An offline PIN would have to be rounded out to whole hours and would open
// the door outside the booking, so bookings never use one.
func (a *API) createBookingPIN(tx *models.Store, c *gin.Context, b *models.Booking, from, to time.Time) (*models.PIN, string, error) {
	from, to = from.UTC(), to.UTC()
	userID := b.UserID
	row := &models.PIN{SiteID: b.SiteID, DoorID: b.DoorID, Mode: models.PINCustom, Type: models.PINTimeBound,
		Source: models.PINSourceBooking, StartsAt: from, EndsAt: &to, AssigneeUserID: &userID, CreatedBy: actor(c)}
	var digits string
	next := func(attempt int, rows []*models.PIN) (bool, error) {
		if attempt >= 20 {
			return false, nil
		}
		var err error
		if digits, err = randomPIN(syncedPINDigits); err != nil {
			return false, err
		}
		return true, a.fillCustom(b.SiteID, digits, rows)
	}
	if err := tx.CreatePINs(c.Request.Context(), []*models.PIN{row}, next,
		errConflict("pin_space_exhausted", "no free PIN was found for this door; try again")); err != nil {
		return nil, "", err
	}
	return row, digits, nil
}

// deleteBookingPIN takes a cancelled booking's PIN off the door (its
// readers drop it at their next sync, or at once when streaming).
func (a *API) deleteBookingPIN(tx *models.Store, c *gin.Context, b *models.Booking) error {
	_, err := tx.DeletePIN(c.Request.Context(), b.SiteID, b.DoorID, b.PinID)
	return err
}
