package tenant

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/idna"
)

// newDomainPolicy returns the policy with the embedded lists only.
func newDomainPolicy(t testing.TB) *DomainPolicy {
	t.Helper()
	p, err := NewDomainPolicy()
	if err != nil {
		t.Fatalf("NewDomainPolicy() = %v", err)
	}
	return p
}

// reasonOf returns the reason of the *DomainError in err's chain, or "".
func reasonOf(err error) DomainReason {
	var de *DomainError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}

func TestNormalizeDomain(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		reason DomainReason
	}{
		{in: "acme.example", want: "acme.example"},
		{in: "Acme.Example.", want: "acme.example"},
		{in: "  acme.example\t", want: "acme.example"},
		{in: "GMAIL.COM.", want: "gmail.com"},
		{in: "ＧＭＡＩＬ．ｃｏｍ", want: "gmail.com"},  // full-width forms
		{in: "gmail.com。", want: "gmail.com"}, // ideographic full stop as root
		{in: "x.onmicrosoft.com", want: "x.onmicrosoft.com"},
		{in: "a.b.c.acme.co.uk", want: "a.b.c.acme.co.uk"},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "BÜCHER.example", want: "xn--bcher-kva.example"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{in: "XN--BCHER-KVA.EXAMPLE", want: "xn--bcher-kva.example"},
		{in: "faß.de", want: "xn--fa-hia.de"},                           // non-transitional
		{in: "e\u0301.example", want: "xn--9ca.example"},                // NFC
		{in: "日本語abc.jp", want: "xn--abc-s08fl0dtz6h.jp"},               // Han + Latin
		{in: "ひらがなカタカナ漢字.jp", want: "xn--v8j0cwa6gzha3lrdr510cymwb.jp"}, // Japanese
		{in: "한국어漢字.kr", want: "xn--p8s937b4q9bkkuslr.kr"},              // Korean
		{in: "αβγ.gr", want: "xn--mxacd.gr"},
		{in: "com", want: "com"}, // the lists and the suffixes are the policy's business
		{in: "localhost", want: "localhost"},

		{in: "", reason: ReasonMalformed},
		{in: " ", reason: ReasonMalformed},
		{in: ".", reason: ReasonMalformed},
		{in: "a..b", reason: ReasonMalformed},
		{in: ".acme.example", reason: ReasonMalformed},
		{in: "acme.example..", reason: ReasonMalformed},
		{in: "-acme.example", reason: ReasonMalformed},
		{in: "acme-.example", reason: ReasonMalformed},
		{in: "ab--cd.example", reason: ReasonMalformed},
		{in: "xn--zz.example", reason: ReasonMalformed},
		{in: "a_b.example", reason: ReasonMalformed},
		{in: "a b.example", reason: ReasonMalformed},
		{in: "a@b.example", reason: ReasonMalformed},
		{in: "a\u200db.example", reason: ReasonMalformed}, // ZWJ out of context
		{in: strings.Repeat("a", 64) + ".example", reason: ReasonMalformed},
		{in: strings.Repeat("a.", 127) + "example", reason: ReasonMalformed},
		{in: "[acme.example]", reason: ReasonMalformed},

		{in: "127.0.0.1", reason: ReasonIPLiteral},
		{in: "127.0.0.1.", reason: ReasonIPLiteral},
		{in: "[127.0.0.1]", reason: ReasonIPLiteral},
		{in: "[IPv6:::1]", reason: ReasonIPLiteral},
		{in: "[ipv6:2001:db8::1]", reason: ReasonIPLiteral},
		{in: "::1", reason: ReasonIPLiteral},
		{in: "2001:db8::1", reason: ReasonIPLiteral},
		{in: "127.1", reason: ReasonIPLiteral},
		{in: "0x7f.0.0.1", reason: ReasonIPLiteral},
		{in: "１２７.０.０.１", reason: ReasonIPLiteral},

		{in: "аcme.example", reason: ReasonMixedScript},        // Cyrillic а
		{in: "xn--cme-5cd.example", reason: ReasonMixedScript}, // the same, as punycode
		{in: "αbc.gr", reason: ReasonMixedScript},              // Greek α
		{in: "한국ひら.kr", reason: ReasonMixedScript},             // Hangul + Hiragana
		{in: "ab\u0915\u093e.example", reason: ReasonMixedScript},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeDomain(tt.in)
			if got != tt.want || reasonOf(err) != tt.reason {
				t.Errorf("NormalizeDomain(%q) = %q, %v; want %q, reason %q", tt.in, got, err, tt.want, tt.reason)
			}
			if err != nil && reasonOf(err) == "" {
				t.Errorf("NormalizeDomain(%q) error %v is not a *DomainError", tt.in, err)
			}
		})
	}
}

func TestParseEmail(t *testing.T) {
	p := newDomainPolicy(t)
	tests := []struct {
		in        string
		addr      string
		domain    string
		malformed bool // errors.Is(err, ErrMalformedEmail)
		reason    DomainReason
	}{
		{in: "alice@acme.example", addr: "alice@acme.example", domain: "acme.example"},
		{in: "Alice@Acme.Example.", addr: "alice@acme.example", domain: "acme.example"},
		{in: "  ALICE.Smith+News@ACME.example \n", addr: "alice.smith+news@acme.example", domain: "acme.example"},
		{in: "it@x.onmicrosoft.com", addr: "it@x.onmicrosoft.com", domain: "x.onmicrosoft.com"},
		{in: "bob@sales.acme.co.uk", addr: "bob@sales.acme.co.uk", domain: "sales.acme.co.uk"},
		{in: "Jörg@bücher.example", malformed: true}, // no internationalised local parts
		{in: "joerg@bücher.example", addr: "joerg@xn--bcher-kva.example", domain: "xn--bcher-kva.example"},
		{in: "o'brien!#$%&*/=?^_`{|}~-@acme.example", addr: "o'brien!#$%&*/=?^_`{|}~-@acme.example", domain: "acme.example"},
		{in: strings.Repeat("a", 64) + "@acme.example", addr: strings.Repeat("a", 64) + "@acme.example", domain: "acme.example"},

		{in: "", malformed: true},
		{in: "alice", malformed: true},
		{in: "Alice <alice@acme.example>", malformed: true},
		{in: "<alice@acme.example>", malformed: true},
		{in: "alice@acme.example (Alice)", malformed: true, reason: ReasonMalformed},
		{in: "(Alice) alice@acme.example", malformed: true},
		{in: `"alice smith"@acme.example`, malformed: true},
		{in: `"alice"@acme.example`, malformed: true}, // quoted local parts are refused
		{in: "a@@b", malformed: true},
		{in: "a@b@acme.example", malformed: true},
		{in: "@acme.example", malformed: true},
		{in: "alice@", malformed: true},
		{in: ".alice@acme.example", malformed: true},
		{in: "alice.@acme.example", malformed: true},
		{in: "al..ice@acme.example", malformed: true},
		{in: "al ice@acme.example", malformed: true},
		{in: "alice@acme .example", malformed: true, reason: ReasonMalformed},
		{in: "alice@-acme.example", malformed: true, reason: ReasonMalformed},
		{in: "alice@acme..example", malformed: true, reason: ReasonMalformed},
		{in: strings.Repeat("a", 65) + "@acme.example", malformed: true},
		{in: strings.Repeat("a", 287) + "@acme.example", malformed: true},                            // 300 octets
		{in: strings.Repeat("a", 64) + "@" + strings.Repeat("b.", 118) + "example", malformed: true}, // 308 octets
		{in: strings.Repeat("a", 64) + "@" + strings.Repeat("㍿.", 12) + "example", malformed: true},  // 120 octets, 288 in punycode

		{in: "x@[127.0.0.1]", reason: ReasonIPLiteral},
		{in: "x@127.0.0.1", reason: ReasonIPLiteral},
		{in: "x@[IPv6:::1]", reason: ReasonIPLiteral},
		{in: "x@аcme.example", reason: ReasonMixedScript},
		{in: "x@co.uk", reason: ReasonPublicSuffix},
		{in: "x@com", reason: ReasonPublicSuffix},
		{in: "x@github.io", reason: ReasonPublicSuffix},
		{in: "root@localhost", reason: ReasonPublicSuffix},
		{in: "x@gmail.com", reason: ReasonFreemail},
		{in: "X@GMAIL.COM.", reason: ReasonFreemail},
		{in: "x@googlemail.com", reason: ReasonFreemail},
		{in: "x@outlook.com", reason: ReasonFreemail},
		{in: "x@yahoo.co.uk", reason: ReasonFreemail},
		{in: "x@mailinator.com", reason: ReasonDisposable},
		{in: "x@sub.mailinator.com", reason: ReasonDisposable},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			addr, domain, err := p.ParseEmail(tt.in)
			if addr != tt.addr || domain != tt.domain {
				t.Errorf("ParseEmail(%q) = %q, %q, %v; want %q, %q", tt.in, addr, domain, err, tt.addr, tt.domain)
			}
			if got := errors.Is(err, ErrMalformedEmail); got != tt.malformed {
				t.Errorf("ParseEmail(%q) error %v: errors.Is(ErrMalformedEmail) = %v, want %v", tt.in, err, got, tt.malformed)
			}
			if got := reasonOf(err); got != tt.reason {
				t.Errorf("ParseEmail(%q) error %v: reason %q, want %q", tt.in, err, got, tt.reason)
			}
		})
	}
}

func TestCheckDomain(t *testing.T) {
	p := newDomainPolicy(t)
	tests := []struct {
		in     string
		want   string
		reason DomainReason
	}{
		{in: "acme.example", want: "acme.example"},
		{in: "Acme.Example.", want: "acme.example"},
		{in: "x.onmicrosoft.com", want: "x.onmicrosoft.com"}, // never onmicrosoft.com
		{in: "acme.co.uk", want: "acme.co.uk"},
		{in: "mail.acme.example", want: "mail.acme.example"},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "docs.google.com.example", want: "docs.google.com.example"},

		{in: "", reason: ReasonMalformed},
		{in: "[127.0.0.1]", reason: ReasonIPLiteral},
		{in: "аcme.example", reason: ReasonMixedScript},
		{in: "com", reason: ReasonPublicSuffix},
		{in: "co.uk", reason: ReasonPublicSuffix},
		{in: "github.io", reason: ReasonPublicSuffix}, // private section
		{in: "localhost", reason: ReasonPublicSuffix},
		{in: "example", reason: ReasonPublicSuffix},
		{in: "gmail.com", reason: ReasonFreemail},
		{in: "GMAIL.COM.", reason: ReasonFreemail},
		{in: "googlemail.com", reason: ReasonFreemail},
		{in: "outlook.com", reason: ReasonFreemail},
		{in: "yahoo.co.uk", reason: ReasonFreemail},
		{in: "eu.gmail.com", reason: ReasonFreemail},
		{in: "mailinator.com", reason: ReasonDisposable},
		{in: "sub.mailinator.com", reason: ReasonDisposable},
		{in: "a.b.mailinator.com", reason: ReasonDisposable},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := p.CheckDomain(tt.in)
			if got != tt.want || reasonOf(err) != tt.reason {
				t.Errorf("CheckDomain(%q) = %q, %v; want %q, reason %q", tt.in, got, err, tt.want, tt.reason)
			}
			if errors.Is(err, ErrMalformedEmail) {
				t.Errorf("CheckDomain(%q) error %v matches ErrMalformedEmail: it is not an address", tt.in, err)
			}
		})
	}
}

func TestDomainErrorNamesNormalisedDomain(t *testing.T) {
	_, _, err := newDomainPolicy(t).ParseEmail("x@Sub.Mailinator.COM.")
	var got *DomainError
	if !errors.As(err, &got) {
		t.Fatalf("ParseEmail error %v is not a *DomainError", err)
	}
	want := &DomainError{Domain: "sub.mailinator.com", Reason: ReasonDisposable}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DomainError mismatch (-want +got):\n%s", diff)
	}
	if msg := got.Error(); !strings.Contains(msg, "sub.mailinator.com") || !strings.Contains(msg, "disposable") {
		t.Errorf("Error() = %q, want the domain and the reason", msg)
	}
}

func TestNewDomainPolicyExtraBlocked(t *testing.T) {
	p, err := NewDomainPolicy("Partner.Example.", "bücher.example")
	if err != nil {
		t.Fatalf("NewDomainPolicy() = %v", err)
	}
	tests := []struct {
		in     string
		reason DomainReason
	}{
		{in: "partner.example", reason: ReasonFreemail},
		{in: "mail.partner.example", reason: ReasonFreemail},
		{in: "xn--bcher-kva.example", reason: ReasonFreemail},
		{in: "gmail.com", reason: ReasonFreemail}, // the embedded lists still apply
		{in: "otherpartner.example"},
		{in: "example.partner"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := p.CheckDomain(tt.in)
			if got := reasonOf(err); got != tt.reason {
				t.Errorf("CheckDomain(%q) = %v; want reason %q", tt.in, err, tt.reason)
			}
		})
	}

	for _, bad := range []string{"", "not a domain", "127.0.0.1", "аcme.example", "co.uk", "com", "github.io"} {
		t.Run("refuses "+bad, func(t *testing.T) {
			if _, err := NewDomainPolicy(bad); err == nil {
				t.Errorf("NewDomainPolicy(%q) = nil error, want one", bad)
			}
		})
	}
}

// TestDomainLists checks the embedded lists as update.sh must leave them:
// a header naming source, upstream and license, then canonical domains,
// sorted, unique, on one list only.
func TestDomainLists(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"freemail.txt", "disposable.txt"} {
		t.Run(name, func(t *testing.T) {
			b, err := domainLists.ReadFile("domainlists/" + name)
			if err != nil {
				t.Fatal(err)
			}
			var header []string
			prev := ""
			n := 0
			for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				if strings.HasPrefix(l, "#") {
					if n > 0 {
						t.Errorf("%s:%d: comment after the first domain", name, i+1)
					}
					header = append(header, l)
					continue
				}
				n++
				if got, err := canonicalDomain(l); got != l {
					t.Errorf("%s:%d: %q is not canonical: %q, %v", name, i+1, l, got, err)
				}
				if l <= prev {
					t.Errorf("%s:%d: %q after %q: not sorted or duplicate", name, i+1, l, prev)
				}
				prev = l
				if other, ok := seen[l]; ok {
					t.Errorf("%s:%d: %q is in %s too", name, i+1, l, other)
				}
				seen[l] = name
			}
			h := strings.Join(header, "\n")
			for _, want := range []string{"# Source: npm ", "@", "# Upstream: https://github.com/", "# License: "} {
				if !strings.Contains(h, want) {
					t.Errorf("%s header lacks %q:\n%s", name, want, h)
				}
			}
			if n < 1000 {
				t.Errorf("%s has %d domains: a refresh went wrong", name, n)
			}
		})
	}
}

// TestDomainListsAllowCompanies guards against list entries that would
// lock companies out, such as a shared hosting parent.
func TestDomainListsAllowCompanies(t *testing.T) {
	p := newDomainPolicy(t)
	for _, d := range []string{
		"acme.example", "example.com", "example.org", "example.net",
		"x.onmicrosoft.com", "x.sharepoint.com", "acme.co.uk", "acme.com.au",
		"microsoft.com", "google.com", "apple.com", "amazon.com", "github.com",
		"ibm.com", "sap.com", "orange.com", "telekom.de", "tencent.com", "mit.edu", "ox.ac.uk",
	} {
		t.Run(d, func(t *testing.T) {
			if got, err := p.CheckDomain(d); got != d || err != nil {
				t.Errorf("CheckDomain(%q) = %q, %v; want it allowed", d, got, err)
			}
		})
	}
}

var domainSeeds = []string{
	"acme.example", "Acme.Example.", "GMAIL.COM.", "ＧＭＡＩＬ．ｃｏｍ", "gmail.com。",
	"bücher.example", "xn--bcher-kva.example", "аcme.example", "xn--cme-5cd.example",
	"日本語abc.jp", "한국ひら.kr", "faß.de", "e\u0301.example", "a\u200db.example",
	"x.onmicrosoft.com", "sub.mailinator.com", "co.uk", "github.io", "localhost",
	"[127.0.0.1]", "[IPv6:::1]", "127.1", "0x7f.0.0.1", "::1", "a..b", "-a.example",
	"", ".", "xn--", "xn--zz.example", "ex\u00adample.com", strings.Repeat("a.", 130),
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range domainSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeDomain(s)
		if err != nil {
			switch r := reasonOf(err); r {
			case ReasonMalformed, ReasonIPLiteral, ReasonMixedScript:
			default:
				t.Fatalf("NormalizeDomain(%q) error %v has reason %q", s, err, r)
			}
			if got != "" {
				t.Fatalf("NormalizeDomain(%q) = %q with error %v", s, got, err)
			}
			return
		}
		checkNormalDomain(t, got)
		if again, err := NormalizeDomain(got); again != got || err != nil {
			t.Fatalf("NormalizeDomain(%q) = %q, but NormalizeDomain(%q) = %q, %v", s, got, got, again, err)
		}
		// The Unicode form names the same domain.
		if u, err := idna.Lookup.ToUnicode(got); err == nil {
			if again, err := NormalizeDomain(u); again != got || err != nil {
				t.Fatalf("NormalizeDomain(%q) = %q, but its Unicode form %q gives %q, %v", s, got, u, again, err)
			}
		}
	})
}

func FuzzParseEmail(f *testing.F) {
	for _, s := range domainSeeds {
		f.Add("alice@" + s)
	}
	for _, s := range []string{
		"Alice@Acme.Example.", "Alice <alice@acme.example>", "a@@b", "@acme.example", "alice@",
		`"a b"@acme.example`, "a.b+tag@acme.example", "a..b@acme.example", "x@[IPv6:::1]",
		" bob@acme.example ", strings.Repeat("a", 300) + "@acme.example",
	} {
		f.Add(s)
	}
	p := newDomainPolicy(f)
	f.Fuzz(func(t *testing.T, s string) {
		addr, domain, err := p.ParseEmail(s)
		if err != nil {
			if !errors.Is(err, ErrMalformedEmail) && reasonOf(err) == "" {
				t.Fatalf("ParseEmail(%q) error %v is neither ErrMalformedEmail nor a *DomainError", s, err)
			}
			if addr != "" || domain != "" {
				t.Fatalf("ParseEmail(%q) = %q, %q with error %v", s, addr, domain, err)
			}
			return
		}
		checkNormalDomain(t, domain)
		local, ok := strings.CutSuffix(addr, "@"+domain)
		if !ok || local == "" || len(local) > 64 || len(addr) > 254 || strings.ToLower(addr) != addr {
			t.Fatalf("ParseEmail(%q) = %q, %q: not a normal address", s, addr, domain)
		}
		if again, d, err := p.ParseEmail(addr); again != addr || d != domain || err != nil {
			t.Fatalf("ParseEmail(%q) = %q, but ParseEmail(%q) = %q, %q, %v", s, addr, addr, again, d, err)
		}
		if d, err := p.CheckDomain(domain); d != domain || err != nil {
			t.Fatalf("ParseEmail(%q) accepted %q, but CheckDomain(%q) = %q, %v", s, domain, domain, d, err)
		}
		// The result is a plain RFC 5322 addr-spec.
		if m, err := mail.ParseAddress(addr); err != nil || m.Name != "" || m.Address != addr {
			t.Fatalf("ParseEmail(%q) = %q, but mail.ParseAddress gives %+v, %v", s, addr, m, err)
		}
	})
}

// checkNormalDomain fails t unless d is in the form NormalizeDomain
// returns: ASCII, lower case LDH labels, no trailing dot, within DNS limits.
func checkNormalDomain(t *testing.T, d string) {
	t.Helper()
	if d == "" || len(d) > 253 || strings.HasSuffix(d, ".") || strings.ToLower(d) != d || !utf8.ValidString(d) {
		t.Fatalf("%q is not a normal domain", d)
	}
	for i := 0; i < len(d); i++ {
		if d[i] >= utf8.RuneSelf {
			t.Fatalf("%q is not ASCII", d)
		}
	}
	for l := range strings.SplitSeq(d, ".") {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Fatalf("%q has a bad label %q", d, l)
		}
	}
}
