package content

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// How long the (post, member) marks of push notifications are kept, and
// how many one step of their sweep deletes.
//
// A mark is what keeps a member from getting a post twice; the runs that
// read it are the post's notification task and its retries (a few hours,
// jobs.notifyRetries) and a later task if its publish time moves. Thirty
// days is far past the retries, and never longer than an instance's
// retention period (at least tenant.MinRetentionDays, 30). Before a post's
// marks go, the post is marked as notified (push_swept): a later task for
// it — its publish time moved — notifies nobody, so "never twice" holds
// after the marks are gone.
const (
	PushMarkDays   = 30
	pushSweepBatch = 500
)

// SweepPushSent deletes the scope's push notification marks older than
// PushMarkDays (or the instance's retention period if shorter), oldest
// first by the index on at, in batches of pushSweepBatch; the posts they
// were for are marked as notified first. It returns how many marks it
// deleted.
func SweepPushSent(ctx context.Context, sc tenant.Scope, now time.Time) (int64, error) {
	days := min(PushMarkDays, sc.Instance().Settings.RetentionPeriod())
	cutoff := now.UTC().AddDate(0, 0, -days)
	marks := sc.Collection(pushSentKind)
	var deleted int64
	for {
		var batch []pushSent
		if err := marks.Find(ctx, bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: cutoff}}}}, &batch, options.Find().
			SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(pushSweepBatch).
			SetProjection(bson.D{{Key: "post_id", Value: 1}})); err != nil {
			return deleted, err
		}
		if len(batch) == 0 {
			return deleted, nil
		}
		ids := make(bson.A, 0, len(batch))
		posts := bson.A{}
		seen := map[string]bool{}
		for _, m := range batch {
			ids = append(ids, m.ID)
			if !seen[m.PostID] {
				seen[m.PostID] = true
				posts = append(posts, m.PostID)
			}
		}
		if _, err := sc.Collection(postKind).UpdateMany(ctx,
			bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: posts}}}, {Key: "push_swept", Value: bson.D{{Key: "$ne", Value: true}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "push_swept", Value: true}}}}); err != nil {
			return deleted, err
		}
		n, err := marks.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		deleted += n
		if err != nil || n == 0 || len(batch) < pushSweepBatch {
			return deleted, err
		}
	}
}
