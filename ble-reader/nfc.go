package reader

import (
	"context"

	"github.com/lintel/lintel/ble-reader/nfc"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/wire"
)

// NFCConfig is the NFC transport: phones (host card emulation) and
// contactless cards through pcscd.
type NFCConfig struct {
	// Mode is "off" (default) or "pcsc".
	Mode string `yaml:"mode"`
	// Readers limits the PC/SC readers used to those whose names start
	// with one of these prefixes (empty: every reader).
	Readers []string `yaml:"readers"`
	// Extended lets a phone that offers it answer in one extended APDU
	// (fewer exchanges; not every reader and phone supports it).
	Extended bool `yaml:"extended"`
	// SkipResult leaves out the RESULT command after the decision: a tap is
	// then SELECT, AUTHENTICATE and GET RESPONSE only (3 APDUs for a packed
	// presentation), and the phone does not learn the outcome from the
	// reader. Off by default: the phone shows "granted" or why not.
	SkipResult bool `yaml:"skip_result"`
	// Socket is pcscd's socket (default /run/pcscd/pcscd.comm).
	Socket string `yaml:"socket"`
}

// nfcHandler lets the NFC transport feed the engine: the same challenge
// and decision as a BLE tap, recorded with method nfc; a card's UID is
// decided like any card number.
type nfcHandler struct{ e *Engine }

func (h nfcHandler) Challenge(string) (credential.Challenge, error) { return h.e.NewChallenge() }

func (h nfcHandler) Present(_ context.Context, _ string, ch credential.Challenge, presentation []byte) []byte {
	b, err := h.e.DecidePresentationVia(wire.MethodNFC, ch, presentation).Result().MarshalBinary()
	if err != nil {
		return nil
	}
	return b
}

func (h nfcHandler) Card(_ context.Context, _ string, number string) { h.e.Card(number) }

func (d *Daemon) serveNFC(ctx context.Context) error {
	d.log.Info("NFC through pcscd", "readers", d.cfg.NFC.Readers, "extended", d.cfg.NFC.Extended, "skip_result", d.cfg.NFC.SkipResult)
	return nfc.Run(ctx, nfc.Config{Socket: d.cfg.NFC.Socket, Readers: d.cfg.NFC.Readers, Extended: d.cfg.NFC.Extended,
		NoResult: d.cfg.NFC.SkipResult, Log: d.log}, nfcHandler{e: d.Engine})
}
