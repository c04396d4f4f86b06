package social

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
)

// Service manages the whitelist, connections and their tokens.
type Service struct {
	networks   *Registry
	keys       *Keyring
	baseURL    *url.URL
	client     *http.Client
	log        *slog.Logger
	now        func() time.Time
	onDisallow func(ctx context.Context, sc tenant.Scope, network string) error
	content    *content.Service
	enqueue    func(ctx context.Context, sc tenant.Scope, shareID string, at time.Time) error
	notify     func(ctx context.Context, sc tenant.Scope, memberID, subject, text string) error
	published  func(ctx context.Context, sc tenant.Scope, shareID string)
	throttle   func(ctx context.Context, sc tenant.Scope, network, connectionID string) (time.Duration, error)
	dequeue    func(ctx context.Context, sc tenant.Scope, shareIDs []string) error
	pauses     Pauses
	outcome    func(network string, outcome PublishOutcome)
	// refreshes runs one token refresh per connection in this process; a
	// lease on the connection document serialises processes.
	refreshes singleflight.Group
}

// Config configures a Service.
type Config struct {
	// Networks are the networks this deployment serves.
	Networks *Registry
	// Keys encrypt tokens at rest (CHORUS_TOKEN_KEYS).
	Keys *Keyring
	// BaseURL is the public URL of the deployment: OAuth redirects come
	// back to it, and the callback sends the member to its app.
	BaseURL *url.URL
	// HTTPClient makes the OAuth token requests; nil is a client with a
	// 30-second timeout.
	HTTPClient *http.Client
	Log        *slog.Logger
	Now        func() time.Time
	// OnNetworkDisallowed runs when admins un-whitelist a network, after its
	// connections were disabled. The publishing code sets it to cancel the
	// instance's pending shares to that network.
	OnNetworkDisallowed func(ctx context.Context, sc tenant.Scope, network string) error
	// Content checks that shared content is still shareable.
	Content *content.Service
	// Notify mails a member (cmd: the configured mailer); nil tells nobody.
	Notify func(ctx context.Context, sc tenant.Scope, memberID, subject, text string) error
	// Enqueue queues a share's publication at a time, deduplicated by the
	// share's ID (cmd: an Asynq task whose TaskID is the share ID).
	Enqueue func(ctx context.Context, sc tenant.Scope, shareID string, at time.Time) error
	// OnPublished is told each share that became published (the reach
	// rollups count it); nil tells nobody.
	OnPublished func(ctx context.Context, sc tenant.Scope, shareID string)
	// Throttle takes a token for one post through a connection of the
	// network and says how long to wait when none is left (0: go ahead);
	// cmd: jobs.RateLimiter's buckets in Redis. nil: no limits.
	Throttle func(ctx context.Context, sc tenant.Scope, network, connectionID string) (time.Duration, error)
	// Dequeue deletes the waiting publication tasks of cancelled shares
	// (cmd: Asynq tasks by ID, the share's). A task it misses finds its
	// share cancelled and posts nothing. nil: tasks are left to run out.
	Dequeue func(ctx context.Context, sc tenant.Scope, shareIDs []string) error
	// Pauses holds networks paused for the operator (ErrOperator) across
	// the deployment; nil: a network that refuses Chorus's app is not
	// paused, each share just waits OperatorPause.
	Pauses Pauses
	// OnPublishOutcome is told what each call to a network to publish a
	// share came to (cmd counts them per network); nil tells nobody.
	OnPublishOutcome func(network string, outcome PublishOutcome)
}

// PublishOutcome is what one attempt to publish a share through its
// network came to.
type PublishOutcome string

// The outcomes of a publishing attempt.
const (
	OutcomePublished   PublishOutcome = "published"   // the network has the post
	OutcomeFailed      PublishOutcome = "failed"      // refused for good, or the account needs reconnecting
	OutcomeRetried     PublishOutcome = "retried"     // the network asked to wait; queued again
	OutcomePaused      PublishOutcome = "paused"      // the network refuses the deployment's app; queued until the operator acts
	OutcomeUnconfirmed PublishOutcome = "unconfirmed" // the network may have it; never posted again automatically
	OutcomeCancelled   PublishOutcome = "cancelled"   // the network or server is no longer allowed
)

// NewService returns a Service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Networks == nil {
		cfg.Networks = &Registry{}
	}
	return &Service{networks: cfg.Networks, keys: cfg.Keys, baseURL: cfg.BaseURL, client: cfg.HTTPClient,
		log: cfg.Log, now: cfg.Now, onDisallow: cfg.OnNetworkDisallowed, content: cfg.Content, enqueue: cfg.Enqueue, notify: cfg.Notify,
		published: cfg.OnPublished, throttle: cfg.Throttle, dequeue: cfg.Dequeue, pauses: cfg.Pauses,
		outcome: cfg.OnPublishOutcome}
}

// Kinds are the tenant kinds social keeps, for tenant.StoreConfig:
// networks (the whitelist), connections, oauth_states (pending OAuth
// flows, 10 minutes), oauth_apps (Chorus's app registered on each
// Mastodon server this instance's members use), shares, clicks,
// share_requests (Idempotency-Key claims, see keyClaim) and links (tracked
// links, see TrackedLink).
func Kinds() []tenant.Kind {
	return []tenant.Kind{networkKind, connectionKind, stateKind, appKind, shareKind, clickKind, claimKind, linkKind}
}

func (s *Service) network(name string) (Network, error) {
	n, ok := s.networks.Get(name)
	if !ok && slices.Contains(Names, name) {
		return nil, ErrNotConfigured
	}
	if !ok {
		return nil, ErrUnknownNetwork
	}
	return n, nil
}

func (s *Service) timestamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// isNotFound reports tenant's not-found.
func isNotFound(err error) bool { return errors.Is(err, tenant.ErrNotFound) }
