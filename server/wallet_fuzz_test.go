package server_test

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/lintel/lintel/internal/testkit"
)

// FuzzWalletWebService sends arbitrary path segments, tokens, tags and
// bodies to the PassKit web service and the pass page: every answer is one
// Apple specifies (or the page's 404), never a 500.
func FuzzWalletWebService(f *testing.F) {
	w := sqliteWallet(f, walletOpts{apple: true})
	fx := w.fixture("F")
	p := w.issue(fx, passBody("temporary", w.clk.Now(), fx.door))
	auth := passJSON(f, testkit.UnzipPass(f, w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil).body))["authenticationToken"].(string)

	f.Add(uint8(0), "device-1", walletPassType, p.id, "ApplePass "+auth, `{"pushToken":"`+pushTokenA+`"}`, "")
	f.Add(uint8(1), "device-1", walletPassType, p.id, "ApplePass "+auth, "", "")
	f.Add(uint8(2), "device-1", walletPassType, "", "", "", "12")
	f.Add(uint8(3), "", walletPassType, p.id, "ApplePass "+auth, "", "Mon, 02 Jan 2006 15:04:05 GMT")
	f.Add(uint8(4), "", "", "", "", `{"logs":["a\u0000b"]}`, "")
	f.Add(uint8(5), "", "", p.id, "", "", p.token)
	f.Add(uint8(0), "dev/../x", "pass.%2e", "pass_0\u00e9", "ApplePass \t", `{"pushToken":[1]}`, "-1")
	f.Fuzz(func(t *testing.T, op uint8, device, passType, serial, authz, body, extra string) {
		wt := *w.env
		wt.t = t
		esc := url.PathEscape
		hdr := map[string]string{"Authorization": authz}
		var r resp
		switch op % 6 {
		case 0:
			r = wt.withHeader("POST", "/wallet/v1/devices/"+esc(device)+"/registrations/"+esc(passType)+"/"+esc(serial), hdr, body)
		case 1:
			r = wt.withHeader("DELETE", "/wallet/v1/devices/"+esc(device)+"/registrations/"+esc(passType)+"/"+esc(serial), hdr, "")
		case 2:
			r = wt.withHeader("GET", "/wallet/v1/devices/"+esc(device)+"/registrations/"+esc(passType)+"?passesUpdatedSince="+url.QueryEscape(extra), nil, "")
		case 3:
			hdr["If-Modified-Since"] = extra
			r = wt.withHeader("GET", "/wallet/v1/passes/"+esc(passType)+"/"+esc(serial), hdr, "")
		case 4:
			r = wt.withHeader("POST", "/wallet/v1/log", nil, body)
		case 5:
			r = wt.withHeader("GET", "/p/"+esc(serial)+"?t="+url.QueryEscape(extra), nil, "")
			if r.status != 200 && r.status != 404 {
				t.Fatalf("pass page: %d", r.status)
			}
			return
		}
		switch r.status {
		case 200, 201, 204, 304:
		case 301, 307, 308: // the router's trailing-slash redirect for an empty segment
		case 400, 401, 404, 409:
			var prob map[string]any
			if err := json.Unmarshal(r.body, &prob); err != nil || prob["code"] == nil {
				t.Fatalf("status %d without a problem document: %s", r.status, r.body)
			}
		default:
			t.Fatalf("op %d: status %d: %s", op%6, r.status, r.body)
		}
	})
}
