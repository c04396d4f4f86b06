package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/social"
)

// An upgrade from the release before migrations: the database is put in
// the state that release left it in, the documents it wrote differently
// inserted raw — instance records without index_set, a kind's index
// missing (share_requests' member index, added later), raw clicks stored
// one document per click without at_max, no daily reach totals and no
// migrations record. chorus migrate then leaves the indexes, retention
// and reach right, and a second run has nothing to do.
func TestUpgradeFromThePreviousSchema(t *testing.T) {
	f := newReachFixture(t, 1)
	a := f.a
	post := f.post(t, "launch", nil)
	f.share(t, 0, post)

	raw, err := mongo.Connect(options.Client().ApplyURI(a.mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	db := raw.Database(a.mongoDB)
	coll := func(kind string) *mongo.Collection { return db.Collection("t_" + f.instance + "_" + kind) }
	var share struct {
		ID          string    `bson:"_id"`
		ContentID   string    `bson:"content_id"`
		Network     string    `bson:"network"`
		PublishedAt time.Time `bson:"published_at"`
	}
	if err := coll("shares").FindOne(t.Context(), bson.D{}).Decode(&share); err != nil {
		t.Fatal(err)
	}

	// The previous release's state.
	if _, err := db.Collection("instances").UpdateMany(t.Context(), bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "index_set", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if err := coll("share_requests").Drop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCollection(t.Context(), "t_"+f.instance+"_share_requests"); err != nil {
		t.Fatal(err)
	}
	if _, err := coll("rollup_totals").DeleteMany(t.Context(), bson.D{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Collection("migrations").Drop(t.Context()); err != nil {
		t.Fatal(err)
	}
	legacy := func(id string, at time.Time, ip string) bson.D {
		return bson.D{{Key: "_id", Value: id}, {Key: "tenant_id", Value: f.instance}, {Key: "share_id", Value: share.ID},
			{Key: "content_id", Value: share.ContentID}, {Key: "network", Value: share.Network}, {Key: "at", Value: at},
			{Key: "ip_prefix", Value: ip}, {Key: "referrer_host", Value: "news.example"}, {Key: "visitor", Value: "v-" + ip}}
	}
	old := share.PublishedAt.AddDate(-2, 0, 0)
	docs := []any{
		legacy("c1", share.PublishedAt.Add(time.Millisecond), "203.0.113.0"),
		legacy("c2", share.PublishedAt.Add(2*time.Millisecond), "203.0.113.0"),
		legacy("c3", share.PublishedAt.Add(3*time.Millisecond), "198.51.100.0"),
		// Past any retention period: the sweep must delete them.
		legacy("c4", old, "192.0.2.0"),
		legacy("c5", old.Add(time.Hour), "192.0.2.0"),
	}
	if _, err := coll("clicks").InsertMany(t.Context(), docs); err != nil {
		t.Fatal(err)
	}
	q := "?from=" + share.PublishedAt.AddDate(0, 0, -1).Format(time.DateOnly) + "&to=" + share.PublishedAt.AddDate(0, 0, 1).Format(time.DateOnly)
	var sum summaryDoc
	f.admin.do("GET", "/api/v1/analytics/summary"+q, nil).json(t, &sum)
	if sum.Clicks != 0 || sum.Shares != 0 {
		t.Fatalf("before migrating, the summary counts %+v: the fixture is not the previous schema", sum)
	}

	env := map[string]string{"CHORUS_MONGO_URI": a.mongoURI, "CHORUS_MONGO_DATABASE": a.mongoDB, "CHORUS_DATA_DIR": t.TempDir()}
	var out strings.Builder
	if err := run(t.Context(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("chorus migrate: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "migrated from 0 to 3") || !strings.Contains(out.String(), "1 instances changed") {
		t.Errorf("chorus migrate said:\n%s", out.String())
	}

	// Indexes: every declared index of every kind exists.
	for _, k := range storeKinds() {
		specs, err := coll(k.Name).Indexes().ListSpecifications(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, ix := range k.Indexes {
			keys, _ := bson.Marshal(append(bson.D{{Key: "tenant_id", Value: 1}}, ix.Keys...))
			if !slices.ContainsFunc(specs, func(sp mongo.IndexSpecification) bool { return sameKeys(sp.KeysDocument, keys) }) {
				t.Errorf("%s lacks its index %v after migrating", k.Name, ix.Keys)
			}
		}
	}
	if n, err := coll("clicks").CountDocuments(t.Context(), bson.D{{Key: "at_max", Value: bson.D{{Key: "$exists", Value: false}}}}); err != nil || n != 0 {
		t.Errorf("%d click documents still lack at_max (%v)", n, err)
	}

	// Reach: the clicks the old release stored count.
	sum = summaryDoc{}
	f.admin.do("GET", "/api/v1/analytics/summary"+q, nil).json(t, &sum)
	if sum.Shares != 1 || sum.Clicks != 3 || sum.UniqueClicks != 2 {
		t.Errorf("summary after migrating: %+v, want 1 share, 3 clicks, 2 unique", sum)
	}
	// Retention: the sweep now deletes the old clicks, and only them.
	sc, err := a.store.Open(t.Context(), f.instance)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := social.SweepClicks(t.Context(), sc, time.Now()); err != nil || n != 2 {
		t.Errorf("retention sweep deleted %d clicks (%v), want the 2 past retention", n, err)
	}
	since, err := social.ClicksSince(t.Context(), sc, old.Add(-time.Hour))
	if err != nil || len(since) != 3 {
		t.Errorf("clicks kept: %d (%v), want the 3 recent", len(since), err)
	}

	out.Reset()
	if err := run(t.Context(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil || !strings.Contains(out.String(), "up to date (migration 3)") {
		t.Errorf("a second chorus migrate: %v\n%s", err, out.String())
	}
}

// sameKeys compares index keys by field and direction, whatever numeric
// type the server keeps the directions in.
func sameKeys(a, b bson.Raw) bool {
	ea, _ := a.Elements()
	eb, _ := b.Elements()
	if len(ea) != len(eb) {
		return false
	}
	for i := range ea {
		fa, _ := ea[i].Value().AsFloat64OK()
		fb, _ := eb[i].Value().AsFloat64OK()
		if ea[i].Key() != eb[i].Key() || fa != fb {
			return false
		}
	}
	return true
}
