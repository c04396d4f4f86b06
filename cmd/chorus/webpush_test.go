package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chorushq/chorus/tenant/tenanttest"
)

// pushEndpoint is a local Web Push endpoint: web-push-testing (tools/webpush,
// installed by .ci/webpush-install) on 127.0.0.1, an implementation of its
// own that verifies each message's VAPID JWT against the key the
// subscription was made with and decrypts its RFC 8291 payload.
type pushEndpoint struct {
	URL  string
	http *http.Client
}

// pushDevice is a subscription the endpoint handed out, as a browser's
// PushSubscription.toJSON() gives it, and its client hash.
type pushDevice struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	ClientHash string `json:"clientHash"`
}

// json is the device as the web app posts it.
func (d pushDevice) json() map[string]any {
	return map[string]any{"endpoint": d.Endpoint, "expirationTime": nil,
		"keys": map[string]string{"p256dh": d.Keys.P256DH, "auth": d.Keys.Auth}}
}

// startPushEndpoint runs the endpoint until the test ends. Without node or
// tools/webpush/node_modules the test skips with a how-to (fails under
// CI=true).
func startPushEndpoint(t testing.TB) *pushEndpoint {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "tools", "webpush"))
	if err != nil {
		t.Fatal(err)
	}
	missing := func(why string) {
		t.Helper()
		tenanttest.Missing(t, "the local Web Push endpoint (tools/webpush)", why+": run .ci/webpush-install (npm ci in tools/webpush, Node 20 or later)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "web-push-testing", "package.json")); err != nil {
		missing("no web-push-testing in " + dir + "/node_modules")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	cmd := exec.Command(node, "run.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHORUS_WEBPUSH_KEEP_STDIN=")
	var logs tenanttest.Buffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the Web Push endpoint: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("the Web Push endpoint's log:\n%s", logs.String())
		}
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	var line string
	select {
	case line = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatalf("the Web Push endpoint did not start within 30 s:\n%s", logs.String())
	}
	var info struct{ URL string }
	if err := json.Unmarshal([]byte(line), &info); err != nil || info.URL == "" {
		t.Fatalf("the Web Push endpoint exited at start (%v):\n%s", err, logs.String())
	}
	return &pushEndpoint{URL: info.URL, http: &http.Client{Timeout: 30 * time.Second}}
}

// call posts body to the endpoint's path and decodes the answer's data.
func (p *pushEndpoint) call(t testing.TB, path string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := p.http.Post(p.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, raw)
	}
	if out != nil {
		var env struct{ Data json.RawMessage }
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatalf("POST %s: %v in %s", path, err, raw)
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Fatalf("POST %s: %v in %s", path, err, raw)
		}
	}
}

// subscribe makes a subscription for the application server key (the
// deployment's VAPID public key), as a browser's pushManager.subscribe.
func (p *pushEndpoint) subscribe(t testing.TB, appKey string) pushDevice {
	t.Helper()
	var d pushDevice
	p.call(t, "/subscribe", map[string]string{"applicationServerKey": appKey}, &d)
	if !strings.HasPrefix(d.Endpoint, p.URL+"/notify/") {
		t.Fatalf("subscription endpoint %q is not on %s", d.Endpoint, p.URL)
	}
	return d
}

// messages returns the decrypted payloads the device received.
func (p *pushEndpoint) messages(t testing.TB, d pushDevice) []string {
	t.Helper()
	var out struct{ Messages []string }
	p.call(t, "/get-notifications", map[string]string{"clientHash": d.ClientHash}, &out)
	return out.Messages
}

// expire makes the device's endpoint answer 410 Gone from now on.
func (p *pushEndpoint) expire(t testing.TB, d pushDevice) {
	t.Helper()
	p.call(t, "/expire-subscription/"+d.ClientHash, map[string]any{}, nil)
}
