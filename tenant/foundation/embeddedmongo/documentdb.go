//go:build unix

package embeddedmongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/chorushq/chorus/tenant/foundation/childproc"
)

const (
	// pgdataName is the cluster's directory under the store's directory.
	pgdataName = "postgres"
	// stateName is FerretDB v2's state directory (its version checks).
	stateName = "ferretdb"
	// lockName serialises starts on one directory between processes.
	lockName = "start.lock"

	// defaultMaxConns is FerretDB's pool of PostgreSQL connections per
	// process: more busy backends than that gain nothing on a small machine,
	// and a few processes on one data directory stay well under the
	// cluster's max_connections.
	defaultMaxConns = 20

	// ferretReadyTimeout bounds how long a start waits for FerretDB to
	// answer a ping; ferretStopGrace how long its stop waits after SIGTERM.
	ferretReadyTimeout = 30 * time.Second
	ferretStopGrace    = 10 * time.Second
)

// fronts numbers the FerretDBs this process starts, for their socket names.
var fronts atomic.Int64

// startDocumentDB starts (or finds) the cluster in dir/postgres and serves
// FerretDB v2 on it as a child process of this one.
func startDocumentDB(ctx context.Context, in pgInstall, dir string, opts Options, log *slog.Logger) (_ *Mongo, err error) {
	pgdata := filepath.Join(dir, pgdataName)
	var (
		c      *cluster
		shared bool
	)
	if opts.Attach {
		c, err = waitCluster(ctx, dir, pgdata)
		shared = true
	} else {
		c, shared, err = ensureCluster(ctx, in, dir, opts, log)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded store: PostgreSQL in %s: %w", pgdata, err)
	}
	defer func() {
		if err != nil {
			_ = c.stop(context.WithoutCancel(ctx))
		}
	}()

	f, uri, err := startFerretDB(ctx, in.ferretdb, dir, c, opts, log)
	if err != nil {
		return nil, fmt.Errorf("embedded store: FerretDB on %s: %w", pgdata, err)
	}
	m := &Mongo{engine: EngineDocumentDB, uri: uri, clusters: []*cluster{c}}
	m.own = func(ctx context.Context) (bool, error) {
		c, shared, err := ensureCluster(ctx, in, dir, opts, log)
		if err != nil || shared {
			return false, err
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.clusters = append(m.clusters, c)
		return true, nil
	}
	m.stop = func(ctx context.Context) error {
		err := f.stop(ctx)
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, c := range m.clusters {
			err = errors.Join(err, c.stop(ctx))
		}
		return err
	}
	log.InfoContext(ctx, "embedded MongoDB-compatible store (FerretDB v2 on PostgreSQL with DocumentDB) started",
		slog.String("dir", dir), slog.String("uri", uri), slog.Bool("shared_cluster", shared))
	return m, nil
}

// ensureCluster returns the cluster another process serves on dir, or
// starts one as a child of this process (shared false).
func ensureCluster(ctx context.Context, in pgInstall, dir string, opts Options, log *slog.Logger) (*cluster, bool, error) {
	unlock, err := lockDir(filepath.Join(dir, lockName))
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	pgdata := filepath.Join(dir, pgdataName)
	if c, ok := runningCluster(ctx, pgdata); ok {
		log.InfoContext(ctx, "embedded store: using the PostgreSQL cluster another process runs on the data dir",
			slog.String("pgdata", pgdata), slog.String("socket_dir", c.sockDir))
		return c, true, nil
	}
	if err := waitPostmasterGone(ctx, pgdata); err != nil {
		return nil, false, err
	}
	if sqliteData(dir) && !exists(filepath.Join(pgdata, "PG_VERSION")) {
		log.WarnContext(ctx, "embedded store: the data of the former SQLite store in this directory is not carried over to PostgreSQL; set CHORUS_EMBEDDED_STORE=sqlite to keep using it",
			slog.String("dir", dir))
	}
	c, err := startCluster(ctx, in, dir, pgdata, opts.Ephemeral, log)
	return c, false, err
}

// attachTimeout bounds how long a process that does not own the data dir
// waits for the owner's cluster to accept connections.
const attachTimeout = 90 * time.Second

// waitCluster waits until another process serves a cluster on pgdata.
func waitCluster(ctx context.Context, dir, pgdata string) (*cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, attachTimeout)
	defer cancel()
	for {
		unlock, err := lockDir(filepath.Join(dir, lockName))
		if err != nil {
			return nil, err
		}
		c, ok := runningCluster(ctx, pgdata)
		unlock()
		if ok {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no cluster answers on %s: the process that owns the data dir has not started it (%w)", pgdata, context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitPostmasterGone waits until the postmaster that postmaster.pid names,
// if it still lives, has exited: a cluster whose process died shuts down
// on its own (fast shutdown), and a new one cannot start before.
func waitPostmasterGone(ctx context.Context, pgdata string) error {
	ctx, cancel := context.WithTimeout(ctx, pgStopGrace)
	defer cancel()
	for {
		b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
		if err != nil {
			return nil
		}
		pidStr, _, _ := strings.Cut(string(b), "\n")
		pid, err := strconv.Atoi(strings.TrimSpace(pidStr))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) == syscall.ESRCH {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the postmaster %d of %s neither serves nor exits", pid, pgdata)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startFerretDB runs FerretDB v2 on cluster c, listening on a unix socket
// of its own: dir/ferretdb-<pid>-<n>.sock, or one in a temporary directory when
// that path is too long. It returns the child and the mongodb:// URI.
func startFerretDB(ctx context.Context, bin, dir string, c *cluster, opts Options, log *slog.Logger) (*ferret, string, error) {
	removeStaleFerretSockets(dir)
	f := &ferret{sock: filepath.Join(dir, fmt.Sprintf("ferretdb-%d-%d.sock", os.Getpid(), fronts.Add(1)))}
	if len(f.sock) >= maxSocketPath || strings.Contains(f.sock, ":") {
		d, err := os.MkdirTemp("", "chorus-ferretdb-")
		if err != nil {
			return nil, "", err
		}
		f.sockDir = d
		f.sock = filepath.Join(d, "ferretdb.sock")
	}
	state := filepath.Join(dir, stateName)
	if err := os.MkdirAll(state, 0o700); err != nil {
		f.cleanup()
		return nil, "", err
	}
	maxConns := opts.MaxConns
	if maxConns <= 0 {
		maxConns = defaultMaxConns
	}
	pgURL := url.URL{Scheme: "postgres", User: url.User(pgUser), Path: "/postgres", RawQuery: url.Values{
		"host":           {c.sockDir},
		"pool_max_conns": {strconv.Itoa(maxConns)},
		"pool_min_conns": {"1"},
	}.Encode()}
	args := []string{
		"--postgresql-url=" + pgURL.String(),
		"--listen-addr=",
		"--listen-unix=" + f.sock,
		"--debug-addr=-",
		"--no-auth",
		"--state-dir=" + state,
		"--telemetry=disable",
		"--log-level=warn",
	}
	var err error
	f.child, err = startChild("ferretdb", bin, args, nil, syscall.SIGTERM, log)
	if err != nil {
		f.cleanup()
		return nil, "", err
	}
	// The driver wants the socket path as the host, query-escaped.
	uri := "mongodb://" + url.QueryEscape(f.sock)
	err = f.child.waitReady(ctx, ferretReadyTimeout, func(ctx context.Context) error {
		if err := childproc.DialUnix(ctx, f.sock); err != nil {
			return err
		}
		return ping(ctx, uri)
	})
	if err != nil {
		_ = f.stop(context.WithoutCancel(ctx))
		return nil, "", err
	}
	return f, uri, nil
}

// ferret is a running FerretDB v2.
type ferret struct {
	child   *child
	sock    string
	sockDir string // temporary directory holding sock, or ""
}

// stop stops FerretDB (SIGTERM, SIGKILL after ferretStopGrace) and removes
// its socket. It is idempotent.
func (f *ferret) stop(ctx context.Context) error {
	err := f.child.stop(ctx, ferretStopGrace, syscall.SIGTERM)
	f.cleanup()
	return err
}

func (f *ferret) cleanup() {
	_ = os.Remove(f.sock)
	if f.sockDir != "" {
		_ = os.RemoveAll(f.sockDir)
	}
}

// removeStaleFerretSockets removes the sockets in dir of FerretDBs whose
// Chorus process has exited (and so, on Linux, have they).
func removeStaleFerretSockets(dir string) {
	socks, _ := filepath.Glob(filepath.Join(dir, "ferretdb-*.sock"))
	for _, s := range socks {
		pidStr, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(s), "ferretdb-"), "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		_ = os.Remove(s)
	}
}

// lockDir takes an exclusive lock on the file at path, waiting for another
// process's start to finish, and returns its release.
func lockDir(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, nil
}

// sqliteData reports whether dir holds databases of FerretDB v1/SQLite.
func sqliteData(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
	return len(m) > 0
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
