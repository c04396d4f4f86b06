package social

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// Tracked links: the code's route home, the link in the instance's data;
// a taken code is refused, another instance cannot delete them, and links
// stored whole before regions resolve, are deleted with their share and
// move into the instance's data.
func TestTrackedLinks(t *testing.T) {
	ctx := context.Background()
	uri, db := tenanttest.Mongo(t)
	store, acme := testScopeIn(t, uri, db, "acme.example")
	globex := instanceScope(t, store, "globex.example")

	want := TrackedLink{Code: "acmecode00000000", InstanceID: acme.InstanceID(), ShareID: "s1", ContentID: "c1", Network: "mastodon",
		Destination: "https://news.example/a"}
	if err := CreateLink(ctx, acme, TrackedLink{Code: want.Code, ShareID: "s1", ContentID: "c1", Network: "mastodon", Destination: want.Destination}); err != nil {
		t.Fatal(err)
	}
	if err := CreateLink(ctx, globex, TrackedLink{Code: want.Code, ShareID: "s9", Destination: "https://evil.example/"}); !errors.Is(err, tenant.ErrDuplicate) {
		t.Errorf("another instance took a code: %v, want ErrDuplicate", err)
	}
	l, err := ResolveLink(ctx, store, want.Code)
	if want.CreatedAt = l.CreatedAt; err != nil || l != want || l.CreatedAt.IsZero() {
		t.Fatalf("resolve: %+v, %v; want %+v", l, err, want)
	}
	if n, err := globex.Collection(linkKind).Count(ctx, bson.D{}); err != nil || n != 0 {
		t.Errorf("globex holds %d links, %v", n, err)
	}
	if err := DeleteLinks(ctx, globex, []string{"s1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveLink(ctx, store, want.Code); err != nil {
		t.Errorf("after another instance deleted its share s1's links: %v", err)
	}
	if err := DeleteLinks(ctx, acme, []string{"s1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveLink(ctx, store, want.Code); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("a deleted link resolves: %v", err)
	}

	// Links stored whole in the home database, before regions.
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(ctx)
	home := client.Database(db).Collection("links")
	legacy := TrackedLink{Code: "legacy0000000000", InstanceID: acme.InstanceID(), ShareID: "s2", ContentID: "c2", Network: "bluesky",
		Destination: "https://news.example/legacy", CreatedAt: time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)}
	dropped := legacy
	dropped.Code, dropped.ShareID = "dropped000000000", "s3"
	if _, err := home.InsertMany(ctx, []any{legacy, dropped}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []TrackedLink{legacy, dropped} {
		if got, err := ResolveLink(ctx, store, l.Code); err != nil || got != l {
			t.Errorf("a legacy link: %+v, %v; want %+v", got, err, l)
		}
	}
	if err := DeleteLinks(ctx, acme, []string{"s3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ResolveLink(ctx, store, dropped.Code); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("a legacy link deleted with its share resolves: %v", err)
	}
	for i, n := range []int{1, 0} { // idempotent
		if got, err := MoveLinksToRegions(ctx, store); err != nil || got != n {
			t.Fatalf("move %d: %d, %v; want %d", i+1, got, err, n)
		}
	}
	if got, err := ResolveLink(ctx, store, legacy.Code); err != nil || got != legacy {
		t.Errorf("a moved link: %+v, %v; want %+v", got, err, legacy)
	}
	var route bson.M
	if err := home.FindOne(ctx, bson.D{{Key: "_id", Value: legacy.Code}}).Decode(&route); err != nil {
		t.Fatal(err)
	}
	if _, ok := route["destination"]; ok || route["instance_id"] != acme.InstanceID() {
		t.Errorf("the home route after the move: %v", route)
	}
	if n, err := acme.Collection(linkKind).Count(ctx, bson.D{{Key: "_id", Value: legacy.Code}}); err != nil || n != 1 {
		t.Errorf("the moved link in the instance's data: %d, %v", n, err)
	}
}
