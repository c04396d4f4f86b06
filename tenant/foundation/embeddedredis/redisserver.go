// Package redisserver provides the Redis that Asynq needs when none is
// configured: a redis-server child process on a unix socket, with AOF
// persistence, or as a last resort an in-process miniredis that keeps
// nothing across restarts. Production points CHORUS_REDIS_URL at a real
// Redis and never starts it.
package embeddedredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/tenant/foundation/childproc"
)

// Kind says which implementation a Server runs.
type Kind string

const (
	// KindRedisServer is a redis-server child process.
	KindRedisServer Kind = "redis-server"
	// KindMiniredis is an in-process, in-memory github.com/alicebob/miniredis.
	KindMiniredis Kind = "miniredis"
)

// ErrNotInstalled is returned (wrapped, with how to install it) by Start when
// there is no redis-server on PATH and no fallback is allowed.
var ErrNotInstalled = errors.New("redis-server not found on PATH")

const (
	socketName = "redis.sock"
	configName = "redis.conf"

	// maxSocketPath keeps socket paths under the sun_path limit (104 bytes
	// on macOS, 108 on Linux) with some room to spare.
	maxSocketPath = 100

	// readyTimeout bounds how long Start waits for redis-server to answer PING.
	readyTimeout = 10 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 10 * time.Second
)

// Server is a Redis reachable at Opt. Its methods may be called from any
// goroutine.
type Server struct {
	kind Kind
	opt  asynq.RedisClientOpt
	url  string
	stop func(context.Context) error

	child *child // the redis-server process; nil for miniredis
}

// Start starts a Redis for Asynq and returns once it answers.
//
// When redis-server is on PATH it runs as a child process, configured by
// dir/redis.conf (rewritten at every start) to keep its append-only file in
// dir (created 0700 if missing) and to listen only on a unix socket:
// dir/redis.sock, or a socket in a fresh temporary directory when that path
// would be too long for a socket. Its output goes to log at Debug. Start
// waits up to 10 s for it to answer PING. On Linux the child gets SIGTERM if
// this process dies (Pdeathsig); elsewhere it may outlive a crash. Start
// refuses a dir whose previous redis-server still answers on its socket, and
// says how to shut that one down.
//
// If that redis-server fails to start, Start returns why, quoting its last
// output; it does not fall back.
//
// Otherwise, if allowFallback, Start runs an in-process miniredis on
// 127.0.0.1 with a port chosen by the kernel; dir is not used and nothing
// survives Stop. Otherwise it returns an error wrapping ErrNotInstalled
// that says how to install redis-server.
//
// ctx bounds only the start: the server runs until Stop. log must not be
// nil; Start logs at Info which implementation it uses and where.
func Start(ctx context.Context, dir string, allowFallback bool, log *slog.Logger) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	switch {
	case err == nil:
		return startRedisServer(ctx, bin, dir, log)
	case allowFallback:
		return startMiniredis(ctx, log)
	default:
		return nil, fmt.Errorf("%w: install it (Debian, Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`) or configure an external Redis", ErrNotInstalled)
	}
}

// Running returns how to reach the redis-server that another process
// started on dir, if it still answers on its socket: a command-line tool
// then works with the data of the running platform instead of starting a
// second server on the same append-only file (which Start refuses).
func Running(ctx context.Context, dir string) (asynq.RedisClientOpt, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return asynq.RedisClientOpt{}, false
	}
	sock, ok := socketInConfig(filepath.Join(dir, configName))
	if !ok || childproc.DialUnix(ctx, sock) != nil {
		return asynq.RedisClientOpt{}, false
	}
	return asynq.RedisClientOpt{Network: "unix", Addr: sock}, true
}

// Kind returns which implementation s runs.
func (s *Server) Kind() Kind { return s.kind }

// Opt returns the options to connect Asynq to s: network "unix" and the
// socket path for redis-server, "tcp" and host:port for miniredis; DB 0.
func (s *Server) Opt() asynq.RedisClientOpt { return s.opt }

// URL returns the address of s in the form asynq.ParseRedisURI accepts:
// redis-socket:///path/to/redis.sock or redis://127.0.0.1:port.
func (s *Server) URL() string { return s.url }

// Stop stops s and waits until it has stopped. For redis-server that means
// SIGTERM (Redis then flushes its append-only file), and SIGKILL if it has
// not exited after 10 s or when ctx ends, which Stop then reports as an
// error; the socket and any temporary socket directory are removed. Stop is
// idempotent.
func (s *Server) Stop(ctx context.Context) error { return s.stop(ctx) }

func startMiniredis(ctx context.Context, log *slog.Logger) (*Server, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("start miniredis: %w", err)
	}

	// miniredis's clock stands still: without FastForward no TTL ever runs
	// down, and Asynq's locks and leases never expire. ClockTTL(true) would
	// do it too, but scans every key on every command.
	tick, cancel := context.WithCancel(context.Background())
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-tick.Done():
				return
			case <-t.C:
				m.FastForward(time.Second)
			}
		}
	}()

	log.InfoContext(ctx, "Redis for jobs: in-process miniredis; queued jobs are lost when the process exits (install redis-server to keep them)",
		slog.String("addr", m.Addr()))
	return &Server{
		kind: KindMiniredis,
		opt:  asynq.RedisClientOpt{Network: "tcp", Addr: m.Addr()},
		url:  (&url.URL{Scheme: "redis", Host: m.Addr()}).String(),
		stop: func(context.Context) error {
			cancel()
			<-ticked
			m.Close() // idempotent
			return nil
		},
	}, nil
}

// child is a running redis-server.
type child struct {
	cmd     *exec.Cmd
	out     *childproc.Lines
	sock    string
	sockDir string // temporary directory holding sock, or ""

	exited  chan struct{} // closed once cmd.Wait has returned
	waitErr error         // cmd.Wait's result; read only after exited is closed

	mu      sync.Mutex
	stopErr error // why the last stop had to kill the child
}

func startRedisServer(ctx context.Context, bin, dir string, log *slog.Logger) (_ *Server, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	if strings.ContainsAny(dir, "\r\n\x00") {
		return nil, fmt.Errorf("redis-server: data directory %q contains a line break or NUL", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("redis-server: create data directory: %w", err)
	}

	// A redis-server already running on dir would have its socket unlinked
	// and its append-only file taken over. Its socket is the one named in
	// the redis.conf it was started with.
	conf := filepath.Join(dir, configName)
	if prev, ok := socketInConfig(conf); ok {
		if err := refuseLiveSocket(ctx, prev); err != nil {
			return nil, fmt.Errorf("redis-server: %w", err)
		}
	}

	c := &child{sock: filepath.Join(dir, socketName), exited: make(chan struct{})}
	if len(c.sock) >= maxSocketPath {
		// The same directory for dir in every process: clients of a
		// redis-server that another process restarts find it again.
		c.sockDir, err = childproc.SocketDir("chorus-redis-", dir, os.Geteuid())
		if err != nil {
			return nil, fmt.Errorf("redis-server: socket directory: %w", err)
		}
		c.sock = filepath.Join(c.sockDir, socketName)
	}
	if err := refuseLiveSocket(ctx, c.sock); err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}

	if err := os.WriteFile(conf, []byte(config(dir, c.sock)), 0o600); err != nil {
		return nil, fmt.Errorf("redis-server: write config: %w", err)
	}

	c.out = childproc.New(log.With(slog.String("component", "redis-server")), slog.LevelDebug)
	c.cmd = exec.Command(bin, conf)
	c.cmd.Stdout = c.out // the same writer for both: one pipe, one copier
	c.cmd.Stderr = c.out
	c.cmd.SysProcAttr = sysProcAttr()
	// A forked AOF rewrite inherits the output pipe; don't let it hold up Wait.
	c.cmd.WaitDelay = time.Second
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis-server: %w", err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()

	if err := c.waitReady(ctx); err != nil {
		c.kill()
		c.cleanup()
		return nil, fmt.Errorf("redis-server in %s: %w", dir, err)
	}

	log.InfoContext(ctx, "Redis for jobs: redis-server child process",
		slog.String("bin", bin), slog.Int("pid", c.cmd.Process.Pid),
		slog.String("dir", dir), slog.String("socket", c.sock))
	return &Server{
		kind:  KindRedisServer,
		opt:   asynq.RedisClientOpt{Network: "unix", Addr: c.sock},
		url:   (&url.URL{Scheme: "redis-socket", Path: c.sock}).String(),
		stop:  c.stop,
		child: c,
	}, nil
}

// config returns the contents of redis.conf.
func config(dir, sock string) string {
	return fmt.Sprintf(`# Written by Chorus at every start of its redis-server; edits are lost.
daemonize no
supervised no
port 0
unixsocket %s
unixsocketperm 700
protected-mode yes
dir %s
logfile ""
save ""
appendonly yes
appendfsync everysec
`, quote(sock), quote(dir))
}

// quote quotes s for redis.conf, whose parser understands "…" with
// backslash escapes.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// socketInConfig returns the unixsocket setting of the redis.conf at path,
// if there is one.
func socketInConfig(path string) (string, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", false
	}
	for line := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "unixsocket ")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return v, v != ""
		}
		return strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(v[1 : len(v)-1]), true
	}
	return "", false
}

// waitReady waits until the child answers PING, exits, readyTimeout passes
// or ctx ends.
func (c *child) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()

	rc := redis.NewClient(&redis.Options{
		Network:     "unix",
		Addr:        c.sock,
		DialTimeout: time.Second,
		MaxRetries:  -1,
		PoolSize:    1,
	})
	defer rc.Close()

	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		// Dial first: go-redis retries failed dials for ~100 ms itself.
		err := childproc.DialUnix(ctx, c.sock)
		if err == nil {
			if err = rc.Ping(ctx).Err(); err == nil {
				return nil
			}
		}
		select {
		case <-c.exited:
			return fmt.Errorf("exited before answering PING (%v); its last output:\n%s", c.waitErr, c.out.Tail())
		case <-ctx.Done():
			return fmt.Errorf("no answer to PING: %w (last error: %v); its last output:\n%s", context.Cause(ctx), err, c.out.Tail())
		case <-t.C:
		}
	}
}

// stop implements Server.Stop for a child.
func (c *child) stop(ctx context.Context) error {
	_ = c.cmd.Process.Signal(syscall.SIGTERM) // fails only if it has exited
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()

	var killed error
	select {
	case <-c.exited:
	case <-grace.C:
		killed = fmt.Errorf("redis-server did not exit within %v of SIGTERM; killed it", stopGrace)
	case <-ctx.Done():
		killed = fmt.Errorf("redis-server stop: %w; killed it", context.Cause(ctx))
	}
	if killed != nil {
		c.kill()
	}
	c.cleanup()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopErr == nil {
		c.stopErr = killed
	}
	if c.stopErr != nil {
		return c.stopErr
	}
	if c.waitErr != nil {
		return fmt.Errorf("redis-server: %w; its last output:\n%s", c.waitErr, c.out.Tail())
	}
	return nil
}

// kill kills the child and waits until it has exited.
func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// cleanup removes the socket, which redis-server removes itself unless it
// was killed, and the temporary socket directory. The child must have exited.
func (c *child) cleanup() {
	_ = os.Remove(c.sock)
	if c.sockDir != "" {
		_ = os.RemoveAll(c.sockDir)
	}
}

// refuseLiveSocket returns an error if something answers on the unix socket
// at path.
func refuseLiveSocket(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if childproc.DialUnix(ctx, path) != nil {
		return nil // stale: redis-server replaces it
	}
	return fmt.Errorf("another server is already listening on %s; if it is a redis-server left behind, stop it with `redis-cli -s %s shutdown`", path, path)
}
