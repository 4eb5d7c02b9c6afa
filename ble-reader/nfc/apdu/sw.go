package apdu

import "fmt"

// SW is a status word: SW1 in the high byte, SW2 in the low byte.
type SW uint16

// The status words Lintel's NFC exchange uses (ISO/IEC 7816-4 §5.6 and
// PC/SC part 3 for GET DATA).
const (
	SWOK                   SW = 0x9000 // normal processing
	SWBytesRemaining       SW = 0x6100 // 61xx: xx more bytes (00: 256 or more) for GET RESPONSE
	SWEndOfData            SW = 0x6282 // end of data reached before Le bytes
	SWWrongLength          SW = 0x6700 // Lc or Le inconsistent with the command
	SWSecurityNotSatisfied SW = 0x6982 // security status not satisfied (phone locked, app refuses)
	SWConditionsNotMet     SW = 0x6985 // conditions of use not satisfied (command out of sequence)
	SWWrongData            SW = 0x6A80 // incorrect data field
	SWFuncNotSupported     SW = 0x6A81 // function not supported
	SWNotFound             SW = 0x6A82 // application (AID) not found
	SWWrongP1P2            SW = 0x6A86 // incorrect P1-P2
	SWDataNotFound         SW = 0x6A88 // referenced data not found (no credential)
	SWWrongLe              SW = 0x6C00 // 6Cxx: wrong Le, xx is the exact length
	SWINSNotSupported      SW = 0x6D00 // instruction not supported
	SWCLANotSupported      SW = 0x6E00 // class not supported
	SWUnknown              SW = 0x6F00 // no precise diagnosis (internal error)
)

// SW1 is the first status byte.
func (s SW) SW1() byte { return byte(s >> 8) }

// SW2 is the second status byte.
func (s SW) SW2() byte { return byte(s) }

// OK reports normal completion: 9000, or 61xx (more data waits).
func (s SW) OK() bool { return s == SWOK || s.SW1() == 0x61 }

// MoreData reports a 61xx status and how many bytes the card says wait:
// SW2, where 00 means 256 or more.
func (s SW) MoreData() (int, bool) {
	if s.SW1() != 0x61 {
		return 0, false
	}
	return shortNe(s.SW2()), true
}

// Remaining is the 61xx status for n bytes still waiting (n > 255 is 6100).
func Remaining(n int) SW {
	if n > 255 {
		return SWBytesRemaining
	}
	return SWBytesRemaining | SW(n)
}

var swNames = map[SW]string{
	SWOK:                   "ok",
	SWEndOfData:            "end of data",
	SWWrongLength:          "wrong length",
	SWSecurityNotSatisfied: "security status not satisfied",
	SWConditionsNotMet:     "conditions of use not satisfied",
	SWWrongData:            "wrong data",
	SWFuncNotSupported:     "function not supported",
	SWNotFound:             "application not found",
	SWWrongP1P2:            "wrong P1-P2",
	SWDataNotFound:         "referenced data not found",
	SWINSNotSupported:      "instruction not supported",
	SWCLANotSupported:      "class not supported",
	SWUnknown:              "no precise diagnosis",
}

// String is "6A82 (application not found)".
func (s SW) String() string {
	switch {
	case swNames[s] != "":
		return fmt.Sprintf("%04X (%s)", uint16(s), swNames[s])
	case s.SW1() == 0x61:
		return fmt.Sprintf("%04X (more data)", uint16(s))
	case s.SW1() == 0x6C:
		return fmt.Sprintf("%04X (wrong Le)", uint16(s))
	}
	return fmt.Sprintf("%04X", uint16(s))
}
