package content

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// TestBackfillAimedAt: posts of the shape stored before audiences (no
// aimed_at; an audience or none) are not in a member's feed until the
// backfill aims them, then exactly as their audience says; running it
// again changes nothing, and another instance's posts are left alone.
func TestBackfillAimedAt(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	g, err := f.a.CreateGroup(ctx, f.curA, "Sales", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now().UTC().Truncate(time.Millisecond)
	old := func(title string, at time.Time, audience []string) Post {
		return Post{ID: httpapi.NewID(), State: StatePublished, URL: "https://old.example/" + title, Title: title,
			ShareTexts: map[string]string{}, Topics: []string{}, Audience: audience, PublishAt: at, CreatedAt: at, UpdatedAt: at}
	}
	everyone, sales := old("everyone", now.Add(-time.Minute), nil), old("sales", now.Add(-2*time.Minute), []string{g.ID})
	docs := []any{everyone, sales}
	// More than a batch of older ones, a few with an empty audience.
	for i := range backfillBatch + 3 {
		audience := []string(nil)
		if i%100 == 0 {
			audience = []string{}
		}
		docs = append(docs, old(fmt.Sprintf("older-%d", i), now.Add(-time.Hour-time.Duration(i)*time.Second), audience))
	}
	if err := f.a.Collection(postKind).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Collection(postKind).Insert(ctx, old("b", now, nil)); err != nil {
		t.Fatal(err)
	}
	inSales := tenant.Member{ID: httpapi.NewID(), Role: tenant.RoleEmployee, Groups: []string{g.ID}}
	feed := func(me tenant.Member) []string {
		t.Helper()
		ps, _, err := f.svc.List(ctx, f.a, me, Query{Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, p := range ps {
			titles = append(titles, p.Title)
		}
		return titles
	}
	if got := feed(inSales); len(got) != 0 {
		t.Fatalf("feed before the backfill = %v; the filter matches aimed_at alone", got)
	}

	n, err := BackfillAimedAt(ctx, f.a)
	if err != nil || n != len(docs) {
		t.Fatalf("backfill = %d, %v; want %d", n, err, len(docs))
	}
	if n, err := BackfillAimedAt(ctx, f.a); err != nil || n != 0 {
		t.Errorf("second backfill = %d, %v; want nothing left", n, err)
	}
	if got := feed(inSales); !slices.Equal(got[:2], []string{"everyone", "sales"}) {
		t.Errorf("feed of a Sales member = %v, want everyone, sales first", got)
	}
	if got := feed(f.empA); got[0] != "everyone" || slices.Contains(got, "sales") {
		t.Errorf("feed of a member in no group = %v, want everyone's posts only", got)
	}
	for _, c := range []struct {
		title string
		want  []string
	}{{"everyone", []string{AimEveryone}}, {"sales", []string{g.ID}}, {"older-100", []string{AimEveryone}}, {"older-1", []string{AimEveryone}}} {
		var p Post
		if err := f.a.Collection(postKind).FindOne(ctx, bson.D{{Key: "title", Value: c.title}}, &p); err != nil || !slices.Equal(p.AimedAt, c.want) {
			t.Errorf("%s aimed at %v (%v), want %v", c.title, p.AimedAt, err, c.want)
		}
	}
	if n, err := f.b.Collection(postKind).Count(ctx, bson.D{{Key: "aimed_at", Value: bson.D{{Key: "$exists", Value: true}}}}); err != nil || n != 0 {
		t.Errorf("A's backfill aimed %d of B's posts (%v)", n, err)
	}
}

// TestEveryWriteAimsThePost: each way a post is written (create,
// suggestion, edit, approval, a source's item) stores aimed_at, which the
// feed's filter needs.
func TestEveryWriteAimsThePost(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	g, err := f.a.CreateGroup(ctx, f.curA, "Sales", nil)
	if err != nil {
		t.Fatal(err)
	}
	aimedAt := func(id string) []string {
		t.Helper()
		var doc struct {
			AimedAt []string `bson:"aimed_at"`
		}
		if err := f.a.Collection(postKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &doc); err != nil {
			t.Fatal(err)
		}
		return doc.AimedAt
	}
	created := f.create(t, f.a, "created")
	if got := aimedAt(created.ID); !slices.Equal(got, []string{AimEveryone}) {
		t.Errorf("created: aimed at %v", got)
	}
	if _, err := f.svc.Edit(ctx, f.a, created.ID, Draft{Audience: &[]string{g.ID}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := aimedAt(created.ID); !slices.Equal(got, []string{g.ID}) {
		t.Errorf("edited to Sales: aimed at %v", got)
	}
	// Suggestions wait for approval (the default): pending, then approved
	// for Sales.
	suggested, err := f.svc.Suggest(ctx, f.a, f.empA, "https://news.example/suggested", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := aimedAt(suggested.ID); !slices.Equal(got, []string{AimEveryone}) {
		t.Errorf("suggested: aimed at %v", got)
	}
	if _, err := f.svc.Approve(ctx, f.a, f.curA, suggested.ID, Draft{Audience: &[]string{g.ID}}); err != nil {
		t.Fatal(err)
	}
	if got := aimedAt(suggested.ID); !slices.Equal(got, []string{g.ID}) {
		t.Errorf("approved for Sales: aimed at %v", got)
	}
	// Feed items and sitemap pages are made by Source.post.
	if got := (Source{ID: httpapi.NewID()}).post("https://news.example/item", "https://news.example/item", "Item", Preview{}, f.clock.Now()); !slices.Equal(got.AimedAt, []string{AimEveryone}) {
		t.Errorf("a source's item: aimed at %v", got.AimedAt)
	}
}
