package preview

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Config says how a Fetcher fetches. Zero values take the defaults in
// brackets. It is read once, by New.
type Config struct {
	// Ports are the destination ports allowed [80, 443]. Invalid entries are
	// ignored; if none is valid, every fetch is blocked.
	Ports []int
	// Timeout bounds a whole fetch: every redirect, connect, TLS handshake
	// and the body read [5s].
	Timeout time.Duration
	// MaxBody is how many bytes of HTML are read [1 MiB]. A larger page is
	// read only up to it and parsed as far as it got; that is not an error.
	MaxBody int64
	// MaxRedirects is how many redirects are followed [5]; negative follows
	// none.
	MaxRedirects int
	// UserAgent is sent with every request
	// ["ChorusLinkPreview/1.0 (+https://github.com/chorushq/chorus)"].
	UserAgent string
	// AllowPrefixes are addresses exempt from the address policy, which lets
	// tests reach loopback test servers; empty in production. Ports still
	// apply. IPv4 prefixes are written in IPv4 form.
	AllowPrefixes []netip.Prefix
	// Resolver, when set, replaces DNS lookups (tests map names to
	// addresses) [net.DefaultResolver].
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// Defaults for the zero values of Config.
const (
	defaultTimeout      = 5 * time.Second
	defaultMaxBody      = 1 << 20
	defaultMaxRedirects = 5
	defaultUserAgent    = "ChorusLinkPreview/1.0 (+https://github.com/chorushq/chorus)"
)

// Fetcher fetches link previews through a client that reaches only the
// public internet (see ErrBlocked). It is safe for concurrent use.
type Fetcher struct {
	policy   *policy
	resolver interface {
		LookupNetIP(context.Context, string, string) ([]netip.Addr, error)
	}
	dialer       *net.Dialer
	client       *http.Client
	timeout      time.Duration
	maxBody      int64
	maxRedirects int
	userAgent    string
}

// New returns a Fetcher for cfg.
func New(cfg Config) *Fetcher {
	ports := cfg.Ports
	if len(ports) == 0 {
		ports = []int{80, 443}
	}
	f := &Fetcher{
		policy:       newPolicy(ports, cfg.AllowPrefixes),
		resolver:     cfg.Resolver,
		timeout:      cfg.Timeout,
		maxBody:      cfg.MaxBody,
		maxRedirects: cfg.MaxRedirects,
		userAgent:    cfg.UserAgent,
	}
	if f.resolver == nil {
		f.resolver = net.DefaultResolver
	}
	if f.timeout <= 0 {
		f.timeout = defaultTimeout
	}
	if f.maxBody <= 0 {
		f.maxBody = defaultMaxBody
	}
	switch {
	case f.maxRedirects == 0:
		f.maxRedirects = defaultMaxRedirects
	case f.maxRedirects < 0:
		f.maxRedirects = 0
	}
	if f.userAgent == "" {
		f.userAgent = defaultUserAgent
	}
	f.dialer = &net.Dialer{Timeout: f.timeout, Control: f.policy.control}
	f.client = &http.Client{
		Transport: &http.Transport{
			// No proxy, from the environment or elsewhere: the proxy would
			// make the connections, and the dialer check would guard only
			// the connection to the proxy.
			Proxy:       nil,
			DialContext: f.dialContext,
			// Previews are one-off fetches of many hosts; pooling would
			// only keep sockets open.
			DisableKeepAlives:      true,
			TLSHandshakeTimeout:    min(f.timeout, 5*time.Second),
			ResponseHeaderTimeout:  f.timeout,
			MaxResponseHeaderBytes: 64 << 10,
			ForceAttemptHTTP2:      true,
			// DisableCompression is false: the transport asks for gzip and
			// decompresses, and MaxBody counts decompressed bytes.
		},
		CheckRedirect: f.checkRedirect,
	}
	return f
}

// Client returns an HTTP client with the Fetcher's outbound guard — every
// address checked when dialed, every request and redirect held to the URL
// policy, no proxy — and its timeout per request, for other calls to servers that
// people name (a member's Mastodon server, for one).
func (f *Fetcher) Client() *http.Client {
	c := *f.client
	c.Timeout = f.timeout
	c.Transport = checkedURLs{policy: f.policy, next: c.Transport}
	return &c
}

// checkedURLs holds every request of a Client to the URL policy, the
// first as well as redirects: a port not allowed or a numeric host such as
// 2130706433 is refused (ErrBlocked) before any lookup or dial.
type checkedURLs struct {
	policy *policy
	next   http.RoundTripper
}

func (t checkedURLs) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := t.policy.checkURL(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%s: %w", req.URL.Redacted(), err)
	}
	return t.next.RoundTrip(req)
}

// Fetch GETs rawURL, following redirects, and parses the preview of the HTML
// page it lands on (see Parse; relative URLs resolve against the final URL).
//
// Errors: ErrBlocked, wrapped with the reason, if rawURL or any redirect
// goes where the policy forbids (checked before each request and again, at
// connect time, on every address dialed); ErrNotHTML if the page is not
// HTML; otherwise an error for an invalid URL, a DNS failure, a timeout
// (context.DeadlineExceeded), too many redirects, or an HTTP status other
// than 2xx. Errors name the URL without its password.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (Preview, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse's own error quotes rawURL, password and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Preview{}, fmt.Errorf("preview: invalid URL: %w", err)
	}
	p, err := f.fetch(ctx, u)
	if err != nil {
		return Preview{}, fmt.Errorf("preview %s: %w", u.Redacted(), err)
	}
	return p, nil
}

func (f *Fetcher) fetch(ctx context.Context, u *url.URL) (Preview, error) {
	if err := f.policy.checkURL(u); err != nil {
		return Preview{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Preview{}, err
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := f.client.Do(req)
	if err != nil {
		// The client's *url.Error repeats the URL, which Fetch adds.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Preview{}, err
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Preview{}, fmt.Errorf("HTTP status %s", resp.Status)
	}
	body := bufio.NewReader(io.LimitReader(resp.Body, f.maxBody))
	ct := resp.Header.Get("Content-Type")
	if strings.TrimSpace(ct) == "" {
		head, err := body.Peek(512)
		if err != nil && !errors.Is(err, io.EOF) {
			return Preview{}, fmt.Errorf("read body: %w", err)
		}
		ct = http.DetectContentType(head)
	}
	if !isHTML(ct) {
		return Preview{}, fmt.Errorf("%w: content type %q", ErrNotHTML, ct)
	}
	p, err := parse(body, ct, resp.Request.URL)
	if err != nil {
		return Preview{}, err
	}
	return p, nil
}

func isHTML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if mt == "" || (err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter)) {
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == "text/html" || mt == "application/xhtml+xml"
}

// checkRedirect bounds the chain and holds every hop to the URL policy; the
// dialer checks the addresses.
func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > f.maxRedirects {
		return fmt.Errorf("stopped after %d redirects", f.maxRedirects)
	}
	if err := f.policy.checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect to %s: %w", req.URL.Redacted(), err)
	}
	return nil
}

// dialContext resolves the host itself so that every address can be vetted
// before any is dialed: a name with one disallowed address is refused whole,
// rather than tried address by address until one connects. The dialer's
// Control function then checks the address actually connected to.
func (f *Fetcher) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: invalid port", address)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		found, err := f.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
		addrs = found
	}
	aps := make([]netip.AddrPort, len(addrs))
	for i, a := range addrs {
		aps[i] = netip.AddrPortFrom(a.Unmap(), uint16(port))
		if err := f.policy.check(aps[i]); err != nil {
			return nil, fmt.Errorf("dial %s (%s): %w", address, aps[i], err)
		}
	}
	var errs []error
	for _, ap := range aps {
		conn, err := f.dialer.DialContext(ctx, network, ap.String())
		if err == nil {
			return conn, nil
		}
		if errors.Is(err, ErrBlocked) || ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
