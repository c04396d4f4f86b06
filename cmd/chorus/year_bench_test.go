package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

// yearSize is how much history the benchmarks load into an instance
// before measuring: CHORUS_BENCH_YEAR_SHARES published shares and
// CHORUS_BENCH_YEAR_CLICKS clicks over the last year (defaults shares
// and clicks).
func yearSize(shares, clicks int) (int, int) {
	if n, err := strconv.Atoi(os.Getenv("CHORUS_BENCH_YEAR_SHARES")); err == nil && n > 0 {
		shares = n
	}
	if n, err := strconv.Atoi(os.Getenv("CHORUS_BENCH_YEAR_CLICKS")); err == nil && n > 0 {
		clicks = n
	}
	return shares, clicks
}

// seedYear loads a year of one instance's sharing (shares and clicks,
// unless yearSize's variables say otherwise) as the recorder and the
// publishing hook would have left it: shares published through the year
// (50 members, a content per four shares, two networks), each click in
// the two weeks after its share (exponential, mean 1.5 days) from a pool
// of 5,000 addresses, stored in the recorder's batches, and the rollups
// and daily totals the rebuild derives from them. It returns a line
// saying what it loaded.
func seedYear(tb testing.TB, sc tenant.Scope, now time.Time, shares, clicks int) string {
	tb.Helper()
	ctx := context.Background()
	nShares, nClicks := yearSize(shares, clicks)
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	year := make([]social.Share, nShares)
	docs := make([]any, 0, 1000)
	step := 365 * 24 * time.Hour / time.Duration(nShares)
	for i := range year {
		at := now.Add(-365 * 24 * time.Hour).Add(time.Duration(i) * step).Truncate(time.Millisecond)
		year[i] = social.Share{ID: fmt.Sprintf("year-share-%06d", i), ContentID: fmt.Sprintf("year-content-%05d", i/4),
			ConnectionID: fmt.Sprintf("year-conn-%02d", i%50), MemberID: fmt.Sprintf("year-member-%02d", i%50),
			Network: []string{social.Mastodon, social.Bluesky}[i%2], State: social.SharePublished, PublishAt: at,
			PublishedAt: new(at), RemoteID: fmt.Sprint(i), Followers: int64(100 + i%900), CreatedAt: at, UpdatedAt: at}
		// Test data: shares are social's, written as social stores them.
		if docs = append(docs, year[i]); len(docs) == cap(docs) || i == nShares-1 {
			if err := sc.Collection(tenant.Kind{Name: "shares"}).InsertMany(ctx, docs); err != nil {
				tb.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	var batch []social.Click
	for i := range nClicks {
		sh := year[rng.IntN(nShares)]
		delay := time.Duration(math.Min(rng.ExpFloat64()*1.5, 14) * float64(24*time.Hour))
		at := sh.PublishedAt.Add(delay)
		if at.After(now) {
			at = now.Add(-time.Duration(rng.IntN(3600)) * time.Second)
		}
		ip := rng.IntN(5000)
		batch = append(batch, social.Click{ShareID: sh.ID, ContentID: sh.ContentID, Network: sh.Network, At: at.Truncate(time.Millisecond),
			IPPrefix: fmt.Sprintf("10.%d.%d.0/24", ip/256, ip%256), Visitor: fmt.Sprintf("v%d-%s", ip, at.Format(time.DateOnly))})
		if len(batch) == 2000 || i == nClicks-1 {
			slices.SortFunc(batch, func(a, b social.Click) int { return a.At.Compare(b.At) })
			if err := social.InsertClicks(ctx, sc, batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	rep, err := reach.New(reach.Config{Now: func() time.Time { return now }}).Rebuild(ctx, sc)
	if err != nil {
		tb.Fatal(err)
	}
	count := func(kind string) int64 {
		n, err := sc.Collection(tenant.Kind{Name: kind}).Count(ctx, bson.D{})
		if err != nil {
			tb.Fatal(err)
		}
		return n
	}
	return fmt.Sprintf("a year loaded in %s: %d shares, %d clicks in %d batches, %d rollups, %d daily totals",
		time.Since(start).Round(time.Second), count("shares"), rep.Clicks, count("clicks"), count("rollups"), count("rollup_totals"))
}
