package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/social"
)

// TestLeaseAndLimitsOnCluster runs the scheduler's lease and the
// publishing token buckets on a Redis Cluster of three masters: their
// scripts touch one key each, so any slot serves them.
func TestLeaseAndLimitsOnCluster(t *testing.T) {
	u, _ := jobstest.Cluster(t, "pw")
	opt, err := ParseRedisURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := opt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()

	limits := NewRateLimiter(rdb, map[string]social.Limits{"mastodon": {
		PerInstance: social.Rate{N: 3, Per: time.Hour}, PerConnection: social.Rate{N: 2, Per: time.Hour}}})
	var waits []time.Duration
	for _, conn := range []string{"c1", "c1", "c1", "c2", "c2"} {
		d, err := limits.Wait(t.Context(), "inst", "mastodon", conn)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, d)
	}
	// c1: 2 taken, the third refused by the connection's bucket (its
	// instance token is spent all the same); c2: the instance is empty.
	for i, d := range waits {
		if (i < 2) != (d == 0) {
			t.Errorf("take %d waits %v; all waits: %v", i, d, waits)
		}
	}

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	entries := []periodicTask{{"@every 1s", func() *asynq.Task { return asynq.NewTask("test:tick", nil) }, []asynq.Option{asynq.Queue("ticks")}}}
	go func() {
		defer close(done)
		runScheduler(ctx, opt, entries, 2*time.Second, slog.New(slog.DiscardHandler))
	}()
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := insp.GetQueueInfo("ticks")
		if err == nil && info.Size >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ticks enqueued on the cluster within 15 s: %v %v", info, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v, err := rdb.Get(t.Context(), LeaderKey).Result(); err != nil || v == "" {
		t.Errorf("lease on the cluster: %q %v", v, err)
	}
	stop()
	<-done
	if n, err := rdb.Exists(t.Context(), LeaderKey).Result(); err != nil || n != 0 {
		t.Errorf("the lease is still held after a graceful stop (%d, %v)", n, err)
	}
}
