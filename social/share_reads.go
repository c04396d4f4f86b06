package social

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// Reads of the instance's shares by other packages: reach measurement
// (social/reach) builds its rollups from them, operator tools and tests
// look shares up. The shares collection stays social's own.

// ShareByID returns one share of the instance, whoever's.
func ShareByID(ctx context.Context, sc tenant.Scope, id string) (Share, error) {
	var sh Share
	err := sc.Collection(shareKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &sh)
	return sh, err
}

// ClickedShares returns the instance's shares with the given IDs as
// click attribution needs them: only their ID, member, state, and
// publication and attempt times are read (one query of the _id index; a
// share document carries its text, links and engagement, and a flush of
// a burst reads thousands).
func ClickedShares(ctx context.Context, sc tenant.Scope, ids []string) (map[string]Share, error) {
	var shares []Share
	proj := bson.D{{Key: "member_id", Value: 1}, {Key: "state", Value: 1}, {Key: "published_at", Value: 1}, {Key: "attempted_at", Value: 1}}
	if err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &shares,
		options.Find().SetProjection(proj)); err != nil {
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
