package content

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// BenchmarkFeedPage compares a feed page of 20 through the service with
// the same query sent with the raw driver to the same server, on an
// instance of 10,000 posts. Report the ratio Service/RawDriver:
//
//	go test -tags ferretdb_no_postgresql -run XXX -bench FeedPage -count 5 ./content/
func BenchmarkFeedPage(b *testing.B) {
	const posts = 10000
	uri, db := tenanttest.Mongo(b)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Kinds: Kinds(), Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close(ctx)
	inst, err := store.EnsureInstance(ctx, "bench.example", "a@bench.example")
	if err != nil {
		b.Fatal(err)
	}
	sc, err := store.Open(ctx, inst.ID)
	if err != nil {
		b.Fatal(err)
	}

	// Seed with the raw driver in batches: the service would fetch previews.
	raw, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Disconnect(ctx)
	coll := raw.Database(db).Collection("t_" + inst.ID + "_posts")
	for i := 0; i < posts; i += 500 {
		batch := make([]any, 0, 500)
		for j := i; j < i+500; j++ {
			batch = append(batch, Post{
				ID: newID(), State: StatePublished, URL: fmt.Sprintf("https://news.example/%d", j),
				Title: fmt.Sprintf("Post %d", j), Commentary: "Some words about it.",
				ShareTexts: map[string]string{"x": "Read this"}, Topics: []string{"news"},
				PublishAt: now.Add(-time.Duration(j) * time.Minute), CreatedAt: now, UpdatedAt: now,
				Preview: Preview{Title: "t", Description: "d", Status: "ok"},
			})
		}
		docs := make([]any, len(batch))
		for k, p := range batch {
			d, _ := bson.Marshal(p)
			var m bson.D
			bson.Unmarshal(d, &m)
			docs[k] = append(m, bson.E{Key: "tenant_id", Value: inst.ID})
		}
		if _, err := coll.InsertMany(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
	svc := NewService(Config{Now: func() time.Time { return now }})
	me := tenant.Member{ID: newID(), Role: tenant.RoleEmployee}

	b.Run("Service", func(b *testing.B) {
		for b.Loop() {
			ps, _, err := svc.List(ctx, sc, me, Query{Limit: 20})
			if err != nil || len(ps) != 20 {
				b.Fatalf("%d posts, %v", len(ps), err)
			}
		}
	})
	b.Run("RawDriver", func(b *testing.B) {
		filter := bson.D{{Key: "$and", Value: bson.A{
			bson.D{{Key: "tenant_id", Value: inst.ID}},
			bson.D{{Key: "state", Value: StatePublished}, {Key: "publish_at", Value: bson.D{{Key: "$lte", Value: now}}}},
			bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: "expires_at", Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}},
			}}},
		}}}
		opts := options.Find().SetSort(bson.D{{Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(21)
		for b.Loop() {
			cur, err := coll.Find(ctx, filter, opts)
			if err != nil {
				b.Fatal(err)
			}
			var ps []Post
			if err := cur.All(ctx, &ps); err != nil || len(ps) != 21 {
				b.Fatalf("%d posts, %v", len(ps), err)
			}
		}
	})
}
