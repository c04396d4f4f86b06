// Package pdstest runs a real Bluesky PDS for tests: @atproto/pds with an
// in-memory PLC directory (@did-plc/server), as pinned and installed in
// tools/pds by .ci/pds-install, started with node on 127.0.0.1 ports the
// OS picks, its data in the test's temporary directory. Its accounts get
// handles under .test; nothing leaves the machine (no relay, no AppView).
//
// Besides starting it, the package offers what a test needs around the
// connector: accounts, app passwords, the repo's records as the PDS
// stores them, and access tokens that have expired.
package pdstest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvDir names a tools/pds directory (with its node_modules) to use
// instead of the one at the root of the module the test runs in.
const EnvDir = "CHORUS_TEST_PDS_DIR"

const howto = "run .ci/pds-install (npm ci in tools/pds, Node 20 or later), or set " + EnvDir + " to such a directory"

// PDS is a running PDS.
type PDS struct {
	// URL is the PDS's address, http://127.0.0.1:PORT.
	URL string
	// PLC is the PLC directory's address.
	PLC string
	// AdminPassword is the PDS's admin password (HTTP Basic, user admin).
	AdminPassword string

	jwtSecret string
	cmd       *exec.Cmd
	stdin     io.Closer
	done      chan struct{}
	out       *lockedBuffer
	client    *http.Client
}

// Options configure Start.
type Options struct {
	// RateLimits turns the PDS's own rate limits on (off by default, as in
	// the PDS's development mode): 30 createSession calls per identifier
	// and IP in five minutes, repository writes per account…
	RateLimits bool
}

// Start runs a PDS until the test ends. Without tools/pds/node_modules or
// node the test skips with a how-to (fails under CI=true).
func Start(t testing.TB) *PDS {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *PDS {
	t.Helper()
	dir, err := toolsDir()
	if err != nil {
		missing(t, err.Error())
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not on PATH")
	}
	data := t.TempDir()
	cmd := exec.Command(node, "run.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PDS_DATA_DIRECTORY="+data, "CHORUS_PDS_KEEP_STDIN=")
	if opts.RateLimits {
		cmd.Env = append(cmd.Env, "PDS_RATE_LIMITS_ENABLED=true")
	}
	out := &lockedBuffer{}
	cmd.Stderr = out
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// The runner stops when its stdin closes: a test binary that dies
	// takes its PDS along.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the PDS runner: %v", err)
	}
	p := &PDS{cmd: cmd, stdin: stdin, done: make(chan struct{}), out: out, client: &http.Client{Timeout: 30 * time.Second}}
	ready := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		ready <- line
		io.Copy(out, r)
	}()
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("the PDS's log:\n%s", out)
		}
	})

	var line string
	select {
	case line = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("the PDS did not start within 60 s:\n%s", out)
	}
	var info struct {
		URL           string `json:"url"`
		PLC           string `json:"plc"`
		AdminPassword string `json:"adminPassword"`
		JWTSecret     string `json:"jwtSecret"`
	}
	if err := json.Unmarshal([]byte(line), &info); err != nil || info.URL == "" {
		<-p.done
		t.Fatalf("the PDS runner exited at start (%v):\n%s", err, out)
	}
	p.URL, p.PLC, p.AdminPassword, p.jwtSecret = info.URL, info.PLC, info.AdminPassword, info.JWTSecret
	p.waitHealthy(t)
	t.Logf("PDS on %s, started in %v", p.URL, time.Since(begin).Round(time.Millisecond))
	return p
}

func (p *PDS) waitHealthy(t testing.TB) {
	t.Helper()
	probe := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := probe.Get(p.URL + "/xrpc/_health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			t.Fatalf("the PDS exited:\n%s", p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/xrpc/_health did not answer 200 within 30 s (%v):\n%s", p.URL, err, p.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the runner and waits for it.
func (p *PDS) stop() {
	p.stdin.Close()
	p.cmd.Process.Kill()
	<-p.done
}

// CreateAccount creates an account with handle (under .test, such as
// "alice.test") and password through com.atproto.server.createAccount,
// and returns its DID.
func (p *PDS) CreateAccount(t testing.TB, handle, password string) (did string) {
	t.Helper()
	name, _, _ := strings.Cut(handle, ".")
	var out struct {
		DID string `json:"did"`
	}
	p.XRPC(t, http.MethodPost, "com.atproto.server.createAccount", "", map[string]string{
		"handle": handle, "email": name + "@example.com", "password": password,
	}, &out)
	return out.DID
}

// AppPassword signs in with the account's password and creates an app
// password named name (com.atproto.server.createAppPassword), the kind of
// credential members give Chorus.
func (p *PDS) AppPassword(t testing.TB, handle, password, name string) string {
	t.Helper()
	var sess struct {
		AccessJwt string `json:"accessJwt"`
	}
	p.XRPC(t, http.MethodPost, "com.atproto.server.createSession", "", map[string]string{"identifier": handle, "password": password}, &sess)
	var out struct {
		Password string `json:"password"`
	}
	p.XRPC(t, http.MethodPost, "com.atproto.server.createAppPassword", sess.AccessJwt, map[string]string{"name": name}, &out)
	return out.Password
}

// Record is a record as com.atproto.repo.getRecord and listRecords return
// it.
type Record struct {
	URI   string          `json:"uri"`
	CID   string          `json:"cid"`
	Value json.RawMessage `json:"value"`
}

// GetRecord reads one record; false if the repo has none at that key.
func (p *PDS) GetRecord(t testing.TB, repo, collection, rkey string) (Record, bool) {
	t.Helper()
	q := url.Values{"repo": {repo}, "collection": {collection}, "rkey": {rkey}}
	status, body := p.send(t, http.MethodGet, "com.atproto.repo.getRecord?"+q.Encode(), "", nil)
	var r Record
	switch {
	case status == http.StatusBadRequest && xrpcError(body) == "RecordNotFound":
		return Record{}, false
	case status != http.StatusOK:
		t.Fatalf("getRecord %s/%s/%s: %d %s", repo, collection, rkey, status, body)
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("getRecord: %v: %s", err, body)
	}
	return r, true
}

// ListRecords lists the repo's records of collection (up to 100).
func (p *PDS) ListRecords(t testing.TB, repo, collection string) []Record {
	t.Helper()
	q := url.Values{"repo": {repo}, "collection": {collection}, "limit": {"100"}}
	var out struct {
		Records []Record `json:"records"`
	}
	p.XRPC(t, http.MethodGet, "com.atproto.repo.listRecords?"+q.Encode(), "", nil, &out)
	return out.Records
}

// Expired returns token (an access or refresh JWT this PDS issued) with
// the same claims but issued two hours earlier and expired a minute ago,
// signed with the PDS's key: the PDS answers it 400 ExpiredToken.
func (p *PDS) Expired(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	now := time.Now()
	claims["iat"] = now.Add(-2 * time.Hour).Unix()
	claims["exp"] = now.Add(-time.Minute).Unix()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload)
	// The PDS signs its session tokens with HS256, keyed by the UTF-8
	// bytes of PDS_JWT_SECRET.
	mac := hmac.New(sha256.New, []byte(p.jwtSecret))
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// XRPC calls the PDS (nsid may carry a query) and decodes its answer into
// out; anything but 200 fails the test.
func (p *PDS) XRPC(t testing.TB, method, nsid, token string, in, out any) {
	t.Helper()
	status, body := p.send(t, method, nsid, token, in)
	if status != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, nsid, status, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v: %s", nsid, err, body)
		}
	}
}

func (p *PDS) send(t testing.TB, method, nsid, token string, in any) (int, []byte) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(t.Context()), method, p.URL+"/xrpc/"+nsid, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := p.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, nsid, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: %v", method, nsid, err)
	}
	return res.StatusCode, b
}

func xrpcError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	json.Unmarshal(body, &e)
	return e.Error
}

// toolsDir finds tools/pds with its node_modules: $CHORUS_TEST_PDS_DIR,
// else tools/pds at the root of the module the test runs in.
func toolsDir() (string, error) {
	dir := os.Getenv(EnvDir)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "tools", "pds")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@atproto", "pds", "package.json")); err != nil {
		return "", fmt.Errorf("no @atproto/pds in %s/node_modules", dir)
	}
	return dir, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// missing skips the test with a how-to, or fails it under CI=true, where a
// missing server must never pass silently (as tenanttest.Missing does;
// that package would bring an embedded database into these tests).
func missing(t testing.TB, why string) {
	t.Helper()
	const what = "the test PDS (tools/pds)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (CI=true, so this fails): %s: %s", what, why, howto)
	}
	t.Skipf("%s is missing: %s: %s", what, why, howto)
}

// lockedBuffer collects the runner's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
