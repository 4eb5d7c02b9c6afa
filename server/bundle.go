package server

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/models"
)

// A full bundle's members from siteFirst up to siteEnd (Bundle's field
// order: users, card_key, cards, lost_cards, revoked) are the same for
// every door of a site version that hashes cards with one key; the rest
// after the reader member (keys, groups; bookings, keypad, passes) is the
// door's own.
const (
	siteFirst = "users"
	siteEnd   = "bookings"
)

type bundleField struct {
	name      string
	index     int
	omitEmpty bool
}

// bundleFields is bundle.Bundle's members as encoding/json writes them, in
// order, so bundleMembers can write a range of them.
var bundleFields = func() []bundleField {
	t := reflect.TypeFor[bundle.Bundle]()
	var out []bundleField
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "-" || !t.Field(i).IsExported() {
			continue
		}
		if name == "" {
			name = t.Field(i).Name
		}
		out = append(out, bundleField{name: name, index: i, omitEmpty: strings.Contains(","+opts+",", ",omitempty,")})
	}
	return out
}()

// bundleMembers writes b's members from the one named from up to the one
// named to (exclusive; "" for the end), each led by a comma, exactly as
// json.Marshal writes them inside the object: pieces of several bundles
// concatenate to the JSON one bundle would have.
func bundleMembers(b *bundle.Bundle, from, to string) ([]byte, error) {
	v := reflect.ValueOf(b).Elem()
	var out []byte
	on := false
	for _, f := range bundleFields {
		on = on || f.name == from
		if f.name == to {
			break
		}
		fv := v.Field(f.index)
		if !on || f.omitEmpty && isEmptyValue(fv) {
			continue
		}
		js, err := json.Marshal(fv.Addr().Interface())
		if err != nil {
			return nil, err
		}
		out = append(out, ',')
		out = strconv.AppendQuote(out, f.name)
		out = append(out, ':')
		out = append(out, js...)
	}
	if !on {
		return nil, fmt.Errorf("bundle: no member %q", from)
	}
	return out, nil
}

// isEmptyValue is encoding/json's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// cardKeyID names the key a door hashes cards with: "" for the site's
// (generation 0, shared by its doors), else the door's own generation.
func cardKeyID(d *models.Door) string {
	if d.KeyGeneration == 0 {
		return ""
	}
	return d.ID + ":" + strconv.Itoa(d.KeyGeneration)
}

// buildFull builds the cache entry of r's door's full bundle at version:
// the site-wide members from the site entry (one read and encoding per
// site version and card key), only the door's own sections read here.
func (a *API) buildFull(ctx context.Context, r *models.Reader, version int64) (*cachedBundle, error) {
	door, err := a.store.GetDoor(ctx, r.SiteID, r.DoorID)
	if err != nil {
		return nil, err
	}
	site, err := a.bundles.getSite(r.SiteID, cardKeyID(door), version, func() (*siteMembers, error) {
		return a.buildSite(ctx, r.SiteID, door)
	})
	if err != nil {
		return nil, err
	}
	d, err := a.store.DoorBundleFor(ctx, r.ID, site.data)
	if err != nil {
		return nil, err
	}
	if cardKeyID(&d.Door) != cardKeyID(door) {
		return nil, fmt.Errorf("bundle: door %s changed its card key during the build", door.ID)
	}
	b, err := a.buildBundle(d)
	if err != nil {
		return nil, err
	}
	return split(b, site)
}

// buildSite reads and encodes the site-wide members, hashing cards with
// door's key (shared by every door with the same cardKeyID).
func (a *API) buildSite(ctx context.Context, siteID string, door *models.Door) (*siteMembers, error) {
	sb, err := a.store.SiteBundleFor(ctx, siteID)
	if err != nil {
		return nil, err
	}
	b := a.buildBundleData(&models.BundleData{Version: sb.Version, Site: sb.Site, Door: *door,
		Users: sb.Users, Cards: sb.Cards, Lost: sb.Lost, Revoked: sb.Revoked})
	js, err := bundleMembers(b, siteFirst, siteEnd)
	if err != nil {
		return nil, err
	}
	kept := *sb
	kept.Users, kept.Cards, kept.Lost, kept.Revoked = nil, nil, nil, nil // encoded; not kept twice
	return &siteMembers{data: &kept, member: gzipBytes(js)}, nil
}
