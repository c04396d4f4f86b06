package reach

import (
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
)

// RebuildReport says what Rebuild recomputed.
type RebuildReport struct {
	// From is the first day recomputed (the first whole day whose raw
	// clicks are still kept); older days' rollups are left as they are.
	From    string
	Shares  int
	Clicks  int
	Rollups int
	// Totals is how many totals (per instance, content, member and
	// network, daily and monthly, with the sharers and content spans) were
	// derived from every rollup, older days' included.
	Totals int
}

// Rebuild recomputes the instance's rollups from the raw shares and
// clicks, for every day from the first one whose raw clicks are all still
// kept (the retention period) up to now. Older rollups are kept: their raw
// clicks are gone. Attribution follows each member's consent ledger as the
// hooks do. Events recorded while it runs may be missed: run it when the
// instance is quiet (or run it again).
func (s *Service) Rebuild(ctx context.Context, sc tenant.Scope) (RebuildReport, error) {
	set := sc.Instance().Settings
	loc := set.Location()
	y, m, d := s.now().In(loc).AddDate(0, 0, -set.RetentionPeriod()+1).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	rows, rep, err := compute(ctx, sc, start)
	if err != nil {
		return rep, err
	}
	coll := sc.Collection(rollupKind)
	if _, err := coll.DeleteMany(ctx, bson.D{{Key: "day", Value: bson.D{{Key: "$gte", Value: rep.From}}}}); err != nil {
		return rep, err
	}
	var older []Rollup
	if err := coll.Find(ctx, bson.D{{Key: "day", Value: bson.D{{Key: "$lt", Value: rep.From}}}}, &older); err != nil {
		return rep, err
	}
	lines := newDerived()
	for _, r := range older {
		lines.addRollup(r.Key, r.Counters)
	}
	for _, r := range rows {
		r := r.(Rollup)
		lines.addRollup(r.Key, r.Counters)
	}
	if err := insertAll(ctx, coll, rows); err != nil {
		return rep, err
	}
	docs := lines.docs()
	totals := make([]any, len(docs))
	for i, t := range docs {
		totals[i] = t
	}
	rep.Totals = len(totals)
	tc := sc.Collection(totalKind)
	if _, err := tc.DeleteMany(ctx, bson.D{}); err != nil {
		return rep, err
	}
	if err := insertAll(ctx, tc, totals); err != nil {
		return rep, err
	}
	s.forget(ctx, sc)
	return rep, nil
}

// insertAll inserts docs a thousand at a time.
func insertAll(ctx context.Context, coll *tenant.Collection, docs []any) error {
	for len(docs) > 0 {
		n := min(len(docs), 1000)
		if err := coll.InsertMany(ctx, docs[:n]); err != nil {
			return err
		}
		docs = docs[n:]
	}
	return nil
}

// compute builds the rollups of every day from start (a midnight in the
// instance's zone) from the raw data.
func compute(ctx context.Context, sc tenant.Scope, start time.Time) ([]any, RebuildReport, error) {
	loc := sc.Instance().Settings.Location()
	rep := RebuildReport{From: Day(start, loc)}
	shares, err := social.SharesPublishedSince(ctx, sc, start)
	if err != nil {
		return nil, rep, err
	}
	clicks, err := social.ClicksSince(ctx, sc, start)
	if err != nil {
		return nil, rep, err
	}
	rep.Shares, rep.Clicks = len(shares), len(clicks)
	ids := make([]string, 0, len(clicks))
	for _, c := range clicks {
		ids = append(ids, c.ShareID)
	}
	slices.Sort(ids)
	clicked, err := social.ClickedShares(ctx, sc, slices.Compact(ids))
	if err != nil {
		return nil, rep, err
	}
	var members []string
	for _, sh := range shares {
		members = append(members, sh.MemberID)
	}
	for _, sh := range clicked {
		members = append(members, sh.MemberID)
	}
	attr, err := tenant.Attributions(ctx, sc, members)
	if err != nil {
		return nil, rep, err
	}
	sums := map[Key]Counters{}
	for _, sh := range shares {
		at := *sh.PublishedAt
		k := Key{Day: Day(at, loc), ContentID: sh.ContentID, MemberID: attributed(attr, sh.MemberID, at), Network: sh.Network}
		n := sums[k]
		n.add(Counters{Shares: 1, PotentialReach: sh.Followers, Reactions: sh.Engagement.Reactions,
			Comments: sh.Engagement.Comments, Reposts: sh.Engagement.Reposts})
		sums[k] = n
	}
	seen := map[[3]string]bool{}
	for _, c := range clicks {
		day := Day(c.At, loc)
		k := Key{Day: day, ContentID: c.ContentID, Network: c.Network, MemberID: attributed(attr, clicked[c.ShareID].MemberID, c.At)}
		n := sums[k]
		n.Clicks++
		sh := clicked[c.ShareID]
		if countsForPoints(shareFacts{from: countsFrom(sh)}, c) {
			if v := [3]string{day, c.ShareID, c.Visitor}; c.Visitor == "" || !seen[v] {
				seen[v] = true
				n.UniqueClicks++
			}
		}
		sums[k] = n
	}
	rows := make([]any, 0, len(sums))
	for k, n := range sums {
		if n == (Counters{}) {
			continue
		}
		rows = append(rows, Rollup{ID: k.id(), Key: k, Counters: n})
	}
	rep.Rollups = len(rows)
	return rows, rep, nil
}
