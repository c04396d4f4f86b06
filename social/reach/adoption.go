package reach

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

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
// members, their active connections) and by the period's sharers: one
// set of members per ragged day and per whole month.
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

// sharingMembers returns the members with a share published in the
// period and attributed to them (a member total with shares): the union
// of the sharers of its ragged ends' days and its whole months, at most
// 62 + 24 documents read on an index.
func sharingMembers(ctx context.Context, sc tenant.Scope, p Period) (map[string]bool, error) {
	out := map[string]bool{}
	err := eachSegment(ctx, sc, p, dimSharers, "", bson.D{{Key: "members", Value: 1}}, func(l total) {
		for _, m := range l.Members {
			out[m] = true
		}
	})
	return out, err
}
