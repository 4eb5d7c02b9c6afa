package server_test

import (
	"testing"
	"time"

	"github.com/lintel/lintel/migrations"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
)

// failWrites installs triggers that make inserting an audit record of an
// action listed in test_fail, or any outbox message while "outbox" is
// listed, fail; fail(what) lists one. It is how a test proves that a use
// case writes its change, audit record and message in one transaction.
func failWrites(t *testing.T, st *models.Store) (fail func(what string)) {
	t.Helper()
	db, err := st.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{
		`CREATE TABLE test_fail (what TEXT)`,
		`CREATE TRIGGER test_fail_events BEFORE INSERT ON events WHEN NEW.action IN (SELECT what FROM test_fail)
		 BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END`,
		`CREATE TRIGGER test_fail_outbox BEFORE INSERT ON outbox WHEN EXISTS (SELECT 1 FROM test_fail WHERE what = 'outbox')
		 BEGIN SELECT RAISE(ABORT, 'injected outbox failure'); END`,
	}
	if st.Dialect() == migrations.Postgres {
		stmts = []string{
			`CREATE TABLE test_fail (what TEXT)`,
			`CREATE FUNCTION test_fail_events() RETURNS trigger AS $$ BEGIN
			   IF EXISTS (SELECT 1 FROM test_fail WHERE what = NEW.action) THEN RAISE EXCEPTION 'injected audit failure'; END IF;
			   RETURN NEW; END $$ LANGUAGE plpgsql`,
			`CREATE FUNCTION test_fail_outbox() RETURNS trigger AS $$ BEGIN
			   IF EXISTS (SELECT 1 FROM test_fail WHERE what = 'outbox') THEN RAISE EXCEPTION 'injected outbox failure'; END IF;
			   RETURN NEW; END $$ LANGUAGE plpgsql`,
			`CREATE TRIGGER test_fail_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION test_fail_events()`,
			`CREATE TRIGGER test_fail_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION test_fail_outbox()`,
		}
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return func(what string) {
		t.Helper()
		if _, err := db.ExecContext(t.Context(), `INSERT INTO test_fail (what) VALUES ('`+what+`')`); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUseCasesRollBackWithTheirAudit: when a use case's audit record or
// outbox message cannot be written, its change is not made either, on
// both databases. Each case makes the change fail at one write and then
// checks that nothing of the change is visible.
func TestUseCasesRollBackWithTheirAudit(t *testing.T) {
	cases := []struct {
		name  string
		fail  string
		setup func(e *env, f fixture, base string) ids
		do    func(e *env, f fixture, base string, x ids) resp
		check func(t *testing.T, e *env, f fixture, base string, x ids)
	}{{
		name: "assign card", fail: "card.assigned",
		do: func(e *env, f fixture, base string, _ ids) resp {
			return e.do("POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "0A1B2C3D"})
		},
		check: func(t *testing.T, e *env, f fixture, base string, _ ids) {
			if n := len(e.must(200, "GET", base+"/users/"+f.user+"/cards", f.admin, nil).listItems()); n != 0 {
				t.Errorf("%d cards after a failed assignment, want 0", n)
			}
		},
	}, {
		name: "mark card lost", fail: "card.lost", setup: withCard,
		do: func(e *env, f fixture, base string, x ids) resp {
			return e.do("POST", base+"/cards/"+x.card+"/lost", f.admin, nil)
		},
		check: cardStatus("active"),
	}, {
		name: "revoke credential", fail: "credential.revoked", setup: withCard,
		do: func(e *env, f fixture, base string, x ids) resp {
			return e.do("POST", base+"/credentials/"+x.card+"/revoke", f.admin, map[string]any{"reason": "stolen"})
		},
		check: cardStatus("active"),
	}, {
		name: "issue mobile, audit", fail: "credential.issued",
		do: func(e *env, f fixture, base string, _ ids) resp {
			return e.do("POST", base+"/users/"+f.user+"/mobile-credentials", f.admin, nil)
		},
		check: noMobile,
	}, {
		name: "issue mobile by sms, outbox", fail: "outbox",
		do: func(e *env, f fixture, base string, _ ids) resp {
			return e.do("POST", base+"/users/"+f.user+"/mobile-credentials", f.admin, map[string]any{"deliver_via": "sms"})
		},
		check: noMobile,
	}, {
		name: "create PIN, audit", fail: "pin.created",
		do: func(e *env, f fixture, base string, _ ids) resp {
			return e.do("POST", base+"/doors/"+f.door+"/pins", f.admin, pinReq("offline", "permanent", nil))
		},
		check: pinCount(0),
	}, {
		name: "create PIN by sms, outbox", fail: "outbox",
		do: func(e *env, f fixture, base string, _ ids) resp {
			return e.do("POST", base+"/doors/"+f.door+"/pins", f.admin, map[string]any{"mode": "offline", "type": "permanent",
				"assignee": map[string]any{"user_id": f.user}, "deliver_via": "sms"})
		},
		check: pinCount(0),
	}, {
		name: "delete PIN", fail: "pin.deleted",
		setup: func(e *env, f fixture, base string) ids {
			return ids{pin: e.must(201, "POST", base+"/doors/"+f.door+"/pins", f.admin, pinReq("offline", "permanent", nil)).str("id")}
		},
		do: func(e *env, f fixture, base string, x ids) resp {
			return e.do("DELETE", base+"/doors/"+f.door+"/pins/"+x.pin, f.admin, nil)
		},
		check: pinCount(1),
	}, {
		name: "create pass", fail: "pass.issued",
		do: func(e *env, f fixture, base string, _ ids) resp {
			return e.do("POST", base+"/visitor-passes", f.admin, passBody("temporary", time.Now(), f.door))
		},
		check: func(t *testing.T, e *env, f fixture, base string, _ ids) {
			if n := len(e.must(200, "GET", base+"/visitor-passes", f.admin, nil).listItems()); n != 0 {
				t.Errorf("%d passes after a failed issue, want 0", n)
			}
			pinCount(0)(t, e, f, base, ids{})
		},
	}, {
		name: "cancel pass", fail: "pass.revoked",
		setup: func(e *env, f fixture, base string) ids {
			return ids{pass: e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("temporary", time.Now(), f.door)).str("id")}
		},
		do: func(e *env, f fixture, base string, x ids) resp {
			return e.do("DELETE", base+"/visitor-passes/"+x.pass, f.admin, nil)
		},
		check: func(t *testing.T, e *env, f fixture, base string, x ids) {
			if s := e.must(200, "GET", base+"/visitor-passes/"+x.pass, f.admin, nil).str("status"); s == "revoked" {
				t.Errorf("pass %s after a failed cancel", s)
			}
		},
	}, {
		name: "create booking", fail: "booking.created",
		do: func(e *env, f fixture, base string, _ ids) resp {
			door, day := partyRoom(e, f, 1, 2)
			return e.do("POST", base+"/doors/"+door+"/bookings", f.admin, map[string]any{"user_id": f.user,
				"starts_at": at(day, 10), "ends_at": at(day, 11), "methods": []string{"pin"}})
		},
		check: func(t *testing.T, e *env, f fixture, base string, _ ids) {
			if n := len(e.must(200, "GET", "/v1/me/bookings", f.member, nil).listItems()); n != 0 {
				t.Errorf("%d bookings after a failed booking, want 0", n)
			}
		},
	}, {
		name: "cancel booking", fail: "booking.cancelled",
		setup: func(e *env, f fixture, base string) ids {
			door, day := partyRoom(e, f, 1, 2)
			id := e.must(201, "POST", base+"/doors/"+door+"/bookings", f.admin, map[string]any{"user_id": f.user,
				"starts_at": at(day, 10), "ends_at": at(day, 11), "methods": []string{"pin"}}).str("id")
			return ids{card: door, pass: id}
		},
		do: func(e *env, f fixture, base string, x ids) resp {
			return e.do("DELETE", base+"/doors/"+x.card+"/bookings/"+x.pass, f.admin, nil)
		},
		check: func(t *testing.T, e *env, f fixture, base string, x ids) {
			items := e.must(200, "GET", "/v1/me/bookings", f.member, nil).listItems()
			if len(items) != 1 || items[0]["status"] != "active" {
				t.Errorf("bookings %v after a failed cancel, want one active", items)
			}
		},
	}, {
		name: "deactivate user", fail: "user.deactivated",
		do: func(e *env, f fixture, base string, _ ids) resp {
			return e.do("DELETE", base+"/users/"+f.user, f.admin, nil)
		},
		check: func(t *testing.T, e *env, f fixture, base string, _ ids) {
			if s := e.must(200, "GET", base+"/users/"+f.user, f.admin, nil).str("status"); s != "active" {
				t.Errorf("user %s after a failed deactivation, want active", s)
			}
		},
	}, {
		name: "update group", fail: "group.updated",
		do: func(e *env, f fixture, base string, _ ids) resp {
			return e.do("PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"name": "Renamed"})
		},
		check: func(t *testing.T, e *env, f fixture, base string, _ ids) {
			if n := e.must(200, "GET", base+"/groups/"+f.group, f.admin, nil).str("name"); n != "Residents" {
				t.Errorf("group named %q after a failed update, want Residents", n)
			}
		},
	}}
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		e := newDeliveryEnv(t, st, notifications.ChannelSMS).env
		fail := failWrites(t, st)
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				f := e.fixture("S" + itoa(int64(i)))
				base := "/v1/sites/" + f.site
				var x ids
				if tc.setup != nil {
					x = tc.setup(e, f, base)
				}
				fail(tc.fail)
				defer clearFail(t, st)
				if r := tc.do(e, f, base, x); r.status < 400 {
					t.Fatalf("answered %d with %s failing, want an error: %s", r.status, tc.fail, r.body)
				}
				clearFail(t, st)
				tc.check(t, e, f, base, x)
			})
		}
	})
}

// ids are what a case's setup made (a booking case keeps its door in
// card and its booking in pass).
type ids struct{ card, pin, pass string }

func clearFail(t *testing.T, st *models.Store) {
	t.Helper()
	db, err := st.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `DELETE FROM test_fail`); err != nil {
		t.Fatal(err)
	}
}

func withCard(e *env, f fixture, base string) ids {
	id := e.must(201, "POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "0A1B2C3D"}).str("id")
	return ids{card: id}
}

func cardStatus(want string) func(t *testing.T, e *env, f fixture, base string, x ids) {
	return func(t *testing.T, e *env, f fixture, base string, _ ids) {
		items := e.must(200, "GET", base+"/users/"+f.user+"/cards", f.admin, nil).listItems()
		if len(items) != 1 || items[0]["status"] != want {
			t.Errorf("cards %v, want one %s", items, want)
		}
	}
}

func noMobile(t *testing.T, e *env, f fixture, base string, _ ids) {
	if n := len(e.must(200, "GET", base+"/credentials?kind=mobile", f.admin, nil).listItems()); n != 0 {
		t.Errorf("%d mobile credentials after a failed issue, want 0", n)
	}
}

func pinCount(want int) func(t *testing.T, e *env, f fixture, base string, x ids) {
	return func(t *testing.T, e *env, f fixture, base string, _ ids) {
		if n := len(e.must(200, "GET", base+"/doors/"+f.door+"/pins", f.admin, nil).listItems()); n != want {
			t.Errorf("%d PINs, want %d", n, want)
		}
	}
}
