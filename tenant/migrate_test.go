package tenant

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant/tenanttest"
)

// Several processes start at once against one database: each migration
// runs once, every one of them returns with the database up to date, and
// a later start runs nothing.
func TestMigrateRunsEachMigrationOnceAcrossStores(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	var runs [3]atomic.Int32
	var inside atomic.Int32
	migs := make([]Migration, len(runs))
	for i := range migs {
		migs[i] = Migration{Version: i + 1, Name: fmt.Sprintf("m%d", i+1), Run: func(ctx context.Context, s *Store) error {
			if inside.Add(1) != 1 {
				t.Errorf("migration %d runs while another does", i+1)
			}
			defer inside.Add(-1)
			runs[i].Add(1)
			// Long enough for the others to find the lock taken.
			time.Sleep(100 * time.Millisecond)
			return nil
		}}
	}
	const stores = 5
	// Opened one after the other (FerretDB v1 fails concurrent index
	// creation), then migrating all at once.
	opened := make([]*Store, stores)
	for p := range opened {
		s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Kinds: []Kind{{Name: "notes"}}})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		if s.FerretDB() {
			// Its updates are atomic only within one connection: no
			// compare-and-set holds across stores (docs/upgrading.md).
			t.Skip("FerretDB v1 (the SQLite demo store) cannot serialise several stores")
		}
		opened[p] = s
	}
	var wg sync.WaitGroup
	reps := make([]MigrateReport, stores)
	for p, s := range opened {
		wg.Go(func() {
			rep, err := s.Migrate(t.Context(), migs, fmt.Sprintf("pod-%d", p))
			if err != nil {
				t.Errorf("store %d: %v", p, err)
			}
			reps[p] = rep
		})
	}
	wg.Wait()
	ran := 0
	for p, rep := range reps {
		if rep.To != 3 {
			t.Errorf("store %d returned at version %d, want 3", p, rep.To)
		}
		ran += len(rep.Ran)
	}
	for i := range runs {
		if n := runs[i].Load(); n != 1 {
			t.Errorf("migration %d ran %d times, want once", i+1, n)
		}
	}
	if ran != 3 {
		t.Errorf("the stores report %d migrations run, want 3 in all", ran)
	}

	s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Kinds: []Kind{{Name: "notes"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if rep, err := s.Migrate(t.Context(), migs, "later"); err != nil || len(rep.Ran) != 0 || rep.From != 3 {
		t.Errorf("a later start: %+v, %v; want nothing run", rep, err)
	}
	var rec bson.M
	if err := s.db.Collection(collMigrations).FindOne(t.Context(), bson.D{{Key: "_id", Value: migrationsID}}).Decode(&rec); err != nil {
		t.Fatal(err)
	}
	if rec["lock_owner"] != "" || rec["applied_003"] == nil {
		t.Errorf("the record after migrating: %v; want the lock released and migration 3 recorded", rec)
	}
}

// A process that died holding the lock holds up the others only until its
// lease expires; a failed migration is not recorded and runs again at the
// next start; a database newer than the release is refused.
func TestMigrateLeaseFailureAndNewerDatabase(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	clock := tenanttest.NewClock(time.Now().UTC())
	s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ran := 0
	fails := true
	migs := []Migration{{Version: 1, Name: "m1", Run: func(context.Context, *Store) error {
		ran++
		if fails {
			return fmt.Errorf("disk full")
		}
		return nil
	}}}
	if _, err := s.Migrate(t.Context(), nil, "first"); err != nil {
		t.Fatal(err)
	}
	// A holder that died a moment ago.
	if _, err := s.db.Collection(collMigrations).UpdateOne(t.Context(), bson.D{{Key: "_id", Value: migrationsID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lock_owner", Value: "dead-pod"}, {Key: "lock_until", Value: clock.Now().Add(migrationLease)}}}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	_, err = s.Migrate(ctx, migs, "waiting")
	cancel()
	if err == nil || ran != 0 {
		t.Fatalf("while a live lease is held: %v, ran %d; want to wait (and time out here)", err, ran)
	}
	clock.Add(migrationLease + time.Second)
	if _, err := s.Migrate(t.Context(), migs, "next"); err == nil || !strings.Contains(err.Error(), "disk full") || ran != 1 {
		t.Fatalf("failing migration: %v, ran %d", err, ran)
	}
	fails = false
	if rep, err := s.Migrate(t.Context(), migs, "again"); err != nil || ran != 2 || rep.To != 1 {
		t.Fatalf("after the failure: %+v %v, ran %d; want it run again and recorded", rep, err, ran)
	}
	if _, err := s.Migrate(t.Context(), nil, "old release"); err == nil || !strings.Contains(err.Error(), "newer than this release") {
		t.Errorf("an older release on a migrated database: %v", err)
	}
}

// A migration longer than the lease keeps the lock (renewed while it runs)
// and another store waits for it; a holder whose lock is taken from it
// stops with ErrMigrationLockLost and records nothing.
func TestMigrateRenewsItsLeaseAndStopsWhenItLosesIt(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	defer func(l time.Duration) { migrationLease = l }(migrationLease)
	// Renewed every 0.7 s: the slack keeps a loaded machine from losing it.
	migrationLease = 2 * time.Second
	open := func() *Store {
		s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		return s
	}
	first, second := open(), open()
	if first.FerretDB() {
		t.Skip("FerretDB v1 (the SQLite demo store) cannot serialise several stores")
	}
	started := make(chan struct{})
	var runs atomic.Int32
	long := []Migration{{Version: 1, Name: "long", Run: func(ctx context.Context, _ *Store) error {
		runs.Add(1)
		close(started)
		select { // two leases
		case <-time.After(2 * migrationLease):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}}
	done := make(chan error, 1)
	go func() { _, err := first.Migrate(t.Context(), long, "first"); done <- err }()
	<-started
	rep, err := second.Migrate(t.Context(), long, "second")
	if err != nil || len(rep.Ran) != 0 || rep.To != 1 {
		t.Errorf("the second store: %+v, %v; want it to wait for the first and run nothing", rep, err)
	}
	if err := <-done; err != nil {
		t.Errorf("the first store: %v", err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the long migration ran %d times, want once", n)
	}

	// The lock taken away mid-migration.
	coll := first.db.Collection(collMigrations)
	stolen := []Migration{long[0], {Version: 2, Name: "robbed", Run: func(ctx context.Context, s *Store) error {
		if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: migrationsID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "lock_owner", Value: "thief"}}}}); err != nil {
			return err
		}
		<-ctx.Done() // the renewal finds the lock gone and cancels
		return ctx.Err()
	}}}
	if _, err := first.Migrate(t.Context(), stolen, "first"); !errors.Is(err, ErrMigrationLockLost) {
		t.Errorf("a holder that lost its lock: %v, want ErrMigrationLockLost", err)
	}
	var rec migrationRecord
	if err := coll.FindOne(t.Context(), bson.D{{Key: "_id", Value: migrationsID}}).Decode(&rec); err != nil || rec.Version != 1 {
		t.Errorf("after the lost lock the record is at %d (%v), want 1", rec.Version, err)
	}
}
