package server_test

import (
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/lintel/lintel/models/modelstest"
)

// Two and three instances on one PostgreSQL with 30 reader streams spread
// over them: a revocation through the first reaches every stream on all
// within a second (the slowest of 30 stands for the p99).
func TestRevocationReachesStreamsOnAllInstances(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(fmt.Sprintf("%d instances", n), func(t *testing.T) {
			dbURL := modelstest.PostgresSchemaURL(t)
			kek := make([]byte, 32)
			_, _ = rand.Read(kek)
			envs := make([]*env, n)
			urls := make([]string, n)
			for i := range envs {
				envs[i] = newEnvURL(t, dbURL, kek)
				srv := httptest.NewServer(envs[i].handler)
				t.Cleanup(srv.Close)
				urls[i] = srv.URL
			}
			a := envs[0]
			f := a.fixture("A")
			p := newPhone(t)
			a.enroll(f, p)
			const streams = 30
			chs := make([]<-chan [2]string, streams)
			for i := range chs {
				chs[i] = openStream(t, urls[i%n], f.reader)
			}
			start := time.Now()
			a.must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "lost"})
			lat := make([]time.Duration, streams)
			for i, ch := range chs {
				lat[i] = waitEvent(t, ch, "revoked", p.credID).Sub(start)
			}
			slices.Sort(lat)
			t.Logf("%d instances, %d streams: revocation p50 %s, max %s", n, streams, lat[streams/2], lat[streams-1])
			if lat[streams-1] > time.Second {
				t.Errorf("slowest stream got the revocation after %s, want ≤ 1s", lat[streams-1])
			}
		})
	}
}
