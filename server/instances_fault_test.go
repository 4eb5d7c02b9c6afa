package server_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/lintel/lintel/models/modelstest"
)

// Two and three instances on one PostgreSQL with 30 reader streams spread
// over them: revocations made through each instance in turn reach every
// stream on all; the p99 over every (revocation, stream) pair is within a
// second. LINTEL_LOADTEST=1 makes more revocations.
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
				urls[i] = envs[i].serve()
			}
			a := envs[0]
			f := a.fixture("A")
			revocations := 10
			if os.Getenv("LINTEL_LOADTEST") == "1" {
				revocations = 100
			}
			phones := make([]*phone, revocations)
			for i := range phones {
				phones[i] = newPhone(t)
				a.enroll(f, phones[i])
			}
			const streams = 30
			chs := make([]<-chan [2]string, streams)
			for i := range chs {
				chs[i] = openStream(t, urls[i%n], f.reader)
			}
			var lat []time.Duration
			for r, p := range phones {
				start := time.Now()
				envs[r%n].must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "lost"})
				for _, ch := range chs {
					lat = append(lat, waitEvent(t, ch, "revoked", p.credID).Sub(start))
				}
			}
			slices.Sort(lat)
			p99 := lat[len(lat)*99/100]
			t.Logf("%d instances, %d streams, %d revocations: p50 %s, p99 %s, max %s",
				n, streams, revocations, lat[len(lat)/2], p99, lat[len(lat)-1])
			if p99 > time.Second {
				t.Errorf("p99 of a revocation reaching a stream %s, want ≤ 1s", p99)
			}
		})
	}
}
