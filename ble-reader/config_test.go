package reader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/input"
)

func TestParseArgs(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("lk_rd_secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "reader.yaml")
	if err := os.WriteFile(cfgFile, []byte(`
server_url: https://lintel.example
reader_token_file: `+tokenFile+`
data_dir: `+dir+`
door: {output: gpio, gpio_chip: gpiochip0, gpio_line: 17, active_low: true, unlock_time: 3s}
offline_cutoff: 12h
ble: {mode: local, local_addr: "127.0.0.1:7101"}
nfc: {mode: pcsc, skip_result: true}
inputs:
  - {kind: qr, path: /dev/ttyACM0}
  - {kind: keypad, path: /dev/ttyUSB0, name: front-keypad}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := ParseArgs("t", []string{"-config", cfgFile, "-unlock", "7s", "-fail-open", "-input", "card:/dev/hidraw0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.ReaderToken != "lk_rd_secret" || c.Door.Output != "gpio" || c.Door.GPIOLine != 17 || !c.Door.ActiveLow {
		t.Fatalf("from file: %+v", c)
	}
	if time.Duration(c.Door.Unlock) != 7*time.Second || !c.FailOpen || c.MaxStale() >= 0 {
		t.Fatalf("flags did not win: %+v", c)
	}
	if time.Duration(c.OfflineCutoff) != 12*time.Hour || c.BLE.Mode != "local" || c.NFC.Mode != "pcsc" || !c.NFC.SkipResult || c.NFC.Extended {
		t.Fatalf("%+v", c)
	}
	if len(c.Inputs) != 1 || c.Inputs[0].Kind != input.Card || c.Inputs[0].Name != "/dev/hidraw0" {
		t.Fatalf("-input replaces the file's inputs: %+v", c.Inputs)
	}
	c, err = ParseArgs("t", []string{"-config", cfgFile})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Inputs) != 2 || c.Inputs[1].Name != "front-keypad" || c.MaxStale() != 12*time.Hour {
		t.Fatalf("%+v", c)
	}
}

func TestConfigRejects(t *testing.T) {
	base := []string{"-server", "http://127.0.0.1:8080", "-token", "t", "-data-dir", t.TempDir()}
	if _, err := ParseArgs("t", base); err != nil {
		t.Fatalf("base config: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-server", "ftp://x"}, "server_url"},
		{[]string{"-token", ""}, "reader_token"},
		{[]string{"-door", "magic"}, "door.output"},
		{[]string{"-unlock", "0s"}, "unlock_time"},
		{[]string{"-offline-cutoff", "0s"}, "offline_cutoff"},
		{[]string{"-ble", "local", "-ble-addr", "0.0.0.0:7001"}, "loopback"},
		{[]string{"-ble", "wifi"}, "ble.mode"},
		{[]string{"-mtu", "600"}, "ble.mtu"},
		{[]string{"-input", "scanner:/dev/x"}, "inputs[0].kind"},
		{[]string{"-input", "qr"}, "KIND:PATH"},
		{[]string{"-input", "keypad:/dev/x:line:card"}, "inputs[0].name"},
		{[]string{"-status", "192.0.2.1:80"}, "status_addr"},
		{[]string{"-log-level", "loud"}, "log_level"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		_, err := ParseArgs("t", append(append([]string{}, base...), c.args...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%v: err %v, want %q", c.args, err, c.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("sever_url: typo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseArgs("t", append([]string{"-config", bad}, base...)); err == nil || !strings.Contains(err.Error(), "sever_url") {
		t.Fatalf("unknown key: %v", err)
	}
}
