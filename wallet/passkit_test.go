package wallet

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const pushToken = "8c97f6f0b1a94a2d9c1f2b3e4d5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6"

func TestParseRegistration(t *testing.T) {
	tests := []struct {
		name, body, want string // want "" = refused
	}{
		{"ok", `{"pushToken":"` + pushToken + `"}`, pushToken},
		{"upper case hex", `{"pushToken":"` + strings.ToUpper(pushToken) + `"}`, pushToken},
		{"unknown member ignored", `{"pushToken":"` + pushToken + `","newThing":1}`, pushToken},
		{"white space", " {\n \"pushToken\" : \"" + pushToken + "\" }\n", pushToken},
		{"empty", ``, ""},
		{"not json", `pushToken=` + pushToken, ""},
		{"array", `["` + pushToken + `"]`, ""},
		{"null", `null`, ""},
		{"missing token", `{}`, ""},
		{"token not a string", `{"pushToken":123}`, ""},
		{"not hex", `{"pushToken":"` + strings.Repeat("zz", 32) + `"}`, ""},
		{"too short", `{"pushToken":"abcdef"}`, ""},
		{"too long", `{"pushToken":"` + strings.Repeat("a", 201) + `"}`, ""},
		{"trailing object", `{"pushToken":"` + pushToken + `"} {}`, ""},
		{"trailing garbage", `{"pushToken":"` + pushToken + `"}x`, ""},
		{"oversized", `{"pushToken":"` + pushToken + `","pad":"` + strings.Repeat("a", 5000) + `"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRegistration(strings.NewReader(tt.body))
			if tt.want == "" {
				if err == nil || !errors.Is(err, ErrBadRequest) {
					t.Fatalf("ParseRegistration = %+v, %v; want ErrBadRequest", r, err)
				}
				return
			}
			if err != nil || r.PushToken != tt.want {
				t.Fatalf("ParseRegistration = %+v, %v", r, err)
			}
		})
	}
}

func TestParseLog(t *testing.T) {
	logs, err := ParseLog(strings.NewReader(`{"logs":["Could not fetch pass\u0000\n\u001b[31m","ok","` + strings.Repeat("x", 3000) + `"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 3 || logs[0] != "Could not fetch pass   [31m" || logs[1] != "ok" {
		t.Errorf("logs = %q", logs)
	}
	if len(logs[2]) > maxLogEntryLen+len("…") || !strings.HasSuffix(logs[2], "…") {
		t.Errorf("long entry not cut: %d bytes", len(logs[2]))
	}
	many := `{"logs":[` + strings.TrimSuffix(strings.Repeat(`"a",`, maxLogEntries+1), ",") + `]}`
	if _, err := ParseLog(strings.NewReader(many)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("%d entries: %v", maxLogEntries+1, err)
	}
	if _, err := ParseLog(strings.NewReader(`{"logs":"not a list"}`)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad shape: %v", err)
	}
	if _, err := ParseLog(strings.NewReader(`{"logs":["` + strings.Repeat("a", maxLogBody) + `"]}`)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("oversized: %v", err)
	}
}

func TestUpdateTags(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"", 0, true},
		{"0", 0, true},
		{"42", 42, true},
		{"007", 7, true},
		{"18446744073709551615", 1<<64 - 1, true},
		{"18446744073709551616", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{" 1", 0, false},
		{"1.5", 0, false},
		{"2026-11-24T14:00:00Z", 0, false},
		{"abc", 0, false},
		{strings.Repeat("1", 21), 0, false},
	}
	for _, tt := range tests {
		got, err := ParseUpdateTag(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseUpdateTag(%q) = %d, %v", tt.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrBadRequest) {
			t.Errorf("ParseUpdateTag(%q) error %v is not ErrBadRequest", tt.in, err)
		}
	}
	b, err := json.Marshal(NewSerialNumbers([]string{"pass_a", "pass_b"}, 1234))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"serialNumbers":["pass_a","pass_b"],"lastUpdated":"1234"}` {
		t.Errorf("response = %s (lastUpdated must be a string)", b)
	}
	if b, _ := json.Marshal(NewSerialNumbers(nil, 0)); string(b) != `{"serialNumbers":[],"lastUpdated":"0"}` {
		t.Errorf("empty response = %s", b)
	}
}

func TestApplePassAuthorization(t *testing.T) {
	const token = "vxwxd7J8AlNNFPS8k0a0FfUFtq0ewzFdc"
	digest := sha256.Sum256([]byte(token))
	tests := []struct {
		header string
		ok     bool
	}{
		{"ApplePass " + token, true},
		{"applepass " + token, true},
		{"APPLEPASS  " + token, true},
		{"ApplePass " + token + "x", false},
		{"ApplePass " + token[:len(token)-1], false},
		{"ApplePass " + token + " extra", false},
		{"Bearer " + token, false},
		{"ApplePass", false},
		{"ApplePass ", false},
		{token, false},
		{"", false},
	}
	for _, tt := range tests {
		if got := CheckApplePassAuth(tt.header, token); got != tt.ok {
			t.Errorf("CheckApplePassAuth(%q) = %v", tt.header, got)
		}
		if got := CheckApplePassAuthHash(tt.header, digest); got != tt.ok {
			t.Errorf("CheckApplePassAuthHash(%q) = %v", tt.header, got)
		}
	}
	if CheckApplePassAuth("ApplePass ", "") || CheckApplePassAuth("ApplePass x", "") {
		t.Error("an empty expected token matched")
	}
	if CheckApplePassAuthHash("ApplePass ", sha256.Sum256(nil)) {
		t.Error("an empty header token matched the hash of the empty string")
	}
}

func TestLastModified(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	mod := time.Date(2026, 11, 24, 14, 0, 0, 500_000_000, ny)
	if got := LastModified(mod); got != "Tue, 24 Nov 2026 19:00:00 GMT" {
		t.Errorf("LastModified = %q", got)
	}
	tests := []struct {
		ims  string
		want bool
	}{
		{"Tue, 24 Nov 2026 19:00:00 GMT", true}, // same second: the half second is not visible in HTTP
		{"Tue, 24 Nov 2026 19:00:01 GMT", true},
		{"Tue, 24 Nov 2026 18:59:59 GMT", false},
		{"Tuesday, 24-Nov-26 19:00:00 GMT", true}, // RFC 850, still legal
		{"", false},
		{"yesterday", false},
		{strings.Repeat("x", 100), false},
	}
	for _, tt := range tests {
		if got := NotModified(tt.ims, mod); got != tt.want {
			t.Errorf("NotModified(%q) = %v", tt.ims, got)
		}
	}
}

func TestValidIdentifiers(t *testing.T) {
	for s, want := range map[string]bool{
		"d5a7c1e9f0b24e6a8c3d1f2e4b6a8c0d": true,
		"device-1_A":                       true,
		"":                                 false,
		"../etc":                           false,
		"a b":                              false,
		strings.Repeat("a", 129):           false,
	} {
		if ValidDeviceLibraryID(s) != want {
			t.Errorf("ValidDeviceLibraryID(%q) != %v", s, want)
		}
	}
	if !ValidSerialNumber("pass_01jb8v3n5k7q2x9m4r6t8w0yzc") || ValidSerialNumber("pass/1") {
		t.Error("ValidSerialNumber")
	}
}

// The route constants are valid net/http patterns whose wildcards the
// handlers can read; Gin users translate {x} to :x.
func TestRoutePatterns(t *testing.T) {
	mux := http.NewServeMux()
	var got map[string]string
	capture := func(names ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			got = map[string]string{"route": r.Pattern}
			for _, n := range names {
				got[n] = r.PathValue(n)
			}
		}
	}
	mux.Handle("POST /wallet"+RouteRegistration, capture("deviceLibraryIdentifier", "passTypeIdentifier", "serialNumber"))
	mux.Handle("DELETE /wallet"+RouteRegistration, capture("serialNumber"))
	mux.Handle("GET /wallet"+RouteSerials, capture("deviceLibraryIdentifier", "passTypeIdentifier"))
	mux.Handle("GET /wallet"+RoutePass, capture("passTypeIdentifier", "serialNumber"))
	mux.Handle("POST /wallet"+RouteLog, capture())
	tests := []struct {
		method, path string
		want         map[string]string
	}{
		{"POST", "/wallet/v1/devices/dev1/registrations/pass.com.lintel.test/pass_1",
			map[string]string{"deviceLibraryIdentifier": "dev1", "passTypeIdentifier": "pass.com.lintel.test", "serialNumber": "pass_1"}},
		{"DELETE", "/wallet/v1/devices/dev1/registrations/pass.com.lintel.test/pass_1", map[string]string{"serialNumber": "pass_1"}},
		{"GET", "/wallet/v1/devices/dev1/registrations/pass.com.lintel.test?passesUpdatedSince=12",
			map[string]string{"deviceLibraryIdentifier": "dev1", "passTypeIdentifier": "pass.com.lintel.test"}},
		{"GET", "/wallet/v1/passes/pass.com.lintel.test/pass_1", map[string]string{"passTypeIdentifier": "pass.com.lintel.test", "serialNumber": "pass_1"}},
		{"POST", "/wallet/v1/log", map[string]string{}},
	}
	for _, tt := range tests {
		got = nil
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tt.method, tt.path, nil))
		if got == nil {
			t.Errorf("%s %s matched no route", tt.method, tt.path)
			continue
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s %s: %s = %q, want %q", tt.method, tt.path, k, got[k], v)
			}
		}
	}
}
