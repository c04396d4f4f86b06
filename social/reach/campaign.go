package reach

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/chorushq/chorus/tenant"
)

// CampaignCounts adds up the shares published and the clicks made from
// from's day to to's day (the instance's time zone) of the contents ids:
// their daily content totals of the ragged ends and monthly ones of the
// whole months between, summed by the database in one $group. It reads
// at most len(ids) × (62 days + 13 months) index entries, whatever the
// instance's history (content.CampaignCounter).
func CampaignCounts(ctx context.Context, sc tenant.Scope, ids []string, from, to time.Time) (shares, clicks int64, err error) {
	if len(ids) == 0 || to.Before(from) {
		return 0, 0, nil
	}
	loc := sc.Instance().Settings.Location()
	p := Period{From: Day(from, loc), To: Day(to, loc)}
	match := periodMatch(p, dimContent, bson.E{Key: "id", Value: bson.D{{Key: "$in", Value: ids}}})
	coll := sc.Collection(totalKind)
	var sums []struct {
		Shares int64 `bson:"shares"`
		Clicks int64 `bson:"clicks"`
		Lines  int64 `bson:"lines"`
	}
	pipe := mongo.Pipeline{{{Key: "$match", Value: match}}, {{Key: "$group", Value: bson.D{{Key: "_id", Value: nil},
		{Key: "shares", Value: bson.D{{Key: "$sum", Value: "$shares"}}}, {Key: "clicks", Value: bson.D{{Key: "$sum", Value: "$clicks"}}},
		{Key: "lines", Value: bson.D{{Key: "$sum", Value: 1}}}}}}}
	if err := coll.Aggregate(ctx, pipe, &sums); err != nil {
		return 0, 0, err
	}
	switch {
	case len(sums) == 0:
		return 0, 0, nil
	case sums[0].Lines > 0:
		return sums[0].Shares, sums[0].Clicks, nil
	}
	// An engine that sums one field per $group only (FerretDB v1): add
	// the lines up here.
	var lines []total
	if err := coll.Find(ctx, match, &lines); err != nil {
		return 0, 0, err
	}
	for _, l := range lines {
		shares += l.Shares
		clicks += l.Clicks
	}
	return shares, clicks, nil
}
