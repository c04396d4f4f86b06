package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
)

// runProcessEnv turns this test binary into `chorus` (TestRunProcess): it
// holds a runProcess as JSON.
const runProcessEnv = "CHORUS_TEST_RUN_PROCESS"

type runProcess struct {
	Args []string
	Env  map[string]string
}

// TestRunProcess is not a test of its own: it is the chorus process that
// the data dir tests start, stop and kill. It runs as main does.
func TestRunProcess(t *testing.T) {
	raw := os.Getenv(runProcessEnv)
	if raw == "" {
		t.Skip("a chorus process of the data dir tests")
	}
	var p runProcess
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, p.Args, func(k string) string { return p.Env[k] }, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chorus:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// chorusProc is a running chorus process of the test binary.
type chorusProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    chan string
	done   chan struct{}
	mu     sync.Mutex
	out    []string
	stderr bytes.Buffer
	err    error // cmd.Wait's, once done is closed
}

// startChorus starts `chorus args…` with env (and PATH from env when
// set there) as a process of the test binary; it is killed when the test
// ends.
func startChorus(t *testing.T, env map[string]string, args ...string) *chorusProc {
	t.Helper()
	raw, _ := json.Marshal(runProcess{Args: args, Env: env})
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), runProcessEnv+"="+string(raw))
	if p, ok := env["PATH"]; ok {
		cmd.Env = append(cmd.Env, "PATH="+p)
	}
	p := &chorusProc{t: t, cmd: cmd, url: make(chan string, 1), done: make(chan struct{})}
	cmd.Stderr = &p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			p.mu.Unlock()
			var rec struct{ Msg, URL string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "Chorus is running" {
				p.url <- rec.URL
			}
		}
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("process %d %v: stderr %s\nlast output:\n%s", cmd.Process.Pid, args, p.stderr.String(), strings.Join(p.lines(30), "\n"))
		}
	})
	return p
}

func (p *chorusProc) lines(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out[max(0, len(p.out)-n):]
}

// logged reports whether a log record's message contains msg.
func (p *chorusProc) logged(msg string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.out {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(l), &rec) == nil && strings.Contains(rec.Msg, msg) {
			return true
		}
	}
	return false
}

// serving waits until the process serves and returns its URL. A process
// that found no PostgreSQL with DocumentDB skips the test (fails it under
// CI=true).
func (p *chorusProc) serving() string {
	p.t.Helper()
	select {
	case u := <-p.url:
		return u
	case <-p.done:
		if strings.Contains(p.stderr.String(), embeddedmongo.ErrNotInstalled.Error()) && os.Getenv("CI") != "true" {
			p.t.Skip("needs PostgreSQL with DocumentDB: run .ci/build-documentdb")
		}
		p.t.Fatalf("chorus exited before serving (%v): %s", p.err, p.stderr.String())
	case <-time.After(2 * time.Minute):
		p.t.Fatalf("chorus did not serve within 2 minutes")
	}
	return ""
}

// working waits until a worker process has started processing tasks.
func (p *chorusProc) working() {
	p.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !p.logged("worker started"); time.Sleep(100 * time.Millisecond) {
		select {
		case <-p.done:
			p.t.Fatalf("chorus worker exited before it started (%v): %s", p.err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("chorus worker did not start within 2 minutes")
		}
	}
}

// exited waits until the process exits and returns its error output.
func (p *chorusProc) exited(within time.Duration) (stderr string, err error) {
	p.t.Helper()
	select {
	case <-p.done:
		return p.stderr.String(), p.err
	case <-time.After(within):
		p.t.Fatalf("chorus still runs after %v", within)
		return "", nil
	}
}

// stop stops the process gracefully (SIGTERM) and waits.
func (p *chorusProc) stop() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if stderr, err := p.exited(time.Minute); err != nil {
		p.t.Errorf("chorus stopped with %v: %s", err, stderr)
	}
}

func (p *chorusProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// dataDirEnv is the environment of a chorus serving on dir's embedded
// servers, DocumentDB required.
func dataDirEnv(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	// Run as root, the embedded PostgreSQL runs as the postgres user, which
	// must reach the data dir (t.TempDir's parent is 0700).
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		t.Fatal(err)
	}
	return dir, map[string]string{
		"CHORUS_ADDR": "127.0.0.1:0", "CHORUS_DATA_DIR": dir, "CHORUS_DEV_MAILBOX": "1",
		"CHORUS_LOG_LEVEL": "info", "CHORUS_EMBEDDED_STORE": "documentdb",
		// Each worker's probes on a port of its own: on the default one
		// every worker but the first would exit.
		"CHORUS_WORKER_ADDR": "127.0.0.1:0",
	}
}

// TestDataDirHasOneOwner runs chorus processes on one data dir: the first
// owns it and starts the embedded servers, a second uses them (the same
// data), an operator command works while both run; when the owner is
// killed the second takes its servers over and keeps serving, the owner
// restarted uses them, and when the second stops the first takes over.
func TestDataDirHasOneOwner(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server: apt-get install redis-server")
	}
	_, env := dataDirEnv(t)
	a := startChorus(t, env, "serve")
	aURL := a.serving()
	b := startChorus(t, env, "serve")
	bURL := b.serving()
	if !b.logged("another Chorus process owns the data dir") {
		t.Error("the second process does not say that another owns the data dir")
	}

	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: aURL, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	alice := c.signIn("alice@acme.example")
	// me reports whether the process at base knows alice's session (its
	// store is the owner's data), polling while the servers come back.
	me := func(base string, within time.Duration) bool {
		t.Helper()
		for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
			res, err := c.http.Do(req)
			if err != nil {
				continue
			}
			var m me
			json.NewDecoder(res.Body).Decode(&m)
			res.Body.Close()
			if res.StatusCode == http.StatusOK && m.Member.ID == alice.Member.ID {
				return true
			}
		}
		return false
	}
	if !me(bURL, 10*time.Second) {
		t.Fatal("the second process does not see the session made through the first")
	}

	// An operator command while both run.
	var inst struct{ ID string }
	c.do("GET", "/api/v1/instance", nil).json(t, &inst)
	cmd := startChorus(t, env, "audit", "verify", inst.ID)
	if stderr, err := cmd.exited(2 * time.Minute); err != nil {
		t.Fatalf("chorus audit verify while the platform runs: %v %s", err, stderr)
	}

	// The owner dies: the second process takes over its servers.
	a.kill()
	killed := time.Now()
	takesOver(t, b, bURL, me)
	t.Logf("the owner killed: the other process was ready again after %v", time.Since(killed).Round(time.Millisecond))

	// The first, restarted, uses the second's servers.
	a = startChorus(t, env, "serve")
	aURL = a.serving()
	if !a.logged("another Chorus process owns the data dir") {
		t.Error("the restarted process does not say that another owns the data dir")
	}
	if !me(aURL, 10*time.Second) {
		t.Fatal("the restarted process does not see alice's session")
	}
	// The new owner stops: the first takes over again.
	b.stop()
	stopped := time.Now()
	takesOver(t, a, aURL, me)
	t.Logf("the owner stopped: the other process was ready again after %v", time.Since(stopped).Round(time.Millisecond))
	a.stop()
}

// takesOver waits until p says it owns the data dir and then answers
// /readyz (its store and Redis answer) and knows alice's session again.
func takesOver(t *testing.T, p *chorusProc, base string, me func(string, time.Duration) bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !p.logged("this process owns it now"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the remaining process did not take the data dir over within 30 s")
		}
	}
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the process that took over is not ready within 90 s")
		}
	}
	// Past the session cache (2 s): alice's session comes from the store.
	time.Sleep(2100 * time.Millisecond)
	if !me(base, 30*time.Second) {
		t.Fatal("the process that took over does not know alice's session")
	}
}

// TestSQLiteDataDirRefusesASecondProcess: the SQLite demo store is atomic
// only within one connection, so a second platform process on its data dir
// refuses in one line that says what to do.
func TestSQLiteDataDirRefusesASecondProcess(t *testing.T) {
	_, env := dataDirEnv(t)
	env["CHORUS_EMBEDDED_STORE"] = "sqlite"
	refusesSecond(t, env, "SQLite", "chorus all")
}

// TestNoPrivateRedisForASecondProcess: without redis-server the owner runs
// an in-process Redis; a second process cannot reach it and so refuses
// rather than starting one of its own, whose tasks nobody would see.
func TestNoPrivateRedisForASecondProcess(t *testing.T) {
	_, env := dataDirEnv(t)
	env["CHORUS_EMBEDDED_STORE"] = "auto"
	env["PATH"] = t.TempDir() // no redis-server
	refusesSecond(t, env, "in-process Redis", "install redis-server")
}

// refusesSecond starts a serving owner with env, then a worker on the same
// data dir, which must exit with one line of error holding each of says.
func refusesSecond(t *testing.T, env map[string]string, says ...string) {
	t.Helper()
	a := startChorus(t, env, "serve")
	a.serving()
	b := startChorus(t, env, "worker")
	stderr, err := b.exited(time.Minute)
	if err == nil {
		t.Fatal("a second process on the data dir started")
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 {
		t.Errorf("refusal in %d lines: %q", len(lines), stderr)
	}
	for _, w := range says {
		if !strings.Contains(stderr, w) {
			t.Errorf("refusal %q does not say %q", stderr, w)
		}
	}
	t.Logf("the second process: %s", stderr)
	a.stop()
}
