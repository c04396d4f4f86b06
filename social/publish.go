package social

import (
	"context"
	"errors"
	"fmt"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"net/url"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
)

// leaseTime bounds one publishing attempt; past it, a share still
// "publishing" is taken to have crashed mid-call (unconfirmed).
const leaseTime = 2 * time.Minute

// unconfirmedText is an unconfirmed share's error until a check says more.
const unconfirmedText = "the network may have received this post but did not confirm it; it is not posted again"

// RetryError asks the job runner to try again after Delay.
type RetryError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.Delay, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// PublishShare publishes a share (the share:publish job). It takes the
// share from queued (or due scheduled) to publishing with a lease, calls
// the network once, and records the outcome: published; failed with a
// reason; unconfirmed when the network may have received it (never posted
// again automatically); back to queued with a *RetryError for a retry-later
// answer. A share in any other state is left alone, so a duplicate task
// posts nothing.
func (s *Service) PublishShare(ctx context.Context, sc tenant.Scope, id string) error {
	var sh Share
	if err := sc.Collection(shareKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &sh); err != nil {
		return err
	}
	now := s.now().UTC()
	if sh.State != ShareQueued && sh.State != ShareScheduled {
		return nil
	}
	if sh.PublishAt.After(now) {
		// Asynq keeps whole seconds: never start early.
		return &RetryError{Delay: sh.PublishAt.Sub(now), Err: errors.New("not due yet")}
	}
	// Member, content and whitelist are checked again: any may have
	// changed since the share was made.
	reason, err := s.blocker(ctx, sc, sh)
	if err != nil {
		return err
	}
	if reason != "" {
		ok, err := s.transition(ctx, sc, id, shareMove{From: pendingStates, To: ShareCancelled,
			Set: bson.D{{Key: "error", Value: reason}, {Key: "updated_at", Value: now}}})
		if ok {
			s.shareEnded(ctx, sc, sh)
		}
		return err
	}
	if wait, reason := s.paused(ctx, sh.Network); wait > 0 {
		// Not one request while the operator has not acted: the share
		// waits, saying why.
		if _, err := s.annotate(ctx, sc, id, sh.State, bson.D{{Key: "error", Value: pausedText(sh.Network, reason)}, {Key: "updated_at", Value: now}}); err != nil {
			return err
		}
		return &RetryError{Delay: wait, Err: ErrNetworkPaused}
	}
	if s.throttle != nil {
		wait, err := s.throttle(ctx, sc, sh.Network, sh.ConnectionID)
		if err != nil {
			s.log.WarnContext(ctx, "publishing limits unavailable; publishing without them", "share_id", id, "err", err)
		} else if wait > 0 {
			return &RetryError{Delay: wait, Err: ErrRateLimited}
		}
	}
	attempt := httpapi.NewID()
	lease := now.Add(leaseTime)
	ok, err := s.transition(ctx, sc, id, shareMove{From: pendingStates, To: SharePublishing,
		Set:  bson.D{{Key: "attempt_id", Value: attempt}, {Key: "lease_until", Value: lease}, {Key: "attempted_at", Value: now}, {Key: "updated_at", Value: now}},
		Also: bson.D{{Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}}}})
	if err != nil || !ok {
		return err // another worker took it, or it was cancelled
	}
	link, _ := url.Parse(sh.TrackedURL)
	pub, perr := s.Publish(ctx, sc, sh.ConnectionID, Post{Text: sh.Text, Link: link.String(), IdempotencyKey: sh.ID})
	if s.outcome != nil {
		s.outcome(sh.Network, outcomeOf(perr))
	}
	return s.record(ctx, sc, sh, attempt, pub, perr)
}

// record settles a publishing attempt as the network's answer says (see
// outcomeOf): a *RetryError when the share waits in queued.
func (s *Service) record(ctx context.Context, sc tenant.Scope, sh Share, attempt string, pub Published, perr error) error {
	var nerr *Error
	switch {
	case perr == nil:
		at := pub.At
		if at.IsZero() {
			at = s.now().UTC()
		}
		if err := s.settle(ctx, sc, sh, attempt, SharePublished, bson.D{{Key: "remote_id", Value: pub.RemoteID},
			{Key: "post_url", Value: pub.URL}, {Key: "published_at", Value: at}, {Key: "error", Value: ""}}); err != nil {
			return err
		}
		s.sharePublished(ctx, sc, sh.ID)
		return nil
	case errors.Is(perr, ErrAmbiguous):
		return s.settle(ctx, sc, sh, attempt, ShareUnconfirmed, bson.D{{Key: "error", Value: unconfirmedText}})
	case errors.Is(perr, ErrOperator):
		delay, msg := OperatorPause, ""
		if errors.As(perr, &nerr) {
			msg = nerr.Message
			if nerr.RetryAfter > 0 {
				delay = nerr.RetryAfter
			}
		}
		s.pause(ctx, sh.Network, delay, msg, perr)
		if err := s.settle(ctx, sc, sh, attempt, ShareQueued, bson.D{{Key: "error", Value: pausedText(sh.Network, msg)}}); err != nil {
			return err
		}
		return &RetryError{Delay: delay, Err: perr}
	case errors.Is(perr, ErrRetryLater):
		delay := 30 * time.Second
		if errors.As(perr, &nerr) && nerr.RetryAfter > 0 {
			delay = nerr.RetryAfter
		}
		if err := s.settle(ctx, sc, sh, attempt, ShareQueued, bson.D{{Key: "error", Value: "the network asked to wait; retrying"}}); err != nil {
			return err
		}
		return &RetryError{Delay: delay, Err: perr}
	case errors.Is(perr, ErrReconnect), errors.Is(perr, ErrBroken):
		return s.settle(ctx, sc, sh, attempt, ShareFailed, bson.D{{Key: "error", Value: "needs_reconnect: connect the account again"}})
	case errors.Is(perr, ErrDisabled):
		return s.settle(ctx, sc, sh, attempt, ShareCancelled, bson.D{{Key: "error", Value: "the network is no longer allowed by your company"}})
	case errors.Is(perr, ErrServerNotAllowed):
		return s.settle(ctx, sc, sh, attempt, ShareCancelled, bson.D{{Key: "error", Value: "your company no longer allows this account's server"}})
	default:
		return s.settle(ctx, sc, sh, attempt, ShareFailed, bson.D{{Key: "error", Value: failureText(perr)}})
	}
}

// settle moves sh from publishing to to, if attempt still holds it, and
// ends its lease; a share that failed or was cancelled leaves its
// content's counters. It writes whatever became of ctx: the network has
// answered.
func (s *Service) settle(ctx context.Context, sc tenant.Scope, sh Share, attempt string, to ShareState, fields bson.D) error {
	ok, err := s.transition(context.WithoutCancel(ctx), sc, sh.ID, shareMove{From: []ShareState{SharePublishing}, To: to, Attempt: attempt,
		Set: fields, Also: bson.D{{Key: "$unset", Value: bson.D{{Key: "lease_until", Value: ""}}}}})
	if ok && !to.live() {
		s.shareEnded(ctx, sc, sh)
	}
	return err
}

// pausedText is what a member is told about a share waiting for the
// operator.
func pausedText(network, reason string) string {
	text := "waiting: " + network + " refuses this deployment's app until its operator acts; the share is posted once they have"
	if reason != "" {
		text += " (" + network + ": " + reason + ")"
	}
	return text
}

// outcomeOf names what a network's answer to a publication came to, as
// PublishShare records it.
func outcomeOf(perr error) PublishOutcome {
	switch {
	case perr == nil:
		return OutcomePublished
	case errors.Is(perr, ErrAmbiguous):
		return OutcomeUnconfirmed
	case errors.Is(perr, ErrOperator):
		return OutcomePaused
	case errors.Is(perr, ErrRetryLater):
		return OutcomeRetried
	case errors.Is(perr, ErrDisabled), errors.Is(perr, ErrServerNotAllowed):
		return OutcomeCancelled
	}
	return OutcomeFailed
}

// blocker says why a share may not be published any more, or "".
func (s *Service) blocker(ctx context.Context, sc tenant.Scope, sh Share) (string, error) {
	// Removal and erasure cancel a member's shares; a share that escaped
	// them (a task already running) still never posts for someone who
	// left.
	m, err := sc.Member(ctx, sh.MemberID)
	switch {
	case errors.Is(err, tenant.ErrNotFound):
		return "the member is no longer in the company", nil
	case err != nil:
		return "", err
	}
	if s.content != nil {
		// The rule of share creation (content.ShareableBy): a post
		// re-aimed away from the member since is as gone to them as an
		// archived one, and says no more.
		switch _, err := s.content.ShareableBy(ctx, sc, m, sh.ContentID); {
		case errors.Is(err, content.ErrNotFound), errors.Is(err, content.ErrNotShareable):
			return "the content is no longer published", nil
		case err != nil:
			return "", err
		}
	}
	if _, err := s.whitelisted(ctx, sc, sh.Network); err != nil {
		return "the network is no longer allowed by your company", nil
	}
	return "", nil
}

// failureText is what the member is told about a permanent failure.
func failureText(err error) string {
	var nerr *Error
	if errors.As(err, &nerr) && nerr.Message != "" {
		return "the network refused the post: " + nerr.Message
	}
	return "the post could not be published"
}

// sharePublished tells the OnPublished hook.
func (s *Service) sharePublished(ctx context.Context, sc tenant.Scope, id string) {
	if s.published != nil {
		s.published(context.WithoutCancel(ctx), sc, id)
	}
}
