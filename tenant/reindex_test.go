package tenant

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/tenanttest"
)

// oldIndexes makes every index but _id's of the store's collections one
// with a term per field, as DocumentDB created them before Chorus set
// documentdb.defaultUseCompositeOpClass: dropped and created again with
// enableOrderedIndex off. It returns how many it made so.
func oldIndexes(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	for _, db := range []*mongo.Database{s.db, s.ledger().Database()} {
		names, err := db.ListCollectionNames(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			coll := db.Collection(name)
			specs, err := listIndexes(t.Context(), coll)
			if err != nil {
				t.Fatal(err)
			}
			for _, sp := range specs {
				name := sp.Lookup("name").StringValue()
				if name == "_id_" {
					continue
				}
				m, err := indexModelOf(sp)
				if err != nil {
					t.Fatal(err)
				}
				m.Options.SetStorageEngine(bson.D{{Key: "enableOrderedIndex", Value: false}})
				if err := coll.Indexes().DropOne(t.Context(), name); err != nil {
					t.Fatal(err)
				}
				if _, err := coll.Indexes().CreateOne(t.Context(), m); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
	}
	return n
}

// rebuildMigration runs RebuildIndexesWithCompositeTerms as migration 1.
var rebuildMigration = []Migration{{Version: 1, Name: "indexes rebuilt with composite terms", Run: func(ctx context.Context, s *Store) error {
	_, err := s.RebuildIndexesWithCompositeTerms(ctx)
	return err
}}}

// compositeIndexes returns the names of coll's indexes with and without
// composite terms (_id's left out).
func compositeIndexes(t *testing.T, coll *mongo.Collection) (with, without []string) {
	t.Helper()
	specs, err := listIndexes(t.Context(), coll)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		name := sp.Lookup("name").StringValue()
		switch {
		case name == "_id_":
		case hasCompositeTerms(sp):
			with = append(with, name)
		default:
			without = append(without, name)
		}
	}
	return with, without
}

// A DocumentDB store whose indexes keep a term per field gets them rebuilt
// with composite terms by the migration, reads answer the same and narrow
// every field of the index, and a second run rebuilds nothing; an index a
// crash left dropped comes back. On other servers nothing happens.
func TestRebuildIndexesWithCompositeTerms(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	notes := Kind{Name: "notes", Indexes: []Index{{Keys: bson.D{{Key: "state", Value: 1}, {Key: "at", Value: 1}}}}}
	s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Kinds: []Kind{notes}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	migs := rebuildMigration
	docdb, err := s.usesDocumentDB(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !docdb {
		t.Log("the server is not FerretDB v2 with DocumentDB: the migration must do nothing")
		rep, err := s.RebuildIndexesWithCompositeTerms(t.Context())
		if err != nil || rep.DocumentDB || rep.Rebuilt != 0 {
			t.Fatalf("on a server without DocumentDB: %+v, %v; want nothing done", rep, err)
		}
		if rep, err := s.Migrate(t.Context(), migs, "test"); err != nil || rep.To != 1 {
			t.Fatalf("migrate: %+v, %v; want the migration recorded", rep, err)
		}
		return
	}

	inst, err := s.EnsureInstance(t.Context(), "acme.example", "founder@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	coll := s.db.Collection(collectionName(inst.ID, "notes"))
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var docs []any
	for i := range 3000 {
		docs = append(docs, bson.D{{Key: "tenant_id", Value: inst.ID}, {Key: "state", Value: []string{"draft", "published", "archived"}[i%3]},
			{Key: "at", Value: day.Add(time.Duration(i) * time.Hour)}, {Key: "n", Value: i}})
	}
	if _, err := coll.InsertMany(t.Context(), docs); err != nil {
		t.Fatal(err)
	}
	filter := bson.D{{Key: "tenant_id", Value: inst.ID}, {Key: "state", Value: "published"},
		{Key: "at", Value: bson.D{{Key: "$gte", Value: day.Add(1000 * time.Hour)}, {Key: "$lt", Value: day.Add(1100 * time.Hour)}}}}
	read := func() []int32 {
		cur, err := coll.Find(t.Context(), filter, options.Find().SetSort(bson.D{{Key: "n", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		var got []struct {
			N int32 `bson:"n"`
		}
		if err := cur.All(t.Context(), &got); err != nil {
			t.Fatal(err)
		}
		ns := make([]int32, len(got))
		for i, g := range got {
			ns[i] = g.N
		}
		return ns
	}
	explain := func() []string {
		var ex bson.Raw
		if err := s.db.RunCommand(t.Context(), bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: coll.Name()}, {Key: "filter", Value: filter}}}}).Decode(&ex); err != nil {
			t.Fatal(err)
		}
		f, err := tenanttest.IndexedFields(ex)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(f)
		return f
	}

	old := oldIndexes(t, s)
	if with, without := compositeIndexes(t, coll); len(with) != 0 || len(without) != 1 {
		t.Fatalf("the fixture: indexes with composite terms %v, without %v; want one without", with, without)
	}
	before := read()
	if len(before) != 34 {
		t.Fatalf("the fixture's read finds %d notes, want 34", len(before))
	}

	rep, err := s.Migrate(t.Context(), migs, "test")
	if err != nil || rep.To != 1 {
		t.Fatalf("migrate: %+v, %v", rep, err)
	}
	if with, without := compositeIndexes(t, coll); len(with) != 1 || len(without) != 0 {
		t.Errorf("after migrating: indexes with composite terms %v, without %v; want all with", with, without)
	}
	for _, d := range []*mongo.Database{s.db, s.ledger().Database()} {
		names, _ := d.ListCollectionNames(t.Context(), bson.D{})
		for _, n := range names {
			if _, without := compositeIndexes(t, d.Collection(n)); len(without) != 0 {
				t.Errorf("%s.%s keeps indexes without composite terms: %v", d.Name(), n, without)
			}
		}
	}
	if got := read(); !slices.Equal(got, before) {
		t.Errorf("the read after migrating: %v, before %v", got, before)
	}
	if f := explain(); !slices.Equal(f, []string{"at", "state", "tenant_id"}) {
		t.Errorf("the read's plan narrows %v, want at, state and tenant_id", f)
	}

	// A second run: nothing to do, by the migrations record or directly.
	if rep, err := s.Migrate(t.Context(), migs, "again"); err != nil || len(rep.Ran) != 0 {
		t.Errorf("a second migrate: %+v, %v; want nothing run", rep, err)
	}
	again, err := s.RebuildIndexesWithCompositeTerms(t.Context())
	if err != nil || again.Rebuilt != 0 || again.Current != old {
		t.Errorf("rebuilding again: %+v, %v; want none rebuilt, %d current", again, err, old)
	}

	// A crash between dropping an index and creating it again.
	if err := coll.Indexes().DropOne(t.Context(), "tenant_id_1_state_1_at_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RebuildIndexesWithCompositeTerms(t.Context()); err != nil {
		t.Fatal(err)
	}
	if with, _ := compositeIndexes(t, coll); !slices.Equal(with, []string{"tenant_id_1_state_1_at_1"}) {
		t.Errorf("after a crash mid-rebuild and a run: indexes with composite terms %v", with)
	}
	if got := read(); !slices.Equal(got, before) {
		t.Errorf("the read after the crash and a run: %v, before %v", got, before)
	}
}

// The flags DocumentDB puts in the specification of an index with
// composite terms, and their absence or falsity.
func TestHasCompositeTerms(t *testing.T) {
	for _, c := range []struct {
		spec bson.D
		want bool
	}{
		{bson.D{{Key: "name", Value: "a_1"}, {Key: "enableOrderedIndex", Value: int32(1)}}, true},
		{bson.D{{Key: "name", Value: "a_1"}, {Key: "enableOrderedIndex", Value: true}}, true},
		{bson.D{{Key: "name", Value: "a_1"}, {Key: "enableCompositeTerm", Value: true}}, true},
		{bson.D{{Key: "name", Value: "a_1"}, {Key: "enableOrderedIndex", Value: int32(0)}}, false},
		{bson.D{{Key: "name", Value: "a_1"}, {Key: "enableOrderedIndex", Value: false}}, false},
		{bson.D{{Key: "name", Value: "a_1"}, {Key: "unique", Value: true}}, false},
	} {
		if got := hasCompositeTerms(tenanttest.MustMarshal(t, c.spec)); got != c.want {
			t.Errorf("%v: %t, want %t", c.spec, got, c.want)
		}
	}
}

// An index specification becomes the same index: keys in order, name,
// and the options listIndexes reports.
func TestIndexModelOf(t *testing.T) {
	m, err := indexModelOf(tenanttest.MustMarshal(t, bson.D{{Key: "v", Value: int32(2)},
		{Key: "key", Value: bson.D{{Key: "tenant_id", Value: int32(1)}, {Key: "at", Value: -1.0}}}, {Key: "name", Value: "tenant_id_1_at_-1"},
		{Key: "unique", Value: true}, {Key: "expireAfterSeconds", Value: int64(60)}}))
	if err != nil {
		t.Fatal(err)
	}
	var o options.IndexOptions
	for _, set := range m.Options.List() {
		if err := set(&o); err != nil {
			t.Fatal(err)
		}
	}
	keys := m.Keys.(bson.D)
	if len(keys) != 2 || keys[0].Key != "tenant_id" || keys[1].Key != "at" || keys[1].Value != -1.0 ||
		o.Name == nil || *o.Name != "tenant_id_1_at_-1" || o.Unique == nil || !*o.Unique || o.ExpireAfterSeconds == nil || *o.ExpireAfterSeconds != 60 || o.Sparse != nil {
		t.Errorf("the model: keys %v, options %+v", keys, o)
	}
	if _, err := indexModelOf(tenanttest.MustMarshal(t, bson.D{{Key: "name", Value: "x"}})); err == nil {
		t.Error("a specification without keys: no error")
	}
}

// compositeTermsSetting turns documentdb.defaultUseCompositeOpClass of the
// embedded test cluster on or off (ALTER SYSTEM, then a reload) and waits
// until a new session sees it.
func compositeTermsSetting(t *testing.T, pg string, on bool) {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	conn, err := pgx.Connect(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	set := "ALTER SYSTEM RESET documentdb.defaultUseCompositeOpClass"
	if !on {
		set = "ALTER SYSTEM SET documentdb.defaultUseCompositeOpClass = off"
	}
	if _, err := conn.Exec(ctx, set); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	want := map[bool]string{true: "on", false: "off"}[on]
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := pgx.Connect(ctx, pg)
		if err != nil {
			t.Fatal(err)
		}
		var got string
		err = c.QueryRow(ctx, "SHOW documentdb.defaultUseCompositeOpClass").Scan(&got)
		c.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("documentdb.defaultUseCompositeOpClass is %s after the reload, want %s", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The sessions FerretDB holds read the reloaded file at their next command.
	time.Sleep(200 * time.Millisecond)
}

// An embedded store whose indexes were made with the setting off, as
// before Chorus turned it on: with the setting still off the migration
// fails before dropping anything and is not recorded; once it is on the
// migration rebuilds them with composite terms.
func TestRebuildIndexesNeedsTheSettingOn(t *testing.T) {
	pg, ok := tenanttest.Postgres(t)
	if !ok {
		t.Skip("the tests' server is not the embedded DocumentDB store, whose settings this test changes")
	}
	uri, db := tenanttest.Mongo(t)
	compositeTermsSetting(t, pg, false)
	t.Cleanup(func() { compositeTermsSetting(t, pg, true) })
	notes := Kind{Name: "notes", Indexes: []Index{{Keys: bson.D{{Key: "state", Value: 1}, {Key: "at", Value: 1}}}}}
	s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Kinds: []Kind{notes}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	inst, err := s.EnsureInstance(t.Context(), "acme.example", "founder@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	coll := s.db.Collection(collectionName(inst.ID, "notes"))
	if with, without := compositeIndexes(t, coll); len(with) != 0 || len(without) != 1 {
		t.Fatalf("made with the setting off: indexes with composite terms %v, without %v", with, without)
	}
	migs := rebuildMigration
	if rep, err := s.Migrate(t.Context(), migs, "off"); !errors.Is(err, ErrCompositeTermsOff) || rep.To != 0 {
		t.Fatalf("migrating with the setting off: %+v, %v; want ErrCompositeTermsOff and nothing recorded", rep, err)
	}
	if _, without := compositeIndexes(t, coll); len(without) != 1 {
		t.Errorf("after the failed migration the notes' indexes are %v, want the old one kept", without)
	}

	compositeTermsSetting(t, pg, true)
	if rep, err := s.Migrate(t.Context(), migs, "on"); err != nil || rep.To != 1 {
		t.Fatalf("migrating with the setting on: %+v, %v", rep, err)
	}
	if with, without := compositeIndexes(t, coll); len(with) != 1 || len(without) != 0 {
		t.Errorf("after migrating: indexes with composite terms %v, without %v", with, without)
	}
}
