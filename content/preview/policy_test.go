package preview

import (
	"errors"
	"net/netip"
	"net/url"
	"testing"
)

func TestPolicyControl(t *testing.T) {
	p := newPolicy([]int{80, 443}, nil)
	tests := []struct {
		network, address string
		allowed          bool
	}{
		{"tcp4", "93.184.215.14:80", true},
		{"tcp4", "8.8.8.8:443", true},
		{"tcp6", "[2606:4700::6810:84e5]:443", true},
		{"tcp4", "8.8.8.8:22", false},
		{"udp4", "8.8.8.8:443", false},
		{"tcp4", "127.0.0.1:80", false},
		{"tcp4", "127.255.255.254:80", false},
		{"tcp6", "[::1]:80", false},
		{"tcp4", "10.0.0.1:80", false},
		{"tcp4", "172.16.0.1:80", false},
		{"tcp4", "172.31.255.255:80", false},
		{"tcp4", "192.168.1.1:80", false},
		{"tcp6", "[fd00::1]:80", false},
		{"tcp6", "[fc00::1]:80", false},
		{"tcp4", "169.254.169.254:80", false},
		{"tcp6", "[fe80::1]:80", false},
		{"tcp6", "[fe80::1%25eth0]:80", false},
		{"tcp4", "100.64.0.1:80", false},
		{"tcp4", "100.127.255.255:80", false},
		{"tcp4", "224.0.0.1:80", false},
		{"tcp4", "239.255.255.250:80", false},
		{"tcp6", "[ff02::1]:80", false},
		{"tcp4", "0.0.0.0:80", false},
		{"tcp4", "0.1.2.3:80", false},
		{"tcp6", "[::]:80", false},
		{"tcp4", "255.255.255.255:80", false},
		{"tcp4", "240.0.0.1:80", false},
		{"tcp4", "192.0.0.8:80", false},
		{"tcp4", "192.0.2.1:80", false},
		{"tcp4", "198.51.100.1:80", false},
		{"tcp4", "203.0.113.1:80", false},
		{"tcp4", "198.18.0.1:80", false},
		{"tcp6", "[2001:db8::1]:80", false},
		{"tcp6", "[3fff::1]:80", false},             // documentation, RFC 9637: our addition
		{"tcp6", "[::ffff:127.0.0.1]:80", false},    // IPv4-mapped
		{"tcp6", "[::ffff:8.8.8.8]:80", true},       // mapped public is public
		{"tcp6", "[::ffff:0:a00:1]:80", false},      // IPv4-translated 10.0.0.1
		{"tcp6", "[::127.0.0.1]:80", false},         // IPv4-compatible
		{"tcp6", "[64:ff9b::a00:1]:80", false},      // NAT64 of 10.0.0.1
		{"tcp6", "[64:ff9b::7f00:1]:80", false},     // NAT64 of 127.0.0.1
		{"tcp6", "[64:ff9b:1::a00:1]:80", false},    // local-use NAT64
		{"tcp6", "[2002:a00:1::1]:80", false},       // 6to4 of 10.0.0.1
		{"tcp6", "[2001:0:4136:e378::1]:80", false}, // Teredo
		{"tcp6", "[100::1]:80", false},              // discard-only
		{"tcp6", "[fec0::1]:80", false},             // deprecated site-local
		{"tcp4", "not-an-address:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.network+" "+tt.address, func(t *testing.T) {
			address, _ := url.PathUnescape(tt.address) // %25 in names only
			err := p.control(tt.network, address, nil)
			if got := err == nil; got != tt.allowed {
				t.Fatalf("control(%q, %q) = %v, want allowed %v", tt.network, address, err, tt.allowed)
			}
			if err != nil && !errors.Is(err, ErrBlocked) {
				t.Errorf("control(%q, %q) = %v, want ErrBlocked", tt.network, address, err)
			}
		})
	}
}

func TestPolicyAllowPrefixes(t *testing.T) {
	p := newPolicy([]int{8080}, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	tests := []struct {
		address string
		allowed bool
	}{
		{"127.0.0.1:8080", true},
		{"[::ffff:127.0.0.1]:8080", true}, // the same address, so the same answer
		{"127.0.0.1:8081", false},         // prefixes never open ports
		{"127.0.0.2:8080", false},
		{"10.0.0.1:8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.address, func(t *testing.T) {
			err := p.check(netip.MustParseAddrPort(tt.address))
			if got := err == nil; got != tt.allowed {
				t.Errorf("check(%s) = %v, want allowed %v", tt.address, err, tt.allowed)
			}
		})
	}
}

func TestPolicyNoValidPorts(t *testing.T) {
	p := newPolicy([]int{0, -1, 70000}, nil)
	for _, port := range []int{80, 443, 8080} {
		if err := p.checkPort(port); !errors.Is(err, ErrBlocked) {
			t.Errorf("checkPort(%d) = %v, want ErrBlocked", port, err)
		}
	}
}

func TestPolicyCheckURL(t *testing.T) {
	p := newPolicy([]int{80, 443}, nil)
	tests := []struct {
		url     string
		allowed bool
	}{
		{"http://example.com/", true},
		{"https://example.com:443/a?b#c", true},
		{"http://8.8.8.8/", true},
		{"http://1e100.net/", true},
		{"HTTP://EXAMPLE.COM/", true},
		{"http://example.com:8080/", false},
		{"http://example.com:0/", false},
		{"http://example.com:99999/", false},
		{"http://user@example.com/", false},
		{"http://:@example.com/", false},
		{"http:opaque", false},
		{"http:///path", false},
		{"ws://example.com/", false},
		{"javascript:alert(1)", false},
		{"//example.com/", false},
		{"http://127.0.0.1/", false},
		{"http://0x7f000001/", false},
		{"http://2130706433/", false},
		{"http://0177.0.0.1/", false},
		{"http://127.1/", false},
		{"http://0x7f.1/", false},
		{"http://127.0.0.1./", false},
		{"http://8.8.8.8./", false},
		{"http://1.2.3.4.5/", false},
		{"http://example.0x1/", false},
		{"http://[::1]/", false},
		{"http://[fe80::1%25eth0]/", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := p.checkURL(mustURL(t, tt.url))
			if got := err == nil; got != tt.allowed {
				t.Fatalf("checkURL(%q) = %v, want allowed %v", tt.url, err, tt.allowed)
			}
			if err != nil && !errors.Is(err, ErrBlocked) {
				t.Errorf("checkURL(%q) = %v, want ErrBlocked", tt.url, err)
			}
		})
	}
}

func TestParseLegacyIPv4(t *testing.T) {
	tests := []struct {
		host string
		want string // "" for not an address
	}{
		{"0x7f000001", "127.0.0.1"},
		{"2130706433", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"10.1.2", "10.1.0.2"},
		{"0x7f.0.0.0x1", "127.0.0.1"},
		{"0", "0.0.0.0"},
		{"0x", "0.0.0.0"},
		{"127.0.0.1.", "127.0.0.1"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"256.0.0.1", ""},
		{"1.2.3.4.5", ""},
		{"1.2.3.256", ""},
		{"08", ""},
		{"0x1g", ""},
		{"+1", ""},
		{"example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			addr, ok := parseLegacyIPv4(tt.host)
			got := ""
			if ok {
				got = addr.String()
			}
			if got != tt.want {
				t.Errorf("parseLegacyIPv4(%q) = %q, want %q", tt.host, got, tt.want)
			}
		})
	}
}
