package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// startRun runs the whole program as main does, on 127.0.0.1:0, and
// returns its URL and a function that stops it and returns run's error.
func startRun(t *testing.T, env map[string]string) (string, func() error) {
	u, stop, _ := startRunLogged(t, env)
	return u, stop
}

// startRunLogged is startRun that also returns the log lines so far.
func startRunLogged(t *testing.T, env map[string]string) (string, func() error, func() []string) {
	t.Helper()
	return startCommand(t, "all", env, "Chorus is running", "url")
}

// startCommand runs the command cmd as main does until it logs msg, and
// returns that record's field, a function that stops it and returns
// run's error, and the log lines so far.
func startCommand(t *testing.T, cmd string, env map[string]string, msg, field string) (string, func() error, func() []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{cmd}, func(k string) string { return env[k] }, pw)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	urls := make(chan string, 1)
	var (
		mu    sync.Mutex
		lines []string
	)
	logs := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lines)
	}
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec["msg"] == msg {
				v, _ := rec[field].(string)
				urls <- v
			}
			if testing.Verbose() {
				t.Log(sc.Text())
			}
		}
	}()
	stop := func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			t.Fatal("run did not stop within 60 s of cancellation")
			return nil
		}
	}
	select {
	case u := <-urls:
		return u, stop, logs
	case err := <-done:
		cancel()
		t.Fatalf("run ended before serving: %v", err)
	case <-time.After(60 * time.Second):
		stop()
		t.Fatal("run did not start within 60 s")
	}
	return "", nil, nil
}

// embeddedDataDir is a data dir for the embedded store. Run as root, the
// embedded PostgreSQL runs as the postgres user, which must reach it
// (t.TempDir's parent is 0700).
func embeddedDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunAllEmbedded(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Log("no redis-server on PATH: run uses its in-process fallback")
	}
	dir := embeddedDataDir(t)
	env := map[string]string{
		"CHORUS_ADDR":        "127.0.0.1:0",
		"CHORUS_DATA_DIR":    dir,
		"CHORUS_DEV_MAILBOX": "1",
		"CHORUS_LOG_LEVEL":   "info",
	}
	if os.Getenv("CI") == "true" {
		env["CHORUS_EMBEDDED_STORE"] = "documentdb" // no silent fallback in CI
	}
	base, stop, logs := startRunLogged(t, env)
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if res := c.do("GET", "/readyz", nil); res.status != http.StatusOK {
		t.Fatalf("readyz: %d %s", res.status, res.body)
	}
	v, commit := release()
	want := fmt.Sprintf(`chorus_build_info{commit=%q,goversion=%q,version=%q} 1`, commit, runtime.Version(), v)
	if res := c.do("GET", "/metrics", nil); !strings.Contains(string(res.body), want) {
		t.Errorf("/metrics lacks %s", want)
	}
	alice := c.signIn("alice@acme.example")
	if alice.Member.Role != "admin" {
		t.Errorf("alice = %+v", alice.Member)
	}
	// Request logs carry the request, tenant and member IDs; no record
	// holds the session cookie.
	var found bool
	for _, line := range logs() {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec["msg"] == "request" && rec["route"] == "/api/v1/me" {
			found = rec["tenant_id"] == alice.Instance.ID && rec["member_id"] == alice.Member.ID && rec["request_id"] != ""
		}
		for _, ck := range c.http.Jar.Cookies(mustParseURL(t, base)) {
			if strings.Contains(line, ck.Value) {
				t.Errorf("a log record holds the session cookie: %s", line)
			}
		}
	}
	if !found {
		t.Error("no request record for /api/v1/me with tenant_id, member_id and request_id")
	}
	if err := stop(); err != nil {
		t.Fatalf("run returned %v after a graceful stop", err)
	}

	// The data survives a restart on the same data dir.
	base, stop = startRun(t, env)
	c.base = base
	if res := c.do("GET", "/api/v1/me", nil); res.status != http.StatusOK || !strings.Contains(string(res.body), alice.Member.ID) {
		t.Errorf("after restart /me = %d %s", res.status, res.body)
	}
	if err := stop(); err != nil {
		t.Fatalf("second run returned %v", err)
	}
}

func TestRunWithExternalMongo(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	base, stop := startRun(t, map[string]string{
		"CHORUS_ADDR":           "127.0.0.1:0",
		"CHORUS_DATA_DIR":       t.TempDir(),
		"CHORUS_DEV_MAILBOX":    "1",
		"CHORUS_MONGO_URI":      uri,
		"CHORUS_MONGO_DATABASE": db,
	})
	defer stop()
	res, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("readyz = %d", res.StatusCode)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no mail", map[string]string{}, "CHORUS_SMTP_URL"},
		{"no token keys", map[string]string{"CHORUS_SMTP_URL": "smtp://mail.example:587"}, "CHORUS_TOKEN_KEYS: is not set"},
		{"a public address without a base URL", map[string]string{"CHORUS_SMTP_URL": "smtp://mail.example:587", "CHORUS_TOKEN_KEYS": testTokenKeys,
			"CHORUS_ADDR": "0.0.0.0:8080"}, "CHORUS_BASE_URL: is not set"},
		{"http base URL", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_BASE_URL": "http://chorus.example.com"}, "CHORUS_BASE_URL: must use https"},
		{"bad address", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_ADDR": "8080"}, "CHORUS_ADDR"},
		{"bad proxy", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_TRUSTED_PROXIES": "10.0.0.0/99"}, "CHORUS_TRUSTED_PROXIES"},
		{"bad mongo", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_MONGO_URI": "postgres://x"}, "CHORUS_MONGO_URI"},
		{"bad level", map[string]string{"CHORUS_DEV_MAILBOX": "yes"}, "CHORUS_DEV_MAILBOX"},
		{"bad LinkedIn engagement switch", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_LINKEDIN_READ_ENGAGEMENT": "yes"}, "CHORUS_LINKEDIN_READ_ENGAGEMENT"},
		{"bad Facebook business Pages switch", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_FACEBOOK_BUSINESS_PAGES": "maybe"}, "CHORUS_FACEBOOK_BUSINESS_PAGES"},
		{"dev network ports in production", map[string]string{"CHORUS_SMTP_URL": "smtp://mail.example:587", "CHORUS_DEV_NETWORK_PORTS": "2583"}, "CHORUS_DEV_NETWORK_PORTS: is for development only"},
		{"bad publishing limit", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_PUBLISH_LIMITS": "x.connection=0/1h"}, "CHORUS_PUBLISH_LIMITS: \"x.connection=0/1h\": the count must be"},
		{"bad dev network port", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_DEV_NETWORK_PORTS": "2583,99999"}, "CHORUS_DEV_NETWORK_PORTS"},
		{"bad worker address", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_WORKER_ADDR": "9091"}, "CHORUS_WORKER_ADDR: must be host:port"},
		{"bad migrate switch", map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_MIGRATE": "later"}, `CHORUS_MIGRATE: must be on or off, not "later"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), []string{"serve"}, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
	if err := run(t.Context(), []string{"frobnicate"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("an unknown command ran")
	}
}

// testVAPIDKey is a valid CHORUS_VAPID_PRIVATE_KEY.
const testVAPIDKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"

// testTokenKeys is a valid CHORUS_TOKEN_KEYS.
const testTokenKeys = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

// prodEnv is a production configuration with external servers that do not
// answer (port 1): what passes the checks, before anything connects.
func prodEnv(over map[string]string) map[string]string {
	env := map[string]string{
		"CHORUS_ADDR":              "0.0.0.0:8080",
		"CHORUS_BASE_URL":          "https://chorus.example.com",
		"CHORUS_TOKEN_KEYS":        testTokenKeys,
		"CHORUS_VAPID_PRIVATE_KEY": testVAPIDKey,
		"CHORUS_SMTP_URL":          "smtp://user:smtp-secret-456@mail.example:587",
		"CHORUS_MONGO_URI":         "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=20000",
		"CHORUS_REDIS_URL":         "redis://127.0.0.1:1/0",
	}
	for k, v := range over {
		if v == "" {
			delete(env, k)
		} else {
			env[k] = v
		}
	}
	return env
}

// serve and worker refuse a configuration production cannot run with
// before they connect to anything, one line per problem naming the setting.
func TestProductionSettingsAreCheckedBeforeConnecting(t *testing.T) {
	tests := []struct {
		name string
		over map[string]string
		want []string
	}{
		{"no token keys", map[string]string{"CHORUS_TOKEN_KEYS": ""}, []string{"CHORUS_TOKEN_KEYS: is not set"}},
		{"no SMTP", map[string]string{"CHORUS_SMTP_URL": ""}, []string{"CHORUS_SMTP_URL: "}},
		{"no base URL", map[string]string{"CHORUS_BASE_URL": ""}, []string{"CHORUS_BASE_URL: is not set"}},
		{"an http base URL", map[string]string{"CHORUS_BASE_URL": "http://chorus.example.com"}, []string{"CHORUS_BASE_URL: must use https"}},
		{"all three", map[string]string{"CHORUS_TOKEN_KEYS": "", "CHORUS_SMTP_URL": "", "CHORUS_BASE_URL": ""},
			[]string{"CHORUS_TOKEN_KEYS: ", "CHORUS_SMTP_URL: ", "CHORUS_BASE_URL: "}},
	}
	for _, cmd := range []string{"serve", "worker", "all"} {
		for _, tt := range tests {
			t.Run(cmd+"/"+tt.name, func(t *testing.T) {
				env := prodEnv(tt.over)
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				err := run(ctx, []string{cmd}, func(k string) string { return env[k] }, io.Discard)
				if err == nil {
					t.Fatal("started")
				}
				lines := strings.Split(strings.TrimPrefix(err.Error(), "configuration:\n"), "\n")
				if len(lines) != len(tt.want) {
					t.Fatalf("error = %q, want %d lines", err, len(tt.want))
				}
				for i, w := range tt.want {
					if !strings.HasPrefix(lines[i], w) {
						t.Errorf("line %d = %q, want it to start with %q", i, lines[i], w)
					}
				}
			})
		}
	}
	// Loopback without a base URL is a laptop: its links are right.
	env := prodEnv(map[string]string{"CHORUS_BASE_URL": "", "CHORUS_ADDR": "127.0.0.1:8080"})
	if _, err := parseConfig("worker", nil, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Errorf("loopback without a base URL: %v", err)
	}
	env = prodEnv(nil)
	if _, err := parseConfig("worker", nil, func(k string) string { return env[k] }, io.Discard); err != nil {
		t.Errorf("a complete production configuration: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	env := prodEnv(nil)
	var out strings.Builder
	if err := run(t.Context(), []string{"config", "check"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("config check of a good configuration: %v\n%s", err, out.String())
	}
	for _, want := range []string{"CHORUS_BASE_URL=https://chorus.example.com", "CHORUS_WORKER_ADDR=127.0.0.1:9091", "CHORUS_MIGRATE=on", "CHORUS_TOKEN_KEYS=(set, hidden)", "CHORUS_SMTP_URL=smtp://user:xxxxx@mail.example:587", "no problems"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "smtp-secret-456") || strings.Contains(out.String(), "AQEBAQEB") {
		t.Errorf("config check shows a secret:\n%s", out.String())
	}

	env = prodEnv(map[string]string{"CHORUS_TOKEN_KEYS": "", "CHORUS_SMTP_URL": "", "CHORUS_LOG_LEVEL": "loud"})
	out.Reset()
	err := run(t.Context(), []string{"config", "check"}, func(k string) string { return env[k] }, &out)
	if err == nil {
		t.Fatalf("config check of a bad configuration passed:\n%s", out.String())
	}
	for _, want := range []string{"CHORUS_ADDR=0.0.0.0:8080", "3 problems", "CHORUS_TOKEN_KEYS: is not set", "CHORUS_SMTP_URL: ", "CHORUS_LOG_LEVEL: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, out.String())
		}
	}
	// Flags count as for serve; a wrong one is a problem too.
	out.Reset()
	if err := run(t.Context(), []string{"config", "check", "--addr", "nope"}, func(k string) string { return prodEnv(nil)[k] }, &out); err == nil || !strings.Contains(out.String(), "CHORUS_ADDR: ") {
		t.Errorf("config check --addr nope: %v\n%s", err, out.String())
	}
}

func TestVersion(t *testing.T) {
	defer func(v, c string) { version, commit = v, c }(version, commit)
	version, commit = "v1.2.3", "0123abc"
	var out strings.Builder
	if err := run(t.Context(), []string{"version"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "chorus v1.2.3 (commit 0123abc, "+runtime.Version(); !strings.HasPrefix(got, want) {
		t.Errorf("chorus version = %q, want it to start with %q", got, want)
	}
}

func TestConfigMasksSecrets(t *testing.T) {
	env := map[string]string{
		"CHORUS_DEV_MAILBOX":    "1",
		"CHORUS_OPERATOR_TOKEN": "op-secret-123",
		"CHORUS_SMTP_URL":       "smtp://user:smtp-secret-456@mail.example:587",
		"CHORUS_MONGO_URI":      "mongodb://admin:mongo-secret-789@db.example:27017",
		"CHORUS_REDIS_URL":      "redis://:redis-secret-000@cache.example:6379/0",
	}
	cfg, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join(cfg.masked(), "\n")
	for _, secret := range []string{"op-secret-123", "smtp-secret-456", "mongo-secret-789", "redis-secret-000"} {
		if strings.Contains(out, secret) {
			t.Errorf("masked config shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "db.example") {
		t.Errorf("masked config hides the Mongo host too:\n%s", out)
	}
}

func TestDevNetworkPortsAllowLoopbackOnly(t *testing.T) {
	env := map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_DEV_NETWORK_PORTS": "2583, 3000"}
	cfg, err := parseConfig("all", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.networkOptions(nil)
	if !o.allowHTTP || fmt.Sprint(o.ports) != "[443 2583 3000]" || fmt.Sprint(o.allow) != "[127.0.0.1/32]" {
		t.Errorf("options = http %v ports %v allow %v, want http on loopback ports 2583 and 3000 besides 443", o.allowHTTP, o.ports, o.allow)
	}
	cfg, err = parseConfig("all", nil, func(k string) string { return map[string]string{"CHORUS_DEV_MAILBOX": "1"}[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.networkOptions(nil); o.allowHTTP || o.allow != nil || o.ports != nil {
		t.Errorf("without the setting: http %v ports %v allow %v, want the defaults (https on 443, no private address)", o.allowHTTP, o.ports, o.allow)
	}
}

func TestPublishLimitsOverrideTheDefaults(t *testing.T) {
	env := map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_PUBLISH_LIMITS": "x.connection=1000/24h"}
	cfg, err := parseConfig("worker", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.PublishLimits[social.X].PerConnection; got != (social.Rate{N: 1000, Per: 24 * time.Hour}) {
		t.Errorf("x per connection = %+v, want 1000 a day", got)
	}
	if cfg.PublishLimits[social.Mastodon] != social.DefaultLimits[social.Mastodon] {
		t.Errorf("mastodon = %+v, want the default", cfg.PublishLimits[social.Mastodon])
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	cfg, err := parseConfig("serve", []string{"--addr", "127.0.0.1:9999"}, func(k string) string {
		return map[string]string{"CHORUS_ADDR": "127.0.0.1:7777", "CHORUS_DEV_MAILBOX": "1"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9999" {
		t.Errorf("Addr = %s, want the flag's 127.0.0.1:9999", cfg.Addr)
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestReadyzListsPausedNetworks: a network paused for the operator shows
// on /readyz, which stays 200: everything else is served.
func TestReadyzListsPausedNetworks(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	var body struct {
		Paused []struct {
			Network string    `json:"network"`
			Until   time.Time `json:"until"`
			Reason  string    `json:"reason"`
		} `json:"paused_networks"`
	}
	res := c.do("GET", "/readyz", nil)
	res.json(t, &body)
	if res.status != http.StatusOK || len(body.Paused) != 0 {
		t.Fatalf("readyz = %d %s, want 200 without paused networks", res.status, res.body)
	}
	rdb := a.queue.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	if err := jobs.NewRateLimiter(rdb, nil).Pause(t.Context(), social.Mastodon, time.Hour, "the app is suspended"); err != nil {
		t.Fatal(err)
	}
	res = c.do("GET", "/readyz", nil)
	res.json(t, &body)
	if res.status != http.StatusOK || len(body.Paused) != 1 || body.Paused[0].Network != social.Mastodon ||
		body.Paused[0].Reason != "the app is suspended" || body.Paused[0].Until.Before(a.clock.Now().Add(59*time.Minute)) {
		t.Errorf("readyz = %d %s, want 200 listing Mastodon paused for an hour", res.status, res.body)
	}
}
