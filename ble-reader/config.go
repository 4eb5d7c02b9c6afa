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
	defineFlags(fs, &f)
	var inputs []string
	fs.Func("input", "KIND:PATH[:NAME] of a line device (qr, keypad, card); repeatable", func(s string) error {
		inputs = append(inputs, s)
		return nil
	})
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
	// The flags given win over the file: the same flags, bound to the
	// loaded configuration, take their values again.
	over := flag.NewFlagSet(name, flag.ContinueOnError)
	defineFlags(over, &c)
	var ferr error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "config":
		case "input":
			c.Inputs, ferr = parseInputs(inputs)
		default:
			if err := over.Set(fl.Name, fl.Value.String()); err != nil {
				ferr = fmt.Errorf("-%s: %w", fl.Name, err)
			}
		}
	})
	if ferr != nil {
		return c, ferr
	}
	return c, c.Validate()
}

// defineFlags defines the daemon's flags on fs, each bound to its field of
// c with c's value as its default.
func defineFlags(fs *flag.FlagSet, c *Config) {
	dur := func(p *Duration, name, usage string) {
		fs.DurationVar((*time.Duration)(p), name, time.Duration(*p), usage)
	}
	fs.StringVar(&c.ServerURL, "server", c.ServerURL, "server URL")
	fs.StringVar(&c.ReaderToken, "token", c.ReaderToken, "reader token (prefer -token-file)")
	fs.StringVar(&c.ReaderTokenFile, "token-file", c.ReaderTokenFile, "file holding the reader token")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "data directory")
	fs.StringVar(&c.Door.Output, "door", c.Door.Output, "door output: sim or gpio")
	fs.StringVar(&c.Door.GPIOChip, "gpio-chip", c.Door.GPIOChip, "GPIO chip of the relay")
	fs.IntVar(&c.Door.GPIOLine, "gpio-line", c.Door.GPIOLine, "GPIO line offset of the relay")
	fs.BoolVar(&c.Door.ActiveLow, "gpio-active-low", c.Door.ActiveLow, "relay is active low")
	dur(&c.Door.Unlock, "unlock", "unlock time")
	dur(&c.OfflineCutoff, "offline-cutoff", "bundle age after which mobile credentials are refused")
	fs.BoolVar(&c.FailOpen, "fail-open", c.FailOpen, "keep honoring mobile credentials with a stale bundle")
	fs.StringVar(&c.KeyFile, "key-file", c.KeyFile, "file holding the store key (default data_dir/reader.key)")
	fs.StringVar(&c.BLE.Mode, "ble", c.BLE.Mode, "BLE mode: hci, local or off")
	fs.StringVar(&c.BLE.LocalAddr, "ble-addr", c.BLE.LocalAddr, "listen address of the local BLE link")
	fs.IntVar(&c.BLE.HCIDevice, "hci", c.BLE.HCIDevice, "HCI device index")
	fs.IntVar(&c.BLE.MTU, "mtu", c.BLE.MTU, "largest ATT MTU accepted")
	dur(&c.BLE.FirstWriteTimeout, "ble-first-write", "drop a BLE connection that has not subscribed or presented by then")
	fs.StringVar(&c.NFC.Mode, "nfc", c.NFC.Mode, "NFC mode: pcsc or off")
	fs.BoolVar(&c.NFC.Extended, "nfc-extended", c.NFC.Extended, "accept extended APDUs from phones that offer them")
	fs.BoolVar(&c.NFC.SkipResult, "nfc-skip-result", c.NFC.SkipResult, "do not send phones the RESULT APDU after a decision")
	fs.StringVar(&c.StatusAddr, "status", c.StatusAddr, "loopback address of the status endpoint (empty: off)")
	dur(&c.Poll, "poll", "fallback poll interval")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
}

// parseInputs reads the -input flags, KIND:PATH[:NAME] each.
func parseInputs(flags []string) ([]InputConfig, error) {
	var out []InputConfig
	for _, s := range flags {
		parts := strings.SplitN(s, ":", 3)
		if len(parts) < 2 {
			return nil, fmt.Errorf("-input %q: want KIND:PATH[:NAME]", s)
		}
		in := InputConfig{Kind: input.Kind(parts[0]), Path: parts[1]}
		if len(parts) == 3 {
			in.Name = parts[2]
		}
		out = append(out, in)
	}
	return out, nil
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
