package social

import (
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// Reconcile repairs what a lost task or a crash left: shares queued (or
// due scheduled) for more than stale with no live task are queued again
// (enqueue must dedupe by share ID) unless a failed request with an
// Idempotency-Key left them (see keyClaim), and shares whose publishing lease ran
// out become unconfirmed. It returns how many of each it found.
func (s *Service) Reconcile(ctx context.Context, sc tenant.Scope, stale time.Duration) (requeued, unconfirmed int, err error) {
	now := s.now().UTC()
	coll := sc.Collection(shareKind)
	requeue := func(page []Share) error {
		page, err := s.claimed(ctx, sc, page)
		if err != nil {
			return err
		}
		for _, sh := range page {
			if s.enqueue != nil {
				if err := s.enqueue(ctx, sc, sh.ID, sh.PublishAt); err != nil {
					return err
				}
			}
			requeued++
		}
		return nil
	}
	// Each walk reads the index in pages, never the collection: queued
	// shares not touched for stale, then scheduled ones due for stale.
	old := bson.D{{Key: "$lt", Value: now.Add(-stale)}}
	if err := walkShares(ctx, coll, bson.D{{Key: "state", Value: ShareQueued}, {Key: "updated_at", Value: old}}, "updated_at", requeue); err != nil {
		return requeued, unconfirmed, err
	}
	if err := walkShares(ctx, coll, bson.D{{Key: "state", Value: ShareScheduled}, {Key: "publish_at", Value: bson.D{{Key: "$lte", Value: now}}},
		{Key: "updated_at", Value: old}}, "publish_at", requeue); err != nil {
		return requeued, unconfirmed, err
	}
	err = walkShares(ctx, coll, bson.D{{Key: "state", Value: SharePublishing}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}}}, "updated_at",
		func(page []Share) error {
			for _, sh := range page {
				ok, err := s.transition(ctx, sc, sh.ID, shareMove{From: []ShareState{SharePublishing}, To: ShareUnconfirmed, Attempt: sh.AttemptID,
					Set: bson.D{{Key: "updated_at", Value: now},
						{Key: "error", Value: "publishing was interrupted; the post may exist at the network and is not posted again"}}})
				if err != nil {
					return err
				}
				if ok {
					unconfirmed++
				}
			}
			return nil
		})
	return requeued, unconfirmed, err
}

// walkBatch is how many shares a walk reads at a time.
const walkBatch = 200

// walkShares hands fn the shares that match filter (whose first field is
// state) in pages of walkBatch, in the order of by (a time field of an
// index on {state, by}) and _id, each page read after the last one's
// position: the walk reads the index range, never the collection, and
// ends even if fn changes the shares it is handed.
func walkShares(ctx context.Context, coll *tenant.Collection, filter bson.D, by string, fn func([]Share) error) error {
	opts := options.Find().SetSort(bson.D{{Key: by, Value: 1}, {Key: "_id", Value: 1}}).SetLimit(walkBatch)
	var after bson.D
	for {
		var page []Share
		if err := coll.Find(ctx, append(slices.Clone(filter), after...), &page, opts); err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < walkBatch {
			return nil
		}
		last := page[len(page)-1]
		at := last.UpdatedAt
		if by == "publish_at" {
			at = last.PublishAt
		}
		after = bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: by, Value: bson.D{{Key: "$gt", Value: at}}}},
			bson.D{{Key: by, Value: at}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: last.ID}}}},
		}}}
	}
}
