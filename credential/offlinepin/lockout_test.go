package offlinepin

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestNewLockoutRejectsBadPolicies(t *testing.T) {
	good := DefaultPolicy()
	tests := []struct {
		name string
		edit func(*Policy)
	}{
		{"zero failures", func(p *Policy) { p.MaxFailures = 0 }},
		{"negative failures", func(p *Policy) { p.MaxFailures = -1 }},
		{"zero lockout", func(p *Policy) { p.Lockout = 0 }},
		{"cap below first lockout", func(p *Policy) { p.MaxLockout = p.Lockout - 1 }},
		{"quiet not longer than cap", func(p *Policy) { p.Quiet = p.MaxLockout }},
		{"zero policy", func(p *Policy) { *p = Policy{} }},
	}
	for _, tt := range tests {
		p := good
		tt.edit(&p)
		if l, err := NewLockout(p); !errors.Is(err, ErrInvalidPolicy) || l != nil {
			t.Errorf("%s: NewLockout = %v, %v; want ErrInvalidPolicy", tt.name, l, err)
		}
	}
	if _, err := NewLockout(good); err != nil {
		t.Fatalf("default policy: %v", err)
	}
}

// step is one keypad event at T+at; for "allow" the expected answer.
type step struct {
	at   time.Duration
	ev   string // fail | succeed | allow
	ok   bool
	wait time.Duration
}

func TestLockout(t *testing.T) {
	s := time.Second
	m := time.Minute
	fails := func(from time.Duration, n int) []step {
		var out []step
		for i := 0; i < n; i++ {
			out = append(out, step{at: from + time.Duration(i)*s, ev: "fail"})
		}
		return out
	}
	seq := func(parts ...[]step) []step {
		var out []step
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	allow := func(at time.Duration, ok bool, wait time.Duration) []step {
		return []step{{at: at, ev: "allow", ok: ok, wait: wait}}
	}
	one := func(at time.Duration, ev string) []step { return []step{{at: at, ev: ev}} }
	tests := []struct {
		name  string
		steps []step
	}{
		{"fresh keypad is open", allow(0, true, 0)},
		{"four failures do not lock", seq(fails(0, 4), allow(4*s, true, 0))},
		{"fifth failure locks for 30 s", seq(fails(0, 5), allow(4*s, false, 30*s), allow(20*s, false, 14*s), allow(34*s-1, false, 1), allow(34*s, true, 0))},
		{"doubling per further streak", seq(
			fails(0, 5), allow(5*s, false, 29*s), // 30 s
			fails(40*s, 5), allow(45*s, false, 59*s), // 60 s
			fails(110*s, 5), allow(115*s, false, 119*s), // 120 s
			fails(240*s, 5), allow(245*s, false, 239*s), // 240 s
		)},
		{"doubling stops at 15 min", seq(
			fails(0, 5), fails(40*s, 5), fails(110*s, 5), fails(240*s, 5), // up to 240 s
			fails(500*s, 5), allow(504*s, false, 480*s), // 480 s
			fails(1000*s, 5), allow(1004*s, false, 15*m), // 960 s capped to 900
			fails(1920*s, 5), allow(1924*s, false, 15*m),
		)},
		{"success forgives the streak", seq(fails(0, 4), one(5*s, "succeed"), fails(6*s, 4), allow(10*s, true, 0), fails(10*s, 1), allow(11*s, false, 29*s))},
		{"second success within the quiet hour does not forgive", seq(
			fails(0, 3), one(3*s, "succeed"), // forgiven
			fails(4*s, 4), one(8*s, "succeed"), // not forgiven: 4 remain
			fails(9*s, 1), allow(10*s, false, 29*s),
		)},
		{"success forgives again after the quiet hour", seq(
			fails(0, 3), one(3*s, "succeed"),
			fails(70*m, 4), one(70*m+4*s, "succeed"),
			fails(70*m+5*s, 4), allow(70*m+9*s, true, 0),
		)},
		{"success does not reset the doubling", seq(
			fails(0, 5), allow(34*s, true, 0), one(35*s, "succeed"),
			fails(40*s, 5), allow(45*s, false, 59*s),
		)},
		{"a quiet hour resets the doubling", seq(
			fails(0, 5), fails(40*s, 5), // level 2
			fails(44*s+time.Hour, 5), allow(48*s+time.Hour, false, 30*s),
		)},
		{"failures spread out below the quiet period still add up", seq(
			fails(0, 1), fails(50*m, 1), fails(100*m, 1), fails(150*m, 1), fails(200*m, 1),
			allow(200*m+s, false, 29*s),
		)},
		{"failures an hour apart never lock", seq(
			fails(0, 1), fails(60*m, 1), fails(120*m, 1), fails(180*m, 1), fails(240*m, 1), fails(300*m, 1),
			allow(300*m+s, true, 0),
		)},
		{"clock stepping back never locks longer than the cap", seq(
			fails(0, 5), allow(-2*time.Hour, false, 15*m), allow(-2*time.Hour+15*m, true, 0),
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLockout(DefaultPolicy())
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tt.steps {
				ok, wait := play(t, l, t0.Add(st.at), st.ev)
				if st.ev == "allow" && (ok != st.ok || wait != st.wait) {
					t.Fatalf("step %d at %v: Allow = %v, %v; want %v, %v", i, st.at, ok, wait, st.ok, st.wait)
				}
			}
		})
	}
}

// play applies one event of a lockout script at now: "fail", "succeed",
// or "allow", whose answer it returns.
func play(t *testing.T, l *Lockout, now time.Time, ev string) (ok bool, wait time.Duration) {
	t.Helper()
	switch ev {
	case "fail":
		l.Fail(now)
	case "succeed":
		l.Succeed(now)
	case "allow":
		return l.Allow(now)
	default:
		t.Fatalf("unknown lockout event %q", ev)
	}
	return false, 0
}

func TestLockoutHugeCapDoesNotOverflow(t *testing.T) {
	p := Policy{MaxFailures: 1, Lockout: time.Hour, MaxLockout: math.MaxInt64 - 1, Quiet: math.MaxInt64}
	l, err := NewLockout(p)
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	for i := 0; i < 80; i++ {
		l.Fail(now)
		ok, wait := l.Allow(now)
		if ok || wait <= 0 {
			t.Fatalf("failure %d: Allow = %v, %v; want a positive wait", i, ok, wait)
		}
	}
}
