package content

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/chorushq/chorus/content/preview"
)

// BenchmarkSitemapPoll measures one poll of a 50-page sitemap from a
// loopback server, interleaved in each iteration like BenchmarkSourcePoll:
//   - get: the plain GET of the sitemap through the same client (baseline);
//   - 200-new: a first read whose newest 20 pages become posts, each
//     page's preview fetched (HTML from the same server) by the real
//     fetcher;
//   - 200-seen: a full read in which no page is new (seen-set lookups);
//   - 304: a conditional GET answered Not Modified.
//
// It reports ms per poll of each kind and each poll's ratio to the GET.
func BenchmarkSitemapPoll(b *testing.B) {
	const pages = 50
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/p/") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<html><head><title>Page %s</title><meta property="og:description" content="About it"></head><body>%s</body></html>`,
				r.URL.Path, strings.Repeat("<p>text</p>", 200))
			return
		}
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("ETag", `"v1"`)
		var ps []page
		for i := range pages {
			ps = append(ps, page{fmt.Sprintf("/p%s/%d", strings.TrimSuffix(r.URL.Path, ".xml"), i), fmt.Sprintf("2026-11-%02dT10:00:00Z", 1+i%28)})
		}
		w.Write(urlset(srv.URL, ps...))
	}))
	b.Cleanup(srv.Close)
	f := sourceFixture(b, 0, srv)
	ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	f.svc.fetcher = preview.New(preview.Config{Ports: []int{int(ap.Port())}, AllowPrefixes: []netip.Prefix{netip.PrefixFrom(ap.Addr(), 32)}})
	ctx := b.Context()
	client := loopbackClient(b, srv)
	src := f.sitemapSource(b, srv.URL+"/seen.xml", false)
	if res, err := f.svc.PollSource(ctx, f.a, src); err != nil || res.Err != nil || res.Added != maxPagesPerPoll {
		b.Fatalf("first poll = %+v, %v", res, err)
	}
	src, _ = f.svc.GetSource(ctx, f.a, src.ID)
	seen := src
	seen.ETag = ""
	fresh := func(n int) Source {
		return Source{ID: fmt.Sprintf("bench-%d", n), Kind: SourceSitemap, URL: fmt.Sprintf("%s/new-%d.xml", srv.URL, n), CreatedBy: f.curA.ID}
	}
	benchPolls(b, f, client, srv.URL+"/seen.xml", fresh, seen, src, maxPagesPerPoll)
}
