package content

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// siteServer serves documents by path on loopback, each with an ETag
// (answering 304 to it) and counting requests per path.
type siteServer struct {
	*httptest.Server
	mu       sync.Mutex
	docs     map[string][]byte
	requests map[string]int
	notMod   map[string]int
}

func newSiteServer(t testing.TB) *siteServer {
	t.Helper()
	ss := &siteServer{docs: map[string][]byte{}, requests: map[string]int{}, notMod: map[string]int{}}
	ss.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		ss.requests[r.URL.Path]++
		body, ok := ss.docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		etag := fmt.Sprintf(`"%x-%d"`, len(body), body[len(body)/2])
		if r.Header.Get("If-None-Match") == etag {
			ss.notMod[r.URL.Path]++
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		if strings.HasSuffix(r.URL.Path, ".gz") {
			w.Header().Set("Content-Type", "application/gzip")
		} else {
			w.Header().Set("Content-Type", "application/xml")
		}
		w.Write(body)
	}))
	t.Cleanup(ss.Close)
	return ss
}

func (ss *siteServer) set(path string, body []byte) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.docs[path] = body
}

func (ss *siteServer) count(path string) (requests, notModified int) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.requests[path], ss.notMod[path]
}

// page is one <url> of a urlset: a path on base, with a lastmod unless
// empty.
type page struct{ path, lastmod string }

func urlset(base string, pages ...page) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
	for _, p := range pages {
		loc := p.path
		if strings.HasPrefix(loc, "/") {
			loc = base + loc
		}
		fmt.Fprintf(&b, "<url><loc>%s</loc>", loc)
		if p.lastmod != "" {
			fmt.Fprintf(&b, "<lastmod>%s</lastmod>", p.lastmod)
		}
		b.WriteString("<changefreq>daily</changefreq></url>\n")
	}
	b.WriteString(`</urlset>`)
	return []byte(b.String())
}

func sitemapIndex(base string, children ...page) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`)
	for _, c := range children {
		loc := c.path
		if strings.HasPrefix(loc, "/") {
			loc = base + loc
		}
		fmt.Fprintf(&b, "<sitemap><loc>%s</loc><lastmod>%s</lastmod></sitemap>", loc, c.lastmod)
	}
	b.WriteString(`</sitemapindex>`)
	return []byte(b.String())
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (f *fixture) sitemapSource(t testing.TB, u string, trusted bool) Source {
	t.Helper()
	src, err := f.svc.CreateSource(t.Context(), f.a, f.curA, SourceDraft{URL: ptr(u), Kind: ptr(SourceSitemap), Trusted: ptr(trusted)})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// pathsOf is the set of the paths of a source's posts, by state.
func (f *fixture) pathsOf(t *testing.T, srcID, base string) map[string]State {
	t.Helper()
	out := map[string]State{}
	for _, p := range f.postsOf(t, f.a, srcID) {
		out[strings.TrimPrefix(p.URL, base)] = p.State
		if p.Title != "Page of "+p.URL || p.Preview.Status != "ok" {
			t.Errorf("post of %s: title %q, preview %+v; want the page's preview", p.URL, p.Title, p.Preview)
		}
	}
	return out
}

func TestSitemapPollNewPagesConditionalAndDedupe(t *testing.T) {
	site := newSiteServer(t)
	base := site.URL
	site.set("/sitemap.xml", urlset(base,
		page{"/a", "2026-11-20"}, page{"/b?utm_source=sitemap", "2026-11-22T08:00:00+01:00"}, page{"/c", ""},
		page{"http://elsewhere.example/x", "2026-11-23"}, page{"javascript:alert(1)", ""}))
	f := sourceFixture(t, 0, site.Server)
	ctx := t.Context()
	// /b was posted by hand.
	if _, err := f.svc.Create(ctx, f.a, f.curA, Draft{URL: ptr(base + "/b"), Title: ptr("by hand")}); err != nil {
		t.Fatal(err)
	}
	src := f.sitemapSource(t, base+"/sitemap.xml", false)
	if src.Kind != SourceSitemap {
		t.Fatalf("kind = %q", src.Kind)
	}
	rep, err := f.svc.PollDue(ctx, f.a)
	if err != nil || rep.Polled != 1 || rep.Failed != 0 || rep.Added != 2 {
		t.Fatalf("first poll = %+v, %v; want /a and /c added", rep, err)
	}
	if got := f.pathsOf(t, src.ID, base); len(got) != 2 || got["/a"] != StateDraft || got["/c"] != StateDraft {
		t.Errorf("posts = %v, want drafts of /a and /c (not /b, posted; not the other host's page)", got)
	}

	// Due again: 304, nothing added.
	f.clock.Add(PollInterval)
	rep, err = f.svc.PollDue(ctx, f.a)
	if _, nm := site.count("/sitemap.xml"); err != nil || rep.Unchanged != 1 || rep.Added != 0 || nm != 1 {
		t.Fatalf("second poll = %+v, %v, %d answered 304; want unchanged", rep, err, nm)
	}

	// A new page without lastmod, and /a modified: only /d is new (/a has
	// its post).
	site.set("/sitemap.xml", urlset(base, page{"/a", "2026-11-23T10:15:00Z"}, page{"/b", "2026-11-22"}, page{"/c", ""}, page{"/d", ""}))
	f.clock.Add(PollInterval)
	if rep, err = f.svc.PollDue(ctx, f.a); err != nil || rep.Added != 1 {
		t.Fatalf("third poll = %+v, %v; want /d added", rep, err)
	}
	if got := f.pathsOf(t, src.ID, base); len(got) != 3 || got["/d"] != StateDraft {
		t.Errorf("posts = %v, want /d too", got)
	}
	s, err := f.svc.GetSource(ctx, f.a, src.ID)
	if err != nil || s.ItemsAdded != 3 || s.Failing || s.SitemapSince == nil || len(s.SitemapSeen) != 8*4 {
		t.Errorf("source = %+v, %v; want 3 added, 4 pages seen", s, err)
	}
}

func TestSitemapBaselineAndPerPollCap(t *testing.T) {
	site := newSiteServer(t)
	base := site.URL
	var old []page
	for i := range 30 {
		old = append(old, page{fmt.Sprintf("/old/%d", i), fmt.Sprintf("2026-10-%02dT12:00:00Z", i+1)})
	}
	site.set("/sitemap.xml", urlset(base, old...))
	f := sourceFixture(t, 0, site.Server)
	ctx := t.Context()
	src := f.sitemapSource(t, base+"/sitemap.xml", true)

	// The first read takes the newest maxPagesPerPoll pages: the back
	// catalogue is not new content.
	res, err := f.svc.PollSource(ctx, f.a, src)
	if err != nil || res.Err != nil || res.Added != maxPagesPerPoll {
		t.Fatalf("first poll = %+v, %v; want %d added", res, err, maxPagesPerPoll)
	}
	got := f.pathsOf(t, src.ID, base)
	for i := 10; i < 30; i++ {
		if got[fmt.Sprintf("/old/%d", i)] != StatePublished {
			t.Errorf("newest page /old/%d: %q, want published (trusted source)", i, got[fmt.Sprintf("/old/%d", i)])
		}
	}

	// 25 new pages: 20 now, the 5 others at the next poll, which reads the
	// sitemap in full (no validators kept) although it did not change.
	pages := old
	for i := range 25 {
		pages = append(pages, page{fmt.Sprintf("/new/%d", i), ""})
	}
	site.set("/sitemap.xml", urlset(base, pages...))
	src, _ = f.svc.GetSource(ctx, f.a, src.ID)
	if res, err = f.svc.PollSource(ctx, f.a, src); err != nil || res.Added != maxPagesPerPoll {
		t.Fatalf("second poll = %+v, %v; want %d", res, err, maxPagesPerPoll)
	}
	src, _ = f.svc.GetSource(ctx, f.a, src.ID)
	if src.ETag != "" {
		t.Errorf("validators kept (%q) with pages left for later", src.ETag)
	}
	if res, err = f.svc.PollSource(ctx, f.a, src); err != nil || res.NotModified || res.Added != 5 {
		t.Fatalf("third poll = %+v, %v; want the 5 left", res, err)
	}
	src, _ = f.svc.GetSource(ctx, f.a, src.ID)
	if src.ETag == "" {
		t.Error("no validators after a complete read")
	}
	// Complete: 304, and the 10 old pages of the first read never come.
	if res, err = f.svc.PollSource(ctx, f.a, src); err != nil || !res.NotModified {
		t.Fatalf("fourth poll = %+v, %v; want 304", res, err)
	}
	if n := len(f.pathsOf(t, src.ID, base)); n != 45 {
		t.Errorf("%d posts, want 45", n)
	}
}

func TestSitemapIndexAndGzip(t *testing.T) {
	site := newSiteServer(t)
	base := site.URL
	children := []page{{"/s-plain.xml", "2026-11-22"}, {"/s-zipped.xml.gz", "2026-11-23"}, {"http://elsewhere.example/s.xml", "2026-11-23"}}
	for i := range maxSitemapChildren {
		children = append(children, page{fmt.Sprintf("/s-old-%d.xml", i), fmt.Sprintf("2025-01-%02d", i+1)})
		site.set(fmt.Sprintf("/s-old-%d.xml", i), urlset(base, page{fmt.Sprintf("/archive/%d", i), "2025-01-01"}))
	}
	site.set("/index.xml", sitemapIndex(base, children...))
	site.set("/s-plain.xml", urlset(base, page{"/plain/1", "2026-11-22"}))
	site.set("/s-zipped.xml.gz", gzipped(t, urlset(base, page{"/zipped/1", "2026-11-23"}, page{"/zipped/2", "2026-11-21"})))
	f := sourceFixture(t, 0, site.Server)
	src := f.sitemapSource(t, base+"/index.xml", false)
	res, err := f.svc.PollSource(t.Context(), f.a, src)
	if err != nil || res.Err != nil {
		t.Fatalf("poll = %+v, %v", res, err)
	}
	got := f.pathsOf(t, src.ID, base)
	for _, p := range []string{"/plain/1", "/zipped/1", "/zipped/2"} {
		if _, ok := got[p]; !ok {
			t.Errorf("no post of %s; got %v", p, got)
		}
	}
	// The five newest same-host children were read: the plain, the zipped
	// and three of the old ones; the two oldest not.
	read := 0
	for i := range maxSitemapChildren {
		if n, _ := site.count(fmt.Sprintf("/s-old-%d.xml", i)); n > 0 {
			read++
			if i < 2 {
				t.Errorf("oldest child %d read", i)
			}
		}
	}
	if read != maxSitemapChildren-2 || len(got) != 3+read {
		t.Errorf("%d old children read, posts %v; want %d", read, got, maxSitemapChildren-2)
	}
}

func TestSitemapFailures(t *testing.T) {
	site := newSiteServer(t)
	base := site.URL
	site.set("/malformed.xml", []byte(`<?xml version="1.0"?><urlset><url><loc>`+base+`/a</loc></url>`))
	site.set("/rss.xml", []byte(rssFeed(base, 2)))
	site.set("/big.xml", urlset(base, make([]page, 200)...))
	site.set("/bomb.xml.gz", gzipped(t, append(urlset(base), bytes.Repeat([]byte(" "), 64<<10)...)))
	site.set("/index-broken.xml", sitemapIndex(base, page{"/missing.xml", "2026-11-23"}))
	f := sourceFixture(t, 4096, site.Server)
	ctx := t.Context()
	for path, want := range map[string]string{
		"/malformed.xml":    "parse sitemap",
		"/rss.xml":          ErrNotSitemap.Error(),
		"/big.xml":          ErrFeedTooLarge.Error(),
		"/bomb.xml.gz":      "inflated",
		"/index-broken.xml": "404",
		"/nowhere.xml":      "404",
	} {
		src := f.sitemapSource(t, base+path, false)
		for range FailingAfter {
			res, err := f.svc.PollSource(ctx, f.a, src)
			if err != nil || res.Err == nil || !strings.Contains(res.Err.Error(), want) {
				t.Errorf("poll of %s = %+v, %v; want an error with %q", path, res, err, want)
			}
			src, _ = f.svc.GetSource(ctx, f.a, src.ID)
		}
		if !src.Failing || src.ConsecutiveFailures != FailingAfter || src.ItemsAdded != 0 {
			t.Errorf("%s after %d failures: %+v", path, FailingAfter, src)
		}
	}
	if _, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(base + "/x"), Kind: ptr("podcast")}); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Errorf("unknown kind = %v, want a field error", err)
	}
}

func TestSitemapOutboundPolicy(t *testing.T) {
	site := newSiteServer(t)
	base := site.URL
	site.set("/sitemap.xml", urlset(base, page{"/a", "2026-11-23"}, page{"/b", ""}))
	f := sourceFixture(t, 0, site.Server)
	ctx := t.Context()

	// The real policy refuses the sitemap itself on loopback or a private
	// address, before any request.
	strict := NewService(Config{Now: f.clock.Now})
	for _, u := range []string{base + "/sitemap.xml", "http://10.1.2.3/sitemap.xml", "http://[fd00::1]/sitemap.xml"} {
		src := f.sitemapSource(t, u, false)
		res, err := strict.PollSource(ctx, f.a, src)
		if err != nil || !errors.Is(res.Err, preview.ErrBlocked) {
			t.Errorf("poll of %s = %+v, %v; want ErrBlocked", u, res, err)
		}
	}
	if n, _ := site.count("/sitemap.xml"); n != 0 {
		t.Errorf("blocked sitemap got %d requests", n)
	}
	// The sitemap may be read (the test allows its server), but its pages
	// are on loopback: their previews, fetched with the real policy, are
	// refused and no post is made of them.
	pages := NewService(Config{Fetcher: preview.New(preview.Config{}), Now: f.clock.Now, FeedClient: loopbackClient(t, site.Server)})
	src := f.sitemapSource(t, base+"/sitemap.xml?pages", false)
	res, err := pages.PollSource(ctx, f.a, src)
	if err != nil || res.Err != nil || res.Added != 0 {
		t.Errorf("poll = %+v, %v; want read, nothing added", res, err)
	}
	if n, _ := site.count("/a"); n != 0 {
		t.Errorf("loopback page fetched %d times", n)
	}
	if ps := f.postsOf(t, f.a, src.ID); len(ps) != 0 {
		t.Errorf("posts of refused pages: %+v", ps)
	}
}

func TestBackfillCanonicalURLs(t *testing.T) {
	rss := newFeedServer(t, "application/rss+xml", "")
	rss.set(http.StatusOK, rssFeed(rss.URL, 3))
	f := sourceFixture(t, 0, rss.Server)
	ctx := t.Context()
	// Posts of the shape written before canonical URLs: story 1 (with
	// tracking parameters) in A, more than a batch of others, and story 1
	// in B.
	now := f.clock.Now().UTC()
	old := func(u string) Post {
		return Post{ID: httpapi.NewID(), State: StatePublished, URL: u, Title: "old", ShareTexts: map[string]string{}, Topics: []string{},
			PublishAt: now, CreatedAt: now, UpdatedAt: now}
	}
	docs := []any{old(rss.URL + "/story/1?utm_medium=mail#x")}
	for i := range backfillBatch + 3 {
		docs = append(docs, old(fmt.Sprintf("https://old.example/%d", i)))
	}
	if err := f.a.Collection(postKind).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Collection(postKind).Insert(ctx, old(rss.URL+"/story/1")); err != nil {
		t.Fatal(err)
	}
	if n, err := f.a.Collection(postKind).Count(ctx, bson.D{{Key: "canonical_url", Value: bson.D{{Key: "$exists", Value: true}}}}); err != nil || n != 0 {
		t.Fatalf("old posts with canonical URLs: %d, %v", n, err)
	}
	n, err := BackfillCanonicalURLs(ctx, f.a)
	if err != nil || n != len(docs) {
		t.Fatalf("backfill = %d, %v; want %d", n, err, len(docs))
	}
	if n, err := BackfillCanonicalURLs(ctx, f.a); err != nil || n != 0 {
		t.Errorf("second backfill = %d, %v; want nothing left", n, err)
	}
	var p Post
	if err := f.a.Collection(postKind).FindOne(ctx, bson.D{{Key: "_id", Value: docs[0].(Post).ID}}, &p); err != nil || p.CanonicalURL != rss.URL+"/story/1" {
		t.Errorf("backfilled = %q, %v", p.CanonicalURL, err)
	}
	// B's post is B's: A's backfill left it alone.
	if n, _ := f.b.Collection(postKind).Count(ctx, bson.D{{Key: "canonical_url", Value: bson.D{{Key: "$exists", Value: true}}}}); n != 0 {
		t.Errorf("A's backfill changed %d of B's posts", n)
	}
	// The feed's story 1 is now a duplicate in A.
	src, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(rss.URL + "/feed")})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := f.svc.PollSource(ctx, f.a, src); err != nil || res.Added != 2 {
		t.Errorf("poll = %+v, %v; want stories 0 and 2 only", res, err)
	}
}

func TestSitemapKindChangeStartsAfresh(t *testing.T) {
	site := newSiteServer(t)
	site.set("/sitemap.xml", urlset(site.URL, page{"/a", "2026-11-23"}))
	f := sourceFixture(t, 0, site.Server)
	ctx := t.Context()
	src := f.sitemapSource(t, site.URL+"/sitemap.xml", false)
	if res, err := f.svc.PollSource(ctx, f.a, src); err != nil || res.Added != 1 {
		t.Fatalf("poll = %+v, %v", res, err)
	}
	polled, _ := f.svc.GetSource(ctx, f.a, src.ID)
	if polled.ETag == "" || polled.SitemapSince == nil || len(polled.SitemapSeen) != 8 {
		t.Fatalf("after the poll: %+v", polled)
	}
	// The same kind again changes nothing the polls learnt.
	if _, err := f.svc.EditSource(ctx, f.a, src.ID, SourceDraft{Kind: ptr(SourceSitemap), Title: ptr("Site")}); err != nil {
		t.Fatal(err)
	}
	if s, _ := f.svc.GetSource(ctx, f.a, src.ID); s.ETag != polled.ETag || len(s.SitemapSeen) != 8 || !s.NextPollAt.Equal(polled.NextPollAt) {
		t.Errorf("after a title edit: %+v", s)
	}
	// Another kind: the validators and the pages seen are forgotten, due at once.
	if _, err := f.svc.EditSource(ctx, f.a, src.ID, SourceDraft{Kind: ptr(SourceFeed)}); err != nil {
		t.Fatal(err)
	}
	s, _ := f.svc.GetSource(ctx, f.a, src.ID)
	if s.Kind != SourceFeed || s.ETag != "" || s.SitemapSince != nil || s.SitemapSeen != nil || s.NextPollAt.After(f.clock.Now()) {
		t.Errorf("after the kind changed: %+v", s)
	}
}
