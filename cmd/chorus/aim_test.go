package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestMigrationAimsOldPosts: posts stored before audiences (no aimed_at)
// are out of members' feeds, whose filter matches aimed_at alone, until
// migration 8 aims them: everyone's at everyone, a group's at the group.
func TestMigrationAimsOldPosts(t *testing.T) {
	a := newTestApp(t, nil)
	admin, adminMe := verifiedAdmin(t, a, "admin@acme.example")
	carol, dave := a.client(t), a.client(t)
	carolMe, _ := carol.signIn("carol@acme.example"), dave.signIn("dave@acme.example")
	var sales groupDoc
	if res := admin.do("POST", "/api/v1/groups", map[string]any{"name": "Sales"}); res.status != http.StatusCreated {
		t.Fatalf("group: %d %s", res.status, res.body)
	} else {
		res.json(t, &sales)
	}
	if res := admin.do("PUT", "/api/v1/groups/"+sales.ID+"/members/"+carolMe.Member.ID, nil); res.status != http.StatusNoContent {
		t.Fatalf("carol into Sales: %d %s", res.status, res.body)
	}
	var forAll, forSales postDoc
	admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/for-all"), "title": "for-all"}).json(t, &forAll)
	admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/for-sales"), "title": "for-sales", "audience": []string{sales.ID}}).json(t, &forSales)
	if forAll.ID == "" || forSales.ID == "" {
		t.Fatal("posts not created")
	}

	c, db := rawMongo(t, a)
	posts := c.Database(db).Collection("t_" + adminMe.Instance.ID + "_posts")
	// The previous schema: no aimed_at, no audience when aimed at
	// everyone; no migrations record.
	if r, err := posts.UpdateMany(t.Context(), bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "aimed_at", Value: ""}}}}); err != nil || r.ModifiedCount != 2 {
		t.Fatalf("unset aimed_at: %+v, %v", r, err)
	}
	if _, err := posts.UpdateOne(t.Context(), bson.D{{Key: "_id", Value: forAll.ID}}, bson.D{{Key: "$unset", Value: bson.D{{Key: "audience", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Database(db).Collection("migrations").Drop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ids := feedIDs(t, carol); len(ids) != 0 {
		t.Fatalf("carol's feed before migrating: %v, want nothing (no aimed_at)", ids)
	}

	env := map[string]string{"CHORUS_MONGO_URI": a.mongoURI, "CHORUS_MONGO_DATABASE": a.mongoDB, "CHORUS_DATA_DIR": t.TempDir()}
	var out strings.Builder
	if err := run(t.Context(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil || !strings.Contains(out.String(), "posts written before audiences") {
		t.Fatalf("chorus migrate: %v\n%s", err, out.String())
	}
	if ids := feedIDs(t, carol); !slices.Contains(ids, forAll.ID) || !slices.Contains(ids, forSales.ID) {
		t.Errorf("carol's feed after migrating: %v, want for-all %s and for-sales %s", ids, forAll.ID, forSales.ID)
	}
	if ids := feedIDs(t, dave); !slices.Contains(ids, forAll.ID) || slices.Contains(ids, forSales.ID) {
		t.Errorf("dave's feed after migrating: %v, want for-all %s only", ids, forAll.ID)
	}
}

// TestPublishRefusesAShareReAimedAway: a share queued before its post was
// aimed at a group the member is not in does not publish; it is cancelled
// as the share of a post no longer published is, saying no more.
func TestPublishRefusesAShareReAimedAway(t *testing.T) {
	a, carol, connID, postID := shareSetup(t)
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	var me me
	carol.do("GET", "/api/v1/me", nil).json(t, &me)
	var shares struct{ Items []shareDoc }
	if res := carol.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}); res.status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.status, res.body)
	} else {
		res.json(t, &shares)
	}
	var board groupDoc
	if res := admin.do("POST", "/api/v1/groups", map[string]any{"name": "Board"}); res.status != http.StatusCreated {
		t.Fatalf("group: %d %s", res.status, res.body)
	} else {
		res.json(t, &board)
	}
	if res := admin.do("PATCH", "/api/v1/content/"+postID, map[string]any{"audience": []string{board.ID}}); res.status != http.StatusOK {
		t.Fatalf("re-aim: %d %s", res.status, res.body)
	}
	runPublishTasks(t, a)
	if n := len(a.mastodon.Statuses()); n != 0 {
		t.Errorf("%d posts of content re-aimed away from the member, want 0", n)
	}
	c, db := rawMongo(t, a)
	var sh struct{ State, Error string }
	if err := c.Database(db).Collection("t_"+me.Instance.ID+"_shares").FindOne(t.Context(), bson.D{{Key: "_id", Value: shares.Items[0].ID}}).Decode(&sh); err != nil {
		t.Fatal(err)
	}
	if sh.State != "cancelled" || sh.Error != "the content is no longer published" {
		t.Errorf("the share: %+v, want cancelled as content no longer published", sh)
	}
}
