// Package tenanttest gives tests a real MongoDB-compatible server: the one
// named by CHORUS_TEST_MONGO_URI (real MongoDB in the GitHub workflow), or
// else the embedded store, started once per test process: FerretDB v2 on a
// private PostgreSQL cluster with DocumentDB (.ci/build-documentdb installs
// it; under CI=true its absence fails the tests, elsewhere they fall back to
// FerretDB v1/SQLite), or FerretDB v1/SQLite when
// CHORUS_TEST_EMBEDDED=sqlite (the smoke run of the demo fallback).
package tenanttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
)

// The embedded server lives as long as the test process: a package-level
// once is the simplest way to share it between the tests of one package.
var (
	once     sync.Once
	uri      string
	storeDir string // the embedded store's, "" with CHORUS_TEST_MONGO_URI
	onceErr  error
)

func serverURI() (string, error) {
	once.Do(func() {
		if u := os.Getenv("CHORUS_TEST_MONGO_URI"); u != "" {
			uri = u
			return
		}
		opts := embeddedmongo.Options{Ephemeral: true}
		var err error
		if opts.Engine, err = embeddedmongo.ParseEngine(os.Getenv("CHORUS_TEST_EMBEDDED")); err != nil {
			onceErr = fmt.Errorf("CHORUS_TEST_EMBEDDED: %w", err)
			return
		}
		if opts.Engine == embeddedmongo.EngineAuto && os.Getenv("CI") == "true" {
			opts.Engine = embeddedmongo.EngineDocumentDB
		}
		removeStaleStores()
		dir, err := os.MkdirTemp("", storePrefix)
		if err != nil {
			onceErr = err
			return
		}
		// The cluster runs as the postgres user when the tests run as root.
		if err := os.Chmod(dir, 0o711); err != nil {
			onceErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
			onceErr = err
			return
		}
		// Warnings only: the demo-mode fallback says so once per package.
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		m, err := embeddedmongo.Start(context.Background(), filepath.Join(dir, "mongo"), opts, log)
		if err != nil {
			onceErr = err
			return
		}
		uri = m.URI()
		storeDir = filepath.Join(dir, "mongo")
	})
	return uri, onceErr
}

// storePrefix names the temporary directories of the embedded stores of
// test processes; ownerFile in each holds the pid of its process. The
// process never stops its store: when it exits, its children (PostgreSQL,
// FerretDB v2) stop, and the next test process removes the directory.
const (
	storePrefix = "chorus-test-store-"
	ownerFile   = "owner.pid"
)

// removeStaleStores removes the store directories of test processes that
// have exited and whose PostgreSQL has stopped.
func removeStaleStores() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), storePrefix+"*"))
	for _, d := range dirs {
		if alive(filepath.Join(d, ownerFile)) || alive(filepath.Join(d, "mongo", "postgres", "postmaster.pid")) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// alive reports whether the pid on the first line of the file at path is a
// running process. A file still being written counts as alive.
func alive(path string) bool {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return err != nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	// Only a process known to be gone counts as dead.
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// StoreDir returns the data directory of the embedded store Mongo's
// server keeps its files in, or false when the tests use another server
// (CHORUS_TEST_MONGO_URI).
func StoreDir(t testing.TB) (string, bool) {
	t.Helper()
	if _, err := serverURI(); err != nil || storeDir == "" {
		return "", false
	}
	return storeDir, true
}

// The second server, for tests of regions: always an embedded store of
// its own (its files are searched), started once per test process.
var (
	secondOnce sync.Once
	secondURI  string
	secondDir  string
	secondErr  error
)

// SecondMongo returns the URI and data directory of a second
// MongoDB-wire server, an embedded store with its own data directory (the
// region tests place instances on two servers and search their files).
// Tests share it; each uses databases of its own.
func SecondMongo(t testing.TB) (uri, dir string) {
	t.Helper()
	secondOnce.Do(func() {
		opts := embeddedmongo.Options{Ephemeral: true}
		if opts.Engine, secondErr = embeddedmongo.ParseEngine(os.Getenv("CHORUS_TEST_EMBEDDED")); secondErr != nil {
			return
		}
		if opts.Engine == embeddedmongo.EngineAuto && os.Getenv("CI") == "true" {
			opts.Engine = embeddedmongo.EngineDocumentDB
		}
		removeStaleStores()
		d, err := os.MkdirTemp("", storePrefix)
		if err == nil {
			err = os.Chmod(d, 0o711)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(d, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600)
		}
		if err != nil {
			secondErr = err
			return
		}
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		m, err := embeddedmongo.Start(context.Background(), filepath.Join(d, "mongo"), opts, log)
		if err != nil {
			secondErr = err
			return
		}
		secondURI, secondDir = m.URI(), filepath.Join(d, "mongo")
	})
	if secondErr != nil {
		Missing(t, "a second embedded MongoDB-compatible store", fmt.Sprintf("run .ci/build-documentdb (%v)", secondErr))
	}
	return secondURI, secondDir
}

// FilesContaining returns the files under dir whose bytes contain s.
func FilesContaining(t testing.TB, dir, s string) []string {
	t.Helper()
	var found []string
	needle := []byte(s)
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
				return nil // a file PostgreSQL removed meanwhile; a socket's lock
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		if bytes.Contains(b, needle) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("search %s: %v", dir, err)
	}
	return found
}

// Mongo returns the URI of the test server and a fresh, randomly named
// database that is dropped when the test ends.
func Mongo(t testing.TB) (uri, database string) {
	t.Helper()
	u, err := serverURI()
	if err != nil {
		t.Fatalf("start the embedded MongoDB-compatible store (run .ci/build-documentdb, or set CHORUS_TEST_MONGO_URI): %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	db := "test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := mongo.Connect(options.Client().ApplyURI(u).SetMaxPoolSize(1))
		if err != nil {
			t.Logf("drop %s: %v", db, err)
			return
		}
		defer c.Disconnect(ctx)
		if err := c.Database(db).Drop(ctx); err != nil {
			t.Logf("drop %s: %v", db, err)
		}
	})
	return u, db
}

// Postgres returns a libpq connection string to the PostgreSQL cluster of
// the embedded store the tests use (as its superuser), or false when they
// use another server (CHORUS_TEST_MONGO_URI, the SQLite fallback).
func Postgres(t testing.TB) (string, bool) {
	t.Helper()
	if _, err := serverURI(); err != nil || storeDir == "" {
		return "", false
	}
	return embeddedmongo.PostgresConnString(t.Context(), storeDir)
}

// Missing reports a server the test needs but cannot find: a skip with a
// how-to on a developer's machine, a failure under CI=true, where a
// missing server must never pass silently.
func Missing(t testing.TB, what, howto string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (CI=true, so this fails): %s", what, howto)
	}
	t.Skipf("%s is missing: %s", what, howto)
}

// Clock is an injected clock that tests move by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Buffer collects output (logs, a child process's) written by other
// goroutines while the test reads it.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// MustMarshal encodes d, failing the test if it cannot.
func MustMarshal(t testing.TB, d bson.D) bson.Raw {
	t.Helper()
	b, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
