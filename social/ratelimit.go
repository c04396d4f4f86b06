package social

import (
	"errors"
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
// per post); LinkedIn 150 member posts a day; X's Basic tier 100 posts a
// day per user; Facebook's 200 calls per user an hour. Instances get a
// tenth of an app-wide budget (LinkedIn 100,000 a day, X 10,000 a day) or,
// where the limit is per account only, a ceiling that keeps one instance
// from flooding a server.
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
