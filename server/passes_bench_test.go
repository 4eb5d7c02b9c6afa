package server_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
)

// BenchmarkCreatePass measures POST /v1/sites/{site}/visitor-passes through
// the whole request path (auth, validation, the transaction that finds or
// creates the visitor and inserts the pass, signing the QR token), on both
// databases: a QR pass for a returning visitor, and a QR+PIN pass (an
// offline PIN: its nonce search and one more insert) for a new visitor each
// time.
func BenchmarkCreatePass(b *testing.B) {
	eachStoreB(b, func(b *testing.B, st *models.Store) {
		e := newEnv(b, st)
		f := e.fixture("Bench")
		start := time.Now().UTC().Truncate(time.Second)
		var n atomic.Int64
		for _, tt := range []struct {
			name    string
			methods string
			newUser bool
		}{{"qr", `["qr"]`, false}, {"qr+pin", `["qr","pin"]`, true}} {
			b.Run(tt.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					k := n.Add(1)
					phone := "+14155550199"
					if tt.newUser {
						phone = fmt.Sprintf("+1415%07d", k)
					}
					// Each pass starts an hour after the previous one:
					// distinct windows, as in real use (five passes with the
					// same hours on one door exhaust the offline nonces and
					// take the synced-PIN path).
					from := start.Add(time.Duration(k%8000) * time.Hour)
					body := fmt.Sprintf(`{"type":"temporary","visitor":{"name":"Vera","phone":%q},"door_ids":[%q],"starts_at":%q,"ends_at":%q,"methods":%s}`,
						phone, f.door, from.Format(time.RFC3339), from.Add(48*time.Hour).Format(time.RFC3339), tt.methods)
					w := benchPost(e.handler, "/v1/sites/"+f.site+"/visitor-passes", f.admin, body)
					if w.Code != 201 {
						b.Fatalf("create: %d %s", w.Code, w.Body)
					}
					if i == 0 {
						var r struct{ QR string }
						_ = json.Unmarshal(w.Body.Bytes(), &r)
						b.ReportMetric(float64(len(r.QR)), "qr-chars")
					}
				}
			})
		}
	})
}
