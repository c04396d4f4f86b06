package reach

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// BenchmarkYearSummary answers "summary + daily clicks over one year" for
// one instance twice in the same run on the same server: from the rollups
// (what the API does) and by scanning the raw click events (the baseline),
// and reports both times and their ratio. CHORUS_BENCH_CLICKS sets the
// number of click events (default 50000; 1000000, the size docs/reach.md
// reports, loads in about 35 s and scans in about 25 s on the embedded
// FerretDB).
//
//	go test -tags ferretdb_no_postgresql -run XXX -bench YearSummary -benchtime 5x ./social/reach/
func BenchmarkYearSummary(b *testing.B) {
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("CHORUS_BENCH_CLICKS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	uri, db := tenanttest.Mongo(b)
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Kinds: append(social.Kinds(), Kinds()...)})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close(ctx)
	inst, err := store.EnsureInstance(ctx, "bench.example", "a@bench.example")
	if err != nil {
		b.Fatal(err)
	}
	sc, err := store.Open(ctx, inst.ID)
	if err != nil {
		b.Fatal(err)
	}
	// A year of sharing: 200 shares (20 contents, 10 members, two
	// networks) published through the year; each share's clicks come in
	// the days after it was published (mean 1.5 days, at most two weeks),
	// from visitors drawn from a pool so that some repeat within a day.
	end := time.Date(2026, 6, 30, 23, 0, 0, 0, time.UTC)
	start := end.AddDate(-1, 0, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	load := time.Now()
	const nShares = 200
	shares := make([]any, nShares)
	published := make([]time.Time, nShares)
	for i := range nShares {
		published[i] = start.Add(time.Duration(i) * end.Sub(start) / nShares).Truncate(time.Millisecond)
		shares[i] = social.Share{ID: fmt.Sprintf("share%03d", i), ContentID: fmt.Sprintf("content%02d", i%20),
			MemberID: fmt.Sprintf("member%d", i%10), Network: []string{"mastodon", "bluesky"}[i%2], State: social.SharePublished,
			PublishedAt: &published[i], Followers: int64(100 + rng.IntN(900))}
	}
	// Test data only: shares are social's, written here as social stores them.
	if err := sc.Collection(tenant.Kind{Name: "shares"}).InsertMany(ctx, shares); err != nil {
		b.Fatal(err)
	}
	// Stored as the recorder stores them: batches of at most 500 clicks
	// (the raw scan below still reads and decodes every click).
	batch := make([]social.Click, 0, 500)
	for i := range n {
		sh := rng.IntN(nShares)
		delay := min(time.Duration(rng.ExpFloat64()*1.5*24*float64(time.Hour)), 14*24*time.Hour)
		at := published[sh].Add(delay)
		if at.After(end) {
			at = end
		}
		batch = append(batch, social.Click{ShareID: fmt.Sprintf("share%03d", sh),
			ContentID: fmt.Sprintf("content%02d", sh%20), Network: []string{"mastodon", "bluesky"}[sh%2], At: at,
			IPPrefix: "192.0.2.0/24", Visitor: fmt.Sprintf("v%d", rng.IntN(500))})
		if len(batch) == cap(batch) || i == n-1 {
			if err := social.InsertClicks(ctx, sc, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	rows, rep, err := compute(ctx, sc, start)
	if err != nil {
		b.Fatal(err)
	}
	if err := sc.Collection(rollupKind).InsertMany(ctx, rows); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d click events and %d rollups loaded in %s", rep.Clicks, rep.Rollups, time.Since(load).Round(time.Millisecond))

	svc := New(Config{})
	p := Period{From: Day(start, time.UTC), To: Day(end, time.UTC)}
	var fromRollups, fromRaw time.Duration
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		sum, err := svc.Summary(ctx, sc, p)
		if err != nil {
			b.Fatal(err)
		}
		series, err := svc.Timeseries(ctx, sc, p, "clicks")
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		clicks, unique, days, err := rawScan(ctx, sc, start, end.Add(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		raw, err := social.SharesPublishedSince(ctx, sc, start)
		if err != nil || len(raw) != nShares {
			b.Fatal(len(raw), err)
		}
		t2 := time.Now()
		fromRollups += t1.Sub(t0)
		fromRaw += t2.Sub(t1)
		if sum.Clicks != int64(n) || clicks != sum.Clicks || unique != sum.UniqueClicks || len(days) > len(series) || sum.Shares != nShares {
			b.Fatalf("rollups say %d clicks (%d unique), the raw scan %d (%d)", sum.Clicks, sum.UniqueClicks, clicks, unique)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(fromRollups.Milliseconds())/float64(b.N), "rollups-ms/op")
	b.ReportMetric(float64(fromRaw.Milliseconds())/float64(b.N), "raw-ms/op")
	b.ReportMetric(float64(fromRaw)/float64(fromRollups), "raw/rollups")
	b.ReportMetric(float64(n), "clicks")
	b.ReportMetric(float64(rep.Rollups), "rollups")
}

// rawScan is the baseline: every click event of the period read and
// counted per day, unique visitors per day and share.
func rawScan(ctx context.Context, sc tenant.Scope, from, to time.Time) (clicks, unique int64, days map[string]int64, err error) {
	evs, err := social.ClicksSince(ctx, sc, from)
	if err != nil {
		return 0, 0, nil, err
	}
	days = map[string]int64{}
	seen := map[[3]string]bool{}
	for _, c := range evs {
		if !c.At.Before(to) {
			continue
		}
		d := Day(c.At, time.UTC)
		days[d]++
		clicks++
		if k := [3]string{d, c.ShareID, c.Visitor}; !seen[k] {
			seen[k] = true
			unique++
		}
	}
	return clicks, unique, days, nil
}
