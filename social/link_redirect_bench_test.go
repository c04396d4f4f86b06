package social

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// The redirect's allocation budget, gated by BenchmarkRedirect.
const (
	maxAllocs = 12
	maxBytes  = 512
)

// reusedWriter is a ResponseWriter that allocates nothing per request.
type reusedWriter struct {
	h    http.Header
	code int
}

func (w *reusedWriter) Header() http.Header         { return w.h }
func (w *reusedWriter) WriteHeader(code int)        { w.code = code }
func (w *reusedWriter) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkRedirect compares GET /r/{code} through the Redirector (cache
// hit, click queued) with a bare net/http handler doing a map lookup and a
// 302, in the same run: report the ratio of ns/op and the allocations.
//
//	go test -tags ferretdb_no_postgresql -run XXX -bench Redirect -benchmem ./social/
func BenchmarkRedirect(b *testing.B) {
	e, req, r, code, dest := redirectFixture(b)
	ctx := context.Background()
	defer r.Close(ctx)

	bare := map[string]string{code: dest + "&utm_source=mastodon&utm_medium=employee_advocacy"}
	bareHandler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		to, ok := bare[req.URL.Path[len("/r/"):]]
		if !ok {
			http.NotFound(w, req)
			return
		}
		http.Redirect(w, req, to, http.StatusFound)
	})

	b.Run("Chorus", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusFound {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	// The gate: what one redirect allocates (a reused writer, so not the
	// recorder's), at most maxAllocs and maxBytes. The whole process's
	// allocations per redirect also hold the click recorder's batch writes
	// into the embedded database running in this process, which a
	// production MongoDB does out of process: they are reported
	// (process-B/op), and the gate reads the cheapest window of 500
	// redirects, as TestRedirectAllocationBudget does.
	b.Run("ChorusAllocs", func(b *testing.B) {
		b.ReportAllocs()
		w := &reusedWriter{h: http.Header{}}
		allocs, bytes := math.Inf(1), math.Inf(1)
		var sumAllocs, sumBytes float64
		windows := 0
		for more := true; more; {
			left := 500
			a, by := redirectCost(b, e, req, w, func() bool {
				if left == 0 {
					return false
				}
				left--
				more = b.Loop()
				return more
			})
			if left > 0 { // a window b.Loop cut short says little
				continue
			}
			allocs, bytes = min(allocs, a), min(bytes, by)
			sumAllocs, sumBytes, windows = sumAllocs+a, sumBytes+by, windows+1
		}
		if windows == 0 {
			return
		}
		b.ReportMetric(allocs, "redirect-allocs/op")
		b.ReportMetric(bytes, "redirect-B/op")
		b.ReportMetric(sumAllocs/float64(windows), "process-allocs/op")
		b.ReportMetric(sumBytes/float64(windows), "process-B/op")
		if allocs > maxAllocs || bytes > maxBytes {
			b.Fatalf("a redirect allocates %.1f times, %.0f bytes; the gate is %d and %d", allocs, bytes, maxAllocs, maxBytes)
		}
	})
	b.Run("BareNetHTTP", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			bareHandler.ServeHTTP(w, req)
			if w.Code != http.StatusFound {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Logf("clicks queued or stored: %d stored, %d dropped", r.Stored(), r.Dropped())
}

// redirectFixture is a Redirector with one tracked link on a real store,
// behind gin as cmd mounts it, and a request for the link.
func redirectFixture(tb testing.TB) (*gin.Engine, *http.Request, *Redirector, string, string) {
	tb.Helper()
	ctx := context.Background()
	store, sc := testScope(tb, "bench.example")
	code := newCode()
	dest := "https://news.example/story?ref=site"
	if err := CreateLink(ctx, sc, TrackedLink{Code: code, ShareID: httpapi.NewID(), ContentID: httpapi.NewID(), Network: "mastodon", Destination: dest}); err != nil {
		tb.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := NewRedirector(store, slog.New(slog.DiscardHandler), time.Now)
	e := gin.New()
	e.GET("/r/:code", r.Handle)
	req := httptest.NewRequest("GET", "/r/"+code, nil)
	req.RemoteAddr = "192.0.2.10:1234"
	req.Header.Set("User-Agent", "Mozilla/5.0")
	return e, req, r, code, dest
}

// redirectCost serves req while more says so and returns the allocations
// and bytes per redirect, measured over the whole process (the click
// recorder's share included, so an upper bound).
func redirectCost(tb testing.TB, e *gin.Engine, req *http.Request, w *reusedWriter, more func() bool) (allocs, bytes float64) {
	tb.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	for more() {
		clear(w.h)
		e.ServeHTTP(w, req)
		if w.code != http.StatusFound {
			tb.Fatalf("status %d", w.code)
		}
		n++
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}

// TestRedirectAllocationBudget is BenchmarkRedirect's gate run with the
// tests: the count of allocations does not depend on the machine.
func TestRedirectAllocationBudget(t *testing.T) {
	e, req, r, _, _ := redirectFixture(t)
	defer r.Close(context.Background())
	w := &reusedWriter{h: http.Header{}}
	left := 100
	redirectCost(t, e, req, w, func() bool { left--; return left >= 0 }) // the link is cached
	// The process's other goroutines (the click recorder, the embedded
	// database) allocate too, most of all under the race detector: the
	// cheapest of several short runs is the redirect's own cost, and a
	// real regression shows in every run.
	allocs, bytes := math.Inf(1), math.Inf(1)
	for range 10 {
		left = 500
		a, b := redirectCost(t, e, req, w, func() bool { left--; return left >= 0 })
		allocs, bytes = min(allocs, a), min(bytes, b)
	}
	if allocs > maxAllocs || bytes > maxBytes {
		t.Errorf("a redirect allocates %.1f times, %.0f bytes; the budget is %d and %d", allocs, bytes, maxAllocs, maxBytes)
	}
	t.Logf("%.1f allocations, %.0f bytes per redirect", allocs, bytes)
}
