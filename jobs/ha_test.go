package jobs

import (
	"context"
	"log/slog"
	"strings"
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

// TestSentinelOverTLS: a rediss-sentinel:// URL reaches the sentinel and
// the master over TLS, checking each one's certificate against its own
// address, with the master's password and the URL's database, and follows
// the master through a failover.
func TestSentinelOverTLS(t *testing.T) {
	s, pool := jobstest.SentinelTLS(t, "data-pw", "sentinel-pw", 2)
	opt, err := ParseRedisURL(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	fo, ok := opt.(asynq.RedisFailoverClientOpt)
	if !ok || fo.TLSConfig == nil {
		t.Fatalf("%s parsed to %#v, want Sentinel options with TLS", s.URL, opt)
	}
	// Without the test's CA the certificates are refused: TLS is checked.
	untrusted := fo.MakeRedisClient().(redis.UniversalClient)
	if err := untrusted.Ping(t.Context()).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("PING with the system's CAs: %v, want a certificate error", err)
	}
	untrusted.Close()

	fo.TLSConfig.RootCAs = pool
	rdb := fo.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	if err := rdb.Set(t.Context(), "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	info, err := rdb.Do(t.Context(), "CLIENT", "INFO").Text()
	if err != nil || !strings.Contains(info, " db=2 ") {
		t.Errorf("CLIENT INFO %q (%v), want db=2", info, err)
	}
	if err := s.Failover(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := rdb.Set(t.Context(), "k", "after", 0).Err()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write to the new master within 20 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, err := rdb.Get(t.Context(), "k").Result(); err != nil || got != "after" {
		t.Errorf("GET after the failover: %q %v", got, err)
	}
	master, _ := s.MasterAddr(t.Context())
	if master != s.Replica.Addr {
		t.Errorf("the master is %s after the failover, want the former replica %s", master, s.Replica.Addr)
	}
}
