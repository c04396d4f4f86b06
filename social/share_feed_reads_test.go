package social

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// feedRig is one store with the content and social kinds, whose reads
// are counted, and the two services a feed page uses.
type feedRig struct {
	store   *tenant.Store
	reads   *tenanttest.Reads
	raw     *mongo.Client // explains what the store sent
	db      string
	now     time.Time
	content *content.Service
	social  *Service
}

func newFeedRig(tb testing.TB) *feedRig {
	tb.Helper()
	ctx := context.Background()
	uri, db := tenanttest.Mongo(tb)
	r := &feedRig{db: db, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	reads, monitor := tenanttest.NewReads()
	r.reads = reads
	clock := func() time.Time { return r.now }
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Now: clock, Monitor: monitor,
		Kinds: append(content.Kinds(), Kinds()...)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close(context.Background()) })
	r.store = store
	if r.raw, err = mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1)); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.raw.Disconnect(context.Background()) })
	r.content = content.NewService(content.Config{Now: clock})
	r.social = NewService(Config{Now: clock})
	return r
}

func (r *feedRig) instance(tb testing.TB, domain string) tenant.Scope {
	tb.Helper()
	ctx := context.Background()
	inst, err := r.store.EnsureInstance(ctx, domain, "founder@"+domain)
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := r.store.Open(ctx, inst.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}

func kindNamed(kinds []tenant.Kind, name string) tenant.Kind {
	for _, k := range kinds {
		if k.Name == name {
			return k
		}
	}
	panic("no kind " + name)
}

// addPosts writes n published posts of topic, the newest newest before
// now and each next one a minute older: the documents Service.Create
// writes for a post without a preview fetcher.
func (r *feedRig) addPosts(tb testing.TB, sc tenant.Scope, topic string, newest time.Duration, n int) []content.Post {
	tb.Helper()
	posts := make([]content.Post, n)
	docs := make([]any, 0, 500)
	coll := sc.Collection(kindNamed(content.Kinds(), "posts"))
	for i := range posts {
		at := r.now.Add(-newest - time.Duration(i)*time.Minute)
		posts[i] = content.Post{ID: httpapi.NewID(), State: content.StatePublished, URL: fmt.Sprintf("https://news.example/%d", i),
			Title: fmt.Sprintf("Post %d", i), ShareTexts: map[string]string{"mastodon": "Read this"}, Topics: []string{topic},
			PublishAt: at, CreatedAt: at, UpdatedAt: at, Preview: content.Preview{Status: "pending"}, AimedAt: []string{content.AimEveryone}}
		docs = append(docs, posts[i])
		if len(docs) == cap(docs) || i == n-1 {
			if err := coll.InsertMany(context.Background(), docs); err != nil {
				tb.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	return posts
}

// addShares writes n shares of member to posts (round robin), one in
// eight of them cancelled: the documents CreateShares and publishing
// leave.
func (r *feedRig) addShares(tb testing.TB, sc tenant.Scope, member string, posts []content.Post, n int) {
	tb.Helper()
	docs := make([]any, 0, 1000)
	for i := range n {
		p := posts[i%len(posts)]
		state := SharePublished
		if i%8 == 7 {
			state = ShareCancelled
		}
		network := []string{"mastodon", "bluesky", "linkedin"}[i%3]
		docs = append(docs, Share{ID: httpapi.NewID(), ContentID: p.ID, ContentTitle: p.Title, ConnectionID: httpapi.NewID(), MemberID: member,
			Network: network, Text: "Read this", State: state, TrackedURL: "https://chorus.example/r/" + newCode(),
			Destination: p.URL, PublishAt: p.PublishAt, CreatedAt: p.PublishAt, UpdatedAt: p.PublishAt})
		if len(docs) == cap(docs) || i == n-1 {
			if err := sc.Collection(shareKind).InsertMany(context.Background(), docs); err != nil {
				tb.Fatal(err)
			}
			docs = docs[:0]
		}
	}
}

// feedPage reads what GET /content?topic= reads for member: a page of the
// feed (of one topic unless "") after cursor, and the networks the member
// shared its posts to.
func (r *feedRig) feedPage(tb testing.TB, sc tenant.Scope, member, topic string, after *content.Cursor) ([]content.Post, *content.Cursor, map[string][]string) {
	tb.Helper()
	ctx := context.Background()
	posts, next, err := r.content.List(ctx, sc, tenant.Member{ID: member, Role: tenant.RoleEmployee}, content.Query{Limit: 20, After: after, Topic: topic})
	if err != nil {
		tb.Fatal(err)
	}
	ids := make([]string, len(posts))
	for i, p := range posts {
		ids[i] = p.ID
	}
	shared, err := r.social.SharedNetworks(ctx, sc, member, ids)
	if err != nil {
		tb.Fatal(err)
	}
	return posts, next, shared
}

// pageCost is what reading one feed page cost the store.
type pageCost struct {
	commands, docs int
	plans          []tenanttest.Plan
}

// cost reads a first and a next page and returns what each cost.
func (r *feedRig) cost(tb testing.TB, sc tenant.Scope, member, topic string) [2]pageCost {
	tb.Helper()
	var out [2]pageCost
	var after *content.Cursor
	for i := range out {
		r.reads.Reset()
		posts, next, _ := r.feedPage(tb, sc, member, topic, after)
		if len(posts) != 20 || next == nil {
			tb.Fatalf("page %d: %d posts, next %v; want a full page and a next one", i+1, len(posts), next)
		}
		// The member's groups come from the process's cached group list
		// (read at most once every 2 s, like the member): not the page's.
		var sent []bson.Raw
		for _, rd := range r.reads.Reads() {
			if strings.HasSuffix(rd.Collection, "_groups") {
				continue
			}
			out[i].commands++
			out[i].docs += rd.Docs
			if rd.Name != "getMore" {
				sent = append(sent, rd.Command)
			}
		}
		plans, err := tenanttest.Explain(context.Background(), r.raw, r.db, sent)
		if err != nil {
			tb.Fatal(err)
		}
		out[i].plans = plans
		after = next
	}
	return out
}

// A feed page reads the same whatever the instance's history: one find of
// the page's posts and one of the member's shares of them, returning a
// page and its marks; so does a page of one topic, whose posts are older
// than everything else and 300 days apart, which the windows of publish_at
// (tenant.Newest) reach in at most five finds. Where the server's explain says what it examined
// (MongoDB), the page examines no more than it returns and a bounded
// margin, and never scans a collection.
func TestFeedPageReadsDoNotGrowWithHistory(t *testing.T) {
	r := newFeedRig(t)
	sc := r.instance(t, "feed.example")
	const me = "member-me"
	rare := r.addPosts(t, sc, "rare", 300*24*time.Hour, 45)
	recent := r.addPosts(t, sc, "news", time.Minute, 45)
	r.addShares(t, sc, me, recent[:30], 40)
	r.addShares(t, sc, me, rare[:30], 40)
	r.addShares(t, sc, "member-other", recent, 60)

	topics := []string{"", "rare"}
	var before [][2]pageCost
	for _, topic := range topics {
		c := r.cost(t, sc, me, topic)
		for i := range c {
			if want := 2; (topic == "" && c[i].commands != want) || c[i].commands < want || c[i].commands > want+4 {
				t.Errorf("topic %q, page %d: %d read commands, want 2 (posts, shares of them; up to 4 more windows for the rare topic)", topic, i+1, c[i].commands)
			}
		}
		before = append(before, c)
	}

	// History: posts older than the feed's pages and newer than the rare
	// topic's, everyone's shares, the member's own shares — ten times the
	// pages read, few enough for the embedded FerretDB v1, which scans,
	// under the race detector.
	old := r.addPosts(t, sc, "news", 24*time.Hour, 400)
	r.addShares(t, sc, me, old, 400)
	r.addShares(t, sc, "member-other", old, 800)
	r.addShares(t, sc, "member-third", recent, 200)

	for k, topic := range topics {
		after := r.cost(t, sc, me, topic)
		for i := range after {
			b := before[k][i]
			if after[i].commands != b.commands || after[i].docs != b.docs {
				t.Errorf("topic %q, page %d: %d reads returning %d documents with history, %d returning %d without",
					topic, i+1, after[i].commands, after[i].docs, b.commands, b.docs)
			}
			for j, p := range after[i].plans {
				t.Logf("topic %q, page %d: %s", topic, i+1, p)
				if len(p.FullScans) > 0 {
					t.Errorf("topic %q, page %d scans a collection: %s", topic, i+1, p)
				}
				if p.DocsExamined >= 0 && p.DocsExamined > 2*int64(b.docs)+b.plans[j].DocsExamined {
					t.Errorf("topic %q, page %d examined %d documents with history, %d without: %s", topic, i+1, p.DocsExamined, b.plans[j].DocsExamined, p)
				}
			}
		}
	}
}
