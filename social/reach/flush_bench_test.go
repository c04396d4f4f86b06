package reach_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

// roundTrips counts the commands sent to the store, per command name,
// and the time spent in each command on each collection.
type roundTrips struct {
	mu   sync.Mutex
	n    map[string]int
	what map[int64]string
	took map[string]time.Duration
}

func (r *roundTrips) monitor() *event.CommandMonitor {
	done := func(id int64, d time.Duration) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if w, ok := r.what[id]; ok {
			r.took[w] += d
			delete(r.what, id)
		}
	}
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.n[e.CommandName]++
		coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
		r.what[e.RequestID] = e.CommandName + " " + coll
	}, Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { done(e.RequestID, e.Duration) },
		Failed: func(_ context.Context, e *event.CommandFailedEvent) { done(e.RequestID, e.Duration) }}
}

// spent returns and resets the time spent per command and collection.
func (r *roundTrips) spent() map[string]time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.took
	r.took = map[string]time.Duration{}
	return out
}

func (r *roundTrips) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.n
	r.n = map[string]int{}
	return out
}

// flushFixture is an instance with shares published across many posts
// and members, each with a tracked link, and a redirector with the reach
// hook behind gin.
type flushFixture struct {
	sc      tenant.Scope
	r       *social.Redirector
	e       *gin.Engine
	codes   []string
	trips   *roundTrips
	flushes atomic.Int64
}

func newFlushFixture(tb testing.TB, shares int) *flushFixture {
	tb.Helper()
	f := &flushFixture{trips: &roundTrips{n: map[string]int{}, what: map[int64]string{}, took: map[string]time.Duration{}}}
	store := openStoreWith(tb, f.trips.monitor())
	f.sc = instance(tb, store, "flush.example", "UTC")
	published := time.Now().Add(-time.Hour).UTC()
	docs := make([]any, shares)
	for i := range shares {
		docs[i] = social.Share{ID: fmt.Sprintf("share%05d", i), ContentID: fmt.Sprintf("post%04d", i%(shares/4+1)),
			MemberID: fmt.Sprintf("member%02d", i%50), Network: []string{"mastodon", "bluesky", "linkedin"}[i%3],
			State: social.SharePublished, PublishedAt: &published}
	}
	if err := f.sc.Collection(tenant.Kind{Name: "shares"}).InsertMany(tb.Context(), docs); err != nil {
		tb.Fatal(err)
	}
	for i := range shares {
		code := fmt.Sprintf("flushflush%06d", i)
		if err := social.CreateLink(tb.Context(), f.sc, social.TrackedLink{Code: code, ShareID: fmt.Sprintf("share%05d", i),
			ContentID: fmt.Sprintf("post%04d", i%(shares/4+1)), Network: []string{"mastodon", "bluesky", "linkedin"}[i%3],
			Destination: "https://news.example/a"}); err != nil {
			tb.Fatal(err)
		}
		f.codes = append(f.codes, code)
	}
	f.r = social.NewRedirector(store, slog.New(slog.DiscardHandler), time.Now)
	f.r.SetClickHook(reach.New(reach.Config{}))
	f.r.SetFlushObserver(func(time.Duration) { f.flushes.Add(1) })
	gin.SetMode(gin.ReleaseMode)
	f.e = gin.New()
	f.e.GET("/r/:code", f.r.Handle)
	tb.Cleanup(func() { f.r.Close(context.Background()) })
	return f
}

// burst sends n clicks spread over the codes, as the scaling benchmark
// does, as fast as the handler takes them, and waits until the recorder
// has stored them all; it returns how long that took.
func (f *flushFixture) burst(tb testing.TB, n, from int) time.Duration {
	tb.Helper()
	stored := f.r.Stored()
	start := time.Now()
	for k := range n {
		visit(tb, f.e, "/r/"+f.codes[(k*7919)%len(f.codes)], from+k)
	}
	for f.r.Stored() < stored+int64(n) {
		if f.r.Dropped() > 0 {
			tb.Fatalf("%d clicks dropped", f.r.Dropped())
		}
		if time.Since(start) > 3*time.Minute {
			tb.Fatalf("three minutes after the burst: %d of %d stored", f.r.Stored()-stored, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// BenchmarkClickFlush sends a burst of clicks (CHORUS_BENCH_FLUSH_CLICKS,
// 20,000: the scaling benchmark's 2,000/s for 10 s) over the tracked
// links of 20,000 shares (CHORUS_BENCH_FLUSH_SHARES) of 5,000 posts by 50
// members, as fast as the redirect handler takes them, and reports the
// clicks stored a second until the queue is drained, the flushes, and the
// store's round trips per flush and per 1,000 clicks. The baseline, in
// the same run, is the raw click batches alone (social.InsertClicks of
// the same batches, without counters or rollups): ratio is its time over
// the whole recording's.
func BenchmarkClickFlush(b *testing.B) {
	clicks, shares := 20000, 20000
	for _, v := range []struct {
		name string
		n    *int
	}{{"CHORUS_BENCH_FLUSH_CLICKS", &clicks}, {"CHORUS_BENCH_FLUSH_SHARES", &shares}} {
		if s := os.Getenv(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				b.Fatalf("%s=%q: want a positive number", v.name, s)
			}
			*v.n = n
		}
	}
	f := newFlushFixture(b, shares)
	// Every link once: the redirect's link cache and the flush's share
	// cache then hold them, as they do after a day of clicks.
	for k, code := range f.codes {
		visit(b, f.e, "/r/"+code, k)
	}
	f.burst(b, 1, len(f.codes))
	f.trips.take()
	f.trips.spent()
	f.flushes.Store(0)
	b.ResetTimer()
	var took, raw time.Duration
	trips := map[string]int{}
	spent := map[string]time.Duration{}
	for i := range b.N {
		took += f.burst(b, clicks, len(f.codes)+1+i*clicks)
		for k, n := range f.trips.take() {
			trips[k] += n
		}
		for k, d := range f.trips.spent() {
			spent[k] += d
		}
		// The baseline: the same number of clicks stored as raw batches
		// of the flushes' mean size, nothing else.
		per := max(1, clicks/int(max(1, f.flushes.Load()/int64(i+1))))
		t0 := time.Now()
		for done := 0; done < clicks; done += per {
			batch := make([]social.Click, min(per, clicks-done))
			for j := range batch {
				batch[j] = social.Click{ShareID: "share00001", ContentID: "post0001", Network: "mastodon", At: time.Now(),
					IPPrefix: "10.0.0.0/24", Visitor: strconv.Itoa(done + j)}
			}
			if err := social.InsertClicks(b.Context(), f.sc, batch); err != nil {
				b.Fatal(err)
			}
		}
		raw += time.Since(t0)
	}
	b.StopTimer()
	total := 0
	for _, n := range trips {
		total += n
	}
	flushes := float64(f.flushes.Load())
	b.ReportMetric(float64(clicks*b.N)/took.Seconds(), "clicks/s")
	b.ReportMetric(flushes/float64(b.N), "flushes")
	b.ReportMetric(float64(total)/flushes, "trips/flush")
	b.ReportMetric(raw.Seconds()/took.Seconds(), "ratio")
	b.Logf("%d clicks over %d shares: recorded in %s (raw batches alone %s), %v flushes, round trips %v",
		clicks*b.N, shares, took.Round(time.Millisecond), raw.Round(time.Millisecond), flushes, trips)
	b.Logf("time in the store per command and collection: %v", spent)
}
