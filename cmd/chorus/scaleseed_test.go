package main

// Seeding of the scaling benchmark: an instance with members, Mastodon
// connections, a year of posts, shares, tracked links and clicks, and the
// rollups the real rebuild computes from them.
//
// Everything a member or a curator does once is done through the API
// (sign-in, whitelist, connections), and one post, one share and one
// click go the whole real way (API, worker, tracked link, click
// recorder). Those real documents are the templates of the bulk: each
// seeded post, share, link and click batch is a copy of its template in
// which only known fields change (identifiers, times, references), each
// to a value of the type the template holds there. So a field the code
// adds later is seeded as the real code writes it, and a field that is
// renamed or retyped fails the seeding instead of being seeded wrong.
// Rollups are not written by the seeder at all: reach's Rebuild computes
// them from the seeded shares and clicks, as `chorus analytics rebuild`
// does. TestScaleSeedIsRealData checks the result through the real API.

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/social/reach"
)

// scaleSize is how much history an instance holds.
type scaleSize struct {
	name    string
	members int // employees, each signed in with a Mastodon connection
	posts   int // published posts over the year, the real one included
	shares  int // published shares, the real one included
	clicks  int // clicks on the shares' tracked links, the real one included
}

// scaleSizes are the sizes CHORUS_BENCH_SIZES names. S0 holds one feed
// page of posts, so that the feed is compared page for page.
var scaleSizes = []scaleSize{
	{"S0", 50, 21, 1, 1},
	{"S1", 50, 500, 2000, 25_000},
	{"S2", 50, 2000, 8000, 100_000},
	{"S3", 50, 5000, 20_000, 364_000},
	// A company of 1,000 employees, a year.
	{"Y1000", 1000, 5000, 100_000, 1_000_000},
}

// parseScaleSizes reads a comma-separated list of size names.
func parseScaleSizes(s string) ([]scaleSize, error) {
	var out []scaleSize
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(scaleSizes, func(z scaleSize) bool { return strings.EqualFold(z.name, name) })
		if i < 0 {
			var names []string
			for _, z := range scaleSizes {
				names = append(names, z.name)
			}
			return nil, fmt.Errorf("unknown size %q: use %s", name, strings.Join(names, ", "))
		}
		out = append(out, scaleSizes[i])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no size named in %q", s)
	}
	return out, nil
}

// scaleEnv is an app seeded to a size.
type scaleEnv struct {
	a        *testApp
	admin    *client
	members  []*client // employees; members[i] shares through conns[i]
	conns    []string
	instance string
	tplShare string // the share made the real way
	raw      *mongo.Database
	// posts are the published posts, oldest first; codes the tracked
	// links' codes.
	posts []string
	codes []string
	// seeded counts what the instance holds after seeding.
	seeded seedReport
}

// seedReport says what a seeding wrote and how long it took.
type seedReport struct {
	posts, shares, links, clickBatches, clicks, rollups int
	took                                                time.Duration
}

// scaleApp is a test app whose sign-in limit lets a thousand members in
// from one address.
func scaleApp(t *testing.T) *testApp {
	t.Helper()
	return newTestApp(t, map[string]string{"CHORUS_SIGNIN_LIMIT_IP": "1000000", "CHORUS_SIGNIN_LIMIT_ADDRESS": "1000000"})
}

// seedScale signs in the size's members, walks one post through the real
// paths and seeds the rest in bulk; rng decides who shares what when.
func seedScale(t *testing.T, a *testApp, z scaleSize, rng *mrand.Rand) *scaleEnv {
	t.Helper()
	start := time.Now()
	ctx := t.Context()
	e := &scaleEnv{a: a}
	e.admin, _ = verifiedAdmin(t, a, "admin@scale.example")
	if res := e.admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusOK {
		t.Fatalf("whitelist Mastodon: %d %s", res.status, res.body)
	}
	e.instance = a.mustInstance(t, e.admin)
	memberIDs := make([]string, z.members)
	for i := range z.members {
		c := a.client(t)
		m := c.signIn(fmt.Sprintf("m%04d@scale.example", i))
		e.members = append(e.members, c)
		e.conns = append(e.conns, a.connectMastodon(t, c))
		memberIDs[i] = m.Member.ID
	}
	c, db := rawMongo(t, a)
	e.raw = c.Database(db)

	// The real walk: a post, a share of it published by the worker, a
	// click on its tracked link.
	var post struct{ ID string }
	if res := e.admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/scale/template?ref=site"), "title": "Template",
		"share_texts": map[string]string{"mastodon": "Worth a read"}}); res.status != http.StatusCreated {
		t.Fatalf("create the template post: %d %s", res.status, res.body)
	} else {
		res.json(t, &post)
	}
	var shared struct{ Items []shareDoc }
	if res := e.members[0].do("POST", "/api/v1/content/"+post.ID+"/shares", map[string]any{"connections": []string{e.conns[0]}}); res.status != http.StatusAccepted {
		t.Fatalf("share the template post: %d %s", res.status, res.body)
	} else {
		res.json(t, &shared)
	}
	if n := runPublishTasks(t, a); n != 1 {
		t.Fatalf("%d publish tasks for the template share, want 1", n)
	}
	stored := a.redirector.Stored()
	u, _ := url.Parse(shared.Items[0].TrackedURL)
	if res := a.client(t).do("GET", u.Path, nil, "User-Agent", "Mozilla/5.0"); res.status != http.StatusFound {
		t.Fatalf("the template share's tracked link: %d %s", res.status, res.body)
	}
	for deadline := time.Now().Add(30 * time.Second); a.redirector.Stored() == stored; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the template click was not stored within 30 s")
		}
	}

	coll := func(kind string) *mongo.Collection { return e.raw.Collection("t_" + e.instance + "_" + kind) }
	tplPost := rawOne(t, coll("posts"), bson.D{{Key: "_id", Value: post.ID}})
	e.tplShare = shared.Items[0].ID
	tplShare := rawOne(t, coll("shares"), bson.D{{Key: "_id", Value: e.tplShare}})
	// A tracked link is the instance's (its region's links), its code's
	// route to the instance home.
	tplLink := rawOne(t, coll("links"), bson.D{{Key: "share_id", Value: shared.Items[0].ID}})
	tplClicks := rawOne(t, coll("clicks"), bson.D{})

	// The app's clock stands still: history ends at its now.
	now := a.clock.Now().UTC().Truncate(time.Millisecond)
	year := 365 * 24 * time.Hour
	// Posts: evenly over the year before the real one.
	type postInfo struct {
		id, url string
		at      time.Time
	}
	posts := make([]postInfo, 0, z.posts)
	var docs []any
	for i := range z.posts - 1 {
		at := now.Add(-year + time.Duration(i)*(year/time.Duration(z.posts))).Truncate(time.Millisecond)
		p := postInfo{id: randomID(), url: fmt.Sprintf("https://news.scale.example/%d/story?ref=site", i), at: at}
		posts = append(posts, p)
		d := cloneDoc(tplPost)
		setField(t, d, "_id", p.id)
		setField(t, d, "url", p.url)
		setField(t, d, "title", fmt.Sprintf("Story %d", i))
		setField(t, d, "publish_at", at)
		setField(t, d, "created_at", at.Add(-time.Hour))
		setField(t, d, "updated_at", at.Add(-time.Hour))
		docs = append(docs, d)
	}
	insertAll(t, coll("posts"), docs)
	posts = append(posts, postInfo{id: post.ID, url: fieldString(t, tplPost, "url"), at: fieldTime(t, tplPost, "publish_at")})
	for _, p := range posts {
		e.posts = append(e.posts, p.id)
	}

	// Shares and their tracked links: each of a post by a random member
	// within two days of the post.
	type shareInfo struct {
		id, content string
		at          time.Time
	}
	tplCode := fieldString(t, tplLink, "_id")
	tplRemote := fieldString(t, tplShare, "remote_id")
	shares := make([]shareInfo, 0, z.shares)
	docs = docs[:0]
	var links, routes []any
	for range z.shares - 1 {
		p := posts[rng.IntN(len(posts)-1)] // the real post keeps its one real share
		m := rng.IntN(z.members)
		at := p.at.Add(time.Duration(rng.Int64N(int64(48 * time.Hour)))).Truncate(time.Millisecond)
		at = earliest(at, now.Add(-time.Minute))
		published := at.Add(2 * time.Second)
		s := shareInfo{id: randomID(), content: p.id, at: published}
		shares = append(shares, s)
		code := randomCode()
		remote := randomID()
		d := cloneDoc(tplShare)
		setField(t, d, "_id", s.id)
		setField(t, d, "content_id", p.id)
		setField(t, d, "connection_id", e.conns[m])
		setField(t, d, "member_id", memberIDs[m])
		setField(t, d, "tracked_url", strings.Replace(fieldString(t, tplShare, "tracked_url"), tplCode, code, 1))
		setField(t, d, "destination", p.url)
		setField(t, d, "publish_at", at)
		setField(t, d, "remote_id", remote)
		setField(t, d, "post_url", strings.Replace(fieldString(t, tplShare, "post_url"), tplRemote, remote, 1))
		setField(t, d, "published_at", published)
		setField(t, d, "followers", int64(50+rng.IntN(2000)))
		setField(t, d, "created_at", at)
		setField(t, d, "updated_at", published)
		setIfPresent(t, d, "attempt_id", randomID())
		setIfPresent(t, d, "attempted_at", at.Add(time.Second))
		setIfPresent(t, d, "content_title", fmt.Sprintf("Story of %s", p.id))
		docs = append(docs, d)
		l := cloneDoc(tplLink)
		setField(t, l, "_id", code)
		setField(t, l, "share_id", s.id)
		setField(t, l, "content_id", p.id)
		setField(t, l, "destination", p.url)
		setField(t, l, "created_at", at)
		links = append(links, l)
		routes = append(routes, bson.D{{Key: "_id", Value: code}, {Key: "instance_id", Value: e.instance}, {Key: "created_at", Value: at}})
		e.codes = append(e.codes, code)
	}
	insertAll(t, coll("shares"), docs)
	insertAll(t, coll("links"), links)
	insertAll(t, e.raw.Collection("links"), routes)
	e.codes = append(e.codes, tplCode)

	// Clicks: on random shares, most within a day of the share, batched
	// as the recorder batches them (the clicks of one second together).
	type click struct {
		share shareInfo
		at    time.Time
	}
	clicks := make([]click, 0, z.clicks)
	if len(shares) > 0 {
		for range z.clicks - 1 {
			s := shares[rng.IntN(len(shares))]
			delay := time.Duration(rng.ExpFloat64() * float64(16*time.Hour))
			at := earliest(s.at.Add(delay), now.Add(-time.Minute)).Truncate(time.Millisecond)
			clicks = append(clicks, click{share: s, at: at})
		}
	}
	slices.SortFunc(clicks, func(x, y click) int { return x.at.Compare(y.at) })
	docs = docs[:0]
	batches := 0
	for len(clicks) > 0 {
		n := 1
		for n < len(clicks) && n < 500 && clicks[n].at.Truncate(time.Second).Equal(clicks[0].at.Truncate(time.Second)) {
			n++
		}
		b := clicks[:n]
		clicks = clicks[n:]
		var blinks []bson.D
		index := map[string]int{}
		link := make([]int, len(b))
		at := make([]time.Time, len(b))
		ips := make([]string, len(b))
		refs := make([]string, len(b))
		visitors := make([]string, len(b))
		for i, c := range b {
			j, ok := index[c.share.id]
			if !ok {
				j = len(blinks)
				index[c.share.id] = j
				blinks = append(blinks, bson.D{{Key: "share_id", Value: c.share.id}, {Key: "content_id", Value: c.share.content}, {Key: "network", Value: "mastodon"}})
			}
			link[i], at[i] = j, c.at
			ips[i] = fmt.Sprintf("198.51.%d.0/24", rng.IntN(256))
			refs[i] = []string{"", "mastodon.social", "fosstodon.org"}[rng.IntN(3)]
			visitors[i] = randomHex(16)
		}
		d := cloneDoc(tplClicks)
		setField(t, d, "_id", randomID())
		setField(t, d, "at_min", b[0].at)
		setField(t, d, "at_max", b[len(b)-1].at)
		setField(t, d, "n", len(b))
		setField(t, d, "links", blinks)
		setField(t, d, "link", link)
		setField(t, d, "at", at)
		setField(t, d, "ip_prefix", ips)
		setField(t, d, "referrer_host", refs)
		setField(t, d, "visitor", visitors)
		docs = append(docs, d)
		batches++
		if len(docs) == 5000 {
			insertAll(t, coll("clicks"), docs)
			docs = docs[:0]
		}
	}
	insertAll(t, coll("clicks"), docs)

	// Rollups: as `chorus analytics rebuild` computes them.
	sc, err := a.store.Open(ctx, e.instance)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := reach.New(reach.Config{}).Rebuild(ctx, sc)
	if err != nil {
		t.Fatalf("rebuild the rollups: %v", err)
	}
	if rep.Shares != z.shares || rep.Clicks != z.clicks {
		t.Fatalf("the rebuild read %d shares and %d clicks, want the %d and %d seeded", rep.Shares, rep.Clicks, z.shares, z.clicks)
	}
	e.seeded = seedReport{posts: z.posts, shares: z.shares, links: z.shares, clickBatches: batches + 1, clicks: z.clicks,
		rollups: rep.Rollups, took: time.Since(start)}
	return e
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// rawOne returns the one document of coll matching filter.
func rawOne(t *testing.T, coll *mongo.Collection, filter bson.D) bson.D {
	t.Helper()
	var d bson.D
	if err := coll.FindOne(t.Context(), filter).Decode(&d); err != nil {
		t.Fatalf("the real %s document (%v): %v", coll.Name(), filter, err)
	}
	return d
}

// cloneDoc copies a document's top level (values are replaced, never
// changed in place).
func cloneDoc(d bson.D) bson.D { return slices.Clone(d) }

// setField sets a field of a templated document; the template must hold
// the field, with a value of the same BSON type.
func setField(t *testing.T, d bson.D, key string, v any) {
	t.Helper()
	if !setIfPresent(t, d, key, v) {
		t.Fatalf("the real document has no field %q: the seeder is out of date (%v)", key, fieldNames(d))
	}
}

// setIfPresent is setField for a field the template may lack; it reports
// whether it was there.
func setIfPresent(t *testing.T, d bson.D, key string, v any) bool {
	t.Helper()
	i := slices.IndexFunc(d, func(e bson.E) bool { return e.Key == key })
	if i < 0 {
		return false
	}
	was, _, err := bson.MarshalValue(d[i].Value)
	if err != nil {
		t.Fatal(err)
	}
	is, _, err := bson.MarshalValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if was != is {
		t.Fatalf("field %q: the real document holds a %s, the seeder writes a %s: the seeder is out of date", key, was, is)
	}
	d[i].Value = v
	return true
}

func fieldNames(d bson.D) []string {
	var out []string
	for _, e := range d {
		out = append(out, e.Key)
	}
	return out
}

func fieldOf(t *testing.T, d bson.D, key string) any {
	t.Helper()
	i := slices.IndexFunc(d, func(e bson.E) bool { return e.Key == key })
	if i < 0 {
		t.Fatalf("the real document has no field %q (%v)", key, fieldNames(d))
	}
	return d[i].Value
}

func fieldString(t *testing.T, d bson.D, key string) string {
	t.Helper()
	s, ok := fieldOf(t, d, key).(string)
	if !ok {
		t.Fatalf("field %q is not a string", key)
	}
	return s
}

func fieldTime(t *testing.T, d bson.D, key string) time.Time {
	t.Helper()
	v, ok := fieldOf(t, d, key).(bson.DateTime)
	if !ok {
		t.Fatalf("field %q is not a date", key)
	}
	return v.Time().UTC()
}

// insertAll inserts docs in unordered batches of a thousand.
func insertAll(t *testing.T, coll *mongo.Collection, docs []any) {
	t.Helper()
	for len(docs) > 0 {
		n := min(len(docs), 1000)
		if _, err := coll.InsertMany(context.WithoutCancel(t.Context()), docs[:n], options.InsertMany().SetOrdered(false)); err != nil {
			t.Fatalf("seed %s: %v", coll.Name(), err)
		}
		docs = docs[n:]
	}
}

// randomID is an ID as content and social make them.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// randomCode is a tracked link code as social makes them.
func randomCode() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// docShape maps each field path of a document to its BSON type; array
// elements are one path ("links.[].share_id").
func docShape(prefix string, raw bson.Raw, out map[string]string) {
	elems, _ := raw.Elements()
	for _, e := range elems {
		path := e.Key()
		if prefix != "" {
			path = prefix + "." + e.Key()
		}
		v := e.Value()
		out[path] = v.Type.String()
		switch v.Type {
		case bson.TypeEmbeddedDocument:
			docShape(path, v.Document(), out)
		case bson.TypeArray:
			vals, _ := v.Array().Values()
			for _, x := range vals {
				out[path+".[]"] = x.Type.String()
				if x.Type == bson.TypeEmbeddedDocument {
					docShape(path+".[]", x.Document(), out)
				}
			}
		}
	}
}

// TestScaleSeedIsRealData seeds a small instance and reads it through the
// real API: the feed lists every seeded post, the share list every seeded
// share as published, seeded tracked links redirect, and the analytics
// count every seeded share and click (the rebuild decoded them through
// the real types). It then makes one more post, share and click the real
// way and checks that the real documents have the seeded ones' shape, and
// that the real paths wrote to no collection the seeder leaves empty.
func TestScaleSeedIsRealData(t *testing.T) {
	a := scaleApp(t)
	z := scaleSize{name: "tiny", members: 3, posts: 30, shares: 60, clicks: 400}
	e := seedScale(t, a, z, mrand.New(mrand.NewPCG(1, 2)))

	var got []string
	for cursor := ""; ; {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		res := e.members[1].do("GET", "/api/v1/content?limit=100&cursor="+url.QueryEscape(cursor), nil)
		if res.status != http.StatusOK {
			t.Fatalf("feed: %d %s", res.status, res.body)
		}
		res.json(t, &page)
		for _, it := range page.Items {
			got = append(got, it.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	want := slices.Clone(e.posts)
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Errorf("the feed lists %d posts, want the %d seeded newest first:\n got %v\nwant %v", len(got), len(want), got, want)
	}

	var shares struct{ Items []shareDoc }
	e.admin.do("GET", "/api/v1/shares?all=1&limit=100", nil).json(t, &shares)
	if len(shares.Items) != z.shares {
		t.Errorf("GET /shares?all=1 lists %d shares, want the %d seeded", len(shares.Items), z.shares)
	}
	for _, sh := range shares.Items {
		if sh.State != "published" || sh.PostURL == "" || !strings.Contains(sh.TrackedURL, "/r/") {
			t.Errorf("seeded share %+v: want published, with a post URL and a tracked link", sh)
			break
		}
	}
	visitor := a.client(t)
	counted := clicksCounted(a)
	for _, code := range e.codes[:5] {
		res := visitor.do("GET", "/r/"+code, nil, "User-Agent", "Mozilla/5.0")
		loc, _ := url.Parse(res.header.Get("Location"))
		if res.status != http.StatusFound || loc.Query().Get("utm_campaign") == "" || loc.Query().Get("ref") != "site" {
			t.Errorf("GET /r/%s: %d Location %q, want a 302 to the post with UTM parameters", code, res.status, res.header.Get("Location"))
		}
	}
	today := a.clock.Now().UTC()
	period := "from=" + today.AddDate(0, 0, -366).Format(time.DateOnly) + "&to=" + today.Format(time.DateOnly)
	var sum summaryDoc
	e.admin.do("GET", "/api/v1/analytics/summary?"+period, nil).json(t, &sum)
	if sum.Shares != int64(z.shares) || sum.Clicks != int64(z.clicks) {
		t.Errorf("analytics summary of the year: %d shares and %d clicks, want the %d and %d seeded", sum.Shares, sum.Clicks, z.shares, z.clicks)
	}

	// One more of each the real way, after the seeding.
	counts := func() map[string]int64 {
		names, err := e.raw.ListCollectionNames(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, n := range names {
			c, err := e.raw.Collection(n).CountDocuments(t.Context(), bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			out[n] = c
		}
		return out
	}
	// The redirects above were clicks: let the recorder store them first.
	if err := waitCounted(a, counted+5, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	before := counts()
	var post struct{ ID string }
	e.admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/scale/real?ref=site"), "title": "Real",
		"share_texts": map[string]string{"mastodon": "Real"}}).json(t, &post)
	var out struct{ Items []shareDoc }
	e.members[1].do("POST", "/api/v1/content/"+post.ID+"/shares", map[string]any{"connections": []string{e.conns[1]}}).json(t, &out)
	if len(out.Items) != 1 {
		t.Fatalf("the real share: %+v", out)
	}
	runPublishTasks(t, a)
	stored := a.redirector.Stored()
	u, _ := url.Parse(out.Items[0].TrackedURL)
	visitor.do("GET", u.Path, nil, "User-Agent", "Mozilla/5.0")
	for deadline := time.Now().Add(30 * time.Second); a.redirector.Stored() == stored; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the real click was not stored within 30 s")
		}
	}
	after := counts()
	// A collection the real paths write to holds history: the seeding
	// must have filled it (the bulk or the rebuild), not left it at the
	// few documents of the real walk.
	for n, c := range after {
		if c > before[n] && before[n] < int64(z.shares)/2 {
			t.Errorf("posting, sharing, publishing and a click wrote to %s, which the scaling benchmark does not seed: seed it (scaleseed_test.go)", n)
		}
	}

	coll := func(kind string) *mongo.Collection { return e.raw.Collection("t_" + e.instance + "_" + kind) }
	// The recorder's clicks carry the app's clock's time, seeded ones are
	// older.
	clickTime := a.clock.Now().UTC().Truncate(time.Millisecond)
	for _, c := range []struct {
		what                     string
		coll                     *mongo.Collection
		realFilter, seededFilter bson.D
	}{
		{"post", coll("posts"), bson.D{{Key: "_id", Value: post.ID}}, bson.D{{Key: "_id", Value: e.posts[0]}}},
		{"share", coll("shares"), bson.D{{Key: "_id", Value: out.Items[0].ID}},
			bson.D{{Key: "_id", Value: bson.D{{Key: "$nin", Value: bson.A{out.Items[0].ID, e.tplShare}}}}}},
		{"tracked link", coll("links"), bson.D{{Key: "share_id", Value: out.Items[0].ID}}, bson.D{{Key: "_id", Value: e.codes[0]}}},
		{"tracked link's route", e.raw.Collection("links"), bson.D{{Key: "_id", Value: path.Base(u.Path)}}, bson.D{{Key: "_id", Value: e.codes[0]}}},
		{"click batch", coll("clicks"), bson.D{{Key: "at_max", Value: clickTime}}, bson.D{{Key: "at_max", Value: bson.D{{Key: "$lt", Value: clickTime}}}}},
	} {
		real := rawOne(t, c.coll, c.realFilter)
		seeded := rawOne(t, c.coll, c.seededFilter)
		if diff := cmpShapes(docShapeOf(t, real), docShapeOf(t, seeded)); diff != "" {
			t.Errorf("a seeded %s differs from a real one in its fields (- real, + seeded):\n%s", c.what, diff)
		}
	}
}

// clicksCounted is how many clicks the recorder has stored or dropped.
func clicksCounted(a *testApp) int64 { return a.redirector.Stored() + a.redirector.Dropped() }

// waitCounted waits until the recorder has stored or dropped n clicks
// since it started, for at most max.
func waitCounted(a *testApp, n int64, max time.Duration) error {
	for deadline := time.Now().Add(max); clicksCounted(a) < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("clicks: %d stored and %d dropped of %d after %s", a.redirector.Stored(), a.redirector.Dropped(), n, max)
		}
	}
	return nil
}

// docShapeOf is the shape of a decoded document.
func docShapeOf(t *testing.T, d bson.D) map[string]string {
	t.Helper()
	raw, err := bson.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	docShape("", raw, out)
	return out
}

// cmpShapes lists the paths whose presence or type differs.
func cmpShapes(real, seeded map[string]string) string {
	var lines []string
	for p, ty := range real {
		if seeded[p] != ty {
			lines = append(lines, fmt.Sprintf("- %s %s", p, ty))
		}
	}
	for p, ty := range seeded {
		if real[p] != ty {
			lines = append(lines, fmt.Sprintf("+ %s %s", p, ty))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
