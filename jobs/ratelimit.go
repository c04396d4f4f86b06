package jobs

import (
	"context"
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
type RateLimiter struct {
	limiter *redis_rate.Limiter
	limits  map[string]social.Limits
}

// NewRateLimiter returns a limiter over rdb with limits per network name.
func NewRateLimiter(rdb redis.UniversalClient, limits map[string]social.Limits) *RateLimiter {
	return &RateLimiter{limiter: redis_rate.NewLimiter(rdb), limits: limits}
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
