package lintel_test

import (
	"bufio"
	"context"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/notifications/notifytest"
)

// TestReadmeWalkthrough runs the README's walkthrough as written, against a
// real `lintel serve` on SQLite, with the phone simulator for the phone's
// part. Each command's output is checked: only the steps that demonstrate
// an error may print a problem document.
func TestReadmeWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	script := walkthrough(t, string(readme))
	bin := t.TempDir()
	for _, cmd := range []string{"lintel", "phonesim"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "./cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	addr := testkit.FreeAddr(t)
	data := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// SMS goes to a local Twilio test server, whose certificate the
	// server trusts through SSL_CERT_FILE (the README says so).
	tw := notifytest.NewTwilio(t)
	// Webhooks go to a local receiver (LINTEL_WEBHOOKS_ALLOW_PRIVATE), whose
	// certificate joins Twilio's in the bundle SSL_CERT_FILE names.
	var hookMu sync.Mutex
	var hooks []*http.Request
	var hookBodies []string
	receiver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hooks, hookBodies = append(hooks, r), append(hookBodies, string(b))
		hookMu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	ca := filepath.Join(t.TempDir(), "test-ca.pem")
	bundle := append(tw.CertificatePEM(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: receiver.Certificate().Raw})...)
	if err := os.WriteFile(ca, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := exec.CommandContext(ctx, filepath.Join(bin, "lintel"), "serve")
	srv.Env = append(os.Environ(), "LINTEL_ADDR="+addr, "LINTEL_DATA_DIR="+data, "LINTEL_DATABASE_URL=sqlite://"+data+"/l.db",
		"SSL_CERT_FILE="+ca, "LINTEL_TWILIO_BASE_URL="+tw.URL, "LINTEL_TWILIO_ACCOUNT_SID="+tw.AccountSID,
		"LINTEL_TWILIO_AUTH_TOKEN="+tw.AuthToken, "LINTEL_TWILIO_FROM=+15005550006", "LINTEL_WEBHOOKS_ALLOW_PRIVATE=true")
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = nil
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = srv.Wait() }()
	key := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`lk_op_[A-Za-z0-9_-]+`)
		for sc.Scan() {
			if k := re.FindString(sc.Text()); k != "" {
				key <- k
			}
		}
	}()
	var opKey string
	select {
	case opKey = <-key:
	case <-time.After(30 * time.Second):
		t.Fatal("no operator key printed")
	}
	testkit.WaitReady(t, 20*time.Second, "http://"+addr)
	script = strings.ReplaceAll(script, "/tmp/", t.TempDir()+"/")
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", "http://"+addr)
	script = strings.ReplaceAll(script, "https://hooks.example.test/lintel", receiver.URL+"/lintel")
	script = strings.ReplaceAll(script, "go run ./cmd/phonesim", filepath.Join(bin, "phonesim"))
	sh := exec.Command("bash", "-c", "set -u\nexport KEY="+opKey+"\n"+
		`api() { curl -s -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; echo; }`+"\n"+script)
	sh.Dir = "."
	// The walkthrough makes scratch files with mktemp: keep them in the test's dir.
	sh.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	var sms bool
	for _, r := range tw.Requests() {
		sms = sms || (r.Form.Get("To") == "+14155550123" && strings.Contains(r.Form.Get("Body"), "Lobby"))
	}
	if !sms {
		t.Fatalf("no SMS naming the Lobby reached Ada at the Twilio test server: %+v", tw.Requests())
	}
	hookMu.Lock()
	var signed bool
	for i, r := range hooks {
		signed = signed || (strings.HasPrefix(r.Header.Get("webhook-signature"), "v1,") && r.Header.Get("webhook-id") != "" &&
			strings.Contains(hookBodies[i], `"type":"user.deactivated"`))
	}
	hookMu.Unlock()
	if !signed {
		t.Fatalf("no signed user.deactivated webhook reached the receiver: %d requests %q", len(hooks), hookBodies)
	}
	problems := strings.Count(string(out), `"type":"https://lintel.dev/problems/`)
	expected := strings.Count(script, "# Bad input")
	if problems != expected {
		t.Fatalf("%d problem documents, want %d (one per 'Bad input' step):\n%s", problems, expected, out)
	}
	for _, want := range []string{`"status":"revoked"`, `"status":"lost"`, `"kid":`, `"action":"card.lost"`,
		`"source":"booking"`, `"places_left":1`, `"code":"slot_full"`, `"secret":"whsec_`, `"status":"delivered"`,
		`"role":"admin"`, `"code":"already_holder"`, `"mobile_credentials":[]`, "Accept before ",
		`"command_id":"cmd_`, `"name":"lobby-keypad","last_seen_at":"`, `"connected":true,"bundle_version"`, `"version":"lintel-reader/demo"`, `"door_id":"door_`, `"generation":1,"reissue":["pin_`,

		`data: {"id":"imp_`, `"done":2,"failed":1`, `"line":4,"field":"phone"`, "Grace Hopper,grace@example.com,'+14155550199"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("walkthrough output lacks %s:\n%s", want, out)
		}
	}
}

// walkthrough returns the shell blocks of the README's Walkthrough section,
// from the first command after the key is exported.
func walkthrough(t *testing.T, readme string) string {
	t.Helper()
	i := strings.Index(readme, "## Walkthrough")
	if i < 0 {
		t.Fatal("README has no Walkthrough section")
	}
	sec := readme[i:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	var b strings.Builder
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(sec, -1)
	for _, m := range blocks {
		for _, line := range strings.Split(m[1], "\n") {
			if strings.HasPrefix(line, "export KEY=") || strings.HasPrefix(line, "api() {") {
				continue
			}
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
