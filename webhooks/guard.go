package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrForbiddenAddress means a webhook URL names, or resolves to, an
// address of the server's own networks (loopback, private, link-local,
// …): a webhook must not become a way to reach them (SSRF).
var ErrForbiddenAddress = errors.New("the address is loopback, private, link-local or otherwise not public")

// URLError is a refused webhook URL; the message is safe to show.
type URLError struct{ Reason string }

func (e *URLError) Error() string { return e.Reason }

// CheckURL refuses a URL that is not https, carries credentials, or whose
// host is a non-public IP literal (or localhost), unless allowPrivate.
// Hostnames are checked again at every send, on the address they resolve
// to then (Dialer), since DNS can change between the two (rebinding).
func CheckURL(raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return &URLError{"must be an absolute URL"}
	}
	if u.User != nil {
		return &URLError{"must not carry a user or password"}
	}
	if len(raw) > 2000 {
		return &URLError{"must be at most 2000 characters"}
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return &URLError{"must be an https URL"}
	}
	if allowPrivate {
		return nil
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return &URLError{msgPrivate}
	}
	if ip, err := netip.ParseAddr(host); err == nil && !Public(ip) {
		return &URLError{msgPrivate}
	}
	return nil
}

const msgPrivate = "must not point at a loopback, private, link-local or otherwise non-public address (LINTEL_WEBHOOKS_ALLOW_PRIVATE=true allows it)"

// Public reports whether ip is a globally routable unicast address.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// nonPublic are ranges the net/netip predicates leave out.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64 maps IPv4, private ones too
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4 embeds IPv4
	netip.MustParsePrefix("fc00::/7"),       // unique local (IsPrivate has it; kept explicit)
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("100::/64"),       // discard
}

// Resolver finds a host's addresses; *net.Resolver is one. Tests inject
// their own to make a name resolve to a private address.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Dialer connects a webhook only to public addresses (unless
// AllowPrivate): it resolves the host itself, refuses when an address is
// not public, and dials the checked address, so what was checked is what
// is connected to, whatever DNS answers next. The socket's Control hook
// checks once more, on the address actually dialed.
type Dialer struct {
	AllowPrivate bool
	Resolver     Resolver // default net.DefaultResolver
	Net          net.Dialer
}

// DialContext implements http.Transport's DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		if ips, err = r.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	for _, ip := range ips {
		if !d.AllowPrivate && !Public(ip) {
			return nil, fmt.Errorf("%s resolves to %s: %w", host, ip, ErrForbiddenAddress)
		}
	}
	nd := d.Net
	if !d.AllowPrivate {
		nd.Control = refuseNonPublic
	}
	var last error
	for _, ip := range ips {
		c, err := nd.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	if !Public(ap.Addr()) {
		return fmt.Errorf("dial %s: %w", address, ErrForbiddenAddress)
	}
	return nil
}
