// Package embedded runs the embedded MongoDB-compatible store for laptops,
// small installs and tests, so that Chorus works without a MongoDB
// deployment: FerretDB v2 on a private PostgreSQL cluster with the
// DocumentDB extension, both child processes (like redis-server), the
// cluster's data under the data directory; or, where PostgreSQL with DocumentDB is
// not installed, FerretDB v1 on SQLite, a demo mode that scans whole
// collections and is atomic only within one connection. Production points
// CHORUS_MONGO_URI at MongoDB or at its own FerretDB v2 + DocumentDB and
// never starts it.
//
// FerretDB v1 runs in-process; v2 cannot (it needs another major version of
// github.com/FerretDB/wire than v1 compiles against), so .ci/build-documentdb
// builds it from tools/ferretdb. The package builds with and without the
// ferretdb_no_postgresql tag; the tag only drops FerretDB v1's PostgreSQL
// backend, which is never used here.
package embeddedmongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ErrNotInstalled is returned (wrapped, with how to install it) when
// PostgreSQL 15, its DocumentDB extension or FerretDB v2 is missing and no
// fallback is allowed.
var ErrNotInstalled = errors.New("PostgreSQL with the DocumentDB extension is not installed")

// ErrNotShared is returned by Start with Options.Attach when the engine
// would be FerretDB v1 on SQLite, which is atomic only within one
// connection and so serves the process that owns the data dir only.
var ErrNotShared = errors.New("its embedded store is FerretDB v1 on SQLite (CHORUS_EMBEDDED_STORE=sqlite, or no PostgreSQL with DocumentDB here), which is atomic only within one connection, so one Chorus process only may use it")

// Engine is what serves the embedded store.
type Engine string

const (
	// EngineAuto is DocumentDB when installed, else SQLite with a warning.
	EngineAuto Engine = ""
	// EngineDocumentDB is FerretDB v2 on a private PostgreSQL cluster with
	// the DocumentDB extension: indexes, atomic across connections, no
	// multi-document transactions.
	EngineDocumentDB Engine = "documentdb"
	// EngineSQLite is FerretDB v1 on SQLite: a demo mode.
	EngineSQLite Engine = "sqlite"
)

// ParseEngine parses the name of an engine: "auto" (or ""), "documentdb"
// or "sqlite".
func ParseEngine(s string) (Engine, error) {
	switch e := Engine(strings.ToLower(strings.TrimSpace(s))); e {
	case "auto", EngineAuto:
		return EngineAuto, nil
	case EngineDocumentDB, EngineSQLite:
		return e, nil
	}
	return "", fmt.Errorf("unknown embedded store engine %q: want auto, documentdb or sqlite", s)
}

// Options configures Start. The zero value is the default of `chorus`.
type Options struct {
	// Engine chooses the engine; EngineAuto falls back to SQLite.
	Engine Engine
	// Ephemeral turns off flushing to disk (fsync, synchronous commit) in a
	// cluster this process starts: for tests, whose data a crash may lose.
	Ephemeral bool
	// Attach makes Start use the cluster that another process (the data
	// dir's owner) runs, waiting up to 90 s for it, instead of starting
	// one: for a process that does not own the data dir. Ignored by the
	// SQLite engine.
	Attach bool
	// MaxConns bounds this process's pool of PostgreSQL connections
	// (default 20). Each connection is a PostgreSQL process; the cluster
	// accepts 200 in all, for every process on the data directory.
	MaxConns int
}

// Mongo is a running embedded store. Its methods may be called from any
// goroutine.
type Mongo struct {
	engine Engine
	uri    string
	stop   func(context.Context) error
	own    func(context.Context) (bool, error) // nil: nothing to take over

	mu       sync.Mutex
	clusters []*cluster // what stop stops (each a no-op unless started here)
}

// Start starts the embedded store whose data lives in dir (created 0700 if
// missing) and returns once it answers a ping.
//
// With EngineDocumentDB (or EngineAuto when PostgreSQL 15 and the DocumentDB
// extension are installed, see .ci/build-documentdb) the PostgreSQL cluster
// lives in dir/postgres, listens only on a unix socket in that directory (in
// a temporary one when that path is too long for a socket), and logs through
// log at Debug. The first start initialises it and creates the extension.
// When Chorus runs as root the cluster runs as the postgres user, which must
// be able to reach dir: Start adds the search bit for others (not the read
// bit) to dir and to the directory holding it where missing. If another
// process already serves a cluster on dir/postgres (`chorus serve` and
// `chorus worker` side by side), Start uses it and leaves it running at
// Stop; that process stops it when it stops, and the cluster stops (fast
// shutdown) if the process that started it dies. FerretDB v2 then runs in
// a child process of this one (its binary installed beside postgres), on a
// unix socket of its own in dir, with a pool of opts.MaxConns connections to
// the cluster; its state file is in dir/ferretdb. Without PostgreSQL or DocumentDB, EngineDocumentDB returns
// an error wrapping ErrNotInstalled that says how to install them.
//
// With EngineSQLite, or EngineAuto without DocumentDB (logged as a warning
// that this is a demo mode), FerretDB v1 stores one SQLite file per database
// in dir and listens on dir/ferretdb.sock (or TCP 127.0.0.1 when that path
// is too long); a socket left by a crashed process is removed, a live one
// makes Start fail: use RunningURI.
//
// ctx bounds only the start: the store runs until Stop. log must not be
// nil; FerretDB logs through it at Warn and above, tagged
// component=ferretdb. On error nothing is left running.
func Start(ctx context.Context, dir string, opts Options, log *slog.Logger) (*Mongo, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: create data directory: %w", err)
	}
	switch opts.Engine {
	case EngineSQLite:
		if opts.Attach {
			return nil, ErrNotShared
		}
		return startSQLite(ctx, dir, log)
	case EngineDocumentDB, EngineAuto:
	default:
		return nil, fmt.Errorf("embedded store: unknown engine %q", opts.Engine)
	}
	in, err := findPostgres(ctx)
	if errors.Is(err, ErrNotInstalled) && opts.Engine == EngineAuto && opts.Attach {
		return nil, ErrNotShared
	}
	if errors.Is(err, ErrNotInstalled) && opts.Engine == EngineAuto {
		log.WarnContext(ctx, "embedded store: DEMO MODE: FerretDB v1 on SQLite, which scans whole collections and is atomic only within one connection; install PostgreSQL with DocumentDB (.ci/build-documentdb) or set CHORUS_MONGO_URI",
			slog.String("reason", err.Error()))
		return startSQLite(ctx, dir, log)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	return startDocumentDB(ctx, in, dir, opts, log)
}

// Engine returns the engine that serves m.
func (m *Mongo) Engine() Engine { return m.engine }

// URI returns a mongodb:// URI for the store, usable by the v2 driver. For a
// unix socket the path is the escaped host (mongodb://%2Fpath%2Fferretdb.sock).
func (m *Mongo) URI() string { return m.uri }

// Own starts the PostgreSQL cluster on the data dir as a child of this
// process if no process serves it (its owner stopped or died), and reports
// whether it did; this process's FerretDB then reconnects to it, and Stop
// stops it. Only the process that owns the data dir may call Own. The
// SQLite engine has nothing to take over: Own returns false.
func (m *Mongo) Own(ctx context.Context) (bool, error) {
	if m.own == nil {
		return false, nil
	}
	started, err := m.own(ctx)
	if err != nil {
		return false, fmt.Errorf("embedded store: %w", err)
	}
	return started, nil
}

// Stop stops FerretDB and then the PostgreSQL cluster if this process
// started it, and waits until they have exited. FerretDB gives clients
// still connected a few seconds to finish: disconnect them first for a
// quick stop. Stop is idempotent. If ctx ends first, Stop returns ctx's
// error; FerretDB v1 keeps shutting down in the background, child
// processes are killed.
func (m *Mongo) Stop(ctx context.Context) error {
	if err := m.stop(ctx); err != nil {
		return fmt.Errorf("embedded store: stop: %w", err)
	}
	return nil
}

// DocumentDBInstalled returns nil when the DocumentDB engine can run here
// (PostgreSQL 15, the extension and FerretDB v2 are installed), else an
// error wrapping ErrNotInstalled that says what is missing.
func DocumentDBInstalled(ctx context.Context) error {
	_, err := findPostgres(ctx)
	return err
}
