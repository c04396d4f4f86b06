package social

import (
	"cmp"
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
)

// PostMetrics reads a published share's engagement from its network:
// ErrNoMetrics when the network offers none, the connection's errors
// (ErrDisabled, ErrReconnect…) when it cannot be used. A network
// paused for the operator is not asked (ErrRetryLater until the pause
// ends); one that refuses the deployment's app (ErrOperator) is paused.
func (s *Service) PostMetrics(ctx context.Context, sc tenant.Scope, sh Share) (Engagement, error) {
	if sh.State != SharePublished || sh.RemoteID == "" {
		return Engagement{}, ErrNoMetrics
	}
	n, err := s.network(sh.Network)
	if err != nil {
		return Engagement{}, err
	}
	if wait, reason := s.paused(ctx, sh.Network); wait > 0 {
		return Engagement{}, &Error{Network: sh.Network, Op: "metrics", Class: ErrRetryLater, RetryAfter: wait,
			Message: "paused for the operator: " + reason}
	}
	mr, ok := n.(MetricsReader)
	if !ok {
		return Engagement{}, ErrNoMetrics
	}
	_, acct, err := s.Account(ctx, sc, sh.ConnectionID)
	if err != nil {
		return Engagement{}, err
	}
	e, err := mr.Metrics(ctx, acct, sh.RemoteID)
	var nerr *Error
	switch {
	case errors.Is(err, ErrReconnect):
		s.setStatus(ctx, sc, sh.ConnectionID, StatusNeedsReconnect)
	case errors.Is(err, ErrOperator) && errors.As(err, &nerr):
		s.pause(ctx, sh.Network, cmp.Or(nerr.RetryAfter, OperatorPause), nerr.Message, err)
	}
	return e, err
}

// SetEngagement replaces a share's engagement if it still is old (a
// compare-and-swap: of two refreshes, one applies the difference).
func SetEngagement(ctx context.Context, sc tenant.Scope, id string, old, now Engagement) (bool, error) {
	same := bson.D{{Key: "engagement.reactions", Value: old.Reactions}, {Key: "engagement.comments", Value: old.Comments},
		{Key: "engagement.reposts", Value: old.Reposts}}
	f := append(bson.D{{Key: "_id", Value: id}}, same...)
	if old == (Engagement{}) { // shares made before engagement was kept have none
		f = bson.D{{Key: "_id", Value: id}, {Key: "$or", Value: bson.A{same, bson.D{{Key: "engagement", Value: bson.D{{Key: "$exists", Value: false}}}}}}}
	}
	return sc.Collection(shareKind).Update(ctx, f, bson.D{{Key: "$set", Value: bson.D{{Key: "engagement", Value: now}}}})
}
