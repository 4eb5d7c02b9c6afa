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

	"github.com/lintel/lintel/credential/wire"
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

// FuzzParseSSE: whatever the server (or a proxy in between) sends, the
// parser neither crashes nor hands on more than it read.
func FuzzParseSSE(f *testing.F) {
	f.Add("id: 5\nevent: bundle\ndata: {\"version\":5}\n\n: ping\n\n")
	f.Add("data\r\n\r\ndata:\n\nid\x00: 1\n\n")
	f.Fuzz(func(t *testing.T, s string) {
		total := 0
		_ = ParseSSE(strings.NewReader(s), func(m SSEMessage) error {
			total += len(m.Data)
			if _, err := wire.DecodeStreamEvent(m.Event, m.ID, m.Data); err != nil {
				return nil
			}
			return nil
		}, nil)
		if total > len(s) {
			t.Fatalf("%d data bytes out of %d input bytes", total, len(s))
		}
	})
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
