package preview

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"code.dny.dev/ssrf"
)

// policy decides which destinations a Fetcher may reach. URLs are checked
// before each request and each redirect (checkURL); addresses are checked
// before dialing and again in the dialer's Control function (control), at
// connect time, on the very address the socket connects to, so no DNS answer
// can slip past it.
//
// The address ranges come from code.dny.dev/ssrf: every IANA special-purpose
// IPv4 block (0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24,
// the documentation, benchmarking and AS112 blocks, 192.168/16, 224/4
// multicast and 240/4 reserved including 255.255.255.255), everything in IPv6
// outside 2000::/3 (::, ::1, IPv4-mapped ::ffff:0:0/96 and translated
// ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, discard 100::/64,
// fc00::/7, fe80::/10, ff00::/8) and the special blocks inside it (2001::/23
// incl. Teredo, 2001:db8::/32, 2002::/16 6to4, AS112). Its v0.2.0 list lacks
// 3fff::/20 (documentation, RFC 9637), added here. Addresses are also
// unmapped before checking, so ::ffff:10.0.0.1 is judged as 10.0.0.1 and an
// allowed IPv4 prefix is not dodged by writing it in IPv6 form.
type policy struct {
	ports    []int
	guardian *ssrf.Guardian
}

func newPolicy(ports []int, allow []netip.Prefix) *policy {
	var allow4, allow6 []netip.Prefix
	for _, p := range allow {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		if p.Addr().Is4() {
			allow4 = append(allow4, p)
		} else {
			allow6 = append(allow6, p)
		}
	}
	opts := []ssrf.Option{
		ssrf.WithAllowedV4Prefixes(allow4...),
		ssrf.WithAllowedV6Prefixes(allow6...),
		ssrf.WithDeniedV6Prefixes(netip.MustParsePrefix("3fff::/20")),
	}
	var valid []int
	var ports16 []uint16
	for _, p := range ports {
		if p > 0 && p <= 65535 && !slices.Contains(valid, p) {
			valid = append(valid, p)
			ports16 = append(ports16, uint16(p))
		}
	}
	// ssrf treats an empty port list as "any port"; ours means "no port",
	// which checkPort enforces before the guardian runs.
	if len(ports16) > 0 {
		opts = append(opts, ssrf.WithPorts(ports16...))
	}
	return &policy{ports: valid, guardian: ssrf.New(opts...)}
}

func blocked(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBlocked, fmt.Sprintf(format, args...))
}

// checkURL rejects a URL whose scheme, userinfo, port or literal host is not
// allowed. Host names pass; their addresses are checked when dialing.
func (p *policy) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return blocked("scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return blocked("URL has userinfo")
	}
	host := u.Hostname()
	if u.Opaque != "" || host == "" {
		return blocked("URL has no host")
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if s := u.Port(); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return blocked("invalid port %q", s)
		}
		port = n
	}
	if err := p.checkPort(port); err != nil {
		return err
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return p.check(netip.AddrPortFrom(addr, uint16(port)))
	}
	// 0x7f000001, 2130706433, 0177.0.0.1 and 127.1 all mean 127.0.0.1 to
	// browsers and to getaddrinfo, but are a DNS name to Go's own resolver.
	// No real link is written this way, so refuse rather than guess which
	// reading the resolver in use will take.
	if endsInNumber(host) {
		if addr, ok := parseLegacyIPv4(host); ok {
			return blocked("non-canonical IPv4 address %q (%s)", host, addr)
		}
		return blocked("invalid IPv4 address %q", host)
	}
	return nil
}

func (p *policy) checkPort(port int) error {
	if !slices.Contains(p.ports, port) {
		return blocked("port %d is not allowed", port)
	}
	return nil
}

// check rejects an address and port the fetcher must not connect to.
func (p *policy) check(ap netip.AddrPort) error {
	if err := p.checkPort(int(ap.Port())); err != nil {
		return err
	}
	addr := ap.Addr().Unmap()
	network := "tcp6"
	if addr.Is4() {
		network = "tcp4"
	}
	if err := p.guardian.Safe(network, netip.AddrPortFrom(addr, ap.Port()).String(), nil); err != nil {
		return fmt.Errorf("%w: %w", ErrBlocked, err)
	}
	return nil
}

// control is the net.Dialer Control function: it runs after the socket is
// created and before it connects, with the literal address being dialed.
func (p *policy) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return blocked("network %q is not allowed", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return blocked("unparsable address %q", address)
	}
	return p.check(ap)
}

// endsInNumber is the URL standard's test for a host that must be read as
// an IPv4 address: its last label (ignoring one trailing dot) is a number.
func endsInNumber(host string) bool {
	labels := strings.Split(host, ".")
	if labels[len(labels)-1] == "" {
		if len(labels) == 1 {
			return false
		}
		labels = labels[:len(labels)-1]
	}
	last := labels[len(labels)-1]
	if last != "" && strings.Trim(last, "0123456789") == "" {
		return true
	}
	_, ok := parseIPv4Number(last)
	return ok
}

// parseLegacyIPv4 is the URL standard's IPv4 parser: one to four parts,
// each decimal, octal (leading 0) or hex (0x), the last filling the
// remaining bytes.
func parseLegacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if parts[len(parts)-1] == "" && len(parts) > 1 {
		parts = parts[:len(parts)-1]
	}
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	nums := make([]uint64, len(parts))
	for i, s := range parts {
		n, ok := parseIPv4Number(s)
		if !ok {
			return netip.Addr{}, false
		}
		nums[i] = n
	}
	var v uint64
	for i, n := range nums[:len(nums)-1] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	last := nums[len(nums)-1]
	if last >= 1<<(8*(5-len(nums))) {
		return netip.Addr{}, false
	}
	v |= last
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

func parseIPv4Number(s string) (uint64, bool) {
	if s == "" {
		return 0, false
	}
	base := 10
	switch {
	case len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, s = 16, s[2:]
	case len(s) >= 2 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" {
		return 0, true
	}
	if strings.ContainsAny(s, "+-_") {
		return 0, false
	}
	n, err := strconv.ParseUint(s, base, 64)
	return n, err == nil
}
