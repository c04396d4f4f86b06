package main

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
	"net/netip"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

// testApp is the real engine on a real MongoDB-compatible server and a
// real Redis, served by httptest on 127.0.0.1:0.
type testApp struct {
	*app
	srv   *httptest.Server
	clock *tenanttest.Clock
	store *tenant.Store
	// pages is a web server whose pages content links to.
	pages *testPages
	queue asynq.RedisConnOpt
	// The test's database, for commands run against it.
	mongoURI, mongoDB string
	content           *content.Service
	social            *social.Service
	// services are the app's, built by newServices.
	services *services
	// mastodon is a contract fake of a Mastodon server on loopback.
	mastodon *mastodontest.Server
	// logs holds every log line of the app (Info and up).
	logs *tenanttest.Buffer
	// reads counts what the store reads.
	reads *tenanttest.Reads
	// metrics is the registry /metrics serves.
	metrics *prometheus.Registry
}

// warnOnly passes on the text handler's lines of level WARN and ERROR.
type warnOnly struct{ w io.Writer }

func (f warnOnly) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("level=WARN")) || bytes.Contains(p, []byte("level=ERROR")) {
		return f.w.Write(p)
	}
	return len(p), nil
}

func (a *testApp) mongo() (string, string) { return a.mongoURI, a.mongoDB }

// newTestApp builds the app as cmd does, from configuration parsed from
// env (defaults otherwise), with the dev mailbox on.
func newTestApp(t *testing.T, env map[string]string) *testApp {
	t.Helper()
	return newTestAppPorts(t, env, nil)
}

// newTestAppPorts is newTestApp whose social networks may also reach
// loopback servers on extraPorts (a test PDS).
func newTestAppPorts(t *testing.T, env map[string]string, extraPorts []int) *testApp {
	t.Helper()
	return newTestAppEdit(t, env, extraPorts, nil)
}

// newTestAppEdit is newTestAppPorts whose dependencies edit changes
// before the app is built.
func newTestAppEdit(t *testing.T, env map[string]string, extraPorts []int, edit func(*appDeps)) *testApp {
	t.Helper()
	return newTestAppVia(t, env, extraPorts, edit, nil)
}

// newTestAppVia is newTestAppEdit whose store reaches the test server
// through the URI via makes of the server's (a recording proxy's); nil
// connects directly.
func newTestAppVia(t *testing.T, env map[string]string, extraPorts []int, edit func(*appDeps), via func(uri string) string) *testApp {
	t.Helper()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		if k == "CHORUS_DEV_MAILBOX" {
			return "1"
		}
		return ""
	}
	cfg, err := parseConfig("serve", nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	clock := tenanttest.NewClock(time.Now().UTC())
	logs := &tenanttest.Buffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(logs, warnOnly{testWriter{t}}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	uri, db := tenanttest.Mongo(t)
	mongoURI, mongoDB := uri, db
	if via != nil {
		uri = via(uri)
	}
	reads, monitor := tenanttest.NewReads()
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db, Kinds: storeKinds(), Log: log, Now: clock.Now, Monitor: monitor,
		Regions: cfg.Regions, DefaultRegion: cfg.DefaultRegion})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(t.Context()) })
	// A test's own Redis (CHORUS_REDIS_URL), else a database of the
	// shared test Redis.
	var redisOpt asynq.RedisConnOpt = jobstest.Redis(t)
	if cfg.RedisURL != "" {
		if redisOpt, err = jobs.ParseRedisURL(cfg.RedisURL); err != nil {
			t.Fatal(err)
		}
	}
	rdb := redisOpt.MakeRedisClient().(redis.UniversalClient)
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClient(redisOpt)
	t.Cleanup(func() { client.Close() })
	tasks := asynq.NewInspector(redisOpt)
	t.Cleanup(func() { tasks.Close() })
	queue := jobs.NewQueue(client, tasks, log)
	pages := newTestPages(t)

	srv := httptest.NewUnstartedServer(nil)
	base, _ := url.Parse("http://" + srv.Listener.Addr().String())
	fake := mastodontest.New(t, mastodontest.Options{})
	fakeAddr := netip.MustParseAddrPort(fake.Listener.Addr().String())
	keys, err := social.ParseKeyring("test:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	mailer, devBox, err := newMailer(cfg, log, clock.Now, base)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	outcomes, err := processMetrics(reg, tasks, log)
	if err != nil {
		t.Fatal(err)
	}
	deps := appDeps{cfg: cfg, log: log, store: store, redis: rdb, metrics: reg,
		baseURL: base, now: clock.Now, queue: queue, fetcher: pages.fetcher, mailer: mailer, devBox: devBox, queueRedis: redisOpt,
		network: networkOptions{
			allow: []netip.Prefix{netip.PrefixFrom(fakeAddr.Addr(), 32)}, ports: append([]int{int(fakeAddr.Port())}, extraPorts...), allowHTTP: true,
			outcomes: outcomes,
			// No publishing limits, but the network pauses, as in production.
			limits: jobs.NewRateLimiter(rdb, nil),
		},
		// Dex runs on loopback over http: reach it with a plain client.
		keys: keys, idpHTTP: &http.Client{Timeout: 15 * time.Second}, idpAllowHTTP: true}
	if edit != nil {
		edit(&deps)
	}
	svc, err := newServices(deps)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(deps, svc)
	if err != nil {
		t.Fatal(err)
	}
	if a.queues != nil {
		t.Cleanup(func() { a.queues.Close() })
	}
	srv.Config.Handler = a.handler
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { a.redirector.Close(context.Background()) })
	return &testApp{app: a, srv: srv, clock: clock, store: store, pages: pages, queue: redisOpt, mongoURI: mongoURI, mongoDB: mongoDB, logs: logs,
		content: svc.content, social: svc.social, services: svc, mastodon: fake, reads: reads, metrics: reg}
}

// testWriter sends logs to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client is a browser-like client: a cookie jar and no redirects followed.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	// malformed: the requests break openapi.yaml on purpose (see
	// sendingMalformed).
	malformed bool
}

// sendingMalformed returns c for requests a test breaks on purpose, to
// see the API refuse them (or, in the isolation matrix, whose body does
// not matter): every other request is checked against openapi.yaml
// (checkRequest).
func (c *client) sendingMalformed() *client {
	m := *c
	m.malformed = true
	return &m
}

func (a *testApp) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: a.srv.URL, http: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a finished request.
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

// problem decodes a problem document, failing unless it is one.
func (r response) problem(t *testing.T) problemDoc {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, r.body)
	}
	var p problemDoc
	r.json(t, &p)
	return p
}

type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// do sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON). Headers are name, value pairs.
func (c *client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		raw = j
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	checkRequest(c.t, req, raw, c.malformed)
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	validateResponse(c.t, req, res.StatusCode, res.Header, b)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// signInLink asks for a sign-in mail and returns the link from the dev
// mailbox.
func (c *client) signInLink(email string) string {
	c.t.Helper()
	if res := c.do("POST", "/api/v1/auth/email", map[string]string{"email": email}); res.status != http.StatusAccepted {
		c.t.Fatalf("POST /auth/email %s: %d %s", email, res.status, res.body)
	}
	res := c.do("GET", "/api/v1/dev/mail?to="+url.QueryEscape(email), nil)
	var box struct {
		Items []struct {
			To, Subject, Text, Link string
		} `json:"items"`
	}
	res.json(c.t, &box)
	if len(box.Items) == 0 {
		c.t.Fatalf("no mail for %s", email)
	}
	if !strings.Contains(box.Items[0].Text, box.Items[0].Link) {
		c.t.Errorf("mail text does not contain its link")
	}
	return box.Items[0].Link
}

// useLink follows a sign-in (or invitation) link as a person does: the
// link's GET, which must only lead to the confirmation page, then the
// page's POST of the token. It returns the POST's response.
func (c *client) useLink(link string) response {
	c.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		c.t.Fatal(err)
	}
	if res := c.do("GET", u.RequestURI(), nil); res.status != http.StatusSeeOther || res.header.Get("Set-Cookie") != "" {
		c.t.Fatalf("GET of the link: %d %s, Set-Cookie %q; want 303 to the confirmation page, no cookie", res.status, res.body, res.header.Get("Set-Cookie"))
	}
	return c.do("POST", "/api/v1/auth/email/callback", map[string]string{"token": u.Query().Get("token")})
}

// signIn signs email in through the dev mailbox and returns the member.
func (c *client) signIn(email string) me {
	c.t.Helper()
	res := c.useLink(c.signInLink(email))
	if res.status != http.StatusNoContent {
		c.t.Fatalf("sign-in link: %d %s", res.status, res.body)
	}
	var m me
	c.do("GET", "/api/v1/me", nil).json(c.t, &m)
	if m.Member.ID == "" {
		c.t.Fatalf("no member after signing in %s", email)
	}
	return m
}

type me struct {
	Member struct {
		ID     string   `json:"id"`
		Email  string   `json:"email"`
		Name   string   `json:"name"`
		Role   string   `json:"role"`
		Topics []string `json:"topics"`
	} `json:"member"`
	Instance struct {
		ID       string   `json:"id"`
		Name     string   `json:"name"`
		Domains  []string `json:"domains"`
		Verified bool     `json:"verified"`
	} `json:"instance"`
}
