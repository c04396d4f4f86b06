package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

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
	addr := netip.MustParseAddrPort(feed.Listener.Addr().String())
	svc := content.NewService(content.Config{Now: a.clock.Now, FeedClient: preview.New(preview.Config{
		Ports: []int{int(addr.Port())}, AllowPrefixes: []netip.Prefix{netip.PrefixFrom(addr.Addr(), 32)}}).Client()})
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Content: svc, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.PollSources()); err != nil {
		t.Fatal(err)
	}
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
