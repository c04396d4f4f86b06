package social

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rate is N events per Per, in bursts of up to N.
type Rate struct {
	N   int
	Per time.Duration
}

// Limits are Chorus's own publishing limits for a network, kept as token
// buckets (jobs.RateLimiter) so shares wait rather than fail against the
// network's limits. PerConnection keeps one account under the network's
// per-account limit; PerInstance is one company instance's share of the
// app-wide limit, so one instance cannot spend it for every other. A zero
// Rate is no limit.
type Limits struct {
	PerConnection, PerInstance Rate
}

// DefaultLimits follow the networks' documented limits: Mastodon 300
// statuses per account in 3 hours; Bluesky 5,000 write points an hour (3
// per post); LinkedIn 150 member posts a day; Facebook's 200 calls per
// user an hour. X (docs.x.com/x-api/fundamentals/rate-limits) allows
// POST /2/tweets 100 per 15 minutes per user and 10,000 per 24 hours per
// app, and bills every post ($0.200 with a URL, as a share's always has,
// docs.x.com/x-api/getting-started/pricing): Chorus keeps a member to 100
// posts a day (at most $20 a day) and an instance to a tenth of the
// app's day. Instances get a tenth of an app-wide budget (LinkedIn
// 100,000 a day, X 10,000 a day) or, where the limit is per account
// only, a ceiling that keeps one instance from flooding a server. An
// operator whose plan differs sets CHORUS_PUBLISH_LIMITS (ParseLimits).
var DefaultLimits = map[string]Limits{
	Mastodon: {PerConnection: Rate{300, 3 * time.Hour}, PerInstance: Rate{3000, time.Hour}},
	Bluesky:  {PerConnection: Rate{1000, time.Hour}, PerInstance: Rate{5000, time.Hour}},
	LinkedIn: {PerConnection: Rate{150, 24 * time.Hour}, PerInstance: Rate{10000, 24 * time.Hour}},
	X:        {PerConnection: Rate{100, 24 * time.Hour}, PerInstance: Rate{1000, 24 * time.Hour}},
	Facebook: {PerConnection: Rate{100, time.Hour}, PerInstance: Rate{2000, time.Hour}},
}

// ErrRateLimited: one of Chorus's publishing limits for the network is
// spent for now; the share waits in queued (a *RetryError carries how
// long).
var ErrRateLimited = errors.New("publishing limit for this network reached; the share waits")

// ParseLimits reads an operator's overrides of base, such as
// "x.connection=300/24h,x.instance=3000/24h,mastodon.connection=100/1h":
// comma-separated network.bucket=N/duration entries, where bucket is
// connection or instance and the duration is Go's (30m, 3h, 24h). An
// operator whose app has a higher tier at a network raises its limits this
// way. Networks not named keep base's limits; base is not changed.
func ParseLimits(s string, base map[string]Limits) (map[string]Limits, error) {
	out := maps.Clone(base)
	if out == nil {
		out = map[string]Limits{}
	}
	var errs []error
	for _, entry := range strings.Split(s, ",") {
		if entry = strings.TrimSpace(entry); entry == "" {
			continue
		}
		key, val, ok := strings.Cut(entry, "=")
		network, bucket, ok2 := strings.Cut(strings.TrimSpace(key), ".")
		if !ok || !ok2 {
			errs = append(errs, fmt.Errorf("%q: want network.connection=N/duration or network.instance=N/duration", entry))
			continue
		}
		if !slices.Contains(Names, network) {
			errs = append(errs, fmt.Errorf("%q: unknown network %q (one of %s)", entry, network, strings.Join(Names, ", ")))
			continue
		}
		r, err := parseRate(strings.TrimSpace(val))
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", entry, err))
			continue
		}
		l := out[network]
		switch bucket {
		case "connection":
			l.PerConnection = r
		case "instance":
			l.PerInstance = r
		default:
			errs = append(errs, fmt.Errorf("%q: the bucket is connection or instance, not %q", entry, bucket))
			continue
		}
		out[network] = l
	}
	return out, errors.Join(errs...)
}

// parseRate reads "N/duration" with N ≥ 1 and a duration of at least a
// second.
func parseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, errors.New("the rate is N/duration, such as 100/24h")
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 1 {
		return Rate{}, fmt.Errorf("the count must be a whole number ≥ 1, not %q", n)
	}
	d, err := time.ParseDuration(strings.TrimSpace(per))
	if err != nil || d < time.Second {
		return Rate{}, fmt.Errorf("the period must be a duration of at least 1s such as 3h, not %q", per)
	}
	return Rate{N: count, Per: d}, nil
}
