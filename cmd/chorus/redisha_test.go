package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/jobs/task"
)

// TestRedisClusterCarriesEverything runs the platform on a Redis Cluster of
// three masters: shares are queued and published by a real worker, and the
// tracked links' clicks go through the reach counters and the unique
// visitor sets, all on the cluster.
func TestRedisClusterCarriesEverything(t *testing.T) {
	u, _ := jobstest.Cluster(t, "cluster-pw")
	publishThrough(t, u, 12, nil)
}

// TestRedisSentinelFailoverMidPublish shares while the sentinel fails the
// master over to its replica (SENTINEL FAILOVER): every share ends
// published, each exactly once at the network, and every click is
// counted. A task the old master took but the new one never heard of is
// queued again by the reconciler.
func TestRedisSentinelFailoverMidPublish(t *testing.T) {
	s := jobstest.Sentinel(t, "data-pw", "sentinel-pw", 3)
	publishThrough(t, s.URL, 30, func() {
		if err := s.Failover(context.Background()); err != nil {
			t.Error(err)
			return
		}
		t.Logf("failed over to %s", s.Replica.Addr)
	})
}

// publishThrough makes n shares through the app on the Redis at redisURL,
// with a worker running; disrupt, if not nil, runs once a third of them
// are made, while the rest are made. Then it checks that every share is
// published once and that a click on each tracked link is stored.
func publishThrough(t *testing.T, redisURL string, n int, disrupt func()) {
	// go-redis logs every failed dial while a master changes.
	redis.SetLogger(&logging.VoidLogger{})
	t.Cleanup(func() { redis.SetLogger(stderrRedis{}) })
	a, employee, connID, postID := shareSetupEnv(t, map[string]string{"CHORUS_REDIS_URL": redisURL})
	w := runWorker(t, a, slog.New(slog.DiscardHandler), 4)

	var disrupted sync.WaitGroup
	ids := make([]string, 0, n)
	for i := range n {
		if i == n/3 && disrupt != nil {
			disrupted.Go(disrupt)
		}
		var out struct{ Items []shareDoc }
		res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}})
		if res.status != http.StatusAccepted {
			t.Fatalf("share %d: %d %s", i, res.status, res.body)
		}
		res.json(t, &out)
		ids = append(ids, out.Items[0].ID)
		time.Sleep(30 * time.Millisecond)
	}
	disrupted.Wait()

	state := func(id string) shareDoc {
		t.Helper()
		var sh shareDoc
		employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
		return sh
	}
	waiting := func() []string {
		var out []string
		for _, id := range ids {
			if st := state(id).State; st != "published" {
				out = append(out, id+" "+st)
			}
		}
		return out
	}
	// What Redis lost is queued again by the reconciler, after a whole
	// interval without a live task.
	for deadline := time.Now().Add(2 * time.Minute); len(waiting()) > 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not published after 2 minutes: %v", waiting())
		}
		a.clock.Add(time.Minute)
		if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
			t.Logf("reconcile: %v", err)
		}
	}

	posts := a.mastodon.Statuses()
	if len(posts) != n {
		t.Errorf("%d posts at the network for %d shares", len(posts), n)
	}
	visitor := a.client(t)
	for _, id := range ids {
		sh := state(id)
		found := 0
		for _, p := range posts {
			if strings.Contains(p.Text, sh.TrackedURL) {
				found++
			}
		}
		if found != 1 {
			t.Errorf("share %s is in %d posts, want 1", id, found)
		}
		u, _ := url.Parse(sh.TrackedURL)
		if res := visitor.do("GET", u.Path, nil, "User-Agent", "Mozilla/5.0"); res.status != http.StatusFound {
			t.Errorf("GET %s: %d", u.Path, res.status)
		}
	}
	if err := a.redirector.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.redirector.Stored(); got != int64(n) {
		t.Errorf("%d clicks stored, want %d", got, n)
	}
	t.Logf("%T: %d shares published once each, %d clicks stored", a.queue, n, a.redirector.Stored())
}

// runWorker runs a worker of a's services on a's Redis until the test ends.
func runWorker(t *testing.T, a *testApp, log *slog.Logger, concurrency int) *jobs.Worker {
	t.Helper()
	w, err := jobs.NewWorker(jobs.Config{Redis: a.queue, Store: a.store, Content: a.content, Social: a.social, Log: log, Concurrency: concurrency})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-ran
	})
	return w
}
