package social

import (
	"cmp"
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
)

// This file is what reach measurement (social/reach) needs of shares and
// clicks: hooks into publishing and click recording, and read access to
// the raw data its rollups are built from.

// Engagement is what a network counts on a published post.
type Engagement struct {
	Reactions int64 `bson:"reactions" json:"reactions"`
	Comments  int64 `bson:"comments" json:"comments"`
	Reposts   int64 `bson:"reposts" json:"reposts"`
}

// MetricsReader is a Network that can read a published post's engagement
// (optional; networks without it report no engagement).
type MetricsReader interface {
	// Metrics reads the post's current counts.
	Metrics(ctx context.Context, a Account, remoteID string) (Engagement, error)
}

// ErrNoMetrics: the share's network offers no engagement metrics.
var ErrNoMetrics = errors.New("the network offers no post metrics")

// ClickHook is told about every batch of clicks the recorder writes, per
// instance: PrepareClicks before the batch is stored (it may set each
// click's Visitor), ClicksRecorded after. It runs on the recorder's
// goroutine, off the request path.
type ClickHook interface {
	PrepareClicks(ctx context.Context, sc tenant.Scope, clicks []Click)
	ClicksRecorded(ctx context.Context, sc tenant.Scope, clicks []Click)
}

// SetClickHook installs h; call it before the redirector serves.
func (r *Redirector) SetClickHook(h ClickHook) { r.hook = h }

func (r *Redirector) insertClicks(ctx context.Context, sc tenant.Scope, clicks []Click) error {
	if r.hook != nil {
		r.hook.PrepareClicks(ctx, sc, clicks)
	}
	if err := sc.Collection(clickKind).Insert(ctx, newClickBatch(clicks)); err != nil {
		return err
	}
	r.countClicks(ctx, sc, clicks)
	if r.hook != nil {
		r.hook.ClicksRecorded(ctx, sc, clicks)
	}
	return nil
}

// countClicks adds a stored batch's clicks to the counters of its shares
// and contents: two bulk writes of keyed $inc updates, one document per
// share and content of the batch. The batch is stored whatever happens
// here (a retry would count it twice); a failure is logged, and the
// analytics, which have their own totals, are not affected.
func (r *Redirector) countClicks(ctx context.Context, sc tenant.Scope, clicks []Click) {
	byShare, byContent := map[string]int64{}, map[string]int64{}
	for _, c := range clicks {
		byShare[c.ShareID]++
		if c.ContentID != "" {
			byContent[c.ContentID]++
		}
	}
	ops := make([]tenant.Upsert, 0, len(byShare))
	for id, n := range byShare {
		ops = append(ops, tenant.Upsert{Filter: bson.D{{Key: "_id", Value: id}},
			Update: bson.D{{Key: "$inc", Value: bson.D{{Key: "clicks", Value: n}}}}})
	}
	err := sc.Collection(shareKind).BulkUpdate(ctx, ops)
	if err == nil {
		err = content.CountClicks(ctx, sc, byContent)
	}
	if err != nil {
		r.log.Warn("click counters of shares and contents not updated", "tenant_id", sc.InstanceID(), "count", len(clicks), "err", err)
	}
}

// sharePublished tells the OnPublished hook.
func (s *Service) sharePublished(ctx context.Context, sc tenant.Scope, id string) {
	if s.published != nil {
		s.published(context.WithoutCancel(ctx), sc, id)
	}
}

// ShareByID returns one share of the instance, whoever's.
func ShareByID(ctx context.Context, sc tenant.Scope, id string) (Share, error) {
	var sh Share
	err := sc.Collection(shareKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &sh)
	return sh, err
}

// SharesByID returns the instance's shares with the given IDs (one query).
func SharesByID(ctx context.Context, sc tenant.Scope, ids []string) (map[string]Share, error) {
	var shares []Share
	if err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &shares); err != nil {
		return nil, err
	}
	out := make(map[string]Share, len(shares))
	for _, sh := range shares {
		out[sh.ID] = sh
	}
	return out, nil
}

// SharesPublishedSince returns the instance's shares published at or
// after since, oldest first, whatever became of them later (a post
// deleted when its member was erased still counts).
func SharesPublishedSince(ctx context.Context, sc tenant.Scope, since time.Time) ([]Share, error) {
	var shares []Share
	err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "published_at", Value: bson.D{{Key: "$gte", Value: since}}}}, &shares,
		options.Find().SetSort(bson.D{{Key: "published_at", Value: 1}}))
	return shares, err
}

// EachPublishedSince hands fn the instance's shares in state published
// that were published at or after since, in pages, walking the {state,
// updated_at} index (a share's updated_at is set when it becomes
// published and, for a published share, not after), never the whole
// collection.
func EachPublishedSince(ctx context.Context, sc tenant.Scope, since time.Time, fn func([]Share) error) error {
	// An hour before since: a network whose clock runs ahead dates the
	// post after Chorus's updated_at.
	return walkShares(ctx, sc.Collection(shareKind), bson.D{{Key: "state", Value: SharePublished},
		{Key: "updated_at", Value: bson.D{{Key: "$gte", Value: since.Add(-time.Hour)}}},
		{Key: "published_at", Value: bson.D{{Key: "$gte", Value: since}}}}, "updated_at", fn)
}

// MemberShares returns every share of a member (or of a pseudonym).
func MemberShares(ctx context.Context, sc tenant.Scope, memberID string) ([]Share, error) {
	var shares []Share
	err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "member_id", Value: memberID}}, &shares)
	return shares, err
}

// ClicksSince returns the instance's raw clicks at or after since: every
// click of the batches that end at or after since, but those before it.
func ClicksSince(ctx context.Context, sc tenant.Scope, since time.Time) ([]Click, error) {
	var batches []clickBatch
	if err := sc.Collection(clickKind).Find(ctx, bson.D{{Key: "at_max", Value: bson.D{{Key: "$gte", Value: since}}}}, &batches); err != nil {
		return nil, err
	}
	var clicks []Click
	for _, b := range batches {
		all, err := b.clicks()
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if !c.At.Before(since) {
				clicks = append(clicks, c)
			}
		}
	}
	return clicks, nil
}

// InsertClicks stores raw clicks as one batch, as the recorder does,
// without the hook (operator tools and benchmarks that load history).
func InsertClicks(ctx context.Context, sc tenant.Scope, clicks []Click) error {
	if len(clicks) == 0 {
		return nil
	}
	return sc.Collection(clickKind).Insert(ctx, newClickBatch(clicks))
}

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

// IsBot reports whether a User-Agent is a link-preview bot or crawler,
// whose visits are not clicks.
func IsBot(ua string) bool { return isBot(ua) }

// ConnectedMembers returns the members who have at least one active
// connection now, through the {status, expires_at} index: one document
// per active connection, a handful per member at most.
func ConnectedMembers(ctx context.Context, sc tenant.Scope) (map[string]bool, error) {
	var cs []struct {
		MemberID string `bson:"member_id"`
	}
	err := sc.Collection(connectionKind).Find(ctx, bson.D{{Key: "status", Value: StatusActive}}, &cs,
		options.Find().SetProjection(bson.D{{Key: "member_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(cs))
	for _, c := range cs {
		out[c.MemberID] = true
	}
	return out, nil
}
