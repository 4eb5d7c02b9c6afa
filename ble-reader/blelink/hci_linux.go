//go:build linux

package blelink

import (
	"context"
	"io"

	"github.com/go-ble/ble"
	"github.com/go-ble/ble/linux/hci"
)

// HCIAcceptor accepts BLE connections from a local controller through
// go-ble's HCI layer. It exists so production does not use linux.Device:
// that type runs its own accept loop, which starts go-ble's ATT server on
// each connection with no filter and no recover. Hand an HCIAcceptor to
// Server.Serve instead.
type HCIAcceptor struct {
	dev *hci.HCI
}

// OpenHCI opens and initialises the HCI device (ble.OptDeviceID picks one;
// the default is the first). It needs CAP_NET_ADMIN or root.
func OpenHCI(opts ...ble.Option) (*HCIAcceptor, error) {
	dev, err := hci.NewHCI(opts...)
	if err != nil {
		return nil, err
	}
	if err := dev.Init(); err != nil {
		_ = dev.Close()
		return nil, err
	}
	return &HCIAcceptor{dev: dev}, nil
}

// Accept waits for the next central to connect. Keep calling it promptly:
// go-ble's HCI event loop waits until a connection is taken.
func (a *HCIAcceptor) Accept() (ble.Conn, error) {
	c, err := a.dev.Accept()
	if err == nil && c == nil {
		// go-ble reports a clean close as (nil, nil).
		return nil, io.EOF
	}
	return c, err
}

// Advertise advertises name and the Lintel service until ctx ends. go-ble
// re-enables advertising itself after each connection and disconnection.
func (a *HCIAcceptor) Advertise(ctx context.Context, name string) error {
	if err := a.dev.AdvertiseNameAndServices(name, ServiceUUID()); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-a.dev.Done():
		return a.dev.Error()
	}
	_ = a.dev.StopAdvertising()
	return ctx.Err()
}

// Close closes the HCI device, which ends Accept.
func (a *HCIAcceptor) Close() error { return a.dev.Close() }

// HCI exposes the device for what this type does not wrap (connection
// parameters, other advertising).
func (a *HCIAcceptor) HCI() *hci.HCI { return a.dev }
