package tenant

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// UnfollowTopic takes a topic that no longer exists off every member's
// followed topics, so that their profiles stay valid and saving them does
// not fail on a topic they can no longer see.
func (sc Scope) UnfollowTopic(ctx context.Context, topic string) error {
	_, err := sc.Collection(memberKind).UpdateMany(ctx, bson.D{{Key: "topics", Value: topic}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "topics", Value: topic}}}})
	return err
}
