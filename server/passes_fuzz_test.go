package server_test

import "testing"

func FuzzCreatePass(f *testing.F) {
	fuzzBody(f, func(fx fixture) string { return "/v1/sites/" + fx.site + "/visitor-passes" },
		`{"type":"temporary","visitor":{"name":"V","phone":"+14155550199"},"door_ids":["x"],"starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T12:00:00Z","methods":["qr","pin"]}`,
		`{"type":"recurring","visitor":{"name":"V","email":"v@example.com"},"door_ids":["x"],"schedule":{"days":["mon"],"start":"08:00","end":"10:00"}}`,
		`{"type":"single_use","visitor":{"name":"V"},"door_ids":[],"deliver_via":"sms"}`,
		`{"type":"temporary","visitor":null,"door_ids":"x","methods":[1]}`,
	)
}

func FuzzCreatePIN(f *testing.F) {
	fuzzBody(f, func(fx fixture) string { return "/v1/sites/" + fx.site + "/doors/" + fx.door + "/pins" },
		`{"mode":"offline","type":"time_bound","ends_at":"2030-01-01T12:00:00Z","assignee":{"me":true}}`,
		`{"mode":"custom","type":"one_time","pin":"1234","assignee":{"new_user":{"name":"N","phone":"+14155550100"}}}`,
		`{"mode":"offline","type":"permanent","assignee":{"user_id":"usr_x","me":true}}`,
		`{"mode":"custom","type":"permanent","pin":"12 34","assignee":{}}`,
	)
}
