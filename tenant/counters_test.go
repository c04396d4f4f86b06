package tenant

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// UpsertByID leaves every document as keyed upserts (BulkUpsert) of the
// same updates do, for documents that exist and documents that do not;
// UpdateByID as BulkUpdate does, inserting nothing.
func TestKeyedWritesEqualKeyedUpserts(t *testing.T) {
	s := newTestStore(t, newTestClock())
	want := newTestScope(t, s, "acme.example").Collection(noteKind)
	got := newTestScope(t, s, "globex.example").Collection(noteKind)
	existing := []any{
		bson.D{{Key: "_id", Value: "a"}, {Key: "title", Value: "old"}, {Key: "clicks", Value: int64(3)}, {Key: "first", Value: "2026-01-05"},
			{Key: "last", Value: "2026-01-05"}, {Key: "members", Value: bson.A{"m1"}}},
		bson.D{{Key: "_id", Value: "c"}, {Key: "clicks", Value: int64(1)}},
	}
	for _, c := range []*Collection{want, got} {
		if err := c.InsertMany(t.Context(), existing); err != nil {
			t.Fatal(err)
		}
	}
	span := func(n int64, day string) bson.D {
		return bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "title", Value: "new"}}},
			{Key: "$min", Value: bson.D{{Key: "first", Value: day}}}, {Key: "$max", Value: bson.D{{Key: "last", Value: day}}},
			{Key: "$inc", Value: bson.D{{Key: "clicks", Value: n}, {Key: "unique_clicks", Value: n}}}}
	}
	ops := []KeyedUpdate{
		{ID: "a", Update: span(1, "2026-01-04")},
		{ID: "b", Update: span(1, "2026-01-04")},
		{ID: "c", Update: bson.D{{Key: "$inc", Value: bson.D{{Key: "clicks", Value: int64(2)}}}}},
		{ID: "d", Update: bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "title", Value: "set"}}},
			{Key: "$addToSet", Value: bson.D{{Key: "members", Value: bson.D{{Key: "$each", Value: []string{"m2", "m1", "m2"}}}}}}}},
		{ID: "a2", Update: bson.D{{Key: "$addToSet", Value: bson.D{{Key: "members", Value: bson.D{{Key: "$each", Value: []string{"m2"}}}}}}}},
	}
	extra := 2500
	if s.FerretDB() {
		// FerretDB v1 (the SQLite demo store) decodes the collection for
		// every write that is not exactly {_id}: bulks of thousands (even
		// of 150, once the documents exist) outlast the store's 30 s
		// deadline there, so it gets a small one.
		extra = 20
	}
	for i := range extra {
		ops = append(ops, KeyedUpdate{ID: fmt.Sprintf("k%04d", i), Update: span(int64(1+i%3), "2026-01-06")})
	}
	if err := want.BulkUpsert(t.Context(), upserts(ops)); err != nil {
		t.Fatal(err)
	}
	if err := got.UpsertByID(t.Context(), ops); err != nil {
		t.Fatalf("UpsertByID: %v", err)
	}
	// Now every document exists.
	if err := want.BulkUpsert(t.Context(), upserts(ops)); err != nil {
		t.Fatal(err)
	}
	if err := got.UpsertByID(t.Context(), ops); err != nil {
		t.Fatalf("UpsertByID: %v", err)
	}
	incs := []Upsert{{Filter: bson.D{{Key: "_id", Value: "a"}}, Update: bson.D{{Key: "$inc", Value: bson.D{{Key: "clicks", Value: int64(5)}}}}},
		{Filter: bson.D{{Key: "_id", Value: "zz"}}, Update: bson.D{{Key: "$inc", Value: bson.D{{Key: "clicks", Value: int64(5)}}}}}}
	if err := want.BulkUpdate(t.Context(), incs); err != nil {
		t.Fatal(err)
	}
	keyed := []KeyedUpdate{{ID: "a", Update: incs[0].Update}, {ID: "zz", Update: incs[1].Update}}
	if err := got.UpdateByID(t.Context(), keyed); err != nil {
		t.Fatalf("UpdateByID: %v", err)
	}
	read := func(c *Collection) map[string]bson.M {
		var docs []bson.M
		if err := c.Find(t.Context(), bson.D{}, &docs, options.Find().SetProjection(bson.D{{Key: "tenant_id", Value: 0}})); err != nil {
			t.Fatal(err)
		}
		out := map[string]bson.M{}
		for _, d := range docs {
			out[d["_id"].(string)] = d
		}
		return out
	}
	w, g := read(want), read(got)
	if len(w) != 5+extra {
		t.Fatalf("%d documents by keyed upserts, want %d", len(w), 5+extra)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("keyed writes differ from keyed upserts (-upserts +keyed writes):\n%s", diff)
	}
}

// upserts are ops as keyed upserts.
func upserts(ops []KeyedUpdate) []Upsert {
	out := make([]Upsert, len(ops))
	for i, op := range ops {
		out[i] = Upsert{Filter: bson.D{{Key: "_id", Value: op.ID}}, Update: op.Update}
	}
	return out
}

// Concurrent UpsertByID calls over overlapping keys, half of them new,
// count exactly: a write the engine breaks out of a deadlock is sent
// again, and so is an upsert that lost an insert race. Each call is
// large enough to be split into _id ranges written at once.
func TestConcurrentKeyedUpsertsCountExactly(t *testing.T) {
	s := newTestStore(t, newTestClock())
	c := newTestScope(t, s, "acme.example").Collection(noteKind)
	const writers, rounds = 6, 2
	keys := 2*keyedPart + 100
	if s.FerretDB() {
		keys = 40 // see TestKeyedWritesEqualKeyedUpserts
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				var ops []KeyedUpdate
				for k := range keys {
					id := fmt.Sprintf("k%04d", (k*7+w*131+r*17)%(2*keys))
					ops = append(ops, KeyedUpdate{ID: id, Update: bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "title", Value: "t"}}},
						{Key: "$inc", Value: bson.D{{Key: "clicks", Value: int64(1 + k%2)}}}}})
				}
				if err := c.UpsertByID(t.Context(), ops); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a write failed: %v", err)
	}
	var docs []struct {
		Clicks int64 `bson:"clicks"`
	}
	if err := c.Find(t.Context(), bson.D{}, &docs); err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, d := range docs {
		sum += d.Clicks
	}
	if want := int64(writers * rounds * keys * 3 / 2); sum != want {
		t.Errorf("%d documents count %d clicks, want %d", len(docs), sum, want)
	}
}
