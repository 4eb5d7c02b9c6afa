package nfc_test

import (
	"context"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/hce"
	"github.com/lintel/lintel/ble-reader/nfc"
	"github.com/lintel/lintel/ble-reader/nfc/nfctest"
	"github.com/lintel/lintel/internal/testkit"
)

// BenchmarkTapPCSC taps a virtual phone (or card) on a vpcd reader b.N
// times through pcscd and the real reader loop, with the real credential
// decision (ids as the server makes them, one group: a 337-byte packed
// presentation, or 843 bytes as text for "phone/short-v1"). One op is a
// whole tap: the card enters the field, pcscd notices (it polls vpcd every
// 400 ms, which dominates ns/op), the exchange runs, the card leaves. The
// metrics that matter are the APDU exchanges and the time from sending
// SELECT to the decision.
//
//	go test ./ble-reader/nfc -run '^$' -bench TapPCSC -benchtime 20x
func BenchmarkTapPCSC(b *testing.B) {
	env := nfctest.Require(b)
	f := newFixture(b)
	uid, _ := hce.ParseUID(testUID)
	for _, bc := range []struct {
		name     string
		extended bool
		card     func() hce.Card
	}{
		{"phone/short", false, func() hce.Card { return hce.NewPhone(f.presenter(), hce.PhoneOptions{}) }},
		{"phone/short-v1", false, func() hce.Card { return hce.NewPhone(f.presenterVersion(1), hce.PhoneOptions{}) }},
		{"phone/extended", true, func() hce.Card { return hce.NewPhone(f.presenter(), hce.PhoneOptions{Extended: true}) }},
		{"card", false, func() hce.Card { c, _ := hce.NewUIDCard(uid); return c }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEngine(f)
			ts := newTaps()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- nfc.Run(ctx, nfc.Config{Socket: env.Socket, OnTap: ts.on, Extended: bc.extended}, e)
			}()
			defer func() { cancel(); <-done }()
			rd := env.Readers[0]
			var elapsed []time.Duration
			var exchanges, total int
			b.ResetTimer()
			for range b.N {
				remove := insert(b, env, rd, bc.card())
				d := e.wait(b, decideWithin)
				tr := ts.wait(b, decideWithin)
				if !d.Granted || !tr.Decided || tr.Err != nil {
					b.Fatalf("decision %+v, tap %+v", d, tr)
				}
				elapsed = append(elapsed, tr.Elapsed)
				exchanges += tr.Exchanges
				total += tr.Total
				if err := remove(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			testkit.ReportLatency(b, "select-to-decision", time.Microsecond, elapsed)
			b.ReportMetric(float64(exchanges)/float64(b.N), "exchanges/tap")
			b.ReportMetric(float64(total)/float64(b.N), "apdus/tap")
		})
	}
}

// BenchmarkExchange is the exchange alone, in process against the virtual
// phone (no pcscd): the protocol's own cost, signature and decision
// included.
func BenchmarkExchange(b *testing.B) {
	f := newFixture(b)
	e := newEngine(f)
	phone := hce.NewPhone(f.presenter(), hce.PhoneOptions{})
	tx := &direct{card: phone}
	for b.Loop() {
		tx.log = tx.log[:0]
		res := nfc.Exchange(context.Background(), tx, testReader, e, nfc.ExchangeOptions{})
		if !res.Decided || res.Err != nil {
			b.Fatalf("tap %+v", res)
		}
		<-e.out
	}
}
