// Package oidctest runs a real OpenID Connect provider for tests: Dex
// (dexidp/dex), built by .ci/build-dex into .cache/bin/dex, on a loopback
// port, with in-memory storage, one static client and static password
// users. Login drives Dex's password form headlessly, the way a browser
// would.
//
// Dex's password users carry their own email_verified: staticPasswords
// entries take emailVerified (a pointer: absent means true, for backwards
// compatibility), and Dex puts it into the ID token's email_verified claim.
package oidctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/chorushq/chorus/tenant/tenanttest"
)

// Dex is a running Dex with one confidential client whose only redirect URI
// is the one Start was given.
type Dex struct {
	Issuer       string
	ClientID     string
	ClientSecret string

	redirectURI string
	bin         string
	dir         string
	port        int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *tenanttest.Buffer
}

// User is a static password user of Dex.
type User struct {
	Email    string
	Password string
	// EmailVerified is what Dex says in the ID token's email_verified.
	EmailVerified bool
	// UserID is Dex's ID of the user, from which it derives the subject;
	// empty means one derived from Email. A new UserID for the same Email
	// is the same address with a new subject.
	UserID string
}

// EnvBinary names a Dex binary to use instead of .cache/bin/dex.
const EnvBinary = "CHORUS_TEST_DEX"

const howto = "run .ci/build-dex (make test does) to build it into .cache/bin/dex, or set " + EnvBinary + " to a Dex binary"

// Start runs Dex with users until the test ends. Its client accepts only
// redirectURI. Without a Dex binary the test skips (fails under CI=true).
func Start(t testing.TB, redirectURI string, users ...User) *Dex {
	t.Helper()
	bin, err := binary()
	if err != nil {
		tenanttest.Missing(t, "Dex (the OIDC provider the sign-in tests run against)", howto+" ("+err.Error()+")")
	}
	d := &Dex{
		ClientID:     "chorus",
		ClientSecret: randomHex(16),
		redirectURI:  redirectURI,
		bin:          bin,
		dir:          t.TempDir(),
	}
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("Dex's log:\n%s", d.log())
		}
	})
	// The port is picked free and closed before Dex binds it; another
	// process may take it in between, so try a few.
	for attempt := 1; ; attempt++ {
		d.port, err = freePort()
		if err != nil {
			t.Fatalf("pick a port for Dex: %v", err)
		}
		d.Issuer = fmt.Sprintf("http://127.0.0.1:%d/dex", d.port)
		if err = d.run(t, users); err == nil {
			return d
		}
		if attempt == 3 {
			t.Fatalf("start Dex: %v", err)
		}
	}
}

// Restart stops Dex and starts it again on the same issuer and client with
// users instead of the old ones. Its signing keys change, as in a key
// rotation; its sessions and codes are gone.
func (d *Dex) Restart(t testing.TB, users ...User) {
	t.Helper()
	d.stop()
	var err error
	for range 20 { // the old process's port may linger a moment
		if err = d.run(t, users); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart Dex: %v", err)
}

// Login signs email in at Dex as a browser with a fresh cookie jar would:
// it opens authorizeURL, follows Dex to its password form, posts the
// credentials and follows Dex's redirects until the one to the redirect
// URI, which it returns (with its code and state) without following.
func (d *Dex) Login(t testing.TB, authorizeURL, email, password string) (callbackURL string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var callback string
	c := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), d.redirectURI) {
				callback = req.URL.String()
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return errors.New("more than 10 redirects")
			}
			return nil
		},
	}
	ctx := context.WithoutCancel(t.Context())
	res, body := d.send(t, c, mustRequest(t, ctx, http.MethodGet, authorizeURL, nil))
	if callback != "" {
		return callback // Dex remembered the user: no form
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("Dex's authorization page: %d %s\nDex's log:\n%s", res.StatusCode, snippet(body), d.log())
	}
	action := formAction(body)
	if action == "" {
		t.Fatalf("no login form on Dex's page %s: %s", res.Request.URL, snippet(body))
	}
	post, err := res.Request.URL.Parse(action)
	if err != nil {
		t.Fatalf("Dex's form action %q: %v", action, err)
	}
	form := url.Values{"login": {email}, "password": {password}}
	req := mustRequest(t, ctx, http.MethodPost, post.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, body = d.send(t, c, req)
	if callback == "" {
		t.Fatalf("Dex did not send %s back to %s: %d %s\nDex's log:\n%s", email, d.redirectURI, res.StatusCode, snippet(body), d.log())
	}
	return callback
}

func (d *Dex) send(t testing.TB, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Redacted(), err)
	}
	return res, body
}

func mustRequest(t testing.TB, ctx context.Context, method, u string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

var formRE = regexp.MustCompile(`(?is)<form[^>]*\baction="([^"]*)"`)

// formAction returns the action of the page's first form, unescaped.
func formAction(page []byte) string {
	m := formRE.FindSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(string(m[1]))
}

func snippet(b []byte) string {
	if len(b) > 2000 {
		b = b[:2000]
	}
	return string(b)
}

// run writes the config for users and starts Dex, waiting until it serves
// its discovery document.
func (d *Dex) run(t testing.TB, users []User) error {
	t.Helper()
	cfgPath := filepath.Join(d.dir, "config.yaml")
	cfg, err := d.config(users)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	out := &tenanttest.Buffer{}
	cmd := exec.Command(d.bin, "serve", cfgPath)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = d.dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run %s: %w", d.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	d.mu.Lock()
	d.cmd, d.done, d.out = cmd, done, out
	d.mu.Unlock()

	wellKnown := d.Issuer + "/.well-known/openid-configuration"
	probe := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-done:
			return fmt.Errorf("dex exited at start: %s", out)
		default:
		}
		if res, err := probe.Get(wellKnown); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			d.stop()
			return fmt.Errorf("dex did not serve %s within 15 s: %s", wellKnown, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// log returns what the running (or last) Dex printed.
func (d *Dex) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.out == nil {
		return ""
	}
	return d.out.String()
}

// stop ends Dex, if it runs.
func (d *Dex) stop() {
	d.mu.Lock()
	cmd, done := d.cmd, d.done
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// config returns Dex's configuration (JSON, which Dex reads as YAML).
func (d *Dex) config(users []User) ([]byte, error) {
	type password struct {
		Email         string `json:"email"`
		Hash          string `json:"hash"`
		Username      string `json:"username"`
		UserID        string `json:"userID"`
		EmailVerified bool   `json:"emailVerified"`
	}
	pws := make([]password, 0, len(users))
	for _, u := range users {
		h, err := hashPassword(u.Password)
		if err != nil {
			return nil, fmt.Errorf("hash the password of %s: %w", u.Email, err)
		}
		id := u.UserID
		if id == "" {
			id = "user-" + u.Email
		}
		name, _, _ := strings.Cut(u.Email, "@")
		pws = append(pws, password{Email: u.Email, Hash: h, Username: name, UserID: id, EmailVerified: u.EmailVerified})
	}
	addr := fmt.Sprintf("127.0.0.1:%d", d.port)
	return json.MarshalIndent(map[string]any{
		"issuer":  d.Issuer,
		"storage": map[string]any{"type": "memory"},
		// Only the web listener, on loopback: no telemetry, no gRPC API.
		"web":    map[string]any{"http": addr},
		"logger": map[string]any{"level": "info", "format": "text"},
		"oauth2": map[string]any{
			"skipApprovalScreen": true,
			"responseTypes":      []string{"code"},
		},
		"staticClients": []map[string]any{{
			"id":           d.ClientID,
			"secret":       d.ClientSecret,
			"name":         "Chorus",
			"redirectURIs": []string{d.redirectURI},
		}},
		"enablePasswordDB": true,
		"staticPasswords":  pws,
	}, "", "  ")
}

// hashes caches bcrypt hashes by password: tests reuse a few passwords,
// and bcrypt is slow on purpose (more so under the race detector).
var hashes sync.Map

// hashPassword returns a bcrypt hash of password at the default cost, the
// least Dex accepts.
func hashPassword(password string) (string, error) {
	if h, ok := hashes.Load(password); ok {
		return h.(string), nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	hashes.Store(password, string(h))
	return string(h), nil
}

// binary finds Dex: $CHORUS_TEST_DEX, else .cache/bin/dex at the root of
// the module the test runs in.
func binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", EnvBinary, err)
		}
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, ".cache", "bin", "dex")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("no %s", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
