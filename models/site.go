package models

import (
	"context"
	"time"
)

// Site is a tenant: a building or campus with its own doors, groups and
// users, in one IANA time zone.
type Site struct {
	ID        string
	Name      string
	Timezone  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName implements gorm's Tabler.
func (Site) TableName() string { return "sites" }

// CreateSite inserts a site, filling ID and timestamps.
func (s *Store) CreateSite(ctx context.Context, site *Site) error {
	site.ID = NewID("site")
	site.CreatedAt, site.UpdatedAt = s.Now(), s.Now()
	return s.q(ctx).Create(site).Error
}

// GetSite loads one site.
func (s *Store) GetSite(ctx context.Context, id string) (*Site, error) {
	return take[Site](s.q(ctx).Where("id = ?", id))
}

// ListSites lists sites, optionally only those in ids (nil = all).
func (s *Store) ListSites(ctx context.Context, p Page) ([]Site, string, error) {
	return listPage(s.q(ctx).Model(&Site{}), p, func(x *Site) string { return x.ID })
}

// Issuer is the installation's credential issuer (the iss of every token
// it signs), stored once: the first call records fallback (the public URL
// of the first start, which is also what credentials issued before the
// issuer was stored carry), and later calls return the stored value
// whatever they pass, so changing the public URL changes no issuer.
func (s *Store) Issuer(ctx context.Context, fallback string) (string, error) {
	err := s.q(ctx).Exec("INSERT INTO server_state (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
		"issuer", fallback, s.Now()).Error
	if err != nil {
		return "", err
	}
	var v string
	if err := s.q(ctx).Raw("SELECT value FROM server_state WHERE name = ?", "issuer").Scan(&v).Error; err != nil {
		return "", err
	}
	return v, nil
}
