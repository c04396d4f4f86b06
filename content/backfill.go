package content

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// backfillBatch is how many posts a backfill reads and updates at a time.
const backfillBatch = 500

// backfilled is a post as a backfill reads it: the fields it derives from.
type backfilled struct {
	ID       string   `bson:"_id"`
	URL      string   `bson:"url"`
	Audience []string `bson:"audience"`
}

// backfill sets field on the instance's posts that have none, to what
// value derives from the post (nothing when ok is false). It walks those
// posts in _id order, a batch at a time, projected to from, each post
// updated on its own and only if it still has no field: it can run
// beside the app and again after an interruption. It returns how many
// posts it changed.
func backfill(ctx context.Context, sc tenant.Scope, field string, from bson.D, value func(backfilled) (any, bool)) (int, error) {
	missing := bson.E{Key: field, Value: bson.D{{Key: "$exists", Value: false}}}
	changed, after := 0, ""
	for {
		var batch []backfilled
		filter := bson.D{missing}
		if after != "" {
			filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
		}
		if err := sc.Collection(postKind).Find(ctx, filter, &batch, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).
			SetLimit(backfillBatch).SetProjection(append(bson.D{{Key: "_id", Value: 1}}, from...))); err != nil {
			return changed, err
		}
		if len(batch) == 0 {
			return changed, nil
		}
		var ops []tenant.Upsert
		for _, p := range batch {
			v, ok := value(p)
			if !ok {
				continue
			}
			ops = append(ops, tenant.Upsert{
				Filter: bson.D{{Key: "_id", Value: p.ID}, missing},
				Update: bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: v}}}},
			})
		}
		if err := sc.Collection(postKind).BulkUpdate(ctx, ops); err != nil {
			return changed, err
		}
		changed += len(ops)
		after = batch[len(batch)-1].ID
	}
}

// BackfillCanonicalURLs gives the instance's posts written before
// canonical URLs existed their canonical URL (CanonicalURL of their
// link), so sources deduplicate against them (see backfill). It returns
// how many posts it changed.
func BackfillCanonicalURLs(ctx context.Context, sc tenant.Scope) (int, error) {
	return backfill(ctx, sc, "canonical_url", bson.D{{Key: "url", Value: 1}}, func(p backfilled) (any, bool) {
		return CanonicalURL(p.URL), p.URL != ""
	})
}

// BackfillAimedAt gives the instance's posts written before audiences
// existed (or by a release that left it out) their aimed_at, from their
// audience: [AimEveryone] when they have none. The feed's filter then
// matches them without a clause for posts that lack it (see backfill).
// It returns how many posts it changed.
func BackfillAimedAt(ctx context.Context, sc tenant.Scope) (int, error) {
	return backfill(ctx, sc, "aimed_at", bson.D{{Key: "audience", Value: 1}}, func(p backfilled) (any, bool) {
		return aim(p.Audience), true
	})
}
