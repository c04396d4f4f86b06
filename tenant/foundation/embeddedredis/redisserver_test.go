package embeddedredis

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// needRedisServer skips the test when redis-server is not on PATH, or fails
// it under CI=true.
func needRedisServer(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		msg := "redis-server not on PATH: apt-get install redis-server (Debian, Ubuntu) or brew install redis (macOS)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// start starts a Server and stops it at cleanup.
func start(t *testing.T, dir string, allowFallback bool) *Server {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	began := time.Now()
	s, err := Start(t.Context(), dir, allowFallback, log)
	if err != nil {
		t.Fatalf("Start(%q, %v): %v", dir, allowFallback, err)
	}
	t.Logf("%s started in %v at %s", s.Kind(), time.Since(began).Round(time.Millisecond), s.URL())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s
}

// client returns a go-redis client of s, closed at cleanup.
func client(t *testing.T, s *Server) *redis.Client {
	t.Helper()
	rc := s.Opt().MakeRedisClient().(*redis.Client)
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

func TestURLMatchesOpt(t *testing.T) {
	needRedisServer(t)
	tests := []struct {
		name          string
		path          string // emptied PATH forces the fallback
		allowFallback bool
	}{
		{"redis-server", os.Getenv("PATH"), false},
		{"miniredis", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", tt.path)
			s := start(t, t.TempDir(), tt.allowFallback)
			got, err := asynq.ParseRedisURI(s.URL())
			if err != nil {
				t.Fatalf("asynq.ParseRedisURI(%q): %v", s.URL(), err)
			}
			if opt, ok := got.(asynq.RedisClientOpt); ok && opt.Network == "" {
				opt.Network = "tcp" // go-redis's default
				got = opt
			}
			if diff := cmp.Diff(asynq.RedisConnOpt(s.Opt()), got); diff != "" {
				t.Errorf("ParseRedisURI(URL()) differs from Opt() (-Opt +parsed):\n%s", diff)
			}
		})
	}
}

func TestRedisServer(t *testing.T) {
	needRedisServer(t)
	tests := []struct {
		name        string
		dir         func(t *testing.T) string
		wantSockDir bool // socket in a temporary directory
	}{
		{
			name: "socket in dir",
			dir:  func(t *testing.T) string { return t.TempDir() },
		},
		{
			name: "dir needing quotes in redis.conf",
			dir:  func(t *testing.T) string { return filepath.Join(t.TempDir(), `a b"c\d`) },
		},
		{
			name: "socket in a temporary directory when dir is long",
			dir: func(t *testing.T) string {
				return filepath.Join(t.TempDir(), strings.Repeat("d", maxSocketPath))
			},
			wantSockDir: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			s := start(t, dir, false)
			if got, want := s.Kind(), KindRedisServer; got != want {
				t.Fatalf("Kind() = %q, want %q", got, want)
			}
			if got, want := s.Opt().Network, "unix"; got != want {
				t.Errorf("Opt().Network = %q, want %q", got, want)
			}
			sock := s.Opt().Addr
			if got := filepath.Dir(sock) != dir; got != tt.wantSockDir {
				t.Errorf("socket %s outside dir %s = %v, want %v", sock, dir, got, tt.wantSockDir)
			}

			rc := client(t, s)
			if err := rc.Set(t.Context(), "k", "v", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
			if got, err := rc.Get(t.Context(), "k").Result(); err != nil || got != "v" {
				t.Fatalf("GET = %q, %v; want %q, nil", got, err, "v")
			}

			if opt, ok := Running(t.Context(), dir); !ok || opt != s.Opt() {
				t.Errorf("Running = %+v, %v; want %+v, true", opt, ok, s.Opt())
			}
			if second, err := Start(t.Context(), dir, false, slog.New(slog.DiscardHandler)); err == nil {
				_ = second.Stop(t.Context())
				t.Errorf("second Start on the same dir succeeded, want an error")
			} else if !strings.Contains(err.Error(), "already listening on "+sock) {
				t.Errorf("second Start on the same dir: %v, want it to name the socket in use", err)
			}

			pid := s.child.cmd.Process.Pid
			if err := s.Stop(t.Context()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := s.Stop(t.Context()); err != nil {
				t.Errorf("second Stop: %v", err)
			}
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("after Stop, kill(%d, 0) = %v, want ESRCH", pid, err)
			}
			if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("after Stop, socket %s: %v, want it removed", sock, err)
			}
			if opt, ok := Running(t.Context(), dir); ok {
				t.Errorf("after Stop, Running = %+v, want none", opt)
			}
			if tt.wantSockDir {
				if _, err := os.Lstat(filepath.Dir(sock)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("after Stop, socket directory: %v, want it removed", err)
				}
			}

			// The append-only file in dir brings the key back.
			s = start(t, dir, false)
			rc = client(t, s)
			if got, err := rc.Get(t.Context(), "k").Result(); err != nil || got != "v" {
				t.Errorf("GET after restart = %q, %v; want %q, nil", got, err, "v")
			}
		})
	}
}

func TestMiniredisFallback(t *testing.T) {
	t.Setenv("PATH", "")
	s := start(t, t.TempDir(), true)
	if got, want := s.Kind(), KindMiniredis; got != want {
		t.Fatalf("Kind() = %q, want %q", got, want)
	}
	if got, want := s.Opt().Network, "tcp"; got != want {
		t.Errorf("Opt().Network = %q, want %q", got, want)
	}

	rc := client(t, s)
	if err := rc.Set(t.Context(), "k", "v", time.Second).Err(); err != nil {
		t.Fatalf("SET EX 1: %v", err)
	}
	// Only the FastForward ticker makes the TTL run down.
	deadline := time.Now().Add(15 * time.Second) // generous: a loaded machine delays the ticker
	for {
		n, err := rc.Exists(t.Context(), "k").Result()
		if err != nil {
			t.Fatalf("EXISTS: %v", err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key with a 1 s TTL still exists after 3 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestNoRedisServerWithoutFallback(t *testing.T) {
	t.Setenv("PATH", "")
	s, err := Start(t.Context(), t.TempDir(), false, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = s.Stop(t.Context())
		t.Fatal("Start succeeded without redis-server and fallback, want an error")
	}
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Start error = %v, want ErrNotInstalled", err)
	}
	if !strings.Contains(err.Error(), "apt-get install redis-server") {
		t.Errorf("Start error = %q, want it to say how to install redis-server", err)
	}
}

func TestAsynq(t *testing.T) {
	tests := []struct {
		name          string
		needBinary    bool
		path          string
		allowFallback bool
	}{
		{"redis-server", true, os.Getenv("PATH"), false},
		{"miniredis", false, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needBinary {
				needRedisServer(t)
			}
			t.Setenv("PATH", tt.path)
			s := start(t, t.TempDir(), tt.allowFallback)

			handled := make(chan string, 1)
			srv := asynq.NewServer(s.Opt(), asynq.Config{
				Concurrency: 1,
				LogLevel:    asynq.WarnLevel,
			})
			mux := asynq.NewServeMux()
			mux.HandleFunc("test:echo", func(ctx context.Context, task *asynq.Task) error {
				handled <- string(task.Payload())
				return nil
			})
			if err := srv.Start(mux); err != nil {
				t.Fatalf("asynq server Start: %v", err)
			}
			defer srv.Shutdown()

			c := asynq.NewClient(s.Opt())
			defer c.Close()
			if _, err := c.EnqueueContext(t.Context(), asynq.NewTask("test:echo", []byte("hello"))); err != nil {
				t.Fatalf("Enqueue: %v", err)
			}

			select {
			case got := <-handled:
				if got != "hello" {
					t.Errorf("handled payload %q, want %q", got, "hello")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("task not handled within 10 s")
			}
		})
	}
}

func TestConfigQuoting(t *testing.T) {
	tests := []struct{ sock, quoted string }{
		{`/tmp/a`, `"/tmp/a"`},
		{`/tmp/a b`, `"/tmp/a b"`},
		{`/tmp/a"b\c`, `"/tmp/a\"b\\c"`},
	}
	for _, tt := range tests {
		t.Run(tt.sock, func(t *testing.T) {
			if got := quote(tt.sock); got != tt.quoted {
				t.Errorf("quote(%q) = %s, want %s", tt.sock, got, tt.quoted)
			}
			path := filepath.Join(t.TempDir(), configName)
			if err := os.WriteFile(path, []byte(config("/data", tt.sock)), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, ok := socketInConfig(path); !ok || got != tt.sock {
				t.Errorf("socketInConfig(config(…, %q)) = %q, %v; want it back", tt.sock, got, ok)
			}
		})
	}
}

func TestRedisServerExitsBeforeReady(t *testing.T) {
	bin := t.TempDir()
	fake := "#!/bin/sh\necho 'FATAL CONFIG FILE ERROR' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "redis-server"), []byte(fake), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin)

	s, err := Start(t.Context(), t.TempDir(), true, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = s.Stop(t.Context())
		t.Fatal("Start succeeded with a redis-server that exits, want an error")
	}
	for _, want := range []string{"exited before answering PING", "FATAL CONFIG FILE ERROR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Start error = %q, want it to contain %q", err, want)
		}
	}
}
