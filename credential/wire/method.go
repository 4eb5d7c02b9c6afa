package wire

// The methods an access decision was made by, as events name them.
const (
	MethodBLE  = "ble"  // a phone over Bluetooth LE
	MethodNFC  = "nfc"  // a phone over NFC (host card emulation)
	MethodCard = "card" // a card or fob number (NFC UID, Wiegand, keyboard wedge)
	MethodQR   = "qr"   // a visitor pass's QR code
	MethodPIN  = "pin"  // a PIN on the keypad
	// MethodRemote: an admin's remote unlock over the reader's stream (the
	// event's detail names the actor and the reason).
	MethodRemote = "remote"
)

// Methods lists every method, in the order the documentation names them.
var Methods = []string{MethodBLE, MethodNFC, MethodCard, MethodQR, MethodPIN, MethodRemote}

// ValidMethod reports whether m is one of Methods.
func ValidMethod(m string) bool {
	for _, x := range Methods {
		if m == x {
			return true
		}
	}
	return false
}
