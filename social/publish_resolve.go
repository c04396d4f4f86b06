package social

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// How unconfirmed shares are resolved (ResolveUnconfirmed).
const (
	// unconfirmedGrace is how long after an attempt a post the network
	// does not show is taken to be absent: a request still in flight, or
	// a network slow to list a new post, has had time to show.
	unconfirmedGrace = 10 * time.Minute
	// unconfirmedWindow: shares unconfirmed for longer stay so; someone
	// has to look.
	unconfirmedWindow = 24 * time.Hour
	// clockSkew widens the search back from the attempt's start, for
	// clocks of the network and the worker that disagree.
	clockSkew = 5 * time.Minute
	// resolveBatch bounds the shares asked about per instance per run.
	resolveBatch = 50
)

// ResolveUnconfirmed asks the networks that can be asked (PostFinder)
// about the instance's unconfirmed shares of the last day: a share whose
// post is there becomes published with its remote ID and URL; one whose
// post is clearly not there unconfirmedGrace after the attempt (at once
// where the network dedupes by the share's key: KeyedPublisher) goes back
// to queued and is queued again. Shares of networks that cannot be asked,
// or whose network cannot tell (an error, a missing permission, too many
// posts to be sure), stay unconfirmed, the share's error saying why (one
// logged line when the reason changes); a revoked token also marks the
// connection needs_reconnect, which mails the member once. A network that
// answers "wait" is not asked again in the run; the others are. Every change is a
// conditional update from unconfirmed, so a member or another reconciler
// acting at the same time wins or loses cleanly.
func (s *Service) ResolveUnconfirmed(ctx context.Context, sc tenant.Scope) (published, requeued int, err error) {
	r := resolver{s: s, sc: sc, now: s.now().UTC(), busy: map[string]string{}}
	shares, err := r.due(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, sh := range shares {
		res, err := r.resolve(ctx, sh)
		switch res {
		case resolvedPublished:
			published++
		case resolvedRequeued:
			requeued++
		}
		if err != nil {
			return published, requeued, err
		}
	}
	return published, requeued, nil
}

// resolver is one ResolveUnconfirmed run over one instance.
type resolver struct {
	s   *Service
	sc  tenant.Scope
	now time.Time
	// busy are the networks (by network and server) that answered "wait"
	// in this run, with the reason: their other shares are not asked
	// again until a later run, and the shares of every other network are
	// still asked.
	busy map[string]string
}

// resolution is what a run made of one share.
type resolution int

const (
	unresolved resolution = iota
	resolvedPublished
	resolvedRequeued
)

// due reads the shares to ask about: unconfirmed within unconfirmedWindow,
// those asked longest ago (or never) first, so shares that cannot be
// settled yet do not keep the others waiting.
func (r *resolver) due(ctx context.Context) ([]Share, error) {
	var shares []Share
	err := r.sc.Collection(shareKind).Find(ctx, bson.D{{Key: "state", Value: ShareUnconfirmed}, {Key: "updated_at", Value: bson.D{{Key: "$gt", Value: r.now.Add(-unconfirmedWindow)}}}},
		&shares, options.Find().SetSort(bson.D{{Key: "checked_at", Value: 1}, {Key: "updated_at", Value: 1}}).SetLimit(resolveBatch))
	return shares, err
}

// resolve asks sh's network about its post and settles the share as the
// answer allows.
func (r *resolver) resolve(ctx context.Context, sh Share) (resolution, error) {
	n, acct, err := r.s.Account(ctx, r.sc, sh.ConnectionID)
	if err != nil {
		return unresolved, r.unsure(ctx, sh, uncheckedReason(sh, err), err)
	}
	finder, ok := n.(PostFinder)
	if !ok {
		return unresolved, r.checked(ctx, sh, nil)
	}
	key := sh.Network + " " + acct.Server
	if reason, ok := r.busy[key]; ok {
		return unresolved, r.unsure(ctx, sh, reason, nil)
	}
	attempted := attemptedAt(sh)
	pub, found, err := finder.FindPost(ctx, acct, Post{Text: sh.Text, Link: sh.TrackedURL, IdempotencyKey: sh.ID}, attempted.Add(-clockSkew))
	if err != nil {
		if errors.Is(err, ErrReconnect) {
			// As publishing does: the member is told once.
			r.s.setStatus(ctx, r.sc, sh.ConnectionID, StatusNeedsReconnect)
		}
		reason := uncheckedReason(sh, err)
		if waitAnswer(err) {
			r.busy[key] = reason
		}
		return unresolved, r.unsure(ctx, sh, reason, err)
	}
	switch {
	case found:
		return r.published(ctx, sh, pub, attempted)
	case r.now.Sub(attempted) >= unconfirmedGrace || repeatable(n, attempted, r.now):
		return r.absent(ctx, sh)
	case strings.HasPrefix(sh.Error, uncheckedLead):
		// Not there yet, within the grace period; the network answered
		// this time: an earlier reason is stale.
		return unresolved, r.checked(ctx, sh, bson.D{{Key: "error", Value: unconfirmedText}})
	default: // not there yet, within the grace period
		return unresolved, r.checked(ctx, sh, nil)
	}
}

// repeatable says whether a post that n does not show can be sent again
// now without the risk of a second post: n dedupes by the share's key
// (KeyedPublisher), and the repeat comes well within the key's window
// (half of it, for the time the repeat may wait in the queue).
func repeatable(n Network, attempted, now time.Time) bool {
	k, ok := n.(KeyedPublisher)
	return ok && now.Sub(attempted) < k.IdempotencyWindow()/2
}

// attemptedAt is when sh's last publishing attempt started.
func attemptedAt(sh Share) time.Time {
	if sh.AttemptedAt != nil {
		return *sh.AttemptedAt
	}
	return sh.UpdatedAt.Add(-leaseTime)
}

// published settles sh as published: the network has its post.
func (r *resolver) published(ctx context.Context, sh Share, pub Published, attempted time.Time) (resolution, error) {
	at := pub.At
	if at.IsZero() {
		at = attempted
	}
	ok, err := r.s.transition(ctx, r.sc, sh.ID, shareMove{From: []ShareState{ShareUnconfirmed}, To: SharePublished,
		Set: bson.D{{Key: "remote_id", Value: pub.RemoteID}, {Key: "post_url", Value: pub.URL}, {Key: "published_at", Value: at.UTC()},
			{Key: "error", Value: ""}, {Key: "updated_at", Value: r.now}}})
	if err != nil || !ok {
		return unresolved, err
	}
	r.s.sharePublished(ctx, r.sc, sh.ID)
	return resolvedPublished, nil
}

// absent puts sh back in the queue: the network has no post, well after
// the attempt.
func (r *resolver) absent(ctx context.Context, sh Share) (resolution, error) {
	ok, err := r.s.transition(ctx, r.sc, sh.ID, shareMove{From: []ShareState{ShareUnconfirmed}, To: ShareQueued,
		Set: bson.D{{Key: "error", Value: "the network did not receive the post; trying again"}, {Key: "updated_at", Value: r.now}}})
	if err != nil || !ok {
		return unresolved, err
	}
	if r.s.enqueue != nil {
		if err := r.s.enqueue(ctx, r.sc, sh.ID, sh.PublishAt); err != nil {
			// Queued in the database: the reconciler queues it again.
			r.s.log.WarnContext(ctx, "share not queued", "share_id", sh.ID, "err", err)
		}
	}
	return resolvedRequeued, nil
}

// checked records that sh was asked about now, with more fields to set.
func (r *resolver) checked(ctx context.Context, sh Share, more bson.D) error {
	_, err := r.s.annotate(ctx, r.sc, sh.ID, ShareUnconfirmed, append(bson.D{{Key: "checked_at", Value: r.now}}, more...))
	return err
}

// unsure records why the network could not tell this time, logged once
// while the reason stays the same: at warn for an error of no known
// class, else at info.
func (r *resolver) unsure(ctx context.Context, sh Share, reason string, err error) error {
	level := slog.LevelInfo
	var nerr *Error
	if err != nil && !errors.As(err, &nerr) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrDisabled) &&
		!errors.Is(err, ErrReconnect) && !errors.Is(err, ErrBroken) && !errors.Is(err, ErrNetworkNotAllowed) &&
		!errors.Is(err, ErrServerNotAllowed) {
		level = slog.LevelWarn
	}
	if reason == sh.Error {
		level = slog.LevelDebug
	}
	r.s.log.Log(ctx, level, "unconfirmed share not checked", "share_id", sh.ID, "network", sh.Network, "reason", reason, "err", err)
	return r.checked(ctx, sh, bson.D{{Key: "error", Value: reason}})
}

// uncheckedLead begins every reason a check could not settle a share.
const uncheckedLead = "We could not check with "

// waitAnswer reports whether a network told Chorus to wait (a rate limit):
// nothing more is asked of it in the run.
func waitAnswer(err error) bool {
	var nerr *Error
	return errors.As(err, &nerr) && nerr.Class == ErrRetryLater && (nerr.Status == http.StatusTooManyRequests || nerr.RetryAfter > 0)
}

// uncheckedReason is what the member is told about an unconfirmed share
// whose network could not say whether the post went out.
func uncheckedReason(sh Share, err error) string {
	lead := uncheckedLead + networkTitle(sh.Network) + " whether the post went out: "
	var nerr *Error
	isNet := errors.As(err, &nerr)
	switch {
	case errors.Is(err, ErrReconnect), errors.Is(err, ErrBroken):
		return lead + "reconnect your account, and Chorus checks again"
	case errors.Is(err, ErrDisabled), errors.Is(err, ErrNetworkNotAllowed):
		return lead + "your company no longer allows this network"
	case errors.Is(err, ErrServerNotAllowed):
		return lead + "your company no longer allows this account's server"
	case errors.Is(err, ErrNotFound):
		return lead + "the connection is gone"
	case sh.TrackedURL == "":
		return lead + "the share has no tracked link to look for"
	case waitAnswer(err):
		return lead + "the network asked us to wait; Chorus checks again later"
	case isNet && nerr.Class == ErrPermanent && (nerr.Status == 0 || nerr.Status == http.StatusUnauthorized || nerr.Status == http.StatusForbidden):
		return lead + "Chorus lacks the permission to read your posts"
	case isNet && nerr.Class == ErrPermanent && nerr.Message != "":
		return lead + "the network refused to list your posts (" + nerr.Message + ")"
	case isNet && nerr.Class == ErrRetryLater && nerr.Status == 0 && nerr.Err == nil && nerr.Message != "":
		// The connector's own doubt, such as too many posts since.
		return lead + nerr.Message + "; Chorus checks again later"
	default:
		return lead + "the network did not answer; Chorus checks again later"
	}
}
