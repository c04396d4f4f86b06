package main

import (
	"context"
	"fmt"
	"log/slog"
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
// one document per click without at_max, no daily reach totals, shares
// and contents without their counters and no migrations record. chorus
// migrate then leaves the indexes, retention, reach and the counters
// right, and a second run has nothing to do.
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
	// Shares and contents stored before their counters: none on the share
	// and the post, another member's queued share and a cancelled one
	// (which does not count), and another post with counters that no share
	// or click supports.
	var shareDoc bson.D
	if err := coll("shares").FindOne(t.Context(), bson.D{{Key: "_id", Value: share.ID}}).Decode(&shareDoc); err != nil {
		t.Fatal(err)
	}
	variant := func(id, member, state string) bson.D {
		d := bson.D{}
		for _, e := range shareDoc {
			switch e.Key {
			case "_id":
				e.Value = id
			case "member_id":
				e.Value = member
			case "state":
				e.Value = state
			case "clicks", "published_at", "remote_id", "post_url":
				continue // not published
			}
			d = append(d, e)
		}
		return d
	}
	if _, err := coll("shares").InsertMany(t.Context(), []any{variant("old-queued", "m-other", "queued"), variant("old-cancelled", "m-third", "cancelled")}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll("shares").UpdateMany(t.Context(), bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "clicks", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll("posts").UpdateMany(t.Context(), bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "clicks", Value: ""}, {Key: "shares", Value: ""}, {Key: "shared_by", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	stale := f.post(t, "stale", nil)
	if _, err := coll("posts").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: stale}}, bson.D{{Key: "$set", Value: bson.D{{Key: "shares", Value: 7}, {Key: "shared_by", Value: 3}}}}); err != nil {
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
	if !strings.Contains(out.String(), fmt.Sprintf("migrated from 0 to %d", len(migrations(slog.Default(), nil)))) || !strings.Contains(out.String(), "1 instances changed") {
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
	// Counters: the post's shares and sharers and the share's clicks
	// count what was stored before them; the stale post's none. The
	// post's clicks are the reach totals' (the recorder keeps no counter
	// on posts now), which the migration rebuilt from the clicks within
	// the retention period: the API shows those three, as the analytics
	// do, not the two the sweep is about to delete.
	type counters struct {
		SharedBy int64 `bson:"shared_by"`
		Shares   int64 `bson:"shares"`
		Clicks   int64 `bson:"clicks"`
	}
	read := func(kind, id string) (c counters) {
		t.Helper()
		if err := coll(kind).FindOne(t.Context(), bson.D{{Key: "_id", Value: id}}).Decode(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	checkCounters := func(when string) {
		t.Helper()
		if c := read("posts", post); c != (counters{SharedBy: 2, Shares: 2}) {
			t.Errorf("%s: the post's counters are %+v, want 2 sharers, 2 shares", when, c)
		}
		var shown struct {
			Clicks int64 `json:"clicks"`
		}
		if f.admin.do("GET", "/api/v1/content/"+post, nil).json(t, &shown); shown.Clicks != 3 {
			t.Errorf("%s: the post shows %d clicks, want 3", when, shown.Clicks)
		}
		if c := read("posts", stale); c != (counters{}) {
			t.Errorf("%s: the stale post's counters are %+v, want none", when, c)
		}
		if c := read("shares", share.ID); c.Clicks != 5 {
			t.Errorf("%s: the share counts %d clicks, want 5", when, c.Clicks)
		}
	}
	checkCounters("after migrating")

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

	// Recounting again changes nothing, though the sweep deleted clicks
	// the counters hold.
	rep, err := social.RecountCounters(t.Context(), sc)
	if err != nil || rep.SharesChanged != 0 || rep.PostsChanged != 0 || rep.Shares != 3 || rep.Clicks != 3 {
		t.Errorf("a second recount: %+v (%v), want 3 shares and 3 clicks read and nothing changed", rep, err)
	}
	checkCounters("after a second recount")

	out.Reset()
	if err := run(t.Context(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil || !strings.Contains(out.String(), fmt.Sprintf("up to date (migration %d)", len(migrations(slog.Default(), nil)))) {
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
