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

// Counts are a post's share counters as recomputed from the shares.
type Counts struct {
	SharedBy, Shares int64
}

// countsPage is how many posts SetCounts reads at a time.
const countsPage = 500

// SetCounts sets every post's share counters to counts (zero for a post
// not in it). It reads the posts in pages by the _id index and writes
// the counters that differ, one bulk write per page; it returns how many
// posts it changed. A post's clicks are not its to set: the reach totals
// count them (chorus analytics rebuild repairs those), and the counter
// releases before kept on the post is left as it is.
func SetCounts(ctx context.Context, sc tenant.Scope, counts map[string]*Counts) (int, error) {
	coll := sc.Collection(postKind)
	changed := 0
	err := tenant.WalkByID(ctx, coll, bson.D{{Key: "_id", Value: 1}, {Key: "shared_by", Value: 1}, {Key: "shares", Value: 1}},
		countsPage, func(p Post) string { return p.ID }, func(page []Post) error {
			var ops []tenant.Upsert
			for _, p := range page {
				want := Counts{}
				if c := counts[p.ID]; c != nil {
					want = *c
				}
				if want == (Counts{SharedBy: p.SharedBy, Shares: p.Shares}) {
					continue
				}
				ops = append(ops, tenant.Upsert{Filter: bson.D{{Key: "_id", Value: p.ID}},
					Update: bson.D{{Key: "$set", Value: bson.D{{Key: "shared_by", Value: want.SharedBy}, {Key: "shares", Value: want.Shares}}}}})
			}
			changed += len(ops)
			return coll.BulkUpdate(ctx, ops)
		})
	return changed, err
}
