package reader

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/lintel/lintel/ble-reader/input"
)

// Config is the daemon's configuration: a YAML file, overridden by flags.
type Config struct {
	// ServerURL is the Lintel server, e.g. https://lintel.example.
	ServerURL string `yaml:"server_url"`
	// ReaderToken is the reader's bearer token from provisioning; or
	// ReaderTokenFile names a file holding it (preferred: keeps it out of
	// the config and the process list).
	ReaderToken     string `yaml:"reader_token"`
	ReaderTokenFile string `yaml:"reader_token_file"`
	// DataDir holds the store (reader.db).
	DataDir string `yaml:"data_dir"`
	// KeyFile holds the key that seals the store's secrets; created (0600)
	// on first start. Default data_dir/reader.key. LINTEL_READER_KEY_FILE
	// or a systemd credential take precedence (StoreKey).
	KeyFile string `yaml:"key_file"`

	Door DoorConfig `yaml:"door"`

	// OfflineCutoff is how old the bundle may get before mobile
	// credentials are refused (stale_bundle); default 24h.
	OfflineCutoff Duration `yaml:"offline_cutoff"`
	// FailOpen keeps honoring mobile credentials with a stale bundle.
	FailOpen bool `yaml:"fail_open"`

	BLE BLEConfig `yaml:"ble"`
	NFC NFCConfig `yaml:"nfc"`

	// Inputs are line-oriented devices: QR scanners, keypads, card readers.
	Inputs []InputConfig `yaml:"inputs"`

	// StatusAddr serves GET /status; it must be a loopback address. Empty
	// disables it.
	StatusAddr string `yaml:"status_addr"`
	// Poll is the fallback bundle poll interval; default 60s.
	Poll Duration `yaml:"poll_interval"`
	// LogLevel: debug, info, warn, error.
	LogLevel string `yaml:"log_level"`
}

// DoorConfig is the door output.
type DoorConfig struct {
	// Output is "sim" (log only) or "gpio".
	Output    string   `yaml:"output"`
	GPIOChip  string   `yaml:"gpio_chip"`
	GPIOLine  int      `yaml:"gpio_line"`
	ActiveLow bool     `yaml:"active_low"`
	Unlock    Duration `yaml:"unlock_time"`
}

// BLEConfig is the BLE transport.
type BLEConfig struct {
	// Mode is "hci" (a local controller), "local" (the socket link for
	// tests and the demo) or "off".
	Mode string `yaml:"mode"`
	// LocalAddr is where the local link listens; loopback only.
	LocalAddr string `yaml:"local_addr"`
	// HCIDevice is the controller index (hci0 = 0).
	HCIDevice int `yaml:"hci_device"`
	// Name is the advertised name; default "Lintel".
	Name string `yaml:"name"`
	// MTU is the largest ATT_MTU accepted, 23..515; default 515.
	MTU int `yaml:"mtu"`
	// FirstWriteTimeout drops a connection that has not written to the
	// Lintel service (subscribed or presented) by then; default 2s.
	FirstWriteTimeout Duration `yaml:"first_write_timeout"`
}

// InputConfig is one line-oriented device.
type InputConfig struct {
	// Kind is qr, keypad or card.
	Kind input.Kind `yaml:"kind"`
	// Path is a serial device, a FIFO, a file, or "-" for standard input.
	// Configure serial line settings (baud) with stty beforehand.
	Path string `yaml:"path"`
	// Name tells keypads apart (each has its own lockout); default the path.
	Name string `yaml:"name"`
}

// Duration is a time.Duration written as "30s", "24h" in YAML.
type Duration time.Duration

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// DefaultConfig is the configuration before the file and flags.
func DefaultConfig() Config {
	return Config{
		DataDir:       "/var/lib/lintel-reader",
		Door:          DoorConfig{Output: "sim", GPIOChip: "gpiochip0", Unlock: Duration(5 * time.Second)},
		OfflineCutoff: Duration(24 * time.Hour),
		BLE:           BLEConfig{Mode: "hci", LocalAddr: "127.0.0.1:7001", Name: "Lintel", MTU: 515, FirstWriteTimeout: Duration(2 * time.Second)},
		StatusAddr:    "127.0.0.1:7002",
		Poll:          Duration(time.Minute),
		LogLevel:      "info",
	}
}

// LoadConfig reads a YAML file over the defaults; unknown keys are errors.
func LoadConfig(path string, c *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// ParseArgs builds the configuration from -config FILE and flags (flags
// win over the file, the file over the defaults).
func ParseArgs(name string, args []string) (Config, error) {
	c := DefaultConfig()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "YAML configuration file")
	f := DefaultConfig()
	var inputs []string
	fs.StringVar(&f.ServerURL, "server", "", "server URL")
	fs.StringVar(&f.ReaderToken, "token", "", "reader token (prefer -token-file)")
	fs.StringVar(&f.ReaderTokenFile, "token-file", "", "file holding the reader token")
	fs.StringVar(&f.DataDir, "data-dir", f.DataDir, "data directory")
	fs.StringVar(&f.Door.Output, "door", f.Door.Output, "door output: sim or gpio")
	fs.StringVar(&f.Door.GPIOChip, "gpio-chip", f.Door.GPIOChip, "GPIO chip of the relay")
	fs.IntVar(&f.Door.GPIOLine, "gpio-line", 0, "GPIO line offset of the relay")
	fs.BoolVar(&f.Door.ActiveLow, "gpio-active-low", false, "relay is active low")
	fs.DurationVar((*time.Duration)(&f.Door.Unlock), "unlock", time.Duration(f.Door.Unlock), "unlock time")
	fs.DurationVar((*time.Duration)(&f.OfflineCutoff), "offline-cutoff", time.Duration(f.OfflineCutoff), "bundle age after which mobile credentials are refused")
	fs.BoolVar(&f.FailOpen, "fail-open", false, "keep honoring mobile credentials with a stale bundle")
	fs.StringVar(&f.KeyFile, "key-file", "", "file holding the store key (default data_dir/reader.key)")
	fs.StringVar(&f.BLE.Mode, "ble", f.BLE.Mode, "BLE mode: hci, local or off")
	fs.StringVar(&f.BLE.LocalAddr, "ble-addr", f.BLE.LocalAddr, "listen address of the local BLE link")
	fs.IntVar(&f.BLE.HCIDevice, "hci", 0, "HCI device index")
	fs.IntVar(&f.BLE.MTU, "mtu", f.BLE.MTU, "largest ATT MTU accepted")
	fs.DurationVar((*time.Duration)(&f.BLE.FirstWriteTimeout), "ble-first-write", time.Duration(f.BLE.FirstWriteTimeout), "drop a BLE connection that has not subscribed or presented by then")
	fs.StringVar(&f.NFC.Mode, "nfc", f.NFC.Mode, "NFC mode: pcsc or off")
	fs.BoolVar(&f.NFC.Extended, "nfc-extended", false, "accept extended APDUs from phones that offer them")
	fs.BoolVar(&f.NFC.SkipResult, "nfc-skip-result", false, "do not send phones the RESULT APDU after a decision")
	fs.Func("input", "KIND:PATH[:NAME] of a line device (qr, keypad, card); repeatable", func(s string) error {
		inputs = append(inputs, s)
		return nil
	})
	fs.StringVar(&f.StatusAddr, "status", f.StatusAddr, "loopback address of the status endpoint (empty: off)")
	fs.DurationVar((*time.Duration)(&f.Poll), "poll", time.Duration(f.Poll), "fallback poll interval")
	fs.StringVar(&f.LogLevel, "log-level", f.LogLevel, "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *cfgPath != "" {
		if err := LoadConfig(*cfgPath, &c); err != nil {
			return c, err
		}
	}
	var ferr error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "server":
			c.ServerURL = f.ServerURL
		case "token":
			c.ReaderToken = f.ReaderToken
		case "token-file":
			c.ReaderTokenFile = f.ReaderTokenFile
		case "data-dir":
			c.DataDir = f.DataDir
		case "key-file":
			c.KeyFile = f.KeyFile
		case "door":
			c.Door.Output = f.Door.Output
		case "gpio-chip":
			c.Door.GPIOChip = f.Door.GPIOChip
		case "gpio-line":
			c.Door.GPIOLine = f.Door.GPIOLine
		case "gpio-active-low":
			c.Door.ActiveLow = f.Door.ActiveLow
		case "unlock":
			c.Door.Unlock = f.Door.Unlock
		case "offline-cutoff":
			c.OfflineCutoff = f.OfflineCutoff
		case "fail-open":
			c.FailOpen = f.FailOpen
		case "ble":
			c.BLE.Mode = f.BLE.Mode
		case "ble-addr":
			c.BLE.LocalAddr = f.BLE.LocalAddr
		case "hci":
			c.BLE.HCIDevice = f.BLE.HCIDevice
		case "mtu":
			c.BLE.MTU = f.BLE.MTU
		case "ble-first-write":
			c.BLE.FirstWriteTimeout = f.BLE.FirstWriteTimeout
		case "nfc":
			c.NFC.Mode = f.NFC.Mode
		case "nfc-extended":
			c.NFC.Extended = f.NFC.Extended
		case "nfc-skip-result":
			c.NFC.SkipResult = f.NFC.SkipResult
		case "input":
			c.Inputs = nil
			for _, s := range inputs {
				parts := strings.SplitN(s, ":", 3)
				if len(parts) < 2 {
					ferr = fmt.Errorf("-input %q: want KIND:PATH[:NAME]", s)
					return
				}
				in := InputConfig{Kind: input.Kind(parts[0]), Path: parts[1]}
				if len(parts) == 3 {
					in.Name = parts[2]
				}
				c.Inputs = append(c.Inputs, in)
			}
		case "status":
			c.StatusAddr = f.StatusAddr
		case "poll":
			c.Poll = f.Poll
		case "log-level":
			c.LogLevel = f.LogLevel
		}
	})
	if ferr != nil {
		return c, ferr
	}
	return c, c.Validate()
}

// Validate checks the configuration and loads the token file.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if u, err := url.Parse(c.ServerURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("server_url: want http(s)://host[:port]")
	}
	if c.ReaderToken == "" && c.ReaderTokenFile != "" {
		b, err := os.ReadFile(c.ReaderTokenFile)
		if err != nil {
			bad("reader_token_file: %v", err)
		}
		c.ReaderToken = strings.TrimSpace(string(b))
	}
	if c.ReaderToken == "" {
		bad("reader_token or reader_token_file is required")
	}
	if c.DataDir == "" {
		bad("data_dir is required")
	} else if abs, err := filepath.Abs(c.DataDir); err == nil {
		c.DataDir = abs
	}
	if c.KeyFile == "" && c.DataDir != "" {
		c.KeyFile = filepath.Join(c.DataDir, DefaultKeyFile)
	}
	switch c.Door.Output {
	case "sim":
	case "gpio":
		if c.Door.GPIOChip == "" || c.Door.GPIOLine < 0 {
			bad("door: gpio needs gpio_chip and gpio_line")
		}
	default:
		bad("door.output: sim or gpio")
	}
	if c.Door.Unlock <= 0 || time.Duration(c.Door.Unlock) > 5*time.Minute {
		bad("door.unlock_time: 1ms..5m")
	}
	if c.OfflineCutoff <= 0 {
		bad("offline_cutoff must be positive (use fail_open to disable it)")
	}
	switch c.BLE.Mode {
	case "hci", "off":
	case "local":
		if !loopback(c.BLE.LocalAddr) {
			bad("ble.local_addr must be a loopback address: the local link has no security of its own")
		}
	default:
		bad("ble.mode: hci, local or off")
	}
	if c.BLE.MTU < 23 || c.BLE.MTU > 515 {
		bad("ble.mtu: 23..515")
	}
	if c.BLE.FirstWriteTimeout < Duration(100*time.Millisecond) || c.BLE.FirstWriteTimeout > Duration(10*time.Second) {
		bad("ble.first_write_timeout: 100ms..10s")
	}
	switch c.NFC.Mode {
	case "", "off", "pcsc":
	default:
		bad("nfc.mode: pcsc or off")
	}
	for i, in := range c.Inputs {
		if !in.Kind.Valid() {
			bad("inputs[%d].kind: qr, keypad or card", i)
		}
		if in.Path == "" {
			bad("inputs[%d].path is required", i)
		}
		if in.Name == "" {
			c.Inputs[i].Name = in.Path
		}
		if in.Kind == input.Keypad && reservedKeypadName(c.Inputs[i].Name) {
			bad("inputs[%d].name: a keypad's name cannot start with %q", i, lineKeyPrefix)
		}
	}
	if c.StatusAddr != "" && !loopback(c.StatusAddr) {
		bad("status_addr must be a loopback address")
	}
	if c.Poll <= 0 {
		bad("poll_interval must be positive")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level: debug, info, warn or error")
	}
	return errors.Join(errs...)
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// MaxStale is the cut-off as the policy wants it (negative: fail open).
func (c *Config) MaxStale() time.Duration {
	if c.FailOpen {
		return -1
	}
	return time.Duration(c.OfflineCutoff)
}
