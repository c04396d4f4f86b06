//go:build unix

package embeddedmongo

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// needDocumentDB skips the test when PostgreSQL with DocumentDB is not
// installed, or fails it under CI=true.
func needDocumentDB(t *testing.T) {
	t.Helper()
	if _, err := findPostgres(t.Context()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %v", err)
		}
		t.Skipf("%v", err)
	}
}

// storeDir returns a fresh directory for a store, reachable by the
// postgres user when the test runs as root (t.TempDir's parent is 0700).
func storeDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(filepath.Dir(d), 0o711); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "mongo")
}

var ephemeral = Options{Engine: EngineDocumentDB, Ephemeral: true}

func TestDocumentDBPersistsAcrossRestart(t *testing.T) {
	needDocumentDB(t)
	dir := storeDir(t)
	want := doc{ID: "a", Text: "persisted"}

	m := start(t, dir, ephemeral)
	if got := m.Engine(); got != EngineDocumentDB {
		t.Errorf("Engine() = %q, want %q", got, EngineDocumentDB)
	}
	if got := m.URI(); !strings.HasPrefix(got, "mongodb://%2F") {
		t.Errorf("URI() = %q, want a unix socket", got)
	}
	c, disconnect := connect(t, m)
	insert(t, c, want)
	disconnect()
	if err := m.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := m.Stop(t.Context()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, pgdataName, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: %v, want it gone (cluster stopped)", err)
	}

	m = start(t, dir, ephemeral)
	c, _ = connect(t, m)
	got, err := find(t, c, want.ID)
	if err != nil {
		t.Fatalf("find after restart: %v", err)
	}
	if got != want {
		t.Errorf("find after restart = %+v, want %+v", got, want)
	}
}

// A second process on the same data dir (chorus serve + chorus worker)
// shares the cluster through its own FerretDB, and leaves the cluster
// running when it stops.
func TestDocumentDBSharesRunningCluster(t *testing.T) {
	needDocumentDB(t)
	dir := storeDir(t)
	first := start(t, dir, ephemeral)
	second := start(t, dir, ephemeral)
	if first.URI() == second.URI() {
		t.Fatalf("both fronts have URI %q, want one socket each", first.URI())
	}
	c1, _ := connect(t, first)
	c2, disconnect2 := connect(t, second)
	insert(t, c2, doc{ID: "from-second", Text: "x"})
	if _, err := find(t, c1, "from-second"); err != nil {
		t.Fatalf("first does not see the second's write: %v", err)
	}
	disconnect2()
	if err := second.Stop(t.Context()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	insert(t, c1, doc{ID: "after", Text: "y"})
	if _, err := find(t, c1, "after"); err != nil {
		t.Fatalf("the first's cluster stopped with the second: %v", err)
	}
}

// Unlike FerretDB v1, updates are atomic across connections.
func TestDocumentDBAtomicAcrossConnections(t *testing.T) {
	needDocumentDB(t)
	m := start(t, storeDir(t), ephemeral)
	const clients, incs = 4, 50
	coll := func(c *mongo.Client) *mongo.Collection { return c.Database("chorus").Collection("counters") }

	var wg sync.WaitGroup
	errs := make(chan error, clients*incs)
	for range clients {
		c, _ := connect(t, m)
		wg.Go(func() {
			var inner sync.WaitGroup
			for range incs {
				inner.Go(func() {
					_, err := coll(c).UpdateOne(t.Context(), bson.D{{Key: "_id", Value: "n"}},
						bson.D{{Key: "$inc", Value: bson.D{{Key: "v", Value: 1}}}}, options.UpdateOne().SetUpsert(true))
					if err != nil && !mongo.IsDuplicateKeyError(err) {
						errs <- err
					}
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("$inc: %v", err)
	}
	c, _ := connect(t, m)
	var got struct{ V int }
	if err := coll(c).FindOne(t.Context(), bson.D{{Key: "_id", Value: "n"}}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	// An upsert that lost the race for the insert reports a duplicate key
	// and is not retried: at most clients-1 of them.
	if got.V > clients*incs || got.V < clients*incs-(clients-1) {
		t.Errorf("after %d concurrent $inc: v = %d", clients*incs, got.V)
	}
}

func TestDocumentDBRequiredWhenMissing(t *testing.T) {
	if _, err := findPostgres(t.Context()); err == nil {
		t.Skip("PostgreSQL with DocumentDB is installed here")
	}
	_, err := Start(t.Context(), t.TempDir(), Options{Engine: EngineDocumentDB}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Start(EngineDocumentDB) without it installed: %v, want ErrNotInstalled", err)
	}
}

func TestParseEngine(t *testing.T) {
	tests := []struct {
		in      string
		want    Engine
		wantErr bool
	}{
		{"", EngineAuto, false},
		{"auto", EngineAuto, false},
		{"DocumentDB", EngineDocumentDB, false},
		{" sqlite ", EngineSQLite, false},
		{"mongo", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEngine(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseEngine(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}
