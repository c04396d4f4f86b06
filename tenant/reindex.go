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

// ErrCompositeTermsOff: the store is FerretDB v2 with DocumentDB, but an
// index created there does not get composite terms, so rebuilding the
// indexes would change nothing.
var ErrCompositeTermsOff = errors.New("the DocumentDB cluster creates indexes without composite terms: set documentdb.defaultUseCompositeOpClass = on in its postgresql.conf, restart PostgreSQL and start Chorus again (docs/upgrading.md)")

// ReindexReport says what RebuildIndexesWithCompositeTerms did.
type ReindexReport struct {
	// DocumentDB is false when the server is not FerretDB v2 with
	// DocumentDB (MongoDB, FerretDB v1 on SQLite): nothing was done.
	DocumentDB bool
	// Rebuilt counts the indexes dropped and created again; Current those
	// that already had composite terms.
	Rebuilt, Current int
	Took             time.Duration
}

// usesDocumentDB reports whether the server is FerretDB v2, whose
// buildInfo holds a ferretdb document (FerretDB v1 reports
// ferretdbVersion instead, MongoDB neither); FerretDB v2 runs only on
// PostgreSQL with DocumentDB.
func (s *Store) usesDocumentDB(ctx context.Context) (bool, error) {
	info, err := s.client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Raw()
	if err != nil {
		return false, fmt.Errorf("buildInfo: %w", storeErr(err))
	}
	return info.Lookup("ferretdb").Type == bson.TypeEmbeddedDocument, nil
}

// hasCompositeTerms reports whether an index, as listIndexes shows it on
// DocumentDB, keeps composite terms (an "ordered" index): DocumentDB adds
// enableOrderedIndex (or, in older releases, enableCompositeTerm) to its
// specification.
func hasCompositeTerms(spec bson.Raw) bool {
	for _, k := range []string{"enableOrderedIndex", "enableCompositeTerm"} {
		v, err := spec.LookupErr(k)
		if err != nil {
			continue
		}
		if b, ok := v.BooleanOK(); ok && b {
			return true
		}
		if f, ok := v.AsFloat64OK(); ok && f != 0 {
			return true
		}
	}
	return false
}

// RebuildIndexesWithCompositeTerms gives the indexes of a DocumentDB
// store made before Chorus turned on documentdb.defaultUseCompositeOpClass
// composite terms: each index of every collection (global ones, every
// instance's, the erasure ledger's) whose specification lacks them is
// dropped and created again with the same name, keys and options, one at
// a time. On other servers it does nothing.
//
// It is safe to interrupt and run again: it first creates the declared
// indexes any collection lacks (one dropped just before a crash comes back
// here, already with composite terms), and an index that has them is left
// alone, so a second run rebuilds nothing. It fails with
// ErrCompositeTermsOff, before dropping anything, when a scratch index
// shows that the cluster would create them without composite terms again.
func (s *Store) RebuildIndexesWithCompositeTerms(ctx context.Context) (ReindexReport, error) {
	start := time.Now()
	var rep ReindexReport
	var err error
	if rep.DocumentDB, err = s.usesDocumentDB(ctx); err != nil || !rep.DocumentDB {
		return rep, err
	}
	if err := s.probeCompositeTerms(ctx); err != nil {
		return rep, err
	}
	// Indexes a crash of an earlier run left dropped.
	if err := s.ensureGlobalIndexes(ctx); err != nil {
		return rep, err
	}
	if err := s.EachInstance(ctx, func(sc Scope) error { return s.addMissingIndexes(ctx, sc) }); err != nil {
		return rep, err
	}
	dbs := []*mongo.Database{s.db, s.ledger().Database()}
	for _, name := range s.Regions() {
		if r := s.regions[name]; r.client != nil {
			dbs = append(dbs, r.db)
		}
	}
	for _, db := range dbs {
		names, err := db.ListCollectionNames(ctx, bson.D{})
		if err != nil {
			return rep, fmt.Errorf("list the collections of %s: %w", db.Name(), storeErr(err))
		}
		for _, name := range names {
			rebuilt, current, err := s.rebuildIndexes(ctx, db.Collection(name))
			rep.Rebuilt += rebuilt
			rep.Current += current
			if err != nil {
				return rep, err
			}
		}
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// probeCompositeTerms creates an index in a scratch collection and says
// whether it got composite terms.
func (s *Store) probeCompositeTerms(ctx context.Context) error {
	coll := s.db.Collection("migration_probe_composite_terms")
	defer coll.Drop(context.WithoutCancel(ctx))
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "a", Value: 1}, {Key: "b", Value: 1}}}); err != nil {
		return fmt.Errorf("create a scratch index: %w", storeErr(err))
	}
	specs, err := listIndexes(ctx, coll)
	if err != nil {
		return err
	}
	for _, sp := range specs {
		if sp.Lookup("name").StringValue() != "_id_" && hasCompositeTerms(sp) {
			return nil
		}
	}
	return ErrCompositeTermsOff
}

func listIndexes(ctx context.Context, coll *mongo.Collection) ([]bson.Raw, error) {
	cur, err := coll.Indexes().List(ctx)
	if err != nil {
		if isNamespaceNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list indexes of %s: %w", coll.Name(), storeErr(err))
	}
	var specs []bson.Raw
	if err := cur.All(ctx, &specs); err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", coll.Name(), storeErr(err))
	}
	return specs, nil
}

// rebuildIndexes drops and creates again, one at a time, the indexes of
// coll other than _id's that lack composite terms.
func (s *Store) rebuildIndexes(ctx context.Context, coll *mongo.Collection) (rebuilt, current int, err error) {
	specs, err := listIndexes(ctx, coll)
	if err != nil {
		return 0, 0, err
	}
	for _, sp := range specs {
		name, _ := sp.Lookup("name").StringValueOK()
		if name == "_id_" {
			continue
		}
		if hasCompositeTerms(sp) {
			current++
			continue
		}
		model, err := indexModelOf(sp)
		if err != nil {
			return rebuilt, current, fmt.Errorf("index %s of %s: %w", name, coll.Name(), err)
		}
		if err := coll.Indexes().DropOne(ctx, name); err != nil {
			return rebuilt, current, fmt.Errorf("drop index %s of %s: %w", name, coll.Name(), storeErr(err))
		}
		if _, err := coll.Indexes().CreateOne(ctx, model); err != nil {
			return rebuilt, current, fmt.Errorf("create index %s of %s again: %w", name, coll.Name(), storeErr(err))
		}
		rebuilt++
		s.log.InfoContext(ctx, "index rebuilt with composite terms", "collection", coll.Name(), "index", name)
	}
	return rebuilt, current, nil
}

// indexModelOf is the index an index specification describes: its keys,
// name and the options Chorus or an operator may have set.
func indexModelOf(spec bson.Raw) (mongo.IndexModel, error) {
	var sp struct {
		Key                     bson.D        `bson:"key"`
		Name                    string        `bson:"name"`
		Unique                  bool          `bson:"unique"`
		Sparse                  bool          `bson:"sparse"`
		ExpireAfterSeconds      bson.RawValue `bson:"expireAfterSeconds"`
		PartialFilterExpression bson.D        `bson:"partialFilterExpression"`
	}
	if err := bson.Unmarshal(spec, &sp); err != nil {
		return mongo.IndexModel{}, err
	}
	if len(sp.Key) == 0 || sp.Name == "" {
		return mongo.IndexModel{}, fmt.Errorf("specification without keys or name: %s", spec)
	}
	opts := options.Index().SetName(sp.Name)
	if sp.Unique {
		opts.SetUnique(true)
	}
	if sp.Sparse {
		opts.SetSparse(true)
	}
	if sp.ExpireAfterSeconds.Type != 0 {
		secs, ok := sp.ExpireAfterSeconds.AsInt64OK()
		if !ok {
			return mongo.IndexModel{}, fmt.Errorf("expireAfterSeconds is not a number: %s", sp.ExpireAfterSeconds)
		}
		opts.SetExpireAfterSeconds(int32(secs))
	}
	if sp.PartialFilterExpression != nil {
		opts.SetPartialFilterExpression(sp.PartialFilterExpression)
	}
	return mongo.IndexModel{Keys: sp.Key, Options: opts}, nil
}
