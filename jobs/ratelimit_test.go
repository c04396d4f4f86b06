package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social"
)

func TestRateLimiterBuckets(t *testing.T) {
	opt := jobstest.Redis(t)
	rdb := opt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	l := NewRateLimiter(rdb, map[string]social.Limits{
		social.Mastodon: {PerConnection: social.Rate{N: 2, Per: time.Hour}, PerInstance: social.Rate{N: 4, Per: time.Hour}},
	})
	ctx := t.Context()
	for _, step := range []struct {
		name                    string
		instance, network, conn string
		wantWait                bool
		minWait, maxWait        time.Duration
	}{
		{"A's first post through c1", "instA", social.Mastodon, "c1", false, 0, 0},
		{"A's second post through c1", "instA", social.Mastodon, "c1", false, 0, 0},
		{"c1's bucket is empty: half an hour at 2 an hour", "instA", social.Mastodon, "c1", true, 25 * time.Minute, 31 * time.Minute},
		{"another connection of A", "instA", social.Mastodon, "c2", false, 0, 0},
		// The refused third post took an instance token too: 4 are spent.
		{"A's instance bucket is empty", "instA", social.Mastodon, "c3", true, 14 * time.Minute, 16 * time.Minute},
		{"instance B with the same connection ID", "instB", social.Mastodon, "c1", false, 0, 0},
		{"a network without limits", "instA", social.LinkedIn, "c1", false, 0, 0},
	} {
		wait, err := l.Wait(ctx, step.instance, step.network, step.conn)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if (wait > 0) != step.wantWait || (step.wantWait && (wait < step.minWait || wait > step.maxWait)) {
			t.Errorf("%s: wait %v, want wait %t in [%v, %v]", step.name, wait, step.wantWait, step.minWait, step.maxWait)
		}
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no bucket in Redis")
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "rate:t:instA:") && !strings.HasPrefix(k, "rate:t:instB:") {
			t.Errorf("key %q does not start with its instance", k)
		}
	}
}

func TestRetryPolicy(t *testing.T) {
	limited := &social.RetryError{Delay: 17 * time.Minute, Err: social.ErrRateLimited}
	tk := task.Publish("i", "s")
	if isFailure(limited) {
		t.Error("a spent publishing limit counts as a failure")
	}
	if got := retryDelay(3, limited, tk); got != 17*time.Minute {
		t.Errorf("retry after a spent limit in %v, want 17m", got)
	}
	if !isFailure(errors.New("database down")) {
		t.Error("an error is not a failure")
	}
	if got := retryDelay(0, asynq.ErrLeaseExpired, tk); got > 5*time.Second {
		t.Errorf("a task whose worker died waits %v", got)
	}
}

// TestNetworkPause: a pause holds for the whole deployment with its
// reason, a later one replaces it, and it ends by itself.
func TestNetworkPause(t *testing.T) {
	opt := jobstest.Redis(t)
	rdb := opt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	l := NewRateLimiter(rdb, nil)
	ctx := t.Context()
	if wait, reason, err := l.Paused(ctx, social.X); err != nil || wait != 0 || reason != "" {
		t.Fatalf("Paused before any pause = %v, %q, %v; want 0", wait, reason, err)
	}
	if err := l.Pause(ctx, social.X, time.Hour, "usage cap"); err != nil {
		t.Fatal(err)
	}
	if wait, reason, err := l.Paused(ctx, social.X); err != nil || wait < 59*time.Minute || wait > time.Hour || reason != "usage cap" {
		t.Errorf("Paused = %v, %q, %v; want about an hour for the usage cap", wait, reason, err)
	}
	if wait, _, err := l.Paused(ctx, social.LinkedIn); err != nil || wait != 0 {
		t.Errorf("another network: %v, %v; want not paused", wait, err)
	}
	if err := l.Pause(ctx, social.X, 1500*time.Millisecond, "again"); err != nil {
		t.Fatal(err)
	}
	if wait, reason, _ := l.Paused(ctx, social.X); wait > 1500*time.Millisecond || reason != "again" {
		t.Errorf("a later pause: %v, %q; want it to replace the first", wait, reason)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		wait, _, err := l.Paused(ctx, social.X)
		if err != nil {
			t.Fatal(err)
		}
		if wait == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still paused for %v after a minute", wait)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
