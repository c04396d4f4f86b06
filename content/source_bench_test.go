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
	var get, fresh, seen, notModified time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		resp, err := client.Get(srv.URL + "/seen")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		get += time.Since(start)

		newSrc := src
		newSrc.URL = fmt.Sprintf("%s/new-%d", srv.URL, n)
		start = time.Now()
		res, err := f.svc.PollSource(ctx, f.a, newSrc)
		fresh += time.Since(start)
		if err != nil || res.Err != nil || res.Added != items {
			b.Fatalf("poll of new items = %+v, %v", res, err)
		}

		start = time.Now()
		res, err = f.svc.PollSource(ctx, f.a, src)
		seen += time.Since(start)
		if err != nil || res.Err != nil || res.Added != 0 || res.NotModified {
			b.Fatalf("poll of seen items = %+v, %v", res, err)
		}

		start = time.Now()
		res, err = f.svc.PollSource(ctx, f.a, conditional)
		notModified += time.Since(start)
		if err != nil || res.Err != nil || !res.NotModified {
			b.Fatalf("conditional poll = %+v, %v", res, err)
		}
		n++
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(n) / float64(time.Millisecond) }
	b.ReportMetric(ms(get), "ms/get")
	b.ReportMetric(ms(fresh), "ms/poll-200-new")
	b.ReportMetric(ms(seen), "ms/poll-200-seen")
	b.ReportMetric(ms(notModified), "ms/poll-304")
	b.ReportMetric(float64(fresh)/float64(get), "x-get/200-new")
	b.ReportMetric(float64(seen)/float64(get), "x-get/200-seen")
	b.ReportMetric(float64(notModified)/float64(get), "x-get/304")
	b.ReportMetric(float64(notModified)/float64(seen), "304/200-seen")
}
