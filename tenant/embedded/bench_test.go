//go:build unix

package embedded

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
