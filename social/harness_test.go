package social_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/mastodon"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

// harness is social's routes with tenant's sign-in on a real
// MongoDB-compatible server, a Mastodon fake, and members signed in
// through the dev mailbox, as cmd/chorus's tests do.
type harness struct {
	t      *testing.T
	srv    *httptest.Server
	store  *tenant.Store
	auth   *tenant.Service
	svc    *social.Service
	cfg    social.Config
	clock  *tenanttest.Clock
	fake   *mastodontest.Server
	devBox *tenant.DevMailbox
	mu     sync.Mutex
	hooked []string // networks passed to OnNetworkDisallowed
}

func testKeys(t *testing.T, spec string) *social.Keyring {
	t.Helper()
	k, err := social.ParseKeyring(spec)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	key1 = "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	key2 = "k2:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
)

func newHarness(t *testing.T, fakeOpts mastodontest.Options) *harness {
	t.Helper()
	h := &harness{t: t, clock: tenanttest.NewClock(time.Now().UTC().Truncate(time.Millisecond))}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	uri, db := tenanttest.Mongo(t)
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db, Kinds: social.Kinds(), Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	h.store = store
	fakeOpts.Now = h.clock.Now
	h.fake = mastodontest.New(t, fakeOpts)

	h.srv = httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + h.srv.Listener.Addr().String())
	policy, err := tenant.NewDomainPolicy()
	if err != nil {
		t.Fatal(err)
	}
	h.devBox = tenant.NewDevMailbox(100, log, h.clock.Now)
	h.auth = tenant.NewService(tenant.Config{Store: store, Policy: policy, Mailer: h.devBox, BaseURL: base,
		Log: log, Now: h.clock.Now, DevMailbox: h.devBox})
	reg, err := social.NewRegistry(mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test"}))
	if err != nil {
		t.Fatal(err)
	}
	h.cfg = social.Config{Networks: reg, Keys: testKeys(t, key1), BaseURL: base, Log: log, Now: h.clock.Now,
		OnNetworkDisallowed: func(_ context.Context, _ tenant.Scope, network string) error {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.hooked = append(h.hooked, network)
			return nil
		}}
	h.svc = social.NewService(h.cfg)
	e := gin.New()
	e.Use(httpapi.RequestIDs())
	v1 := e.Group("/api/v1")
	tenant.NewHandlers(h.auth).Routes(v1)
	social.NewHandlers(h.svc, h.auth, log).Routes(v1)
	h.srv.Config.Handler = e
	h.srv.Start()
	t.Cleanup(h.srv.Close)
	return h
}

// withKeys returns another service on the same store with other keys, as
// another process configured differently would be.
func (h *harness) withKeys(spec string) *social.Service {
	cfg := h.cfg
	cfg.Keys = testKeys(h.t, spec)
	return social.NewService(cfg)
}

type client struct {
	t      *testing.T
	h      *harness
	http   *http.Client
	member string
	inst   string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) code(t *testing.T) string {
	t.Helper()
	var p struct{ Code string }
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		return ""
	}
	r.json(t, &p)
	return p.Code
}

func (c *client) do(method, path string, body any) response {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.h.srv.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// signIn signs email in and gives them role. verified verifies the domain.
func (h *harness) signIn(email string, role tenant.Role) *client {
	t := h.t
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, h: h, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if res := c.do("POST", "/api/v1/auth/email", map[string]string{"email": email}); res.status != http.StatusAccepted {
		t.Fatalf("sign in %s: %d %s", email, res.status, res.body)
	}
	mails := h.devBox.List(email)
	if len(mails) == 0 {
		t.Fatalf("no mail for %s", email)
	}
	// The link leads to the confirmation page, whose POST signs in.
	u, _ := url.Parse(mails[0].Link)
	if res := c.do("POST", "/api/v1/auth/email/callback", map[string]string{"token": u.Query().Get("token")}); res.status != http.StatusNoContent {
		t.Fatalf("sign-in link: %d %s", res.status, res.body)
	}
	var me struct {
		Member   struct{ ID string }
		Instance struct{ ID string }
	}
	c.do("GET", "/api/v1/me", nil).json(t, &me)
	c.member, c.inst = me.Member.ID, me.Instance.ID
	if _, err := h.scope(c).SetRole(t.Context(), c.member, role); err != nil {
		t.Fatal(err)
	}
	return c
}

func (h *harness) scope(c *client) tenant.Scope {
	h.t.Helper()
	sc, err := h.store.Open(h.t.Context(), c.inst)
	if err != nil {
		h.t.Fatal(err)
	}
	return sc
}

func (h *harness) verify(domain string) {
	h.t.Helper()
	if _, err := h.auth.ForceVerify(h.t.Context(), domain, "test"); err != nil {
		h.t.Fatal(err)
	}
}

// allowMastodon whitelists Mastodon as admin, failing unless it works.
func (h *harness) allowMastodon(admin *client, cfg any) {
	h.t.Helper()
	var body any
	if cfg != nil {
		body = map[string]any{"config": cfg}
	}
	if res := admin.do("PUT", "/api/v1/networks/mastodon", body); res.status != http.StatusOK {
		h.t.Fatalf("allow mastodon: %d %s", res.status, res.body)
	}
}

// authorize starts a connection and follows the fake's authorisation
// page; it returns the callback path and query the browser is sent to.
func (h *harness) authorize(c *client) string {
	h.t.Helper()
	res := c.do("POST", "/api/v1/connections/mastodon/start", map[string]string{"instance_url": h.fake.URL})
	if res.status != http.StatusOK {
		h.t.Fatalf("start: %d %s", res.status, res.body)
	}
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	res.json(h.t, &out)
	if !strings.HasPrefix(out.AuthorizeURL, h.fake.URL+"/oauth/authorize?") {
		h.t.Fatalf("authorize_url = %q", out.AuthorizeURL)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := browser.Get(out.AuthorizeURL)
	if err != nil {
		h.t.Fatal(err)
	}
	r.Body.Close()
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), h.srv.URL+"/api/v1/connections/mastodon/callback?") {
		h.t.Fatalf("authorisation redirect = %q", r.Header.Get("Location"))
	}
	return loc.RequestURI()
}

// connect connects c's Mastodon account and returns the connection ID.
func (h *harness) connect(c *client) string {
	h.t.Helper()
	res := c.do("GET", h.authorize(c), nil)
	if res.status != http.StatusSeeOther || res.header.Get("Location") != h.srv.URL+"/?connected=mastodon" {
		h.t.Fatalf("callback: %d %s %s", res.status, res.header.Get("Location"), res.body)
	}
	conns := h.connections(c)
	if len(conns) == 0 {
		h.t.Fatal("no connection after the callback")
	}
	return conns[len(conns)-1].ID
}

type connView struct {
	ID        string `json:"id"`
	Network   string `json:"network"`
	Handle    string `json:"handle"`
	Status    string `json:"status"`
	Followers int64  `json:"followers"`
	MaxChars  int    `json:"max_chars"`
}

func (h *harness) connections(c *client) []connView {
	h.t.Helper()
	res := c.do("GET", "/api/v1/connections", nil)
	if res.status != http.StatusOK {
		h.t.Fatalf("connections: %d %s", res.status, res.body)
	}
	var out struct{ Items []connView }
	res.json(h.t, &out)
	return out.Items
}

// admin signs in an admin of acme.example, verifies the domain, and
// returns the scope and the member.
func (h *harness) admin() (*client, tenant.Scope, tenant.Member) {
	h.t.Helper()
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	h.verify("acme.example")
	sc := h.scope(admin)
	me, err := sc.Member(h.t.Context(), admin.member)
	if err != nil {
		h.t.Fatal(err)
	}
	return admin, sc, me
}

// connectOAuth allows network and connects me's account there through
// svc, following the OAuth redirect as the member's browser would (the
// fakes approve at once).
func connectOAuth(t *testing.T, svc *social.Service, sc tenant.Scope, me tenant.Member, network string) social.Connection {
	t.Helper()
	ctx := t.Context()
	if _, err := svc.Allow(ctx, sc, me, network, nil); err != nil {
		t.Fatal(err)
	}
	authorize, err := svc.Start(ctx, sc, me, network, "", "")
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := svc.Callback(ctx, sc, me, network, social.CallbackParams{Code: loc.Query().Get("code"), State: loc.Query().Get("state")})
	if err != nil {
		t.Fatalf("connect %s: %v", network, err)
	}
	return conn
}
