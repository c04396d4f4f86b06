package reach_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

// trackedLink stores a published share and its tracked link, and returns
// a redirector with the reach hook, behind gin as cmd mounts it.
func trackedLink(t *testing.T, domain string) (tenant.Scope, *social.Redirector, *gin.Engine, string) {
	t.Helper()
	store := openStore(t)
	sc := instance(t, store, domain, "UTC")
	publish(t, sc, "share1", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	code := "burstburstburst1"
	if err := social.CreateLink(t.Context(), sc, social.TrackedLink{Code: code, ShareID: "share1", ContentID: "post1", Network: "mastodon",
		Destination: "https://news.example/a"}); err != nil {
		t.Fatal(err)
	}
	r := social.NewRedirector(store, slog.New(slog.DiscardHandler), time.Now)
	r.SetClickHook(reach.New(reach.Config{}))
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/r/:code", r.Handle)
	return sc, r, e, "/r/" + code
}

// click serves one visit of path from the i-th address.
func visit(t testing.TB, e *gin.Engine, path string, i int) {
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.1:1234", i/256%256, i%256)
	req.Header.Set("User-Agent", "Mozilla/5.0")
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	if w.Code != http.StatusFound {
		t.Fatalf("redirect: %d", w.Code)
	}
}

// A burst of 2,000 clicks a second for 10 s (CHORUS_BURST_SECONDS; 2 s
// with -short) is recorded in full: every click stored and counted in the
// rollups, none dropped. How long the queue took to drain is logged.
func TestClickBurstRecordedInFull(t *testing.T) {
	seconds := 10
	if testing.Short() {
		seconds = 2
	}
	if s, err := strconv.Atoi(os.Getenv("CHORUS_BURST_SECONDS")); err == nil && s > 0 {
		seconds = s
	}
	const perSecond, tick = 2000, 10 * time.Millisecond
	sc, r, e, path := trackedLink(t, "burst.example")
	defer r.Close(context.Background())
	sent := 0
	start := time.Now()
	for step := 1; step <= seconds*int(time.Second/tick); step++ {
		for sent < step*perSecond*int(tick)/int(time.Second) {
			visit(t, e, path, sent)
			sent++
		}
		time.Sleep(time.Until(start.Add(time.Duration(step) * tick)))
	}
	sentFor := time.Since(start)
	end := time.Now()
	for r.Stored()+r.Dropped() < int64(sent) {
		if time.Since(end) > 2*time.Minute {
			t.Fatalf("two minutes after the burst: %d stored, %d dropped of %d", r.Stored(), r.Dropped(), sent)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d clicks sent in %s (%.0f/s); the queue drained %s after the last", sent, sentFor.Round(time.Millisecond),
		float64(sent)/sentFor.Seconds(), time.Since(end).Round(time.Millisecond))
	if r.Dropped() != 0 || r.Stored() != int64(sent) {
		t.Errorf("%d stored, %d dropped of %d clicks", r.Stored(), r.Dropped(), sent)
	}
	clicks, err := social.ClicksSince(t.Context(), sc, start.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	sum, err := reach.New(reach.Config{}).Summary(t.Context(), sc, reach.Period{From: today, To: today})
	if err != nil {
		t.Fatal(err)
	}
	if len(clicks) != sent || sum.Clicks != int64(sent) {
		t.Errorf("%d clicks stored, %d in the rollups; %d sent", len(clicks), sum.Clicks, sent)
	}
}

// Close writes every click still queued before it returns (a graceful
// stop loses none).
func TestGracefulStopFlushesClicks(t *testing.T) {
	sc, r, e, path := trackedLink(t, "stop.example")
	const n = 1500
	for i := range n {
		visit(t, e, path, i)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	clicks, err := social.ClicksSince(t.Context(), sc, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stored() != n || len(clicks) != n || r.Dropped() != 0 {
		t.Errorf("after Close: %d stored, %d dropped, %d in the store; want all %d stored", r.Stored(), r.Dropped(), len(clicks), n)
	}
	// After Close a click is dropped and counted, never sent on a closed
	// queue.
	visit(t, e, path, n)
	if r.Dropped() != 1 {
		t.Errorf("a click after Close: %d dropped, want 1", r.Dropped())
	}
}
