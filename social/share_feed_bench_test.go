package social

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// BenchmarkFeedPage measures what GET /content reads — a page of the feed
// and the member's already-shared marks of it, a first and a next page —
// on an empty instance (S0) and on one holding a year of a company's
// content (S3: 5,000 posts, 20,000 shares), beside an indexed baseline
// (a post read by _id) on each, all in one run. Its metrics:
//
//	S3/S0          a page at S3 over a page at S0 (flat: close to 1)
//	S0-page/key    a page over a keyed read, at S0
//	S3-page/key    a page over a keyed read, at S3
//	reads/page     read commands per page at S3
//	docs/page      documents returned per page at S3
//	examined/page  documents the server examined per page at S3, where its
//	               explain says (MongoDB; -1 elsewhere)
//
// Run it with
//
//	go test -tags ferretdb_no_postgresql -run XXX -bench FeedPage ./social/
func BenchmarkFeedPage(b *testing.B) {
	const member = "member-me"
	r := newFeedRig(b)
	s0 := r.instance(b, "empty.example")
	s3 := r.instance(b, "year.example")
	posts := r.addPosts(b, s3, "news", time.Minute, 5000)
	// The member shared one post in five; 40 colleagues shared the rest.
	r.addShares(b, s3, member, posts[:1000], 2000)
	for i := range 40 {
		r.addShares(b, s3, fmt.Sprintf("member-%d", i), posts[i*100:i*100+1000], 450)
	}
	ctx := context.Background()
	key := func(sc tenant.Scope, id string) {
		if _, err := r.content.Get(ctx, sc, id); err != nil && !errors.Is(err, content.ErrNotFound) {
			b.Fatal(err)
		}
	}
	page := func(sc tenant.Scope) {
		_, next, _ := r.feedPage(b, sc, member, "", nil)
		if next != nil {
			r.feedPage(b, sc, member, "", next)
		}
	}

	// What a page costs at S3, counted once.
	r.reads.Reset()
	_, next, _ := r.feedPage(b, s3, member, "", nil)
	commands, docs := r.reads.Count()
	plans, err := tenanttest.Explain(ctx, r.raw, r.db, r.reads.Sent())
	if err != nil {
		b.Fatal(err)
	}
	examined := int64(-1)
	for _, p := range plans {
		if p.DocsExamined >= 0 {
			examined = max(examined, 0) + p.DocsExamined
		}
	}
	if next == nil {
		b.Fatal("a page of 5,000 posts has no next page")
	}

	var t0, t3, k0, k3 time.Duration
	missing := httpapi.NewID()
	for b.Loop() {
		start := time.Now()
		page(s0)
		t0 += time.Since(start)
		start = time.Now()
		page(s3)
		t3 += time.Since(start)
		start = time.Now()
		key(s0, missing)
		k0 += time.Since(start)
		start = time.Now()
		key(s3, posts[2500].ID)
		k3 += time.Since(start)
	}
	// A page here is a first and a next page: two of each read.
	b.ReportMetric(float64(t3)/float64(t0), "S3/S0")
	b.ReportMetric(float64(t0)/float64(2*k0), "S0-page/key")
	b.ReportMetric(float64(t3)/float64(2*k3), "S3-page/key")
	b.ReportMetric(float64(commands), "reads/page")
	b.ReportMetric(float64(docs), "docs/page")
	b.ReportMetric(float64(examined), "examined/page")
}
