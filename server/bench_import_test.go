package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lintel/lintel/models/modelstest"
)

// BenchmarkImport10kPostgres imports 10,000 rows (a user with a group and a
// card each) on PostgreSQL, from the POST to the finished job. The target
// is under 30 s here (docs/benchmarks.md). Run with -benchtime=1x.
func BenchmarkImport10kPostgres(b *testing.B) {
	e := newIntegEnv(b, modelstest.Postgres(b, modelstest.Options{}), newTestClock())
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		f := e.fixture(fmt.Sprintf("Bench %d", i))
		var file strings.Builder
		file.WriteString(importHeader)
		for r := range 10_000 {
			fmt.Fprintf(&file, "Person %d,p%d@example.com,+3361%07d,Residents,%08X,card,Badge %d\n", r, r, r, r+1, r)
		}
		b.StartTimer()
		job := e.runImportFile(f.site, f.admin, file.String())
		b.StopTimer()
		if job.json()["done"] != 10000.0 {
			b.Fatalf("job %.500s", job.body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/import")
}
