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
// post is clearly not there unconfirmedGrace after the attempt goes back
// to queued and is queued again. Shares of networks that cannot be asked,
// or whose network cannot tell (an error, a missing permission, too many
// posts to be sure), stay unconfirmed, the share's error saying why (one
// logged line when the reason changes); a revoked token also marks the
// connection needs_reconnect, which mails the member once. A network that
// answers "wait" is not asked again in the run; the others are. Every change is a
// conditional update from unconfirmed, so a member or another reconciler
// acting at the same time wins or loses cleanly.
func (s *Service) ResolveUnconfirmed(ctx context.Context, sc tenant.Scope) (published, requeued int, err error) {
	now := s.now().UTC()
	coll := sc.Collection(shareKind)
	var shares []Share
	// Those asked longest ago (or never) first, so shares that cannot be
	// settled yet do not keep the others waiting.
	if err := coll.Find(ctx, bson.D{{Key: "state", Value: ShareUnconfirmed}, {Key: "updated_at", Value: bson.D{{Key: "$gt", Value: now.Add(-unconfirmedWindow)}}}},
		&shares, options.Find().SetSort(bson.D{{Key: "checked_at", Value: 1}, {Key: "updated_at", Value: 1}}).SetLimit(resolveBatch)); err != nil {
		return 0, 0, err
	}
	// Networks that answered "wait" in this run (by network and server):
	// their other shares are not asked again until a later run, and the
	// shares of every other network are still asked.
	busy := map[string]string{}
	for _, sh := range shares {
		mine := bson.D{{Key: "_id", Value: sh.ID}, {Key: "state", Value: ShareUnconfirmed}}
		checked := func() error {
			_, err := coll.Update(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "checked_at", Value: now}}}})
			return err
		}
		// unsure records why the network could not tell this time, logged
		// once while the reason stays the same: at warn for an error of
		// no known class, else at info.
		unsure := func(reason string, err error) error {
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
			s.log.Log(ctx, level, "unconfirmed share not checked", "share_id", sh.ID, "network", sh.Network, "reason", reason, "err", err)
			_, uerr := coll.Update(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "checked_at", Value: now}, {Key: "error", Value: reason}}}})
			return uerr
		}
		n, acct, err := s.Account(ctx, sc, sh.ConnectionID)
		if err != nil {
			if err := unsure(uncheckedReason(sh, err), err); err != nil {
				return published, requeued, err
			}
			continue
		}
		finder, ok := n.(PostFinder)
		if !ok {
			if err := checked(); err != nil {
				return published, requeued, err
			}
			continue
		}
		key := sh.Network + " " + acct.Server
		if reason, ok := busy[key]; ok {
			if err := unsure(reason, nil); err != nil {
				return published, requeued, err
			}
			continue
		}
		attempted := sh.UpdatedAt.Add(-leaseTime)
		if sh.AttemptedAt != nil {
			attempted = *sh.AttemptedAt
		}
		pub, found, err := finder.FindPost(ctx, acct, Post{Text: sh.Text, Link: sh.TrackedURL, IdempotencyKey: sh.ID}, attempted.Add(-clockSkew))
		if err != nil {
			if errors.Is(err, ErrReconnect) {
				// As publishing does: the member is told once.
				s.setStatus(ctx, sc, sh.ConnectionID, StatusNeedsReconnect)
			}
			reason := uncheckedReason(sh, err)
			if waitAnswer(err) {
				busy[key] = reason
			}
			if err := unsure(reason, err); err != nil {
				return published, requeued, err
			}
			continue
		}
		switch {
		case found:
			at := pub.At
			if at.IsZero() {
				at = attempted
			}
			ok, err := coll.Update(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: SharePublished},
				{Key: "remote_id", Value: pub.RemoteID}, {Key: "post_url", Value: pub.URL}, {Key: "published_at", Value: at.UTC()},
				{Key: "error", Value: ""}, {Key: "updated_at", Value: now}}}})
			if err != nil {
				return published, requeued, err
			}
			if ok {
				published++
				s.sharePublished(ctx, sc, sh.ID)
			}
		case now.Sub(attempted) >= unconfirmedGrace:
			ok, err := coll.Update(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: ShareQueued},
				{Key: "error", Value: "the network did not receive the post; trying again"}, {Key: "updated_at", Value: now}}}})
			if err != nil {
				return published, requeued, err
			}
			if !ok {
				continue
			}
			requeued++
			if s.enqueue != nil {
				if err := s.enqueue(ctx, sc, sh.ID, sh.PublishAt); err != nil {
					// Queued in the database: the reconciler queues it again.
					s.log.WarnContext(ctx, "share not queued", "share_id", sh.ID, "err", err)
				}
			}
		default: // not there yet, within the grace period
			if strings.HasPrefix(sh.Error, uncheckedLead) {
				// The network answered this time: an earlier reason is stale.
				if _, err := coll.Update(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "checked_at", Value: now}, {Key: "error", Value: unconfirmedText}}}}); err != nil {
					return published, requeued, err
				}
				continue
			}
			if err := checked(); err != nil {
				return published, requeued, err
			}
		}
	}
	return published, requeued, nil
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
