package social

import (
	"context"
	"errors"
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
// or whose network does not answer, stay unconfirmed. Every change is a
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
	for _, sh := range shares {
		mine := bson.D{{Key: "_id", Value: sh.ID}, {Key: "state", Value: ShareUnconfirmed}}
		checked := func() error {
			_, err := coll.Update(ctx, mine, bson.D{{Key: "$set", Value: bson.D{{Key: "checked_at", Value: now}}}})
			return err
		}
		n, acct, err := s.Account(ctx, sc, sh.ConnectionID)
		if err != nil {
			if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrDisabled) && !errors.Is(err, ErrNeedsReconnect) && !errors.Is(err, ErrBroken) && !errors.Is(err, ErrNetworkNotAllowed) {
				s.log.WarnContext(ctx, "unconfirmed share not checked", "share_id", sh.ID, "err", err)
			}
			if err := checked(); err != nil {
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
		attempted := sh.UpdatedAt.Add(-leaseTime)
		if sh.AttemptedAt != nil {
			attempted = *sh.AttemptedAt
		}
		pub, found, err := finder.FindPost(ctx, acct, Post{Text: sh.Text, Link: sh.TrackedURL, IdempotencyKey: sh.ID}, attempted.Add(-clockSkew))
		if err != nil {
			s.log.WarnContext(ctx, "unconfirmed share not checked", "share_id", sh.ID, "err", err)
			if err := checked(); err != nil {
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
			if err := checked(); err != nil {
				return published, requeued, err
			}
		}
	}
	return published, requeued, nil
}
