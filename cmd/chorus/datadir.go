package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/tenant/foundation/childproc"
	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
	"github.com/chorushq/chorus/tenant/foundation/embeddedredis"
)

// ownerLockName is the file in the data dir whose lock (flock) makes a
// process the data dir's owner: the one that starts and stops the
// embedded servers (PostgreSQL, FerretDB's cluster, redis-server). Other
// processes on the data dir use them.
const ownerLockName = "owner.lock"

// dataDir is this process's claim on the data dir.
type dataDir struct {
	dir string
	log *slog.Logger

	mu      sync.Mutex
	own     bool
	release func()
	stops   []func(context.Context) error // servers started on taking over
}

// claimDataDir makes this process the owner of cfg's data dir if no other
// process is, when it uses an embedded server (else there is nothing to
// own, and it counts as the owner).
func claimDataDir(cfg config, embedded bool, log *slog.Logger) (*dataDir, error) {
	d := &dataDir{dir: cfg.DataDir, log: log, own: true, release: func() {}}
	if !embedded {
		return d, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("CHORUS_DATA_DIR: %w", err)
	}
	release, ok, err := childproc.TryLock(filepath.Join(cfg.DataDir, ownerLockName))
	if err != nil {
		return nil, fmt.Errorf("CHORUS_DATA_DIR: %w", err)
	}
	if ok {
		d.release = release
	} else {
		d.own = false
		log.Info("another Chorus process owns the data dir: using its embedded servers", "dir", cfg.DataDir)
	}
	return d, nil
}

// owner reports whether this process owns the data dir.
func (d *dataDir) owner() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.own
}

// takeOver runs in a process that does not own the data dir until ctx is
// done: once the owner is gone (stopped, or died), this process takes the
// lock and starts what is down of the embedded servers it uses (m's
// cluster when m is not nil; the redis-server when redis), retrying until
// they run, so that it keeps working. Its own FerretDB and Redis clients
// reconnect to them at the same sockets.
func (d *dataDir) takeOver(ctx context.Context, m *embeddedmongo.Mongo, redis bool) {
	lock := filepath.Join(d.dir, ownerLockName)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		release, ok, err := childproc.TryLock(lock)
		if err != nil {
			d.log.Warn("data dir owner lock", "err", err)
		}
		if ok {
			d.mu.Lock()
			d.own, d.release = true, release
			d.mu.Unlock()
			break
		}
	}
	d.log.Warn("the process that owned the data dir is gone: this process owns it now and runs its embedded servers", "dir", d.dir)
	mongoUp, redisUp := m == nil, !redis
	for {
		var errs []error
		if !mongoUp {
			started, err := m.Own(ctx)
			mongoUp = err == nil
			errs = append(errs, err)
			if started {
				d.log.Info("embedded PostgreSQL cluster restarted by this process", "dir", d.dir)
			}
		}
		if !redisUp {
			dir := filepath.Join(d.dir, "redis")
			if _, ok := embeddedredis.Running(ctx, dir); ok {
				redisUp = true
			} else if rs, err := embeddedredis.Start(ctx, dir, false, d.log); err != nil {
				errs = append(errs, err)
			} else {
				d.mu.Lock()
				d.stops = append(d.stops, rs.Stop)
				d.mu.Unlock()
				redisUp = true
			}
		}
		if mongoUp && redisUp {
			return
		}
		d.log.Warn("embedded servers not up yet; trying again", "err", errors.Join(errs...))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// close stops the servers this process started on taking over, then gives
// up the lock: another process takes over only once they have stopped.
func (d *dataDir) close(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var err error
	for _, stop := range d.stops {
		err = errors.Join(err, stop(ctx))
	}
	d.release()
	return err
}

// attachTimeout bounds how long a process that does not own the data dir
// waits for the owner's redis-server.
const attachTimeout = 90 * time.Second

// attachRedis returns the redis-server of the data dir's owner, waiting
// for it while the owner starts. An owner without redis-server runs an
// in-process Redis no other process can reach: that is an error saying
// what to do, wrapping embeddedredis.ErrNotInstalled.
func attachRedis(ctx context.Context, dir string) (asynq.RedisClientOpt, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return asynq.RedisClientOpt{}, fmt.Errorf("%w: the Chorus process that owns the data dir runs an in-process Redis that no other process can reach; install redis-server (apt-get install redis-server), set CHORUS_REDIS_URL, or run a single `chorus all` on the data dir", embeddedredis.ErrNotInstalled)
	}
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	for {
		if opt, ok := embeddedredis.Running(ctx, dir); ok {
			return opt, nil
		}
		select {
		case <-ctx.Done():
			return asynq.RedisClientOpt{}, fmt.Errorf("no redis-server answers in %s: the Chorus process that owns the data dir has not started it", dir)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
