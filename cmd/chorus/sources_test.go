package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
)

// TestSourcesEndToEnd: a curator adds an RSS feed through the API, the
// worker's content:poll_sources task polls it, and its items wait as
// drafts in the curators' list; employees cannot manage sources, and bad
// input is answered with problem+json naming the fields.
func TestSourcesEndToEnd(t *testing.T) {
	a := newTestApp(t, nil)
	_, curator, employee := a.roles(t, "feeds.example")
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Feeds Inc</title>`+
			`<item><title>Launch day</title><link>https://feeds.example/launch?utm_source=rss</link></item>`+
			`<item><title>Hiring</title><link>https://feeds.example/jobs#open</link></item></channel></rss>`)
	}))
	t.Cleanup(feed.Close)

	if res := employee.do("GET", "/api/v1/sources", nil); res.status != http.StatusForbidden {
		t.Errorf("employee GET /sources = %d, want 403", res.status)
	}
	res := curator.sendingMalformed().do("POST", "/api/v1/sources", map[string]any{"url": "ftp://x", "title": strings.Repeat("x", 301), "topics": []string{"none"}})
	if p := res.problem(t); res.status != http.StatusBadRequest || len(p.Errors) != 3 {
		t.Errorf("bad source = %d %+v, want 400 naming url, title and topics", res.status, p)
	}
	if res := curator.sendingMalformed().do("POST", "/api/v1/sources", map[string]any{"url": feed.URL + "/rss", "colour": "red"}); res.status != http.StatusBadRequest {
		t.Errorf("unknown field = %d, want 400", res.status)
	}
	res = curator.do("POST", "/api/v1/sources", map[string]any{"url": feed.URL + "/rss", "title": "Feeds Inc"})
	if res.status != http.StatusCreated {
		t.Fatalf("add source = %d %s", res.status, res.body)
	}
	var src content.Source
	res.json(t, &src)
	if res := curator.do("POST", "/api/v1/sources", map[string]any{"url": feed.URL + "/rss"}); res.status != http.StatusConflict || res.problem(t).Code != "source_exists" {
		t.Errorf("same feed again = %d %s, want 409 source_exists", res.status, res.body)
	}

	// The worker, with a feed client allowed to reach the loopback feed.
	pollSources(t, a, feed, false)
	var list struct {
		Items []postDoc `json:"items"`
	}
	curator.do("GET", "/api/v1/content?state=draft&limit=50", nil).json(t, &list)
	var urls []string
	for _, p := range list.Items {
		urls = append(urls, p.URL)
	}
	if len(urls) != 2 || !strings.Contains(strings.Join(urls, " "), "https://feeds.example/launch") {
		t.Errorf("drafts after the poll = %v, want the feed's two items", urls)
	}
	res = curator.do("GET", "/api/v1/sources/"+src.ID, nil)
	var got content.Source
	res.json(t, &got)
	if res.status != http.StatusOK || got.ItemsAdded != 2 || got.LastPolledAt == nil || got.Failing {
		t.Errorf("source after the poll = %d %+v", res.status, got)
	}
	// Marked trusted through the API; removed.
	if res := curator.do("PATCH", "/api/v1/sources/"+src.ID, map[string]any{"trusted": true}); res.status != http.StatusOK || !strings.Contains(string(res.body), `"trusted":true`) {
		t.Errorf("trust = %d %s", res.status, res.body)
	}
	if res := curator.do("DELETE", "/api/v1/sources/"+src.ID, nil); res.status != http.StatusNoContent {
		t.Errorf("delete = %d %s", res.status, res.body)
	}
	if res := curator.do("GET", "/api/v1/sources/"+src.ID, nil); res.status != http.StatusNotFound {
		t.Errorf("deleted source = %d, want 404", res.status)
	}
}

// pollSources runs the worker's content:poll_sources task with a client
// allowed to reach srv (on loopback), and with previews fetched from srv
// too when previews is set.
func pollSources(t *testing.T, a *testApp, srv *httptest.Server, previews bool) {
	t.Helper()
	addr := netip.MustParseAddrPort(srv.Listener.Addr().String())
	cfg := preview.Config{Ports: []int{int(addr.Port())}, AllowPrefixes: []netip.Prefix{netip.PrefixFrom(addr.Addr(), 32)}}
	c := content.Config{Now: a.clock.Now, FeedClient: preview.New(cfg).Client()}
	if previews {
		c.Fetcher = preview.New(cfg)
	}
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Content: content.NewService(c), Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.PollSources()); err != nil {
		t.Fatal(err)
	}
}

// TestSitemapSourceEndToEnd: a curator adds a sitemap through the API; the
// worker's poll makes drafts of its pages with their previews; an unknown
// kind is answered with problem+json naming the field.
func TestSitemapSourceEndToEnd(t *testing.T) {
	a := newTestApp(t, nil)
	_, curator, _ := a.roles(t, "maps.example")
	var site *httptest.Server
	site = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sitemap.xml":
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">`+
				`<url><loc>%[1]s/news/launch</loc><lastmod>2026-11-20</lastmod></url><url><loc>%[1]s/news/hiring</loc></url></urlset>`, site.URL)
		default:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<html><head><title>Page %s</title><meta name="description" content="About it"></head><body></body></html>`, r.URL.Path)
		}
	}))
	t.Cleanup(site.Close)

	res := curator.sendingMalformed().do("POST", "/api/v1/sources", map[string]any{"url": site.URL + "/sitemap.xml", "kind": "podcast"})
	if p := res.problem(t); res.status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "kind" {
		t.Errorf("unknown kind = %d %+v, want 400 naming kind", res.status, p)
	}
	res = curator.do("POST", "/api/v1/sources", map[string]any{"url": site.URL + "/sitemap.xml", "kind": "sitemap", "title": "Maps"})
	var src content.Source
	if res.json(t, &src); res.status != http.StatusCreated || src.Kind != "sitemap" {
		t.Fatalf("add sitemap = %d %s", res.status, res.body)
	}

	pollSources(t, a, site, true)
	var list struct {
		Items []postDoc `json:"items"`
	}
	curator.do("GET", "/api/v1/content?state=draft&limit=50", nil).json(t, &list)
	titles := map[string]string{}
	for _, p := range list.Items {
		titles[strings.TrimPrefix(p.URL, site.URL)] = p.Title
	}
	if len(titles) != 2 || titles["/news/launch"] != "Page /news/launch" || titles["/news/hiring"] != "Page /news/hiring" {
		t.Errorf("drafts after the poll = %v, want the sitemap's two pages titled from their previews", titles)
	}
	var got content.Source
	res = curator.do("GET", "/api/v1/sources/"+src.ID, nil)
	if res.json(t, &got); got.ItemsAdded != 2 || got.Kind != "sitemap" || got.Failing {
		t.Errorf("source after the poll = %d %+v", res.status, got)
	}
}

// TestMigrationBackfillsCanonicalURLs: a post stored before canonical URLs
// (none on the document) gets one from migration 7, and a feed item with
// the same link is then a duplicate.
func TestMigrationBackfillsCanonicalURLs(t *testing.T) {
	a := newTestApp(t, nil)
	admin := a.client(t)
	me := admin.signIn("admin@backfill.example")
	if res := admin.do("POST", "/api/v1/content", map[string]any{"url": "https://backfill.example/launch?utm_source=mail", "title": "Launch"}); res.status != http.StatusCreated {
		t.Fatalf("post = %d %s", res.status, res.body)
	}
	raw, err := mongo.Connect(options.Client().ApplyURI(a.mongoURI))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	db := raw.Database(a.mongoDB)
	posts := db.Collection("t_" + me.Instance.ID + "_posts")
	// The previous schema: no canonical URL, no migrations record.
	if r, err := posts.UpdateMany(t.Context(), bson.D{}, bson.D{{Key: "$unset", Value: bson.D{{Key: "canonical_url", Value: ""}}}}); err != nil || r.ModifiedCount != 1 {
		t.Fatalf("unset canonical_url: %+v, %v", r, err)
	}
	if err := db.Collection("migrations").Drop(t.Context()); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CHORUS_MONGO_URI": a.mongoURI, "CHORUS_MONGO_DATABASE": a.mongoDB, "CHORUS_DATA_DIR": t.TempDir()}
	var out strings.Builder
	if err := run(t.Context(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil || !strings.Contains(out.String(), "canonical URLs") {
		t.Fatalf("chorus migrate: %v\n%s", err, out.String())
	}
	var doc struct {
		CanonicalURL string `bson:"canonical_url"`
	}
	if err := posts.FindOne(t.Context(), bson.D{}).Decode(&doc); err != nil || doc.CanonicalURL != "https://backfill.example/launch" {
		t.Errorf("after migrating: canonical_url %q, %v", doc.CanonicalURL, err)
	}

	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Backfill</title>`+
			`<item><title>Launch</title><link>https://backfill.example/launch</link></item>`+
			`<item><title>New</title><link>https://backfill.example/new</link></item></channel></rss>`)
	}))
	t.Cleanup(feed.Close)
	if res := admin.do("POST", "/api/v1/sources", map[string]any{"url": feed.URL + "/rss"}); res.status != http.StatusCreated {
		t.Fatalf("add source = %d %s", res.status, res.body)
	}
	pollSources(t, a, feed, false)
	if n, err := posts.CountDocuments(t.Context(), bson.D{{Key: "canonical_url", Value: "https://backfill.example/launch"}}); err != nil || n != 1 {
		t.Errorf("posts of /launch after the poll: %d, %v; want the one from before", n, err)
	}
	if n, err := posts.CountDocuments(t.Context(), bson.D{}); err != nil || n != 2 {
		t.Errorf("posts after the poll: %d, %v; want 2 (/new added)", n, err)
	}
}
