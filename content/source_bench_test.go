package content

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkSourcePoll measures one poll of a 50-item RSS feed from a
// loopback server, interleaved in each iteration so the machine's noise
// hits every kind alike:
//   - get: the plain GET of the feed through the same client (baseline);
//   - 200-new: a full answer whose 50 items are all new (50 posts stored);
//   - 200-seen: a full answer whose 50 items exist (50 dedupe lookups);
//   - 304: a conditional GET answered Not Modified.
//
// It reports ms per poll of each kind and each poll's ratio to the GET.
func BenchmarkSourcePoll(b *testing.B) {
	const items = 50
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprint(w, rssFeed("http://news.example"+r.URL.Path, items))
	}))
	b.Cleanup(srv.Close)
	f := sourceFixture(b, 0, srv)
	ctx := b.Context()
	client := loopbackClient(b, srv)
	src, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(srv.URL + "/seen")})
	if err != nil {
		b.Fatal(err)
	}
	if res, err := f.svc.PollSource(ctx, f.a, src); err != nil || res.Err != nil || res.Added != items {
		b.Fatalf("first poll = %+v, %v", res, err)
	}
	conditional := src
	conditional.ETag = `"v1"`
	newSrc := func(n int) Source {
		s := src
		s.URL = fmt.Sprintf("%s/new-%d", srv.URL, n)
		return s
	}
	seen := benchPolls(b, f, client, srv.URL+"/seen", newSrc, src, conditional, items)
	b.ReportMetric(seen, "304/200-seen")
}

// benchPolls runs the interleaved polls of BenchmarkSourcePoll and
// BenchmarkSitemapPoll: each iteration a plain GET of getURL (the
// baseline), a poll of a new source whose wantNew items are all new
// (fresh(n)), a full read with nothing new (seen) and a conditional one
// answered Not Modified (conditional). It reports ms per kind and each
// poll's ratio to the GET, and returns the 304 poll's ratio to the
// full read with nothing new.
func benchPolls(b *testing.B, f *fixture, client *http.Client, getURL string, fresh func(n int) Source, seen, conditional Source, wantNew int) float64 {
	ctx := b.Context()
	var get, tFresh, tSeen, tNotModified time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		resp, err := client.Get(getURL)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		get += time.Since(start)

		start = time.Now()
		res, err := f.svc.PollSource(ctx, f.a, fresh(n))
		tFresh += time.Since(start)
		if err != nil || res.Err != nil || res.Added != wantNew {
			b.Fatalf("poll of new items = %+v, %v", res, err)
		}

		start = time.Now()
		res, err = f.svc.PollSource(ctx, f.a, seen)
		tSeen += time.Since(start)
		if err != nil || res.Err != nil || res.Added != 0 || res.NotModified {
			b.Fatalf("poll of seen items = %+v, %v", res, err)
		}

		start = time.Now()
		res, err = f.svc.PollSource(ctx, f.a, conditional)
		tNotModified += time.Since(start)
		if err != nil || res.Err != nil || !res.NotModified {
			b.Fatalf("conditional poll = %+v, %v", res, err)
		}
		n++
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(n) / float64(time.Millisecond) }
	b.ReportMetric(ms(get), "ms/get")
	b.ReportMetric(ms(tFresh), "ms/poll-200-new")
	b.ReportMetric(ms(tSeen), "ms/poll-200-seen")
	b.ReportMetric(ms(tNotModified), "ms/poll-304")
	b.ReportMetric(float64(tFresh)/float64(get), "x-get/200-new")
	b.ReportMetric(float64(tSeen)/float64(get), "x-get/200-seen")
	b.ReportMetric(float64(tNotModified)/float64(get), "x-get/304")
	return float64(tNotModified) / float64(tSeen)
}
