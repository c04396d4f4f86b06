package embeddedmongo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

const (
	// socketName ends in "sock" because that suffix is how the Mongo driver
	// tells a unix socket address from a host name.
	socketName = "ferretdb.sock"

	// maxSocketPath keeps socket paths under the sun_path limit (104 bytes
	// on macOS, 108 on Linux) with some room to spare.
	maxSocketPath = 100

	// pingTimeout bounds how long a start waits for the first ping.
	pingTimeout = 10 * time.Second
)

// newMu serialises ferretdb.New, which writes the package-level build
// information of FerretDB (version.Get().Package) without a lock; two
// concurrent starts would otherwise race.
var newMu sync.Mutex

// startSQLite starts FerretDB v1 with its SQLite backend, storing one SQLite file
// per database under dir (created with mode 0700 if missing). It listens on
// a unix socket inside dir when the socket path is short enough, else on TCP
// 127.0.0.1 with a port chosen by the kernel.
//
// FerretDB logs through log, tagged component=ferretdb, at Warn and above
// only: its Info and Debug records (one per connection, per query in debug
// builds) are dropped, and so are its reports of failed commands, which the
// client sees as errors (see quiet).
//
// startSQLite returns once the server answers a ping, or an error after
// pingTimeout or when ctx ends; on error nothing is left running. ctx bounds
// only the start: the server runs until Stop, whatever happens to ctx.
//
// Only one server may use a dir at a time; startSQLite returns an error if
// another one is listening on the dir's socket. A socket left behind by a
// process that crashed is removed.
func startSQLite(ctx context.Context, dir string, log *slog.Logger) (*Mongo, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("embedded mongo: %w", err)
	}
	// FerretDB hands the SQLite URI to SQLite with the path unescaped, so
	// characters that mean something in a URI cannot be passed through.
	if strings.ContainsAny(dir, "?#%") {
		return nil, fmt.Errorf("embedded mongo: data directory %q must not contain '?', '#' or '%%'", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded mongo: create data directory: %w", err)
	}

	var listener ferretdb.ListenerConfig
	sock := filepath.Join(dir, socketName)
	// The driver splits host and port on ':' after unescaping, so a socket
	// path with a colon cannot be expressed in a URI.
	if len(sock) < maxSocketPath && !strings.Contains(sock, ":") {
		if err := removeStaleSocket(ctx, sock); err != nil {
			return nil, fmt.Errorf("embedded mongo: %w", err)
		}
		listener.Unix = sock
	} else {
		listener.TCP = "127.0.0.1:0"
	}

	newMu.Lock()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  listener,
		Logger:    slog.New(quiet{log.Handler()}).With(slog.String("component", "ferretdb")),
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
	})
	newMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("embedded mongo: %w", err)
	}

	// The server outlives ctx: keep its values, drop its cancellation.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{}) // closed when FerretDB has exited and closed its backend
	go func() {
		defer close(done)
		_ = f.Run(runCtx) // always nil; it returns once runCtx is canceled
	}()
	m := &Mongo{engine: EngineSQLite, stop: func(ctx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}}

	if listener.Unix != "" {
		// The driver wants the socket path as the host, query-escaped.
		m.uri = "mongodb://" + url.QueryEscape(sock)
	} else {
		m.uri = f.MongoDBURI() // waits for the TCP listener's address
	}

	if err := ping(ctx, m.uri); err != nil {
		cancel()
		<-done
		return nil, fmt.Errorf("embedded mongo: server in %s did not answer: %w", dir, err)
	}

	log.InfoContext(ctx, "embedded MongoDB-compatible server (FerretDB v1/SQLite) started",
		slog.String("dir", dir), slog.String("uri", m.uri))
	return m, nil
}

// ping connects to uri and pings it, within pingTimeout.
func ping(ctx context.Context, uri string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()

	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return err
	}
	defer func() { _ = c.Disconnect(context.WithoutCancel(ctx)) }()
	return c.Ping(ctx, readpref.Primary())
}

// removeStaleSocket removes the socket at path if nothing answers on it, and
// returns an error if something does.
func removeStaleSocket(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	d := net.Dialer{Timeout: time.Second}
	if c, err := d.DialContext(ctx, "unix", path); err == nil {
		_ = c.Close()
		return fmt.Errorf("another server is already listening on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// quiet is the handler FerretDB logs through. It passes on records at Warn
// and above to the wrapped handler and drops the rest, and also drops the
// Warn records FerretDB writes for every command that fails ("Response
// header: …", "Response message: …"): the client gets that error anyway and
// logs it once where it is handled, the message can hold document values
// (a duplicate key, for one), and the v2 driver's endSessions, which FerretDB
// v1 lacks, would add two of them to every disconnect.
type quiet struct{ h slog.Handler }

func (q quiet) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.h.Enabled(ctx, l)
}

func (q quiet) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	if r.Level < slog.LevelError && strings.HasPrefix(r.Message, "Response ") {
		return nil
	}
	return q.h.Handle(ctx, r)
}

func (q quiet) WithAttrs(as []slog.Attr) slog.Handler { return quiet{q.h.WithAttrs(as)} }

func (q quiet) WithGroup(name string) slog.Handler { return quiet{q.h.WithGroup(name)} }

// RunningURI returns the URI of an embedded FerretDB v1/SQLite server
// already serving dir (another Chorus process on the same data dir), if one
// answers. (With DocumentDB each process runs its own FerretDB on the shared
// cluster: Start finds that cluster itself.)
func RunningURI(ctx context.Context, dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	sock := filepath.Join(dir, socketName)
	if _, err := os.Stat(sock); err != nil {
		return "", false
	}
	uri := "mongodb://" + url.QueryEscape(sock)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := ping(ctx, uri); err != nil {
		return "", false
	}
	return uri, true
}
