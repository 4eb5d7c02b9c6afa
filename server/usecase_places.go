package server

import (
	"context"
	"strings"

	"github.com/lintel/lintel/models"
)

// Use cases on sites, doors and readers.

// CreateSite adds a site (operators) with its IANA time zone.
func (s *Service) CreateSite(ctx context.Context, _ Principal, name, timezone string) (siteResponse, error) {
	var v validator
	site := &models.Site{Name: v.name("name", name, 200), Timezone: v.timezone("timezone", timezone)}
	return stored(ctx, &v, site, s.store.CreateSite, toSite)
}

// CreateDoorInput is a new door: the body of POST …/doors.
type CreateDoorInput struct {
	SiteID string
	doorRequest
}

// CreateDoor adds a door to a site.
func (s *Service) CreateDoor(ctx context.Context, _ Principal, in CreateDoorInput) (doorResponse, error) {
	var v validator
	d := &models.Door{SiteID: in.SiteID, Name: v.name("name", in.Name, 200), ScheduleBased: in.ScheduleBased}
	return stored(ctx, &v, d, s.store.CreateDoor, toDoor)
}

// UpdateDoorInput changes the fields of a door that are set (PATCH).
type UpdateDoorInput struct {
	SiteID, DoorID string
	doorPatch
}

// UpdateDoor renames a door or makes it schedule-based (or not).
func (s *Service) UpdateDoor(ctx context.Context, _ Principal, in UpdateDoorInput) (doorResponse, error) {
	d, err := s.store.GetDoor(ctx, in.SiteID, in.DoorID)
	if err != nil {
		return doorResponse{}, notFoundAs(err, "door")
	}
	var v validator
	if in.Name.Set {
		v.check(!in.Name.Null, "name", "must not be null")
		d.Name = v.name("name", in.Name.Value, 200)
	}
	if in.ScheduleBased.Set {
		v.check(!in.ScheduleBased.Null, "schedule_based", "must be true or false")
		d.ScheduleBased = in.ScheduleBased.Value
	}
	return stored(ctx, &v, d, missingAs(s.store.UpdateDoor, "door"), toDoor)
}

// DeleteDoor deletes a door of the site.
func (s *Service) DeleteDoor(ctx context.Context, _ Principal, siteID, doorID string) error {
	return notFoundAs(s.store.DeleteDoor(ctx, siteID, doorID), "door")
}

// ProvisionReader registers a reader on a door and returns its token
// (shown once); the name is optional.
func (s *Service) ProvisionReader(ctx context.Context, _ Principal, siteID, doorID, name string) (readerResponse, error) {
	var v validator
	name = strings.TrimSpace(name)
	if name != "" {
		name = v.name("name", name, 200)
	}
	if err := v.err(); err != nil {
		return readerResponse{}, err
	}
	r, token, err := s.store.ProvisionReader(ctx, siteID, doorID, name)
	if err != nil {
		return readerResponse{}, notFoundAs(err, "door")
	}
	return readerResponse{ReaderID: r.ID, DoorID: r.DoorID, Name: r.Name, Token: token}, nil
}
