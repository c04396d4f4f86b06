package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chorushq/chorus/jobs"
)

// arrivals records when each push message reached the endpoint, by the
// device's client hash, in front of the local Web Push endpoint.
type arrivals struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (a *arrivals) get(hash string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[hash]
	return t, ok
}

// TestPushLatency reports how long a push notification takes from the
// publish request to the push endpoint, p50 and p99 over 100 members of
// one instance, with the real worker taking the task from Redis. The
// baseline, measured in the same run, is one member of another instance;
// ratios are to it. It reports, it does not time-assert: timings on a
// shared machine are noisy (the load average is printed with them).
// CHORUS_PUSH_LATENCY_OUT names a file for the report.
func TestPushLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("100 members: not in -short")
	}
	// 102 members sign in from the test's one address.
	f := newPushFixture(t, map[string]string{"CHORUS_SIGNIN_LIMIT_IP": "1000"})
	a := f.a
	rec := &arrivals{at: map[string]time.Time{}}
	upstream, _ := url.Parse(f.ep.URL)
	rp := httputil.NewSingleHostReverseProxy(upstream)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hash, ok := strings.CutPrefix(r.URL.Path, "/notify/"); ok && r.Method == http.MethodPost {
			now := time.Now()
			rec.mu.Lock()
			if _, seen := rec.at[hash]; !seen {
				rec.at[hash] = now
			}
			rec.mu.Unlock()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	// Devices post to the proxy, which records and passes on.
	device := func(c *client) pushDevice {
		t.Helper()
		d := f.ep.subscribe(t, f.keys.Public)
		d.Endpoint = proxy.URL + strings.TrimPrefix(d.Endpoint, f.ep.URL)
		if res := c.do("PUT", "/api/v1/me/consents/push", map[string]any{"granted": true}); res.status != http.StatusOK {
			t.Fatalf("grant push: %d %s", res.status, res.body)
		}
		if res := c.do("POST", "/api/v1/me/push/subscriptions", d.json()); res.status != http.StatusCreated {
			t.Fatalf("subscribe: %d %s", res.status, res.body)
		}
		return d
	}

	base, _ := verifiedAdmin(t, a, "admin@globex.example")
	baseDevice := device(base)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	var devices []pushDevice
	for i := range 100 {
		c := a.client(t)
		c.signIn(fmt.Sprintf("member%03d@acme.example", i))
		devices = append(devices, device(c))
	}

	w, err := jobs.NewWorker(jobs.Config{Redis: a.queue, Store: a.store, Content: a.content, Now: a.clock.Now, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	publish := func(c *client, title string, ds []pushDevice) []time.Duration {
		t.Helper()
		start := time.Now()
		res := c.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/" + title), "title": title})
		if res.status != http.StatusCreated {
			t.Fatalf("post: %d %s", res.status, res.body)
		}
		deadline := time.Now().Add(2 * time.Minute)
		var lat []time.Duration
		for _, d := range ds {
			for {
				if at, ok := rec.get(d.ClientHash); ok {
					lat = append(lat, at.Sub(start))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: device %s got nothing within 2 minutes (%d of %d did)", title, d.ClientHash[:8], len(lat), len(ds))
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		slices.Sort(lat)
		return lat
	}
	one := publish(base, "baseline-news", []pushDevice{baseDevice})
	load1, _ := os.ReadFile("/proc/loadavg")
	hundred := publish(admin, "acme-news", devices)
	load2, _ := os.ReadFile("/proc/loadavg")
	for _, d := range devices {
		if got := f.notified(t, d); len(got) != 1 {
			t.Fatalf("device %s decrypted %d messages, want 1", d.ClientHash[:8], len(got))
		}
	}
	pct := func(xs []time.Duration, p float64) time.Duration { return xs[min(len(xs)-1, int(float64(len(xs))*p))] }
	ratio := func(x time.Duration) float64 { return float64(x) / float64(one[0]) }
	p50, p99, last := pct(hundred, 0.50), pct(hundred, 0.99), hundred[len(hundred)-1]
	report := fmt.Sprintf("push delivery latency, publish request → endpoint (real worker, web-push-testing behind a recording proxy)\n"+
		"baseline, 1 member: %v\n100 members: p50 %v (×%.1f), p99 %v (×%.1f), last %v (×%.1f)\nload average before / after: %s / %s\n",
		one[0].Round(time.Millisecond), p50.Round(time.Millisecond), ratio(p50), p99.Round(time.Millisecond), ratio(p99),
		last.Round(time.Millisecond), ratio(last), strings.TrimSpace(string(load1)), strings.TrimSpace(string(load2)))
	t.Log(report)
	if out := os.Getenv("CHORUS_PUSH_LATENCY_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
