// Package tenanttest gives tests a real MongoDB-compatible server: the one
// named by CHORUS_TEST_MONGO_URI (real MongoDB in the GitHub workflow), or
// else an embedded FerretDB started once per test process.
package tenanttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/embedded"
)

// The embedded server lives as long as the test process: a package-level
// once is the simplest way to share it between the tests of one package.
var (
	once    sync.Once
	uri     string
	onceErr error
)

func serverURI() (string, error) {
	once.Do(func() {
		if u := os.Getenv("CHORUS_TEST_MONGO_URI"); u != "" {
			uri = u
			return
		}
		dir, err := os.MkdirTemp("", "chorus-ferretdb-")
		if err != nil {
			onceErr = err
			return
		}
		m, err := embedded.StartMongo(context.Background(), dir, slog.New(slog.DiscardHandler))
		if err != nil {
			onceErr = err
			return
		}
		uri = m.URI()
	})
	return uri, onceErr
}

// Mongo returns the URI of the test server and a fresh, randomly named
// database that is dropped when the test ends.
func Mongo(t testing.TB) (uri, database string) {
	t.Helper()
	u, err := serverURI()
	if err != nil {
		t.Fatalf("start the embedded MongoDB-compatible server (or set CHORUS_TEST_MONGO_URI): %v", err)
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
