package content

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// TestListThroughWindowsIsTheOpenQuery pages through every kind of list
// (the feed, topic feeds, the followed topics, curators' lists by state,
// a member's suggestions) over histories that are dense, sparse, have gaps
// of months and years, and many posts at one time — on window boundaries
// and across them — and checks that the pages, in order, are exactly the
// list's posts sorted by publish time and ID, and that each cursor is the
// page's last post. List reads through windows of publish_at
// (tenant.Newest); the expected list is computed here from every post of
// the instance.
func TestListThroughWindowsIsTheOpenQuery(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	now := f.clock.Now().UTC()
	day := 24 * time.Hour
	topics := [][]string{{"ai"}, {"cloud"}, {"hr"}, {"ai", "hr"}, {}}
	var all []Post
	add := func(sc tenant.Scope, state State, at time.Time, mod func(*Post)) {
		n := len(all)
		p := Post{ID: httpapi.NewID(), State: state, URL: fmt.Sprintf("https://news.example/%d", n), Title: fmt.Sprintf("post %d", n),
			Topics: topics[n%len(topics)], PublishAt: at.Truncate(time.Millisecond), AuthorID: f.curA.ID,
			CreatedAt: now, UpdatedAt: now, ShareTexts: map[string]string{}, AimedAt: aim(nil)}
		if mod != nil {
			mod(&p)
		}
		if err := sc.Collection(postKind).Insert(ctx, p); err != nil {
			t.Fatal(err)
		}
		if sc.InstanceID() == f.a.InstanceID() {
			all = append(all, p)
		}
	}
	pub := func(at time.Time) { add(f.a, StatePublished, at, nil) }
	// Dense: one every 30 minutes over the last six days.
	for i := range 300 {
		pub(now.Add(-time.Minute - time.Duration(i)*30*time.Minute))
	}
	// Ties, on the first window's lower bound, on the second's, and inside
	// a window.
	for range 12 {
		pub(now.Add(-14 * day))
	}
	for range 5 {
		pub(now.Add(-70 * day))
	}
	for range 9 {
		pub(now.Add(-20*day - 7*time.Hour))
	}
	// Clusters after gaps of months, of years, and beyond every window.
	for i := range 20 {
		pub(now.Add(-200*day - time.Duration(i)*5*time.Hour))
	}
	for i := range 20 {
		pub(now.Add(-(3*365+180)*day - time.Duration(i)*day))
	}
	for i := range 10 {
		pub(now.Add(-10*365*day - time.Duration(i)*time.Hour))
	}
	// Scheduled, expired, and posts in every other state.
	for i := range 5 {
		pub(now.Add(time.Duration(i+1) * time.Hour))
	}
	for i := range 10 {
		add(f.a, StatePublished, now.Add(-time.Duration(i)*40*day-3*time.Hour), func(p *Post) {
			p.ExpiresAt = new(now.Add(-time.Duration(i) * day))
		})
	}
	add(f.a, StatePublished, now.Add(-2*day), func(p *Post) { p.ExpiresAt = new(now.Add(time.Hour)) })
	for i := range 45 {
		st := []State{StateDraft, StateArchived, StatePending, StateRejected}[i%4]
		add(f.a, st, now.Add(-time.Duration(i*i)*day+time.Duration(i)*time.Hour), func(p *Post) {
			if st == StatePending || st == StateRejected {
				p.Suggested, p.AuthorID = true, f.empA.ID
			}
		})
	}
	// Another instance, sparse: one post every 45 days, none in the first
	// windows.
	for i := range 30 {
		add(f.b, StatePublished, now.Add(-100*day-time.Duration(i)*45*day), nil)
	}

	emp := f.empA
	emp.Topics = []string{"cloud", "hr"}
	want := func(q Query, me tenant.Member) []string {
		var ids []string
		sorted := slices.Clone(all)
		slices.SortFunc(sorted, func(x, y Post) int {
			if c := y.PublishAt.Compare(x.PublishAt); c != 0 {
				return c
			}
			return strings.Compare(y.ID, x.ID)
		})
		for _, p := range sorted {
			var in bool
			switch {
			case q.MineSuggested:
				in = p.AuthorID == me.ID && p.Suggested
			case q.State == "" || q.State == StatePublished:
				in = p.StateAt(now) == StatePublished
			case q.State == StateScheduled:
				in = p.State == StatePublished && p.PublishAt.After(now)
			case q.State == StateExpired:
				in = p.State == StatePublished && p.ExpiresAt != nil && !p.ExpiresAt.After(now)
			default:
				in = p.State == q.State
			}
			if q.Topic != "" && !slices.Contains(p.Topics, q.Topic) {
				in = false
			}
			if q.Followed && !slices.ContainsFunc(p.Topics, func(tp string) bool { return slices.Contains(me.Topics, tp) }) {
				in = false
			}
			if in {
				ids = append(ids, p.ID)
			}
		}
		return ids
	}
	page := func(sc tenant.Scope, me tenant.Member, q Query) []string {
		t.Helper()
		var ids []string
		for pages := 0; ; pages++ {
			if pages > 1000 {
				t.Fatalf("%+v: no end after 1000 pages", q)
			}
			posts, next, err := f.svc.List(ctx, sc, me, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			for _, p := range posts {
				ids = append(ids, p.ID)
			}
			if next == nil {
				return ids
			}
			if len(posts) != q.Limit {
				t.Fatalf("%+v: a page of %d with a next page", q, len(posts))
			}
			if last := posts[len(posts)-1]; !next.PublishAt.Equal(last.PublishAt) || next.ID != last.ID {
				t.Fatalf("%+v: cursor %+v is not the page's last post %s at %s", q, next, last.ID, last.PublishAt)
			}
			q.After = next
		}
	}
	queries := []struct {
		me tenant.Member
		q  Query
	}{
		{emp, Query{}}, {emp, Query{Topic: "ai"}}, {emp, Query{Topic: "hr"}}, {emp, Query{Followed: true}},
		{emp, Query{MineSuggested: true}},
		{f.curA, Query{State: StateScheduled}}, {f.curA, Query{State: StateExpired}}, {f.curA, Query{State: StateDraft}},
		{f.curA, Query{State: StateArchived}}, {f.curA, Query{State: StatePending}}, {f.curA, Query{State: StateRejected}},
		{f.curA, Query{State: StatePublished, Topic: "cloud"}},
	}
	for _, c := range queries {
		exp := want(c.q, c.me)
		if len(exp) == 0 {
			t.Fatalf("%+v: the history has no post for this list", c.q)
		}
		for _, limit := range []int{1, 7, 20, 100} {
			q := c.q
			q.Limit = limit
			if got := page(f.a, c.me, q); !slices.Equal(got, exp) {
				t.Errorf("%+v: pages hold %d posts, want %d; first difference at %d", q, len(got), len(exp), firstDiff(got, exp))
			}
		}
	}
	if got := page(f.b, emp, Query{Limit: 7}); len(got) != 30 {
		t.Errorf("sparse instance: %d posts in its pages, want 30", len(got))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A first page and a page deep in a history of 2,000 posts each read one
// window of publish_at, and the plan of that read narrows its index scan
// by publish_at, without a full scan: it scans the window's part of the
// index, not the history. Where the server says what it examined
// (MongoDB), that is no more than the window's posts.
func TestFeedWindowReadScansTheWindow(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	reads, monitor := tenanttest.NewReads()
	clock := tenanttest.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db, Kinds: Kinds(), Now: clock.Now, Monitor: monitor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	raw, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Disconnect(context.Background()) })
	inst, err := store.EnsureInstance(t.Context(), "window.example", "founder@window.example")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := store.Open(t.Context(), inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	var docs []any
	for i := range 2000 {
		docs = append(docs, Post{ID: httpapi.NewID(), State: StatePublished, URL: "https://news.example/", Title: "t", Topics: []string{},
			PublishAt: now.Add(-time.Duration(i+1) * time.Hour), AuthorID: "a", CreatedAt: now, UpdatedAt: now, AimedAt: aim(nil)})
	}
	if err := sc.Collection(postKind).InsertMany(t.Context(), docs); err != nil {
		t.Fatal(err)
	}
	svc := NewService(Config{Fetcher: pageFetcher{}, Now: clock.Now})
	me := tenant.Member{ID: httpapi.NewID(), Role: tenant.RoleEmployee}
	const window = 14 * 24 // posts in the first window: one an hour
	deep := &Cursor{PublishAt: now.Add(-1500 * time.Hour).Truncate(time.Millisecond), ID: "~"}
	for _, after := range []*Cursor{nil, deep} {
		reads.Reset()
		posts, _, err := svc.List(t.Context(), sc, me, Query{Limit: 20, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(posts) != 20 {
			t.Fatalf("after %v: %d posts, want 20", after, len(posts))
		}
		// The member's groups come from the process's cached group list
		// (read at most once every 2 s): the feed's own reads are of posts.
		var sent []bson.Raw
		for _, rd := range reads.Reads() {
			if rd.Name != "getMore" && strings.HasSuffix(rd.Collection, "_posts") {
				sent = append(sent, rd.Command)
			}
		}
		plans, err := tenanttest.Explain(t.Context(), raw, db, sent)
		if err != nil {
			t.Fatal(err)
		}
		if len(plans) != 1 {
			t.Fatalf("after %v: %d reads, want one window", after, len(plans))
		}
		p := plans[0]
		t.Logf("after %v: %s", after, p)
		if !p.Planned {
			// FerretDB v1 (the SQLite fallback) explains without a plan:
			// only the single read is checked there.
			continue
		}
		if len(p.FullScans) > 0 || !slices.Contains(p.Indexed, "publish_at") {
			t.Errorf("after %v: the window's read does not narrow its index scan by publish_at: %s", after, p)
		}
		if p.KeysExamined > window+1 {
			t.Errorf("after %v: %d index keys examined, more than the window's %d posts", after, p.KeysExamined, window)
		}
	}
}
