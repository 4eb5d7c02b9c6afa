package server

import (
	"github.com/lintel/lintel/credential/schedule"
	"github.com/lintel/lintel/models"
)

// scheduleJSON is the contract's weekly schedule; absent or null = always.
type scheduleJSON struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

type visitorPassPolicy struct {
	Enabled   bool `json:"enabled"`
	Recurring bool `json:"recurring"`
	Temporary bool `json:"temporary"`
	SingleUse bool `json:"single_use"`
}

type groupRequest struct {
	Name          string             `json:"name"`
	Role          string             `json:"role"`
	DoorIDs       []string           `json:"door_ids"`
	Schedule      *scheduleJSON      `json:"schedule"`
	VisitorPasses *visitorPassPolicy `json:"visitor_passes"`
}

type groupPatch struct {
	Name          Opt[string]            `json:"name"`
	Role          Opt[string]            `json:"role"`
	DoorIDs       Opt[[]string]          `json:"door_ids"`
	Schedule      Opt[scheduleJSON]      `json:"schedule"`
	VisitorPasses Opt[visitorPassPolicy] `json:"visitor_passes"`
}

type groupResponse struct {
	ID            string            `json:"id"`
	SiteID        string            `json:"site_id"`
	Name          string            `json:"name"`
	Role          string            `json:"role"`
	DoorIDs       []string          `json:"door_ids"`
	Schedule      *scheduleJSON     `json:"schedule"`
	VisitorPasses visitorPassPolicy `json:"visitor_passes"`
	CreatedAt     string            `json:"created_at"`
	UpdatedAt     string            `json:"updated_at"`
}

func toScheduleJSON(w *schedule.Weekly) *scheduleJSON {
	if w == nil {
		return nil
	}
	return &scheduleJSON{Days: w.Days.Names(), Start: w.Start.String(), End: w.End.String()}
}

func toGroup(g *models.Group) groupResponse {
	ids := g.DoorIDs
	if ids == nil {
		ids = []string{}
	}
	return groupResponse{
		ID: g.ID, SiteID: g.SiteID, Name: g.Name, Role: g.Role, DoorIDs: ids,
		Schedule:      toScheduleJSON(g.Schedule()),
		VisitorPasses: visitorPassPolicy{Enabled: g.VPEnabled, Recurring: g.VPRecurring, Temporary: g.VPTemporary, SingleUse: g.VPSingleUse},
		CreatedAt:     rfc3339(g.CreatedAt), UpdatedAt: rfc3339(g.UpdatedAt),
	}
}

// schedule validates a schedule field, naming each bad part under prefix
// ("schedule" -> "schedule.days"), so every problem is reported at once.
func (v *validator) schedule(prefix string, s *scheduleJSON) *schedule.Weekly {
	if s == nil {
		return nil
	}
	n := len(v.errs)
	days, err := schedule.ParseDays(s.Days)
	if err != nil {
		v.add(prefix+".days", err.Error())
	}
	start, err := schedule.ParseClock(s.Start)
	if err != nil {
		v.add(prefix+".start", err.Error())
	}
	end, err := schedule.ParseClock(s.End)
	if err != nil {
		v.add(prefix+".end", err.Error())
	}
	if len(v.errs) > n {
		return nil
	}
	if end <= start {
		v.add(prefix+".end", "must be after start")
		return nil
	}
	return &schedule.Weekly{Days: days, Start: start, End: end}
}

func (v *validator) role(field, r string) string {
	switch r {
	case models.RoleAdmin, models.RoleMember, models.RoleVisitor, models.RoleNone:
	case "":
		v.add(field, "is required: admin, member, visitor or none")
	default:
		v.add(field, "must be admin, member, visitor or none")
	}
	return r
}

func (v *validator) doorIDs(field string, ids []string) []string {
	if len(ids) > 1000 {
		v.add(field, "lists too many doors (1000 at most)")
		return nil
	}
	for _, id := range ids {
		if id == "" || len(id) > 64 {
			v.add(field, "holds an empty or overlong id")
			break
		}
	}
	if ids == nil {
		return []string{}
	}
	return ids
}

// noAccess refuses a none-role group that would open doors or issue
// passes: its users hold no access credentials (seed 000, docs/roles.md).
func (v *validator) noAccess(g *models.Group) {
	if g.Role != models.RoleNone {
		return
	}
	v.check(len(g.DoorIDs) == 0, "door_ids", "must be empty for a group of the none role: its users open no door")
	v.check(!g.VPEnabled, "visitor_passes.enabled", "must be false for a group of the none role: its users issue no passes")
}

func applyPolicy(g *models.Group, p visitorPassPolicy) {
	g.VPEnabled, g.VPRecurring, g.VPTemporary, g.VPSingleUse = p.Enabled, p.Recurring, p.Temporary, p.SingleUse
}
