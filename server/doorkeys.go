package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
)

// rehashPIN recomputes a custom PIN's bundle hash under a new key
// generation of its door: the PIN is decrypted (the server keeps custom
// PINs sealed) and hashed with the new card key.
func (a *API) rehashPIN(siteID string) models.Rehash {
	return func(p *models.PIN, gen int) (string, error) {
		digits, err := a.pinDigits(p)
		if err != nil {
			return "", err
		}
		return credential.CustomPINHash(a.cardKey(siteID, p.DoorID, gen), p.DoorID, digits), nil
	}
}

func pinIDs(pins []models.PIN) []string {
	out := make([]string, len(pins))
	for i := range pins {
		out[i] = pins[i].ID
	}
	return out
}

// rotateDoorKeys moves a door to its next key generation (new offline-PIN
// key and card key); the answer lists the offline PINs to re-issue.
func (a *API) rotateDoorKeys(c *gin.Context) {
	site := currentSite(c).ID
	rot, err := a.store.RotateDoorKeys(c.Request.Context(), site, c.Param("door"), actor(c), a.rehashPIN(site))
	if err != nil {
		a.fail(c, notFoundAs(err, "door"))
		return
	}
	c.JSON(http.StatusOK, gin.H{"generation": rot.Door.KeyGeneration, "reissue": pinIDs(rot.Reissue)})
}
