package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
)

// LeaderKey is the Redis key of the scheduler's lease: its value names the
// worker process that enqueues the periodic tasks.
const LeaderKey = "chorus:scheduler:leader"

// DefaultLease is how long a scheduler's lease lasts without renewal: the
// longest a deployment goes without periodic tasks when the leading worker
// dies (the shortest period is a minute).
const DefaultLease = 15 * time.Second

// renewLease extends the lease only while it is still the caller's: a
// holder that stalled past its lease cannot extend another's.
var renewLease = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// releaseLease deletes the lease only while it is still the caller's.
var releaseLease = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// leader holds or waits for the scheduler's lease in Redis: one key, taken
// with SET NX PX, renewed by its holder every third of the lease through a
// compare-and-renew script, released at a graceful stop. Whoever holds it
// runs the scheduler; the others wait until it expires (at most one lease
// after the holder's last renewal) and try again.
type leader struct {
	rdb   redis.UniversalClient
	key   string
	id    string
	lease time.Duration
	log   *slog.Logger
}

// newLeader returns a contender identified by host, pid and a random part.
func newLeader(rdb redis.UniversalClient, lease time.Duration, log *slog.Logger) *leader {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &leader{rdb: rdb, key: LeaderKey, lease: lease, log: log,
		id: fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b))}
}

// run calls lead with a context that ends when the lease is lost (or ctx
// ends) each time this process takes the lease, until ctx is done; lead
// must return once its context ends. run releases a lease it holds before
// it returns.
func (l *leader) run(ctx context.Context, lead func(context.Context)) {
	renewEvery := l.lease / 3
	for {
		ok, err := l.rdb.SetNX(ctx, l.key, l.id, l.lease).Result()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.log.Warn("scheduler lease: Redis unreachable", "err", err)
		}
		if ok {
			l.hold(ctx, renewEvery, lead)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		// Someone else leads: try again as its lease runs out.
		wait := renewEvery
		if ttl, err := l.rdb.PTTL(ctx, l.key).Result(); err == nil && ttl > 0 && ttl < wait {
			wait = ttl + 10*time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// hold runs lead while it renews the lease it has just taken, until a
// renewal fails or ctx ends; then it stops lead and releases the lease.
func (l *leader) hold(ctx context.Context, renewEvery time.Duration, lead func(context.Context)) {
	l.log.Info("scheduler lease taken: this worker enqueues the periodic tasks", "holder", l.id, "lease", l.lease.String())
	leadCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(leadCtx)
	}()
	// The lease is valid until held+lease; a renewal that has not
	// succeeded by then means another may lead: stop first.
	held := time.Now()
	t := time.NewTicker(renewEvery)
	defer t.Stop()
	for lost := false; !lost; {
		select {
		case <-ctx.Done():
			lost = true
		case <-t.C:
			c, cancel := context.WithDeadline(ctx, held.Add(l.lease-renewEvery/2))
			n, err := renewLease.Run(c, l.rdb, []string{l.key}, l.id, l.lease.Milliseconds()).Int()
			cancel()
			switch {
			case err == nil && n == 1:
				held = time.Now()
			case err == nil:
				l.log.Warn("scheduler lease lost to another worker", "holder", l.id)
				lost = true
			case time.Since(held) >= l.lease-renewEvery:
				l.log.Warn("scheduler lease not renewed in time; stepping down", "holder", l.id, "err", err)
				lost = true
			default:
				l.log.Warn("scheduler lease renewal failed; retrying", "holder", l.id, "err", err)
			}
		}
	}
	stop()
	<-done
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := releaseLease.Run(c, l.rdb, []string{l.key}, l.id).Err(); err != nil && !errors.Is(err, redis.Nil) {
		l.log.Warn("scheduler lease not released; it expires by itself", "holder", l.id, "err", err)
	}
}
