package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
)

func TestParseSSE(t *testing.T) {
	stream := ": ping\n\n" +
		"id: 5\nevent: bundle\ndata: {\"version\":5,\"kind\":\"hello\"}\n\n" +
		"id: 6\r\nevent: revoked\r\ndata: {\"version\":6,\r\ndata:  \"credential_id\":\"c\"}\r\n\r\n" +
		"data:no space\n\n" +
		"event: ignored-no-data\n\n" +
		"retry: 100\nunknown field\n\n" +
		"id: 7\nevent: bundle\ndata: {\"version\":7}" // no blank line: dropped
	var got []SSEMessage
	alive := 0
	err := ParseSSE(strings.NewReader(stream), func(m SSEMessage) error {
		got = append(got, m)
		return nil
	}, func() { alive++ })
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err %v", err)
	}
	want := []SSEMessage{
		{ID: "5", Event: "bundle", Data: `{"version":5,"kind":"hello"}`},
		{ID: "6", Event: "revoked", Data: "{\"version\":6,\n \"credential_id\":\"c\"}"},
		{ID: "6", Event: "message", Data: "no space"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if alive < 10 {
		t.Fatalf("alive called %d times", alive)
	}
	long := "data: " + strings.Repeat("x", MaxSSELine+10) + "\n\n"
	if err := ParseSSE(strings.NewReader(long), func(SSEMessage) error { return nil }, nil); !errors.Is(err, ErrSSELine) {
		t.Fatalf("long line: %v", err)
	}
	stop := errors.New("stop")
	if err := ParseSSE(strings.NewReader("data: x\n\n"), func(SSEMessage) error { return stop }, nil); !errors.Is(err, stop) {
		t.Fatalf("callback error: %v", err)
	}
}

func TestDecodeStreamEvent(t *testing.T) {
	good := []SSEMessage{
		{Event: "bundle", Data: `{"version":3,"kind":"access"}`},
		{Event: "revoked", Data: `{"version":4,"credential_id":"c1","until":"2026-05-07T10:00:00Z"}`},
		{Event: "revoked", Data: `{"version":4,"credential_id":"c1"}`},
		{Event: "future", Data: `whatever`},
	}
	for _, m := range good {
		if _, err := decodeStreamEvent(m); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
	}
	ev, _ := decodeStreamEvent(good[1])
	if ev.CredentialID != "c1" || ev.Version != 4 || !ev.Until.Equal(time.Date(2026, 5, 7, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", ev)
	}
	for _, m := range []SSEMessage{
		{Event: "bundle", Data: `{"kind":"access"}`},
		{Event: "bundle", Data: `not json`},
		{Event: "revoked", Data: `{"version":4}`},
		{Event: "revoked", Data: `{"version":4,"credential_id":"c","until":"tomorrow"}`},
	} {
		if _, err := decodeStreamEvent(m); err == nil {
			t.Fatalf("accepted %+v", m)
		}
	}
}

// FuzzParseSSE: whatever the server (or a proxy in between) sends, the
// parser neither crashes nor hands on more than it read.
func FuzzParseSSE(f *testing.F) {
	f.Add("id: 5\nevent: bundle\ndata: {\"version\":5}\n\n: ping\n\n")
	f.Add("data\r\n\r\ndata:\n\nid\x00: 1\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		total := 0
		_ = ParseSSE(strings.NewReader(s), func(m SSEMessage) error {
			total += len(m.Data)
			if _, err := decodeStreamEvent(m); err != nil {
				return nil
			}
			return nil
		}, nil)
		if total > len(s) {
			t.Fatalf("%d data bytes out of %d input bytes", total, len(s))
		}
	})
}

func TestMerge(t *testing.T) {
	now := time.Date(2026, 5, 6, 8, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	full := &Doc{Bundle: bundle.Bundle{Version: 5, Full: true, Revoked: []bundle.Revoked{{CredentialID: "a"}, {CredentialID: "old", Until: &past}}}}
	delta := &Doc{Bundle: bundle.Bundle{Version: 7, Since: 5, Revoked: []bundle.Revoked{{CredentialID: "b", Until: &future}, {CredentialID: "a", Until: &future}}}}
	got, err := Merge(full, delta, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 7 || len(got.Revoked) != 2 || got.Revoked[0].CredentialID != "a" || got.Revoked[0].Until == nil || got.Revoked[1].CredentialID != "b" {
		t.Fatalf("merged %+v", got.Revoked)
	}
	if len(full.Revoked) != 2 || full.Version != 5 {
		t.Fatal("merge modified its input")
	}
	// A stream revocation moved the reader past the delta's start: fine.
	ahead := *full
	ahead.Version = 6
	if got, err := Merge(&ahead, delta, now); err != nil || got.Version != 7 {
		t.Fatalf("merge onto a newer version: %v %v", got, err)
	}
	for name, c := range map[string]struct{ full, delta *Doc }{
		"gap":            {full, &Doc{Bundle: bundle.Bundle{Version: 9, Since: 6}}},
		"no full":        {nil, delta},
		"full as delta":  {full, &Doc{Bundle: bundle.Bundle{Version: 9, Full: true}}},
		"delta not full": {&Doc{Bundle: bundle.Bundle{Version: 5}}, delta},
		"backwards":      {full, &Doc{Bundle: bundle.Bundle{Version: 4, Since: 5}}},
	} {
		if _, err := Merge(c.full, c.delta, now); !errors.Is(err, ErrBadDoc) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestParseDoc(t *testing.T) {
	if _, err := ParseDoc([]byte(`{"version":3,"full":true,"issuer":"i","site":{"id":"s"},"reader":{"id":"r","door_id":"d"},"pin_key":"x","passes_used":["p"]}`)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`[]`, `{"version":0}`, `{"version":3,"full":true}`, `{"version":"3"}`} {
		if _, err := ParseDoc([]byte(bad)); !errors.Is(err, ErrBadDoc) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, b.Next())
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("without jitter: %v", got)
		}
	}
	b.Reset()
	b.Rand = rand.NewChaCha8([32]byte{1})
	seen := map[time.Duration]bool{}
	for i := 0; i < 50; i++ {
		b.Reset()
		for j := 0; j < 3; j++ {
			b.Next()
		}
		d := b.Next() // 800ms nominal
		if d < 400*time.Millisecond || d > 800*time.Millisecond {
			t.Fatalf("jittered %v outside [400ms, 800ms]", d)
		}
		seen[d] = true
	}
	if len(seen) < 10 {
		t.Fatalf("jitter barely varies: %d values", len(seen))
	}
}

func TestRetryable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&HTTPError{Status: 500}, true},
		{&HTTPError{Status: 503}, true},
		{&HTTPError{Status: 429}, true},
		{&HTTPError{Status: 408}, true},
		{&HTTPError{Status: 401}, false},
		{&HTTPError{Status: 422}, false},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{context.Canceled, false},
		{&Refusal{Reason: "already_used"}, false},
	} {
		if got := Retryable(c.err); got != c.want {
			t.Fatalf("Retryable(%v) = %v", c.err, got)
		}
	}
}

func TestRefusal(t *testing.T) {
	if !errors.Is(&Refusal{Reason: "already_used"}, ErrAlreadyUsed) {
		t.Fatal("already_used refusal is not ErrAlreadyUsed")
	}
	if errors.Is(&Refusal{Reason: "pass_revoked"}, ErrAlreadyUsed) {
		t.Fatal("pass_revoked refusal is ErrAlreadyUsed")
	}
}

func TestNewClient(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "http://h?x=1", "::"} {
		if _, err := NewClient(u, "t", nil); err == nil {
			t.Fatalf("accepted %q", u)
		}
	}
	if _, err := NewClient("http://h", "", nil); err == nil {
		t.Fatal("accepted no token")
	}
	c, err := NewClient("http://h:1/base/", "t", &http.Client{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.url("/v1/reader/bundle", nil); got != "http://h:1/base/v1/reader/bundle" {
		t.Fatalf("url %s", got)
	}
}
