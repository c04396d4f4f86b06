package reach

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
)

// Adoption is how many of the company's people take part: the first
// figures of an employee-advocacy dashboard.
type Adoption struct {
	// Members had joined by the end of the period.
	Members int64 `json:"members"`
	// MembersConnected of them have an active connection to a network now
	// (connections keep no history).
	MembersConnected int64 `json:"members_connected"`
	// MembersSharing of them had a share published in the period. Members
	// who object to analytics attribution are counted in no per-member
	// figure, and not here either.
	MembersSharing int64 `json:"members_sharing"`
}

// Adoption counts the instance's members, those connected now and those
// who shared in p. Its reads are bounded by the number of employees (the
// members, their active connections) and by the member lines of the
// period's totals that have shares, as the top list of members reads.
func (s *Service) Adoption(ctx context.Context, sc tenant.Scope, p Period) (Adoption, error) {
	to, err := time.ParseInLocation(time.DateOnly, p.To, sc.Instance().Settings.Location())
	if err != nil {
		return Adoption{}, err
	}
	ids, err := sc.MemberIDsJoinedBy(ctx, to.AddDate(0, 0, 1))
	if err != nil {
		return Adoption{}, err
	}
	connected, err := social.ConnectedMembers(ctx, sc)
	if err != nil {
		return Adoption{}, err
	}
	sharing, err := sharingMembers(ctx, sc, p)
	if err != nil {
		return Adoption{}, err
	}
	a := Adoption{Members: int64(len(ids))}
	for _, id := range ids {
		if connected[id] {
			a.MembersConnected++
		}
		if sharing[id] {
			a.MembersSharing++
		}
	}
	return a, nil
}

// sharingMembers returns the members with shares in the period's member
// totals: one line per member ($group with no accumulator), read on the
// {dim, day} index.
func sharingMembers(ctx context.Context, sc tenant.Scope, p Period) (map[string]bool, error) {
	pipe := mongo.Pipeline{
		{{Key: "$match", Value: bson.D{{Key: "dim", Value: dimMember},
			{Key: "day", Value: bson.D{{Key: "$gte", Value: p.From}, {Key: "$lte", Value: p.To}}},
			{Key: "shares", Value: bson.D{{Key: "$gt", Value: 0}}}}}},
		{{Key: "$group", Value: bson.D{{Key: "_id", Value: "$id"}}}},
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := sc.Collection(totalKind).Aggregate(ctx, pipe, &rows); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(rows))
	for _, r := range rows {
		if r.ID != "" {
			out[r.ID] = true
		}
	}
	return out, nil
}
