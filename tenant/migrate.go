package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Migration is one versioned change of stored data, run once per database
// by Store.Migrate. Versions start at 1 and only grow; a release adds
// migrations at the end and never edits one that shipped. Run must be
// idempotent: a process that dies mid-migration leaves it to the next,
// which runs it again from the start once the lease has expired.
type Migration struct {
	Version int
	Name    string
	Run     func(ctx context.Context, s *Store) error
}

// MigrateReport says what Migrate did.
type MigrateReport struct {
	// From and To are the database's version before and after.
	From, To int
	// Ran names the migrations this call ran, in order.
	Ran []string
	// Indexed is how many instances were given the indexes they lacked
	// (-1: the index set was already current, no instance was read).
	Indexed int
}

// The migrations record: one document per database, holding the version
// reached, the index set every instance has, and the lock.
const (
	collMigrations = "migrations"
	migrationsID   = "schema"
)

// migrationLease is how long a lock lasts without renewal: a process that
// died holding it blocks the others this long at most. Renewed every
// third of it. (A variable for the tests.)
var migrationLease = 30 * time.Second

type migrationRecord struct {
	Version   int       `bson:"version"`
	IndexSet  string    `bson:"index_set"`
	LockOwner string    `bson:"lock_owner"`
	LockUntil time.Time `bson:"lock_until"`
}

// ErrMigrationLockLost: another process took the migrations lock after
// this one's lease expired (it stalled for longer than the lease).
var ErrMigrationLockLost = errors.New("the migrations lock was lost (its lease expired)")

// Migrate brings the database up to date: every instance gets the
// indexes its kinds declare (instances made for another set of kinds or
// indexes only), then each migration newer than the database's version
// runs, in order, and the version is recorded after each. The work is
// done under a lock in the migrations record, taken by a single-document
// compare-and-set with a lease (renewed while it runs): processes starting
// together wait for the one holding it, and each migration runs once.
// owner names this process in the record (host and PID, say).
func (s *Store) Migrate(ctx context.Context, migrations []Migration, owner string) (MigrateReport, error) {
	rep := MigrateReport{Indexed: -1}
	last := 0
	for i, m := range migrations {
		if m.Version != i+1 || m.Name == "" || m.Run == nil {
			return rep, fmt.Errorf("migration %d (%q): versions must run 1, 2, 3 … with a name and a function", m.Version, m.Name)
		}
		last = m.Version
	}
	coll := s.db.Collection(collMigrations)
	id := bson.D{{Key: "_id", Value: migrationsID}}
	_, err := coll.UpdateOne(ctx, id, bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "version", Value: 0}, {Key: "index_set", Value: ""},
		{Key: "lock_owner", Value: ""}, {Key: "lock_until", Value: time.Unix(0, 0).UTC()}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil && !mongo.IsDuplicateKeyError(err) { // two first starts raced to create it
		return rep, fmt.Errorf("migrations record: %w", storeErr(err))
	}
	for first := true; ; first = false {
		var rec migrationRecord
		if err := coll.FindOne(ctx, id).Decode(&rec); err != nil {
			return rep, fmt.Errorf("migrations record: %w", storeErr(err))
		}
		if first {
			rep.From = rec.Version
		}
		if rec.Version > last {
			return rep, fmt.Errorf("the database is at migration %d, newer than this release knows (%d): run the newer release, or restore a backup taken before the upgrade", rec.Version, last)
		}
		if rec.Version == last && rec.IndexSet == s.indexSet {
			rep.To = rec.Version
			return rep, nil
		}
		now := s.now().UTC()
		res, err := coll.UpdateOne(ctx, append(id, bson.E{Key: "lock_until", Value: bson.D{{Key: "$lt", Value: now}}}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "lock_owner", Value: owner}, {Key: "lock_until", Value: now.Add(migrationLease)}}}})
		if err != nil {
			return rep, fmt.Errorf("take the migrations lock: %w", storeErr(err))
		}
		if res.ModifiedCount == 0 {
			// Another process migrates: wait for it, then look again.
			if rec.LockOwner != "" && first {
				s.log.InfoContext(ctx, "waiting for the migrations another process runs", "holder", rec.LockOwner)
			}
			select {
			case <-ctx.Done():
				return rep, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		err = s.migrateLocked(ctx, migrations, owner, &rep)
		// Released even when the migration failed: the next start tries again.
		_, uerr := coll.UpdateOne(context.WithoutCancel(ctx), append(id, bson.E{Key: "lock_owner", Value: owner}),
			bson.D{{Key: "$set", Value: bson.D{{Key: "lock_owner", Value: ""}, {Key: "lock_until", Value: time.Unix(0, 0).UTC()}}}})
		if err != nil {
			return rep, err
		}
		if uerr != nil {
			return rep, fmt.Errorf("release the migrations lock: %w", storeErr(uerr))
		}
	}
}

// migrateLocked does the work of Migrate while this process holds the
// lock, renewing its lease; losing the lock cancels the work.
func (s *Store) migrateLocked(ctx context.Context, migrations []Migration, owner string, rep *MigrateReport) error {
	coll := s.db.Collection(collMigrations)
	mine := bson.D{{Key: "_id", Value: migrationsID}, {Key: "lock_owner", Value: owner}}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(migrationLease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				res, err := coll.UpdateOne(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "lock_until", Value: s.now().UTC().Add(migrationLease)}}}})
				if err == nil && res.MatchedCount == 0 {
					cancel(ErrMigrationLockLost)
					return
				}
			}
		}
	}()
	defer func() { cancel(nil); <-renewed }()
	fail := func(err error) error {
		if c := context.Cause(ctx); errors.Is(c, ErrMigrationLockLost) {
			return c
		}
		return err
	}

	var rec migrationRecord
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: migrationsID}}).Decode(&rec); err != nil {
		return fail(fmt.Errorf("migrations record: %w", storeErr(err)))
	}
	// Indexes first: the backfills below read by them.
	if rec.IndexSet != s.indexSet {
		n, err := s.indexInstances(ctx)
		if err != nil {
			return fail(fmt.Errorf("create the indexes of existing instances: %w", err))
		}
		rep.Indexed = n
		if _, err := coll.UpdateOne(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "index_set", Value: s.indexSet}}}}); err != nil {
			return fail(fmt.Errorf("record the index set: %w", storeErr(err)))
		}
		s.log.InfoContext(ctx, "instances' indexes are current", "instances_changed", n, "index_set", s.indexSet)
	}
	rep.To = rec.Version
	for _, m := range migrations[rec.Version:] {
		start := time.Now()
		s.log.InfoContext(ctx, "migration started", "version", m.Version, "name", m.Name)
		if err := m.Run(ctx, s); err != nil {
			return fail(fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err))
		}
		res, err := coll.UpdateOne(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "version", Value: m.Version},
			{Key: fmt.Sprintf("applied_%03d", m.Version), Value: bson.D{{Key: "name", Value: m.Name}, {Key: "at", Value: s.now().UTC()}, {Key: "by", Value: owner}}}}}})
		if err != nil {
			return fail(fmt.Errorf("record migration %d: %w", m.Version, storeErr(err)))
		}
		if res.MatchedCount == 0 {
			return ErrMigrationLockLost
		}
		rep.To = m.Version
		rep.Ran = append(rep.Ran, m.Name)
		s.log.InfoContext(ctx, "migration done", "version", m.Version, "name", m.Name, "duration_ms", time.Since(start).Milliseconds())
	}
	return nil
}

// indexInstances gives every instance made for another set of kinds and
// indexes the ones it lacks (and the collections of kinds added since),
// and records the current set on it; it returns how many it changed.
func (s *Store) indexInstances(ctx context.Context) (int, error) {
	n := 0
	err := s.EachInstance(ctx, func(sc Scope) error {
		if sc.inst.IndexSet == s.indexSet {
			return nil
		}
		if err := s.addMissingIndexes(ctx, sc); err != nil {
			return err
		}
		n++
		_, err := s.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: sc.inst.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "index_set", Value: s.indexSet}}}})
		return storeErr(err)
	})
	return n, err
}
