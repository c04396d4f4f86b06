package tenant

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ConsentObserver is a PrivacySource that acts when a member changes a
// consent (the reach rollups move a member's figures into the instance
// totals when they object to analytics attribution).
type ConsentObserver interface {
	ConsentChanged(ctx context.Context, sc Scope, memberID, purpose string, granted bool) error
}

// Attribution says which of a member's analytics events carry their
// member ID: those after Since, unless Withdrawn. An objection
// (withdrawing analytics_attribution) takes back everything before it as
// well; a later grant attributes only what follows it.
type Attribution struct {
	Withdrawn bool
	Since     time.Time
}

// Covers reports whether an event at t is attributed to the member. An
// event in the very millisecond of a renewed grant is not: it may have
// been counted before the grant was recorded.
func (a Attribution) Covers(t time.Time) bool { return !a.Withdrawn && t.After(a.Since) }

// Attributions reads the analytics_attribution ledger of the given members
// (one query). Members without records are attributed (the default).
func Attributions(ctx context.Context, sc Scope, memberIDs []string) (map[string]Attribution, error) {
	out := make(map[string]Attribution, len(memberIDs))
	if len(memberIDs) == 0 {
		return out, nil
	}
	var recs []ConsentRecord
	err := sc.Collection(consentKind).Find(ctx, bson.D{{Key: "member_id", Value: bson.D{{Key: "$in", Value: memberIDs}}},
		{Key: "purpose", Value: PurposeAnalyticsAttribution}}, &recs,
		options.Find().SetSort(bson.D{{Key: "member_id", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		return nil, err
	}
	granted := map[string]bool{}
	for _, r := range recs {
		g, seen := granted[r.MemberID]
		if !seen {
			g = purposeDefaults[PurposeAnalyticsAttribution]
		}
		a := out[r.MemberID]
		if r.Granted && !g {
			a.Since = r.At // attributed again from this grant on
		}
		granted[r.MemberID] = r.Granted
		a.Withdrawn = !r.Granted
		out[r.MemberID] = a
	}
	return out, nil
}
