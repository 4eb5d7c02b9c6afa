package server

import (
	"context"

	"github.com/lintel/lintel/models"
)

// Use cases on users and groups.

// DeactivateUser deactivates a user: their credentials, PINs and passes
// stop working, their phones get a silent push, and user.deactivated is
// written, all in one transaction.
func (s *Service) DeactivateUser(ctx context.Context, who Principal, siteID, userID string) (userResponse, error) {
	var u *models.User
	pushes := 0
	err := s.store.Tx(ctx, func(tx *models.Store) error {
		phones, _, err := tx.ListCredentials(ctx, siteID, models.CredentialFilter{UserID: userID, Kind: models.KindMobile, Status: models.CredActive}, models.Page{Limit: 10000})
		if err != nil {
			return err
		}
		if u, err = tx.DeactivateUser(ctx, siteID, userID); err != nil {
			return err
		}
		for i := range phones {
			id, err := s.enqueueRevocation(ctx, tx, &phones[i])
			if err != nil {
				return err
			}
			if id != "" {
				pushes++
			}
		}
		return tx.Audit(ctx, siteID, who.actor(), "user.deactivated", "", u.ID, "")
	})
	if err != nil {
		return userResponse{}, notFoundAs(err, "user")
	}
	if pushes > 0 {
		s.wakeDeliveries()
	}
	return toUser(u), nil
}

// UpdateGroupInput changes the fields of a group that are set (PATCH).
type UpdateGroupInput struct {
	SiteID, GroupID string
	groupPatch
}

// UpdateGroup changes a group's name, role, doors, schedule or visitor-pass
// policy (group.updated).
func (s *Service) UpdateGroup(ctx context.Context, who Principal, in UpdateGroupInput) (groupResponse, error) {
	g, err := s.store.GetGroup(ctx, in.SiteID, in.GroupID)
	if err != nil {
		return groupResponse{}, notFoundAs(err, "group")
	}
	req := in.groupPatch
	var v validator
	if req.Name.Set {
		g.Name = v.name("name", req.Name.Value, 200)
	}
	if req.Role.Set {
		g.Role = v.role("role", req.Role.Value)
	}
	if req.DoorIDs.Set {
		g.DoorIDs = v.doorIDs("door_ids", req.DoorIDs.Value)
	}
	if req.Schedule.Set {
		if req.Schedule.Null {
			g.SetSchedule(nil)
		} else {
			g.SetSchedule(v.schedule("schedule", &req.Schedule.Value))
		}
	}
	if req.VisitorPasses.Set {
		v.check(!req.VisitorPasses.Null, "visitor_passes", "must be an object")
		applyPolicy(g, req.VisitorPasses.Value)
	}
	v.noAccess(g)
	if err := v.err(); err != nil {
		return groupResponse{}, err
	}
	err = s.store.Tx(ctx, func(tx *models.Store) error {
		if err := tx.UpdateGroup(ctx, g); err != nil {
			return err
		}
		return tx.Audit(ctx, in.SiteID, who.actor(), "group.updated", "", "", g.ID)
	})
	if err != nil {
		return groupResponse{}, notFoundAs(err, "group")
	}
	return toGroup(g), nil
}
