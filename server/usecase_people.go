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
	err := s.audited(ctx, who, siteID, func(tx *models.Store) (audit, error) {
		phones, _, err := tx.ListCredentials(ctx, siteID, models.CredentialFilter{UserID: userID, Kind: models.KindMobile, Status: models.CredActive}, models.Page{Limit: 10000})
		if err != nil {
			return audit{}, err
		}
		if u, err = tx.DeactivateUser(ctx, siteID, userID); err != nil {
			return audit{}, err
		}
		for i := range phones {
			id, err := s.enqueueRevocation(ctx, tx, &phones[i])
			if err != nil {
				return audit{}, err
			}
			if id != "" {
				pushes++
			}
		}
		return audit{"user.deactivated", "", u.ID, ""}, nil
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
	return auditedSave(ctx, s, who, in.SiteID, "group", g, (*models.Store).UpdateGroup, func(g *models.Group) audit {
		return audit{"group.updated", "", "", g.ID}
	}, toGroup)
}

// CreateUserInput is a new user of a site: the body of POST …/users.
type CreateUserInput struct {
	SiteID string
	userRequest
}

// CreateUser adds a user to a site, in a group or none.
func (s *Service) CreateUser(ctx context.Context, _ Principal, in CreateUserInput) (userResponse, error) {
	var v validator
	u := &models.User{
		SiteID:  in.SiteID,
		Name:    v.name("name", in.Name, 200),
		Email:   v.email("email", in.Email),
		Phone:   v.phone("phone", in.Phone),
		GroupID: v.optionalID("group_id", in.GroupID),
	}
	return stored(ctx, &v, u, s.store.CreateUser, toUser)
}

// UpdateUserInput changes the fields of a user that are set (PATCH).
type UpdateUserInput struct {
	SiteID, UserID string
	userPatch
}

// UpdateUser changes an active user's name, contact or group (their
// group is their role: the change applies to their next request).
func (s *Service) UpdateUser(ctx context.Context, _ Principal, in UpdateUserInput) (userResponse, error) {
	u, err := s.store.GetUser(ctx, in.SiteID, in.UserID)
	if err != nil {
		return userResponse{}, notFoundAs(err, "user")
	}
	if u.Status != models.UserActive {
		return userResponse{}, errConflict("user_deactivated", "a deactivated user cannot be changed")
	}
	var v validator
	if in.Name.Set {
		u.Name = v.name("name", in.Name.Value, 200)
	}
	if in.Email.Set {
		u.Email = v.email("email", in.Email.Value)
	}
	if in.Phone.Set {
		u.Phone = v.phone("phone", in.Phone.Value)
	}
	if in.GroupID.Set {
		u.GroupID = v.optionalID("group_id", &in.GroupID.Value)
	}
	return stored(ctx, &v, u, missingAs(s.store.UpdateUser, "user"), toUser)
}

// CreateMemberKey mints an API key for a user (shown once).
func (s *Service) CreateMemberKey(ctx context.Context, _ Principal, siteID, userID string) (memberKeyResponse, error) {
	key, err := s.store.CreateMemberKey(ctx, siteID, userID)
	if err != nil {
		return memberKeyResponse{}, notFoundAs(err, "user")
	}
	return memberKeyResponse{Key: key, Kind: models.KeyMember, UserID: userID}, nil
}

// CreateGroupInput is a new group: the body of POST …/groups.
type CreateGroupInput struct {
	SiteID string
	groupRequest
}

// CreateGroup adds a group: its role, doors, schedule and visitor-pass
// policy.
func (s *Service) CreateGroup(ctx context.Context, _ Principal, in CreateGroupInput) (groupResponse, error) {
	var v validator
	g := &models.Group{
		SiteID:  in.SiteID,
		Name:    v.name("name", in.Name, 200),
		Role:    v.role("role", in.Role),
		DoorIDs: v.doorIDs("door_ids", in.DoorIDs),
	}
	g.SetSchedule(v.schedule("schedule", in.Schedule))
	if in.VisitorPasses != nil {
		applyPolicy(g, *in.VisitorPasses)
	}
	v.noAccess(g)
	return stored(ctx, &v, g, s.store.CreateGroup, toGroup)
}

// DeleteGroup deletes a group of the site.
func (s *Service) DeleteGroup(ctx context.Context, _ Principal, siteID, groupID string) error {
	return notFoundAs(s.store.DeleteGroup(ctx, siteID, groupID), "group")
}
