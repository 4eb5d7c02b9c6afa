package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/wallet"
)

// TestServeWallet: Serve reads the Apple Wallet settings from the
// environment, says so at start-up, serves the pass and its page, and
// stops cleanly with the wallet sync loop running.
func TestServeWallet(t *testing.T) {
	_, cert, key := passFiles(t)
	op := strings.Repeat("w", 40)
	base, logs := runServe(t, op, map[string]string{wallet.EnvApplePassCert: cert, wallet.EnvApplePassKey: key}, nil)
	get := func(path string) (*http.Response, []byte) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	call := func(method, path string, body any) map[string]any {
		return serveCall(t, base, op, method, path, nil, body, 201).json()
	}
	for _, want := range []string{`"msg":"apple wallet: configured","pass_type_id":"` + walletPassType + `"`, "google wallet: not configured"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start-up log lacks %q:\n%s", want, logs.String())
		}
	}
	site := call("POST", "/v1/sites", map[string]any{"name": "Elm", "timezone": "Europe/Paris"})["id"].(string)
	door := call("POST", "/v1/sites/"+site+"/doors", map[string]any{"name": "Lobby"})["id"].(string)
	pass := call("POST", "/v1/sites/"+site+"/visitor-passes", passBody("temporary", time.Now(), door))
	link := pass["link"].(string)
	path := link[strings.Index(link, "/p/"):]
	resp, page := get(path)
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Add to Apple Wallet") {
		t.Fatalf("page %d", resp.StatusCode)
	}
	resp, pkpass := get(strings.Replace(path, "/p/"+pass["id"].(string), "/v1/passes/"+pass["id"].(string)+"/apple.pkpass", 1))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != wallet.PassMIMEType {
		t.Fatalf("pkpass %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// LINTEL_PUBLIC_URL defaults to http://127.0.0.1:…, which serves a web service too.
	if pj := passJSON(t, testkit.UnzipPass(t, pkpass)); pj["webServiceURL"] != base+"/wallet" {
		t.Fatalf("webServiceURL %v", pj["webServiceURL"])
	}
}
