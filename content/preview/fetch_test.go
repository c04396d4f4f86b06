package preview

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/japanese"
)

// testServer is an httptest server on loopback that counts its requests, so
// a test can prove a blocked destination was never contacted.
type testServer struct {
	*httptest.Server
	hits atomic.Int64
}

func startServer(t *testing.T, h http.Handler) *testServer {
	t.Helper()
	s := &testServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *testServer) addrPort() netip.AddrPort {
	return netip.MustParseAddrPort(s.Listener.Addr().String())
}

// allowing returns a Config that can reach exactly the given servers'
// addresses and ports.
func allowing(servers ...*testServer) Config {
	var cfg Config
	for _, s := range servers {
		ap := s.addrPort()
		cfg.Ports = append(cfg.Ports, int(ap.Port()))
		cfg.AllowPrefixes = append(cfg.AllowPrefixes, netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()))
	}
	return cfg
}

// fakeResolver maps host names to addresses; any other name does not exist.
// Tests never ask real DNS.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

const ogPage = `<!doctype html><html><head>
<title>Fallback</title>
<meta property="og:title" content="Chorus &amp; friends">
<meta property="og:description" content="  A   preview. ">
<meta property="og:image" content="/img/cover.png">
<meta property="og:site_name" content="Chorus">
<link rel="canonical" href="/page">
</head><body>hello</body></html>`

func TestFetchBlocked(t *testing.T) {
	local := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, ogPage)
	}))
	localPort := strconv.Itoa(int(local.addrPort().Port()))
	resolver := fakeResolver{
		"internal.test": addrs("10.0.0.5"),
		// Private first: should the all-or-nothing check ever regress,
		// the dialer stops at the private address and no packet leaves
		// for the public one. TestFetchMixedAnswer covers the other order.
		"mixed.test":  addrs("10.0.0.5", "93.184.215.14"),
		"mapped.test": addrs("::ffff:169.254.169.254"),
		"localhost":   addrs("127.0.0.1", "::1"),
	}

	urls := []string{
		local.URL + "/",
		"http://[::1]/",
		"http://0x7f000001/",
		"http://2130706433/",
		"http://0177.0.0.1/",
		"http://127.1/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:127.0.0.1]/",
		"http://[::ffff:7f00:1]/",
		"http://[::ffff:a9fe:a9fe]/",
		"http://[64:ff9b::a00:1]/",
		"http://10.0.0.1/",
		"http://172.16.0.1/",
		"http://192.168.1.1/",
		"http://100.64.0.1/",
		"http://[fd00::1]/",
		"http://[fe80::1]/",
		"http://0.0.0.0/",
		"http://[::]/",
		"http://255.255.255.255/",
		"http://224.0.0.1/",
		"http://192.0.2.1/",
		"http://[2001:db8::1]/",
		"http://internal.test/",
		"http://mixed.test/",
		"http://mapped.test/",
		"http://localhost:" + localPort + "/",
		"https://localhost/",
		"file:///etc/passwd",
		"gopher://x/",
		"ftp://x/",
		"javascript:alert(1)",
		"http://user:pass@example.com/",
		"http://example.com:22/",
		"https://example.com:8443/",
	}
	f := New(Config{Resolver: resolver})
	for _, u := range urls {
		t.Run(u, func(t *testing.T) {
			_, err := f.Fetch(t.Context(), u)
			if !errors.Is(err, ErrBlocked) {
				t.Errorf("Fetch(%q) = %v, want ErrBlocked", u, err)
			}
			if err != nil && strings.Contains(err.Error(), "pass@") {
				t.Errorf("error %q leaks the URL's password", err)
			}
			t.Log(err)
		})
	}

	// The loopback server's port allowed, its address not: still blocked,
	// by the address check alone.
	t.Run("port allowed, address not", func(t *testing.T) {
		cfg := Config{Ports: []int{int(local.addrPort().Port())}, Resolver: resolver}
		for _, u := range []string{local.URL + "/", "http://localhost:" + localPort + "/"} {
			if _, err := New(cfg).Fetch(t.Context(), u); !errors.Is(err, ErrBlocked) {
				t.Errorf("Fetch(%q) = %v, want ErrBlocked", u, err)
			}
		}
	})

	if got := local.hits.Load(); got != 0 {
		t.Errorf("blocked loopback server got %d requests, want 0", got)
	}
}

// TestFetchMixedAnswer: a name with one allowed and one disallowed address
// is refused whole, even when the allowed one comes first. The loopback test
// server stands in for the public address, so nothing leaves the machine.
func TestFetchMixedAnswer(t *testing.T) {
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, ogPage)
	}))
	cfg := allowing(srv)
	cfg.Resolver = fakeResolver{"mixed.test": addrs(srv.addrPort().Addr().String(), "10.0.0.5")}
	u := fmt.Sprintf("http://mixed.test:%d/", srv.addrPort().Port())

	_, err := New(cfg).Fetch(t.Context(), u)
	if !errors.Is(err, ErrBlocked) {
		t.Errorf("Fetch(%q) = %v, want ErrBlocked", u, err)
	}
	if got := srv.hits.Load(); got != 0 {
		t.Errorf("server got %d requests, want 0", got)
	}
}

// TestDialerControl: the connect-time check in the dialer's Control function
// holds on its own, whatever was checked before.
func TestDialerControl(t *testing.T) {
	srv := startServer(t, http.NotFoundHandler())
	cfg := Config{Ports: []int{int(srv.addrPort().Port())}} // port allowed, address not
	f := New(cfg)
	conn, err := f.dialer.DialContext(t.Context(), "tcp", srv.Listener.Addr().String())
	if err == nil {
		conn.Close()
	}
	if !errors.Is(err, ErrBlocked) {
		t.Errorf("dial %s = %v, want ErrBlocked", srv.Listener.Addr(), err)
	}
}

func TestFetchBlockedRedirect(t *testing.T) {
	other := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, ogPage)
	}))
	// A second loopback address, reachable on Linux without setup; the
	// test that needs it skips elsewhere.
	var otherAddr *testServer
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err == nil {
		s := &testServer{}
		s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.hits.Add(1)
			fmt.Fprint(w, ogPage)
		}))
		s.Listener.Close()
		s.Listener = ln
		s.Start()
		t.Cleanup(s.Close)
		otherAddr = s
	}

	redirector := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	base := allowing(redirector)
	base.Ports = append(base.Ports, 80)
	base.Resolver = fakeResolver{"internal.test": addrs("10.0.0.5")}
	redirectPort := strconv.Itoa(int(redirector.addrPort().Port()))

	tests := []struct {
		name string
		to   string
		cfg  func() Config
		skip bool
	}{
		{name: "cloud metadata", to: "http://169.254.169.254/latest/meta-data/"},
		{name: "other loopback port", to: other.URL + "/"},
		{name: "name resolving to private", to: "http://internal.test:" + redirectPort + "/"},
		{name: "numeric host", to: "http://0x7f000001:" + redirectPort + "/"},
		{name: "file scheme", to: "file:///etc/passwd"},
		{name: "userinfo", to: "http://user:pass@127.0.0.1:" + redirectPort + "/"},
		{
			name: "other loopback address, port allowed",
			to: func() string {
				if otherAddr == nil {
					return ""
				}
				return otherAddr.URL + "/"
			}(),
			cfg: func() Config {
				cfg := base
				cfg.Ports = append(append([]int(nil), base.Ports...), int(otherAddr.addrPort().Port()))
				return cfg
			},
			skip: otherAddr == nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.skip {
				t.Skip("cannot listen on 127.0.0.2")
			}
			cfg := base
			if tt.cfg != nil {
				cfg = tt.cfg()
			}
			u := redirector.URL + "/?to=" + tt.to
			_, err := New(cfg).Fetch(t.Context(), u)
			if !errors.Is(err, ErrBlocked) {
				t.Errorf("Fetch(%q) = %v, want ErrBlocked", u, err)
			}
			t.Log(err)
		})
	}
	if got := other.hits.Load(); got != 0 {
		t.Errorf("other loopback port got %d requests, want 0", got)
	}
	if otherAddr != nil {
		if got := otherAddr.hits.Load(); got != 0 {
			t.Errorf("other loopback address got %d requests, want 0", got)
		}
	}
	if got := redirector.hits.Load(); got == 0 {
		t.Errorf("redirector got no requests; the tests did not test redirects")
	}
}

func TestFetch(t *testing.T) {
	var gotUA, gotAccept atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		gotUA.Store(r.UserAgent())
		gotAccept.Store(r.Header.Get("Accept"))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, ogPage)
	})
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.Redirect(w, r, "/page", http.StatusMovedPermanently)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/gzip", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			http.Error(w, "want gzip", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		fmt.Fprint(zw, ogPage)
		zw.Close()
	})
	mux.HandleFunc("/sniffed", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil // no header, no sniffing by the server
		fmt.Fprint(w, ogPage)
	})
	mux.HandleFunc("/xhtml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xhtml+xml")
		fmt.Fprint(w, ogPage)
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, ogPage)
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	})
	mux.HandleFunc("/png", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = nil
		w.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"))
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	srv := startServer(t, mux)
	port := srv.addrPort().Port()
	cfg := allowing(srv)
	cfg.Resolver = fakeResolver{"preview.test": addrs(srv.addrPort().Addr().String())}
	f := New(cfg)

	wantFor := func(origin string) Preview {
		return Preview{
			Title:        "Chorus & friends",
			Description:  "A preview.",
			ImageURL:     origin + "/img/cover.png",
			CanonicalURL: origin + "/page",
			SiteName:     "Chorus",
		}
	}
	tests := []struct {
		name    string
		url     string
		want    Preview
		wantErr error // nil: success; errAny: some error that is neither sentinel
	}{
		{name: "OpenGraph page", url: srv.URL + "/page", want: wantFor(srv.URL)},
		{name: "host name through resolver", url: fmt.Sprintf("http://preview.test:%d/page", port), want: wantFor(fmt.Sprintf("http://preview.test:%d", port))},
		{name: "redirect chain of 2", url: srv.URL + "/hop/1", want: wantFor(srv.URL)},
		{name: "5 redirects", url: srv.URL + "/hop/4", want: wantFor(srv.URL)},
		{name: "6 redirects", url: srv.URL + "/hop/5", wantErr: errAny},
		{name: "gzip", url: srv.URL + "/gzip", want: wantFor(srv.URL)},
		{name: "no content type, sniffed as HTML", url: srv.URL + "/sniffed", want: wantFor(srv.URL)},
		{name: "XHTML", url: srv.URL + "/xhtml", want: wantFor(srv.URL)},
		{name: "404", url: srv.URL + "/missing", wantErr: errAny},
		{name: "500", url: srv.URL + "/broken", wantErr: errAny},
		{name: "text/plain", url: srv.URL + "/text", wantErr: ErrNotHTML},
		{name: "JSON", url: srv.URL + "/json", wantErr: ErrNotHTML},
		{name: "sniffed PNG", url: srv.URL + "/png", wantErr: ErrNotHTML},
		{name: "unknown host", url: fmt.Sprintf("http://nowhere.test:%d/", port), wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.Fetch(t.Context(), tt.url)
			switch {
			case tt.wantErr == nil:
				if err != nil {
					t.Fatalf("Fetch(%q): %v", tt.url, err)
				}
				if diff := cmp.Diff(got, tt.want); diff != "" {
					t.Errorf("Fetch(%q) (-got +want):\n%s", tt.url, diff)
				}
			case tt.wantErr == errAny:
				if err == nil || errors.Is(err, ErrBlocked) || errors.Is(err, ErrNotHTML) {
					t.Errorf("Fetch(%q) = %v, want an error other than ErrBlocked or ErrNotHTML", tt.url, err)
				}
			default:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Fetch(%q) = %v, want %v", tt.url, err, tt.wantErr)
				}
			}
		})
	}

	if got, want := gotUA.Load(), defaultUserAgent; got != want {
		t.Errorf("User-Agent = %q, want %q", got, want)
	}
	if got, want := gotAccept.Load(), "text/html,application/xhtml+xml"; got != want {
		t.Errorf("Accept = %q, want %q", got, want)
	}
}

// errAny in a test table means "some error, but not a sentinel".
var errAny = errors.New("any error")

func TestFetchLargePage(t *testing.T) {
	// The page is ?size= bytes: a head with a title, filler, and an
	// og:description at the very end, which is found only if read.
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		w.Header().Set("Content-Type", "text/html")
		head := `<html><head><title>Big page</title></head><body><p>`
		tail := `</p><meta property="og:description" content="past the limit"></body></html>`
		fmt.Fprint(w, head)
		chunk := strings.Repeat("lorem ipsum ", 1024)
		for n := len(head) + len(tail); n < size; n += len(chunk) {
			if _, err := fmt.Fprint(w, chunk); err != nil {
				return // the client stopped reading, as it should
			}
		}
		fmt.Fprint(w, tail)
	}))

	tests := []struct {
		name    string
		size    int
		maxBody int64
		want    Preview
	}{
		{"5 MiB page, default MaxBody", 5 << 20, 0, Preview{Title: "Big page"}},
		{"page larger than MaxBody", 256 << 10, 128 << 10, Preview{Title: "Big page"}},
		{"page within MaxBody", 128 << 10, 256 << 10, Preview{Title: "Big page", Description: "past the limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := allowing(srv)
			cfg.MaxBody = tt.maxBody
			u := fmt.Sprintf("%s/?size=%d", srv.URL, tt.size)
			got, err := New(cfg).Fetch(t.Context(), u)
			if err != nil {
				t.Fatalf("Fetch(%q): %v", u, err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Fetch(%q) (-got +want):\n%s", u, diff)
			}
		})
	}
}

func TestFetchTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	mux := http.NewServeMux()
	mux.HandleFunc("/slow-headers", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * timeout):
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><head><title>slow")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * timeout):
		}
	})
	mux.HandleFunc("/slow-redirects/{n}", func(w http.ResponseWriter, r *http.Request) {
		// Each hop is well inside the timeout; the chain is not.
		time.Sleep(timeout / 3)
		n, _ := strconv.Atoi(r.PathValue("n"))
		http.Redirect(w, r, fmt.Sprintf("/slow-redirects/%d", n+1), http.StatusFound)
	})
	srv := startServer(t, mux)
	cfg := allowing(srv)
	cfg.Timeout = timeout
	cfg.MaxRedirects = 100
	f := New(cfg)

	for _, path := range []string{"/slow-headers", "/slow-body", "/slow-redirects/0"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			_, err := f.Fetch(t.Context(), srv.URL+path)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("Fetch(%s) succeeded, want a timeout", path)
			}
			if errors.Is(err, ErrBlocked) || errors.Is(err, ErrNotHTML) {
				t.Errorf("Fetch(%s) = %v, want a timeout", path, err)
			}
			if elapsed < timeout*9/10 || elapsed > timeout+time.Second {
				t.Errorf("Fetch(%s) took %v, want about %v", path, elapsed, timeout)
			}
			t.Logf("%s: %v after %v", path, err, elapsed)
		})
	}
}

func TestFetchCharset(t *testing.T) {
	sjis, err := japanese.ShiftJIS.NewEncoder().String("日本語のページ")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, contentType, body, want string
	}{
		{"windows-1252 header", "text/html; charset=windows-1252", "<title>caf\xe9</title>", "café"},
		{"ISO-8859-1 header", "text/html; charset=ISO-8859-1", "<title>caf\xe9 \x93q\x94</title>", "café “q”"},
		{"Shift_JIS header", "text/html; charset=Shift_JIS", "<title>" + sjis + "</title>", "日本語のページ"},
		{"windows-1252 meta", "text/html", "<meta charset=windows-1252><title>caf\xe9</title>", "café"},
		{"header outranks meta", "text/html; charset=windows-1252", "<meta charset=utf-8><title>caf\xe9</title>", "café"},
		{"UTF-8", "text/html; charset=utf-8", "<title>café</title>", "café"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				fmt.Fprint(w, tt.body)
			}))
			got, err := New(allowing(srv)).Fetch(t.Context(), srv.URL+"/")
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if got.Title != tt.want {
				t.Errorf("Title = %q, want %q", got.Title, tt.want)
			}
		})
	}
}

func TestFetchConcurrent(t *testing.T) {
	srv := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, ogPage)
	}))
	f := New(allowing(srv))
	errs := make(chan error, 8)
	for range cap(errs) {
		go func() {
			_, err := f.Fetch(t.Context(), srv.URL+"/")
			errs <- err
		}()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Errorf("Fetch: %v", err)
		}
	}
}

// Client holds its first request to the URL policy too, not only its
// redirects: a numeric host or a port not allowed never reaches DNS or a
// dial.
func TestClientChecksTheFirstURL(t *testing.T) {
	c := New(Config{Ports: []int{443}}).Client()
	for _, u := range []string{"https://2130706433/", "https://0x7f.1/", "https://example.com:8443/", "ftp://example.com/"} {
		res, err := c.Get(u)
		if err == nil {
			res.Body.Close()
		}
		if !errors.Is(err, ErrBlocked) {
			t.Errorf("GET %s: %v, want ErrBlocked", u, err)
		}
	}
}
