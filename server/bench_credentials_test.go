package server_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

var benchDBs = []struct {
	name string
	url  func(testing.TB) string
}{{"sqlite", modelstest.SQLiteURL}, {"postgres", modelstest.PostgresSchemaURL}}

// eachSiteB runs fn on each database with an API that opens its own store
// there (as Serve does) and a fixture named name.
func eachSiteB(b *testing.B, name string, fn func(b *testing.B, e *env, f fixture)) {
	for _, db := range benchDBs {
		b.Run(db.name, func(b *testing.B) {
			e := newEnvURL(b, db.url(b), nil)
			fn(b, e, e.fixture(name))
		})
	}
}

// BenchmarkIssueAccept: a mobile credential issued by an admin and accepted
// by a phone, through the API, with b.RunParallel clients (target on
// PostgreSQL: 1,000 per second).
func BenchmarkIssueAccept(b *testing.B) {
	eachSiteB(b, "Bench", func(b *testing.B, e *env, f fixture) {
		p := newPhone(b)
		body := map[string]any{"device_public_key": p.jwk, "platform": "ios"}
		b.ReportAllocs()
		b.SetParallelism(16) // 32 concurrent clients on 2 cores: the database, not Go, is the limit
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r := e.do("POST", "/v1/sites/"+f.site+"/users/"+f.user+"/mobile-credentials", f.admin, nil)
				if r.status != 201 {
					b.Errorf("issue: %d %s", r.status, r.body)
					return
				}
				code := r.json()["invitation"].(map[string]any)["code"].(string)
				if r := e.do("POST", "/v1/invitations/"+code+"/accept", "", body); r.status != 200 {
					b.Errorf("accept: %d %s", r.status, r.body)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "credentials/s")
	})
}

// BenchmarkBundle10k: the bundle of a site with 10,000 users (each with a
// card), 100 doors and 1,000 live revocations, built and served gzipped
// (targets: under 1 MB gzipped, under 200 ms).
func BenchmarkBundle10k(b *testing.B) {
	eachSiteB(b, "Big", func(b *testing.B, e *env, f fixture) {
		st := e.store
		ctx := b.Context()
		var doors []string
		for i := 0; i < 99; i++ {
			d := &models.Door{SiteID: f.site, Name: fmt.Sprintf("Door %03d", i)}
			if err := st.CreateDoor(ctx, d); err != nil {
				b.Fatal(err)
			}
			doors = append(doors, d.ID)
		}
		g := &models.Group{SiteID: f.site, Name: "Everyone", Role: models.RoleMember, DoorIDs: append(doors, f.door)}
		if err := st.CreateGroup(ctx, g); err != nil {
			b.Fatal(err)
		}
		for i := 0; i < 10000; i++ {
			u := &models.User{SiteID: f.site, Name: fmt.Sprintf("User %d", i), Phone: fmt.Sprintf("+1415%07d", i), GroupID: &g.ID}
			if err := st.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			if err := st.AssignCard(ctx, &models.Credential{SiteID: f.site, UserID: u.ID, Kind: models.KindCard, Number: fmt.Sprintf("%010d", i)}); err != nil {
				b.Fatal(err)
			}
		}
		for i := 0; i < 1000; i++ {
			cred, _, err := st.IssueMobile(ctx, models.MobileIssue{SiteID: f.site, UserID: f.user, Code: fmt.Sprintf("code-%d", i), TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.AcceptInvitation(ctx, fmt.Sprintf("code-%d", i), models.Device{PublicJWK: "{}", Platform: "ios"},
				time.Now().Add(24*time.Hour)); err != nil {
				b.Fatal(err)
			}
			if _, err := st.Revoke(ctx, f.site, cred.ID, models.CredRevoked, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		var size, raw int
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			req := httptest.NewRequest("GET", "/v1/reader/bundle", nil)
			req.Header.Set("Authorization", "Bearer "+f.reader)
			req.Header.Set("Accept-Encoding", "gzip")
			w := httptest.NewRecorder()
			e.handler.ServeHTTP(w, req)
			if w.Code != 200 || w.Header().Get("Content-Encoding") != "gzip" {
				b.Fatalf("bundle: %d %v", w.Code, w.Header())
			}
			size = w.Body.Len()
			if i == 0 {
				zr, _ := gzip.NewReader(bytes.NewReader(w.Body.Bytes()))
				all, _ := io.ReadAll(zr)
				raw = len(all)
			}
		}
		b.ReportMetric(float64(size), "gzip-bytes")
		b.ReportMetric(float64(raw), "json-bytes")
	})
}

// BenchmarkRevocationToStream: from the revoke request to the revoked event
// on a reader's SSE stream (on PostgreSQL through LISTEN/NOTIFY and a second
// instance; target p99 under 200 ms on loopback).
func BenchmarkRevocationToStream(b *testing.B) {
	for _, db := range benchDBs {
		b.Run(db.name, func(b *testing.B) {
			url := db.url(b)
			kek := make([]byte, 32)
			a := newEnvURL(b, url, kek)
			other := a
			if db.name == "postgres" {
				other = newEnvURL(b, url, kek) // the reader streams from another instance
			}
			f := a.fixture("Rev")
			ch := openStream(b, other.serve(), f.reader)
			p := newPhone(b)
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				a.enroll(f, p)
				b.StartTimer()
				start := time.Now()
				a.must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "bench"})
				lat = append(lat, waitEvent(b, ch, "revoked", p.credID).Sub(start))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
