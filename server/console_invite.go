package server

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lintel/lintel/models"
)

// Invite is one console person to invite (`lintel admin invite`): an
// operator, or a person of a site, optionally one of its users (whose
// group then decides their role).
type Invite struct {
	Operator bool
	SiteID   string
	Name     string
	UserID   string
}

// InvitePerson creates the person (or finds the user's) and returns their
// one-time set-up link, valid 24 hours.
func InvitePerson(ctx context.Context, st *models.Store, publicURL string, in Invite) (string, error) {
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case in.Operator == (in.SiteID != ""):
		return "", errors.New("give exactly one of --operator or --site SITE_ID")
	case in.Name == "" || len(in.Name) > 200:
		return "", errors.New("--name is required (at most 200 bytes)")
	case in.Operator && in.UserID != "":
		return "", errors.New("--user needs --site")
	}
	p := &models.ConsolePerson{Kind: models.PersonOperator, Name: in.Name}
	if !in.Operator {
		p.Kind, p.SiteID = models.PersonSite, &in.SiteID
		if in.UserID != "" {
			p.UserID = &in.UserID
		}
	}
	token, err := st.InvitePerson(ctx, p, consoleSetupTTL)
	if errors.Is(err, models.ErrNotFound) {
		return "", fmt.Errorf("no such site or user of the site")
	}
	if err != nil {
		return "", err
	}
	return ConsoleOrigin(publicURL) + "/console/setup/" + token, nil
}
