// Package jobstest provides test helpers for code that runs on Asynq: a real
// Redis for every test, with a database of its own.
package jobstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/tenant/foundation/embeddedredis"
)

// EnvURL names the environment variable that points tests at an existing
// Redis, in any form asynq.ParseRedisURI accepts except Sentinel.
const EnvURL = "CHORUS_TEST_REDIS_URL"

// databases is how many numbered databases Redis has by default.
const databases = 16

// Process-wide state, which a test helper may keep: every test of the
// process shares one Redis, started at most once and never stopped (see
// Redis), and takes its database number from one counter.
var (
	nextDB atomic.Uint32
	local  struct {
		once sync.Once
		opt  asynq.RedisClientOpt
		err  error
	}
)

// Redis returns options for a real Redis database dedicated to this test:
// empty when Redis returns and emptied again when the test ends.
//
// The Redis is the one at CHORUS_TEST_REDIS_URL if that is set; otherwise a
// redis-server from PATH started, at the first call in the process, in a
// temporary directory. That server is never stopped: it gets SIGTERM when
// the test process exits (Linux; elsewhere it outlives the process), and its
// directory, a few kilobytes of append-only file, stays behind in the system
// temporary directory.
//
// The database number comes from a process-wide counter modulo 16 (any
// database in the URL is ignored), so at most 16 tests of a process may use
// Redis at once. Test processes do not coordinate: when several share
// CHORUS_TEST_REDIS_URL (go test runs packages in parallel), they also share
// and flush the same 16 databases, so run them with go test -p 1.
//
// Without CHORUS_TEST_REDIS_URL and without redis-server the test is
// skipped with how to get one, or fails when CI=true.
func Redis(t testing.TB) asynq.RedisClientOpt {
	t.Helper()
	opt := server(t)
	opt.DB = int(nextDB.Add(1)-1) % databases
	if err := flush(t.Context(), opt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context is canceled by the time cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := flush(ctx, opt); err != nil {
			t.Error(err)
		}
	})
	return opt
}

// server returns options for the Redis to use, DB unset.
func server(t testing.TB) asynq.RedisClientOpt {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		conn, err := asynq.ParseRedisURI(u)
		if err != nil {
			t.Fatalf("%s: %v", EnvURL, err)
		}
		opt, ok := conn.(asynq.RedisClientOpt)
		if !ok {
			t.Fatalf("%s: want a redis://, rediss:// or redis-socket:// URL, got %T", EnvURL, conn)
		}
		return opt
	}

	local.once.Do(func() {
		dir, err := os.MkdirTemp("", "chorus-test-redis-")
		if err != nil {
			local.err = err
			return
		}
		s, err := embeddedredis.Start(context.Background(), dir, false, slog.New(slog.DiscardHandler))
		if err != nil {
			_ = os.RemoveAll(dir)
			local.err = err
			return
		}
		local.opt = s.Opt()
	})
	switch {
	case errors.Is(local.err, embeddedredis.ErrNotInstalled):
		msg := "no Redis for this test: apt-get install redis-server (macOS: brew install redis) or set " + EnvURL
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	case local.err != nil:
		t.Fatalf("start redis-server for tests: %v", local.err)
	}
	return local.opt
}

// flush empties database opt.DB.
func flush(ctx context.Context, opt asynq.RedisClientOpt) error {
	rc := redis.NewClient(&redis.Options{
		Network:   opt.Network,
		Addr:      opt.Addr,
		Username:  opt.Username,
		Password:  opt.Password,
		DB:        opt.DB,
		TLSConfig: opt.TLSConfig,
	})
	defer rc.Close()
	if err := rc.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("FLUSHDB %d on Redis at %s: %w", opt.DB, opt.Addr, err)
	}
	return nil
}
