//go:build unix

package embeddedmongo

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// benchDocs is how many documents the compared collections hold, the size
// of a small instance's busier collections.
const benchDocs = 5000

// BenchmarkEngines runs the queries Chorus makes most, filtered by
// tenant_id first as tenant.Scope does, on FerretDB v1/SQLite and on
// FerretDB v2/DocumentDB holding the same documents, and reports how many
// times longer each takes on v1 (…-v1/v2) besides each engine's time per
// query. Run: go test -tags ferretdb_no_postgresql -run - -bench Engines ./tenant/embedded
func BenchmarkEngines(b *testing.B) {
	if _, err := findPostgres(b.Context()); err != nil {
		b.Skipf("%v", err)
	}
	colls := map[Engine]*mongo.Collection{}
	for _, e := range []Engine{EngineSQLite, EngineDocumentDB} {
		m, err := Start(b.Context(), storeDir(b), Options{Engine: e, Ephemeral: true}, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatalf("start %s: %v", e, err)
		}
		b.Cleanup(func() { _ = m.Stop(context.Background()) })
		c, err := mongo.Connect(options.Client().ApplyURI(m.URI()))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Disconnect(context.Background()) })
		coll := c.Database("bench").Collection("posts")
		if _, err := coll.Indexes().CreateOne(b.Context(), mongo.IndexModel{Keys: bson.D{{Key: "tenant_id", Value: 1}, {Key: "state", Value: 1}, {Key: "at", Value: -1}}}); err != nil {
			b.Fatal(err)
		}
		docs := make([]any, benchDocs)
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range docs {
			docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("p%05d", i)}, {Key: "tenant_id", Value: "t1"},
				{Key: "state", Value: []string{"published", "draft", "archived"}[i%3]},
				{Key: "at", Value: t0.Add(time.Duration(i) * time.Minute)}, {Key: "title", Value: fmt.Sprintf("post %d", i)}}
		}
		if _, err := coll.InsertMany(b.Context(), docs); err != nil {
			b.Fatalf("seed %s: %v", e, err)
		}
		colls[e] = coll
	}

	queries := []struct {
		name string
		run  func(*mongo.Collection, int) error
	}{
		{"id", func(c *mongo.Collection, i int) error {
			return c.FindOne(b.Context(), bson.D{{Key: "tenant_id", Value: "t1"}, {Key: "_id", Value: fmt.Sprintf("p%05d", i%benchDocs)}}).Err()
		}},
		{"page", func(c *mongo.Collection, _ int) error {
			cur, err := c.Find(b.Context(), bson.D{{Key: "tenant_id", Value: "t1"}, {Key: "state", Value: "published"}},
				options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(20))
			if err != nil {
				return err
			}
			var page []bson.M
			if err := cur.All(b.Context(), &page); err != nil {
				return err
			}
			if len(page) != 20 {
				return fmt.Errorf("page of %d, want 20", len(page))
			}
			return nil
		}},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			// One engine after the other: interleaved, v1's scans (and the
			// garbage they leave) would slow the v2 queries next to them.
			var took [2]time.Duration
			for k, e := range []Engine{EngineSQLite, EngineDocumentDB} {
				start := time.Now()
				for i := range b.N {
					if err := q.run(colls[e], i*7919); err != nil {
						b.Fatalf("%s on %s: %v", q.name, e, err)
					}
				}
				took[k] = time.Since(start)
			}
			b.ReportMetric(float64(took[0].Microseconds())/float64(b.N), "µs-v1/op")
			b.ReportMetric(float64(took[1].Microseconds())/float64(b.N), "µs-v2/op")
			b.ReportMetric(float64(took[0])/float64(took[1]), "v1/v2")
		})
	}
}

// BenchmarkFeedPage measures what a page of the feed costs on FerretDB
// v2/DocumentDB as the history grows: the feed's query (equality on
// tenant_id and state, publish_at up to now, sorted by publish_at and _id
// descending, 20 documents, on content's index of that shape) in a
// collection with 200 matching documents and in one with 5,000 (and as
// many drafts), each a collection of its own as an instance's posts are.
// It reports µs per page for each, their ratio (5000/200: 1 would mean a
// page costs a page, 25 that it costs the number of matches), and
// sort-all: 1 when the plan sorts every match (a Sort node between the
// Limit and the index scan), 0 when the index returns the documents in
// order. DocumentDB 0.107 as .ci/build-documentdb builds it sorts (docs/benchmarks.md,
// "Publishing benchmarks", says why). Run:
// go test -tags ferretdb_no_postgresql -run - -bench FeedPage ./tenant/embedded
func BenchmarkFeedPage(b *testing.B) {
	if _, err := findPostgres(b.Context()); err != nil {
		b.Skipf("%v", err)
	}
	m, err := Start(b.Context(), storeDir(b), Options{Engine: EngineDocumentDB, Ephemeral: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatalf("start: %v", err)
	}
	b.Cleanup(func() { _ = m.Stop(context.Background()) })
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Disconnect(context.Background()) })

	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(365 * 24 * time.Hour)
	sizes := []int{200, 5000}
	colls := make([]*mongo.Collection, len(sizes))
	for k, n := range sizes {
		coll := c.Database("bench").Collection(fmt.Sprintf("i%d_posts", n))
		if _, err := coll.Indexes().CreateOne(b.Context(), mongo.IndexModel{Keys: bson.D{{Key: "tenant_id", Value: 1},
			{Key: "state", Value: 1}, {Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}}); err != nil {
			b.Fatal(err)
		}
		docs := make([]any, 2*n)
		for i := range docs {
			docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("p%06d", i)}, {Key: "tenant_id", Value: "t1"},
				{Key: "state", Value: []string{"published", "draft"}[i%2]},
				{Key: "publish_at", Value: t0.Add(time.Duration(i) * time.Hour)}, {Key: "title", Value: fmt.Sprintf("post %d", i)}}
		}
		if _, err := coll.InsertMany(b.Context(), docs); err != nil {
			b.Fatalf("seed %d: %v", n, err)
		}
		colls[k] = coll
	}
	filter := bson.D{{Key: "tenant_id", Value: "t1"}, {Key: "state", Value: "published"}, {Key: "publish_at", Value: bson.D{{Key: "$lte", Value: now}}}}
	sort := bson.D{{Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}

	var explained bson.Raw
	err = c.Database("bench").RunCommand(b.Context(), bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: colls[1].Name()},
		{Key: "filter", Value: filter}, {Key: "sort", Value: sort}, {Key: "limit", Value: 20}}}}).Decode(&explained)
	if err != nil {
		b.Fatalf("explain: %v", err)
	}
	plan, err := explained.LookupErr("queryPlanner", "Plan")
	if err != nil {
		b.Fatalf("explain without a PostgreSQL plan: %s", explained)
	}
	sortAll := 0.0
	if sortsBelowLimit(plan) {
		sortAll = 1
	}

	var took [2]time.Duration
	for k, coll := range colls {
		start := time.Now()
		for range b.N {
			cur, err := coll.Find(b.Context(), filter, options.Find().SetSort(sort).SetLimit(20))
			if err != nil {
				b.Fatal(err)
			}
			var page []bson.Raw
			if err := cur.All(b.Context(), &page); err != nil {
				b.Fatal(err)
			}
			if len(page) != 20 {
				b.Fatalf("page of %d, want 20", len(page))
			}
		}
		took[k] = time.Since(start)
	}
	b.ReportMetric(float64(took[0].Microseconds())/float64(b.N), "µs-200/op")
	b.ReportMetric(float64(took[1].Microseconds())/float64(b.N), "µs-5000/op")
	b.ReportMetric(float64(took[1])/float64(took[0]), "5000/200")
	b.ReportMetric(sortAll, "sort-all")
}

// sortsBelowLimit reports whether a PostgreSQL plan (EXPLAIN's JSON as
// FerretDB v2 returns it) has a Sort node under its Limit: the matches are
// all read and sorted before the page is cut.
func sortsBelowLimit(plan bson.RawValue) bool {
	doc, ok := plan.DocumentOK()
	if !ok {
		return false
	}
	node, _ := doc.Lookup("Node Type").StringValueOK()
	children, _ := doc.Lookup("Plans").ArrayOK()
	vals, _ := children.Values()
	if node == "Limit" {
		for _, ch := range vals {
			if d, ok := ch.DocumentOK(); ok {
				if n, _ := d.Lookup("Node Type").StringValueOK(); n == "Sort" || n == "Incremental Sort" {
					return true
				}
			}
		}
	}
	for _, ch := range vals {
		if sortsBelowLimit(ch) {
			return true
		}
	}
	return false
}
