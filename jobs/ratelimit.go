package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/social"
)

// RateLimiter keeps the networks' publishing limits (social.Limits) as
// token buckets in Redis: one per instance and network, one per
// connection, under keys that start with the instance
// ("rate:t:<instance>:publish:<network>[:<connection>]"), so no instance
// can spend another's budget. The buckets are GCRA (redis_rate): one
// atomic script per check, no background refill.
//
// It also keeps the networks paused for the operator (social.Pauses), one
// key per network for the whole deployment ("rate:paused:<network>"),
// expiring with the pause: the app a network refuses is the deployment's,
// not an instance's.
type RateLimiter struct {
	rdb     redis.UniversalClient
	limiter *redis_rate.Limiter
	limits  map[string]social.Limits
}

var _ social.Pauses = (*RateLimiter)(nil)

// NewRateLimiter returns a limiter over rdb with limits per network name.
func NewRateLimiter(rdb redis.UniversalClient, limits map[string]social.Limits) *RateLimiter {
	return &RateLimiter{rdb: rdb, limiter: redis_rate.NewLimiter(rdb), limits: limits}
}

func pauseKey(network string) string { return "rate:paused:" + network }

// Pause pauses network for d (at least a second) with reason. A later
// pause replaces an earlier one: the network's latest answer says best.
func (r *RateLimiter) Pause(ctx context.Context, network string, d time.Duration, reason string) error {
	return r.rdb.Set(ctx, pauseKey(network), reason, max(d, time.Second)).Err()
}

// Paused says how long network stays paused (0: not paused) and why.
func (r *RateLimiter) Paused(ctx context.Context, network string) (time.Duration, string, error) {
	pipe := r.rdb.Pipeline()
	get := pipe.Get(ctx, pauseKey(network))
	ttl := pipe.PTTL(ctx, pauseKey(network))
	if _, err := pipe.Exec(ctx); errors.Is(err, redis.Nil) {
		return 0, "", nil
	} else if err != nil {
		return 0, "", err
	}
	return max(ttl.Val(), 0), get.Val(), nil
}

// Wait takes a token for one post through connection of network in
// instance from both buckets and returns 0, or, when a bucket is empty,
// how long until it holds one again (the share waits that long). A token
// taken from the instance's bucket is not given back when the
// connection's is empty: the limits err on the side of the network.
func (r *RateLimiter) Wait(ctx context.Context, instance, network, connection string) (time.Duration, error) {
	l := r.limits[network]
	prefix := "t:" + instance + ":publish:" + network
	for _, b := range []struct {
		key  string
		rate social.Rate
	}{{prefix, l.PerInstance}, {prefix + ":" + connection, l.PerConnection}} {
		if b.rate.N <= 0 || b.rate.Per <= 0 {
			continue
		}
		res, err := r.limiter.Allow(ctx, b.key, redis_rate.Limit{Rate: b.rate.N, Burst: b.rate.N, Period: b.rate.Per})
		if err != nil {
			return 0, err
		}
		if res.Allowed == 0 {
			return max(res.RetryAfter, time.Second), nil
		}
	}
	return 0, nil
}
