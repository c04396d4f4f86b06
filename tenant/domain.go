package tenant

import (
	"embed"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// The email-domain policy: which domains may create or join a company
// instance. Instances own exact, normalised domains (IDNA ASCII, lower case,
// no trailing dot), so everything that stores or compares a domain goes
// through NormalizeDomain first, and everything that lets a domain in goes
// through a DomainPolicy.

// domainLists holds freemail.txt and disposable.txt; domainlists/README.md
// says where they come from and how to refresh them.
//
//go:embed domainlists/*.txt
var domainLists embed.FS

// DomainError says why an email domain may not create or join an instance.
type DomainError struct {
	// Domain is the normalised domain, or the input as given (trimmed)
	// when it could not be normalised.
	Domain string
	Reason DomainReason
}

func (e *DomainError) Error() string {
	return fmt.Sprintf("email domain %q not allowed: %s", e.Domain, e.Reason)
}

// DomainReason is a stable, machine-readable cause of a DomainError.
type DomainReason string

const (
	// ReasonMalformed: not a syntactically valid domain or address.
	ReasonMalformed DomainReason = "malformed"
	// ReasonIPLiteral: an address literal ([127.0.0.1], [IPv6:::1]), a bare
	// IPv4 or IPv6 address, or a name whose last label is a number (127.1,
	// 0x7f.1), which resolvers read as an IPv4 address.
	ReasonIPLiteral DomainReason = "ip_literal"
	// ReasonPublicSuffix: the domain itself is a public suffix (com, co.uk,
	// github.io), ICANN and private sections alike, or a single label
	// (localhost).
	ReasonPublicSuffix DomainReason = "public_suffix"
	// ReasonFreemail: a free email provider, or an operator-blocked domain.
	ReasonFreemail DomainReason = "freemail"
	// ReasonDisposable: a disposable (throw-away) email provider.
	ReasonDisposable DomainReason = "disposable"
	// ReasonMixedScript: a label mixes scripts (Latin and Cyrillic, say),
	// the mark of a homograph lookalike.
	ReasonMixedScript DomainReason = "mixed_script"
)

// ErrMalformedEmail is returned by ParseEmail for anything that is not a
// bare address: a display name, a comment, not exactly one @, an empty or
// quoted local part, a local part over 64 octets, a whole address over 254
// octets, or a malformed domain.
var ErrMalformedEmail = errors.New("malformed email address")

const (
	maxEmailLen  = 254 // RFC 5321 forward-path (256) minus the angle brackets
	maxLocalLen  = 64  // RFC 5321 section 4.5.3.1.1
	maxDomainLen = 253 // RFC 1035 without the trailing dot
	maxLabelLen  = 63
)

// domainProfile is idna.Lookup made explicit: UTS #46 non-transitional
// mapping (case folding, full-width forms, ideographic full stops), STD3
// ASCII rules, hyphen and joiner checks, the Bidi rule. DNS lengths are
// checked after the trailing dot is cut, by validASCII.
var domainProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
)

// NormalizeDomain returns the canonical form of domain s: IDNA ASCII, lower
// case, without the trailing dot; surrounding white space is ignored. It
// never reduces s to its registrable part (x.onmicrosoft.com stays
// x.onmicrosoft.com). It returns a *DomainError with ReasonMalformed,
// ReasonIPLiteral or ReasonMixedScript for input that cannot be a company's
// domain; it does not consult the public suffix list or the provider
// lists (DomainPolicy does). The result is a fixed point:
// NormalizeDomain(d) returns d for every d it returns.
func NormalizeDomain(s string) (string, error) {
	d, err := canonicalDomain(s)
	if err != nil {
		return "", err
	}
	switch mixed, err := mixedScript(d); {
	case err != nil:
		return "", &DomainError{Domain: d, Reason: ReasonMalformed}
	case mixed:
		return "", &DomainError{Domain: d, Reason: ReasonMixedScript}
	}
	return d, nil
}

// canonicalDomain is NormalizeDomain without the script check.
func canonicalDomain(s string) (string, error) {
	s = strings.TrimSpace(s)
	if ipLiteral(s) {
		return "", &DomainError{Domain: s, Reason: ReasonIPLiteral}
	}
	// 4× the DNS limit leaves room for UTF-8 and mapped forms and keeps
	// the IDNA work bounded.
	if s == "" || len(s) > 4*maxDomainLen {
		return "", &DomainError{Domain: s, Reason: ReasonMalformed}
	}
	d, err := domainProfile.ToASCII(s)
	if err != nil {
		return "", &DomainError{Domain: s, Reason: ReasonMalformed}
	}
	// Cut the root label after mapping, so that "example.com。" is
	// "example.com" as well.
	d = strings.TrimSuffix(d, ".")
	if endsInNumber(d) {
		return "", &DomainError{Domain: s, Reason: ReasonIPLiteral}
	}
	if !validASCII(d) {
		return "", &DomainError{Domain: s, Reason: ReasonMalformed}
	}
	return d, nil
}

// ipLiteral reports whether s is an address literal ([192.0.2.1],
// [IPv6:2001:db8::1]) or a bare IP address.
func ipLiteral(s string) bool {
	if t, ok := strings.CutPrefix(s, "["); ok {
		if s, ok = strings.CutSuffix(t, "]"); !ok {
			return false
		}
	}
	if len(s) >= 5 && strings.EqualFold(s[:5], "IPv6:") {
		s = s[5:]
	}
	_, err := netip.ParseAddr(strings.TrimSuffix(s, "."))
	return err == nil
}

// endsInNumber reports whether the last label of the ASCII domain d is a
// decimal or 0x-hexadecimal number: browsers and inet_aton read such a
// name (127.1, 0x7f.0.0.1) as an IPv4 address. This is the WHATWG URL
// standard's "ends in a number" rule.
func endsInNumber(d string) bool {
	last := d[strings.LastIndexByte(d, '.')+1:]
	if h, ok := strings.CutPrefix(last, "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return last != "" && strings.Trim(last, "0123456789") == ""
}

// validASCII reports whether d is a lower-case LDH domain name within the
// DNS length limits. The IDNA profile already enforces most of this; the
// check keeps the invariant independent of its options.
func validASCII(d string) bool {
	if d == "" || len(d) > maxDomainLen {
		return false
	}
	for l := range strings.SplitSeq(d, ".") {
		if l == "" || len(l) > maxLabelLen || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// cjkScripts are the script sets a single label may combine, as in the
// "Highly Restrictive" level of UTS #39: Latin with Japanese, Korean or
// Chinese with Bopomofo.
var cjkScripts = []map[string]bool{
	{"Latin": true, "Han": true, "Hiragana": true, "Katakana": true},
	{"Latin": true, "Han": true, "Hangul": true},
	{"Latin": true, "Han": true, "Bopomofo": true},
}

// mixedScript reports whether a label of the ASCII domain d, decoded to
// Unicode, mixes scripts other than the CJK combinations. Common
// (digits, hyphen) and Inherited (most combining marks) count for no
// script; script-specific marks count for their script. A label written
// wholly in one foreign script ("асме" in Cyrillic) is not caught here.
func mixedScript(d string) (bool, error) {
	for l := range strings.SplitSeq(d, ".") {
		if !strings.HasPrefix(l, "xn--") {
			continue // LDH: Latin letters at most
		}
		u, err := domainProfile.ToUnicode(l)
		if err != nil {
			return false, err
		}
		seen := map[string]bool{}
		for _, r := range u {
			if s := scriptOf(r); s != "" {
				seen[s] = true
			}
		}
		if len(seen) > 1 && !subsetOfAny(seen, cjkScripts) {
			return true, nil
		}
	}
	return false, nil
}

// scriptOf returns the Unicode script of r, or "" for Common and
// Inherited.
func scriptOf(r rune) string {
	if r <= unicode.MaxASCII {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	for name, t := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && unicode.Is(t, r) {
			return name
		}
	}
	return ""
}

// subsetOfAny reports whether set is a subset of one of sets.
func subsetOfAny(set map[string]bool, sets []map[string]bool) bool {
	for _, s := range sets {
		sub := true
		for k := range set {
			sub = sub && s[k]
		}
		if sub {
			return true
		}
	}
	return false
}

// DomainPolicy decides which domains may create or join a company
// instance. It is immutable once built and safe for concurrent use.
type DomainPolicy struct {
	freemail   map[string]struct{}
	disposable map[string]struct{}
}

// NewDomainPolicy loads the embedded freemail and disposable lists.
// extraBlocked adds operator-chosen domains, normalised and treated as
// freemail (so their subdomains are refused too). It fails when an extra
// domain is not a valid domain or is a public suffix (which is refused
// already, and which blocks nothing below it), or when an embedded list is
// corrupt.
func NewDomainPolicy(extraBlocked ...string) (*DomainPolicy, error) {
	free, err := loadDomainList("domainlists/freemail.txt")
	if err != nil {
		return nil, err
	}
	disp, err := loadDomainList("domainlists/disposable.txt")
	if err != nil {
		return nil, err
	}
	for _, s := range extraBlocked {
		d, err := NormalizeDomain(s)
		if err != nil {
			return nil, fmt.Errorf("blocked domain %q: %w", s, err)
		}
		if isPublicSuffix(d) {
			return nil, fmt.Errorf("blocked domain %q is a public suffix: these are refused already, list the domains below it instead", s)
		}
		free[d] = struct{}{}
	}
	return &DomainPolicy{freemail: free, disposable: disp}, nil
}

// loadDomainList reads one embedded list: a domain a line, # comments and
// blank lines ignored, entries stored in canonical form.
func loadDomainList(name string) (map[string]struct{}, error) {
	b, err := domainLists.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("domain list: %w", err)
	}
	set := make(map[string]struct{}, strings.Count(string(b), "\n"))
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		// No script check: a mixed-script entry is refused before the
		// lists are consulted anyway.
		d, err := canonicalDomain(l)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, i+1, err)
		}
		set[d] = struct{}{}
	}
	return set, nil
}

// ParseEmail checks the bare address s (surrounding white space ignored)
// and returns it normalised, local part lower-cased and domain as
// NormalizeDomain returns it, together with that domain. Plus tags and dots
// in the local part are kept: providers differ in what they ignore.
//
// Only a dot-atom local part in ASCII is accepted: quoted local parts
// ("a b"@x) and internationalised ones are refused as malformed, since
// they have no canonical case folding and company addresses do not need
// them. Errors, in order of the checks: ErrMalformedEmail (for a malformed
// domain the error also matches *DomainError with ReasonMalformed), then a
// *DomainError with ReasonIPLiteral, ReasonMixedScript,
// ReasonPublicSuffix, ReasonFreemail or ReasonDisposable.
func (p *DomainPolicy) ParseEmail(s string) (addr, domain string, err error) {
	s = strings.TrimSpace(s)
	local, host, ok := strings.Cut(s, "@")
	if !ok || len(s) > maxEmailLen || strings.Contains(host, "@") || host == "" ||
		len(local) > maxLocalLen || !dotAtom(local) {
		return "", "", ErrMalformedEmail
	}
	d, err := NormalizeDomain(host)
	if err != nil {
		if de := (*DomainError)(nil); errors.As(err, &de) && de.Reason == ReasonMalformed {
			return "", "", fmt.Errorf("%w: %w", ErrMalformedEmail, err)
		}
		return "", "", err
	}
	addr = strings.ToLower(local) + "@" + d
	if len(addr) > maxEmailLen { // punycode can be longer than UTF-8
		return "", "", ErrMalformedEmail
	}
	if err := p.check(d); err != nil {
		return "", "", err
	}
	return addr, d, nil
}

// dotAtom reports whether s is an RFC 5322 dot-atom in ASCII: atext runs
// separated by single dots.
func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// CheckDomain applies ParseEmail's domain rules to the bare domain s, as
// when an admin adds a domain to an instance, and returns it normalised.
// Errors are *DomainError, in ParseEmail's order.
func (p *DomainPolicy) CheckDomain(s string) (string, error) {
	d, err := NormalizeDomain(s)
	if err != nil {
		return "", err
	}
	if err := p.check(d); err != nil {
		return "", err
	}
	return d, nil
}

// check applies the public suffix list and the provider lists to the
// normalised domain d. A list entry covers its subdomains, so d is looked
// up with each parent down to the registrable domain.
func (p *DomainPolicy) check(d string) error {
	suffix, _ := publicsuffix.PublicSuffix(d)
	if suffix == d {
		return &DomainError{Domain: d, Reason: ReasonPublicSuffix}
	}
	for _, l := range []struct {
		set    map[string]struct{}
		reason DomainReason
	}{
		{p.freemail, ReasonFreemail},
		{p.disposable, ReasonDisposable},
	} {
		for x := d; x != suffix; {
			if _, ok := l.set[x]; ok {
				return &DomainError{Domain: d, Reason: l.reason}
			}
			i := strings.IndexByte(x, '.')
			if i < 0 {
				break
			}
			x = x[i+1:]
		}
	}
	return nil
}

// isPublicSuffix reports whether the normalised domain d is a public
// suffix, single labels included.
func isPublicSuffix(d string) bool {
	s, _ := publicsuffix.PublicSuffix(d)
	return s == d
}
