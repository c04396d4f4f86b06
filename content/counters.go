package content

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// CountShares adds to a post's share counters: sharedBy members (+1 for
// a member's first live share of it, -1 when their last one is
// cancelled) and shares shares. One keyed $inc; a post that is gone
// changes nothing. social calls it as shares are made and cancelled.
func CountShares(ctx context.Context, sc tenant.Scope, postID string, sharedBy, shares int64) error {
	if sharedBy == 0 && shares == 0 {
		return nil
	}
	_, err := sc.Collection(postKind).Update(ctx, bson.D{{Key: "_id", Value: postID}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "shared_by", Value: sharedBy}, {Key: "shares", Value: shares}}}})
	return err
}

// CountClicks adds each post's clicks (by post ID) to its click counter:
// one bulk of keyed $inc updates (tenant.UpdateByID), whatever the number of posts.
// The click recorder calls it once per stored batch.
func CountClicks(ctx context.Context, sc tenant.Scope, clicks map[string]int64) error {
	ops := make([]tenant.KeyedUpdate, 0, len(clicks))
	for id, n := range clicks {
		ops = append(ops, tenant.KeyedUpdate{ID: id, Update: bson.D{{Key: "$inc", Value: bson.D{{Key: "clicks", Value: n}}}}})
	}
	return sc.Collection(postKind).UpdateByID(ctx, ops)
}

// MaxReviewCount bounds the count of suggestions waiting for review: the
// navigation says "99+" beyond, and the count reads at most this many
// index entries.
const MaxReviewCount = 99

// PendingCount returns how many suggestions wait for review, at most
// MaxReviewCount, and whether there are more. It reads the pending range
// of the {state, publish_at, _id} index, MaxReviewCount+1 IDs at most.
func (s *Service) PendingCount(ctx context.Context, sc tenant.Scope) (int, bool, error) {
	var ids []struct {
		ID string `bson:"_id"`
	}
	err := sc.Collection(postKind).Find(ctx, bson.D{{Key: "state", Value: StatePending}}, &ids,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(MaxReviewCount+1))
	if err != nil {
		return 0, false, err
	}
	return min(len(ids), MaxReviewCount), len(ids) > MaxReviewCount, nil
}

// Counts are a post's counters as recomputed from the shares and clicks.
type Counts struct {
	SharedBy, Shares, Clicks int64
}

// countsPage is how many posts SetCounts reads at a time.
const countsPage = 500

// SetCounts sets every post's share counters to counts (zero for a post
// not in it) and its clicks to the larger of its counter and counts'
// (stored clicks can only be fewer than the counter held: the retention
// sweep deletes them). It reads the posts in pages by the _id index and
// writes the counters that differ, one bulk write per page; it returns
// how many posts it changed.
func SetCounts(ctx context.Context, sc tenant.Scope, counts map[string]*Counts) (int, error) {
	coll := sc.Collection(postKind)
	changed := 0
	err := tenant.WalkByID(ctx, coll, bson.D{{Key: "_id", Value: 1}, {Key: "shared_by", Value: 1}, {Key: "shares", Value: 1}, {Key: "clicks", Value: 1}},
		countsPage, func(p Post) string { return p.ID }, func(page []Post) error {
			var ops []tenant.Upsert
			for _, p := range page {
				want := Counts{Clicks: p.Clicks}
				if c := counts[p.ID]; c != nil {
					want = Counts{SharedBy: c.SharedBy, Shares: c.Shares, Clicks: max(p.Clicks, c.Clicks)}
				}
				if want == (Counts{SharedBy: p.SharedBy, Shares: p.Shares, Clicks: p.Clicks}) {
					continue
				}
				ops = append(ops, tenant.Upsert{Filter: bson.D{{Key: "_id", Value: p.ID}},
					Update: bson.D{{Key: "$set", Value: bson.D{{Key: "shared_by", Value: want.SharedBy}, {Key: "shares", Value: want.Shares}, {Key: "clicks", Value: want.Clicks}}}}})
			}
			changed += len(ops)
			return coll.BulkUpdate(ctx, ops)
		})
	return changed, err
}
