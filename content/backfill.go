package content

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// backfillBatch is how many posts BackfillCanonicalURLs reads and
// updates at a time.
const backfillBatch = 500

// BackfillCanonicalURLs gives the instance's posts written before
// canonical URLs existed their canonical URL (CanonicalURL of their
// link), so sources deduplicate against them. It walks the posts without
// one in _id order, a batch at a time, each post updated on its own and
// only if it still has none: it can run beside the app and again after an
// interruption. It returns how many posts it changed.
func BackfillCanonicalURLs(ctx context.Context, sc tenant.Scope) (int, error) {
	missing := bson.E{Key: "canonical_url", Value: bson.D{{Key: "$exists", Value: false}}}
	changed, after := 0, ""
	for {
		var batch []struct {
			ID  string `bson:"_id"`
			URL string `bson:"url"`
		}
		filter := bson.D{missing}
		if after != "" {
			filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
		}
		if err := sc.Collection(postKind).Find(ctx, filter, &batch, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).
			SetLimit(backfillBatch).SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "url", Value: 1}})); err != nil {
			return changed, err
		}
		if len(batch) == 0 {
			return changed, nil
		}
		var ops []tenant.Upsert
		for _, p := range batch {
			if p.URL == "" {
				continue
			}
			ops = append(ops, tenant.Upsert{
				Filter: bson.D{{Key: "_id", Value: p.ID}, missing},
				Update: bson.D{{Key: "$set", Value: bson.D{{Key: "canonical_url", Value: CanonicalURL(p.URL)}}}},
			})
		}
		if err := sc.Collection(postKind).BulkUpdate(ctx, ops); err != nil {
			return changed, err
		}
		changed += len(ops)
		after = batch[len(batch)-1].ID
	}
}
