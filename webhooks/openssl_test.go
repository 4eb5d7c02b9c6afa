package webhooks_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/webhooks"
)

// TestOpenSSLVerifies runs the shell example of docs/webhooks.md and
// checks it computes the signature Sign sends, so the documented recipe
// is the real one.
func TestOpenSSLVerifies(t *testing.T) {
	for _, tool := range []string{"sh", "openssl", "od"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI: %v", tool, err)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	doc, err := os.ReadFile("../docs/webhooks.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```sh\n(secret=.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/webhooks.md has no openssl example")
	}
	out, err := exec.Command("sh", "-c", string(m[1])).CombinedOutput()
	if err != nil {
		t.Fatalf("the example fails: %v\n%s", err, out)
	}
	key, err := webhooks.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	body := `{"type":"access.granted","timestamp":"2030-01-02T08:15:00Z","data":{}}`
	want := strings.TrimPrefix(webhooks.Sign([][]byte{key}, "whd_01jg2x9q5m8k3v7t4r6p0n1c2b", time.Unix(1893572100, 0), []byte(body)), "v1,")
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("openssl says %q, the sender %q", got, want)
	}
}
