package reach_test

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

var totalsKind = tenant.Kind{Name: "rollup_totals"}

// dailyDims are the daily totals' dimensions: what a store kept before
// the monthly totals, sharers and content spans existed.
var dailyDims = []string{"day", "content", "member", "network"}

// line is a stored daily total, as the test reads it.
type line struct {
	Dim            string `bson:"dim"`
	ID             string `bson:"id"`
	Day            string `bson:"day"`
	reach.Counters `bson:",inline"`
}

// referenceFigures are a period's figures by the definitions that read
// the daily totals only: the summary, each dimension's lines added up and
// ordered (most clicks, most shares, ID), and the members with a member
// total with shares.
type referenceFigures struct {
	Summary reach.Counters
	Lines   map[string][]string
	Sums    map[string][]reach.Counters
	Sharing map[string]bool
}

func reference(t *testing.T, sc tenant.Scope, p reach.Period) referenceFigures {
	t.Helper()
	var lines []line
	if err := sc.Collection(totalsKind).Find(t.Context(), bson.D{{Key: "dim", Value: bson.D{{Key: "$in", Value: dailyDims}}},
		{Key: "day", Value: bson.D{{Key: "$gte", Value: p.From}, {Key: "$lte", Value: p.To}}}}, &lines); err != nil {
		t.Fatal(err)
	}
	out := referenceFigures{Lines: map[string][]string{}, Sums: map[string][]reach.Counters{}, Sharing: map[string]bool{}}
	sums := map[string]map[string]reach.Counters{}
	for _, l := range lines {
		if l.Dim == "day" {
			out.Summary = add(out.Summary, l.Counters)
			continue
		}
		if l.Dim == "member" && l.ID != "" && l.Shares > 0 {
			out.Sharing[l.ID] = true
		}
		if sums[l.Dim] == nil {
			sums[l.Dim] = map[string]reach.Counters{}
		}
		sums[l.Dim][l.ID] = add(sums[l.Dim][l.ID], l.Counters)
	}
	for dim, byID := range sums {
		ids := slices.SortedFunc(maps.Keys(byID), func(a, b string) int {
			x, y := byID[a], byID[b]
			return cmp.Or(cmp.Compare(y.Clicks, x.Clicks), cmp.Compare(y.Shares, x.Shares), cmp.Compare(a, b))
		})
		out.Lines[dim] = ids
		for _, id := range ids {
			out.Sums[dim] = append(out.Sums[dim], byID[id])
		}
	}
	return out
}

func add(a, b reach.Counters) reach.Counters {
	return reach.Counters{Shares: a.Shares + b.Shares, Clicks: a.Clicks + b.Clicks, UniqueClicks: a.UniqueClicks + b.UniqueClicks,
		PotentialReach: a.PotentialReach + b.PotentialReach, Reactions: a.Reactions + b.Reactions, Comments: a.Comments + b.Comments,
		Reposts: a.Reposts + b.Reposts}
}

// figures are the same figures as the analytics read them now.
func figures(t *testing.T, svc *reach.Service, sc tenant.Scope, p reach.Period) referenceFigures {
	t.Helper()
	ctx := t.Context()
	out := referenceFigures{Lines: map[string][]string{}, Sums: map[string][]reach.Counters{}}
	s, err := svc.Summary(ctx, sc, p)
	if err != nil {
		t.Fatal(err)
	}
	out.Summary = reach.Counters{Shares: s.Shares, Clicks: s.Clicks, UniqueClicks: s.UniqueClicks, PotentialReach: s.PotentialReach,
		Reactions: s.Reactions, Comments: s.Comments, Reposts: s.Reposts}
	for _, dim := range []string{"member", "network"} {
		cs, ids, err := svc.Groups(ctx, sc, p, dim)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 {
			out.Lines[dim], out.Sums[dim] = ids, cs
		}
	}
	// The content table, whole and in pages of 7.
	whole, err := svc.Top(ctx, sc, p, reach.ByContent)
	if err != nil {
		t.Fatal(err)
	}
	var paged []reach.Row
	for off := 0; ; off += 7 {
		rows, more, err := svc.Page(ctx, sc, p, reach.ByContent, off, 7)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, rows...)
		if !more {
			break
		}
	}
	if diff := gocmp.Diff(whole, paged, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%+v: the content table's pages differ from the whole table (-whole +pages):\n%s", p, diff)
	}
	for _, r := range whole {
		out.Lines["content"] = append(out.Lines["content"], r.ID)
		out.Sums["content"] = append(out.Sums["content"], reach.Counters{Shares: r.Shares, Clicks: r.Clicks, UniqueClicks: r.UniqueClicks,
			PotentialReach: r.PotentialReach, Reactions: r.Reactions, Comments: r.Comments, Reposts: r.Reposts})
	}
	if out.Sharing, err = reach.SharingMembers(ctx, sc, p); err != nil {
		t.Fatal(err)
	}
	return out
}

// derivedLines are the stored lines that are not daily totals, by _id
// (sharers left empty by a move are left out: they count nobody).
func derivedLines(t *testing.T, sc tenant.Scope) map[string]bson.M {
	t.Helper()
	var docs []bson.M
	if err := sc.Collection(totalsKind).Find(t.Context(), bson.D{{Key: "dim", Value: bson.D{{Key: "$nin", Value: dailyDims}}}}, &docs); err != nil {
		t.Fatal(err)
	}
	out := map[string]bson.M{}
	for _, d := range docs {
		delete(d, "tenant_id")
		// A counter never incremented is absent, a backfilled one 0.
		maps.DeleteFunc(d, func(k string, v any) bool { return v == int64(0) })
		if m, ok := d["members"].(bson.A); ok {
			if len(m) == 0 {
				continue
			}
			// A set: in the order its members were added.
			slices.SortFunc(m, func(a, b any) int { return cmp.Compare(a.(string), b.(string)) })
		}
		out[d["_id"].(string)] = d
	}
	return out
}

// The monthly totals, sharers and content spans the writes keep are what
// the backfill (migration 6) derives from the daily totals alone; the
// summary, the top lists, the content table (whole and paged) and the
// members sharing read through them equal the definitions over the daily
// totals, for periods of any shape; the backfill is idempotent, and a
// member's move (an objection) keeps them so.
func TestMonthlyTotalsBackfillKeepsEveryFigure(t *testing.T) {
	store := openStoreWith(t, nil)
	sc := instance(t, store, "months.example", "UTC")
	ctx := t.Context()
	today := at("2026-04-10T12:00:00Z")
	svc := reach.New(reach.Config{Now: func() time.Time { return today }})
	rng := rand.New(rand.NewPCG(13, 5))
	first := at("2025-03-01T00:00:00Z")
	for range 40 {
		sums := map[reach.Key]reach.Counters{}
		for range 30 {
			// Contents active for a few days from a day of the 13 months.
			c := rng.IntN(136)
			day := first.AddDate(0, 0, c*3+rng.IntN(6))
			if day.After(today) {
				day = today
			}
			member := []string{"", "m1", "m2", "m3", "m4", "m5", "m6"}[rng.IntN(7)]
			k := reach.Key{Day: day.Format(time.DateOnly), ContentID: fmt.Sprintf("c%03d", c), MemberID: member,
				Network: []string{"mastodon", "bluesky", "linkedin"}[rng.IntN(3)]}
			n := sums[k]
			n = add(n, reach.Counters{Shares: int64(rng.IntN(2)), Clicks: int64(rng.IntN(4)), UniqueClicks: int64(rng.IntN(2)),
				PotentialReach: int64(rng.IntN(300)), Reactions: int64(rng.IntN(3) - 1), Comments: int64(rng.IntN(2))})
			sums[k] = n
		}
		if err := reach.Apply(ctx, sc, sums); err != nil {
			t.Fatal(err)
		}
	}
	periods := []reach.Period{
		{From: "2026-04-10", To: "2026-04-10"}, {From: "2026-03-12", To: "2026-04-10"}, {From: "2026-04-04", To: "2026-04-10"},
		{From: "2025-04-11", To: "2026-04-10"}, {From: "2025-03-01", To: "2026-04-10"}, {From: "2025-06-01", To: "2025-08-31"},
		{From: "2025-06-15", To: "2025-09-14"}, {From: "2025-12-31", To: "2026-01-01"}, {From: "2025-11-01", To: "2025-11-30"},
		{From: "2025-02-01", To: "2025-03-04"}, {From: "2026-03-31", To: "2026-05-02"},
	}
	check := func(when string) {
		t.Helper()
		for _, p := range periods {
			if diff := gocmp.Diff(reference(t, sc, p), figures(t, svc, sc, p)); diff != "" {
				t.Errorf("%s, %+v: figures differ from the daily totals' (-daily +read):\n%s", when, p, diff)
			}
		}
	}
	check("kept by the writes")
	written := derivedLines(t, sc)
	if len(written) == 0 {
		t.Fatal("the writes kept no monthly totals, sharers or spans")
	}

	// A store of an older release: daily totals only.
	if _, err := sc.Collection(totalsKind).DeleteMany(ctx, bson.D{{Key: "dim", Value: bson.D{{Key: "$nin", Value: dailyDims}}}}); err != nil {
		t.Fatal(err)
	}
	before := map[reach.Period]referenceFigures{}
	for _, p := range periods {
		before[p] = reference(t, sc, p)
	}
	rep, err := reach.Backfill(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backfill: %d daily totals read, %d lines derived", rep.Daily, rep.Derived)
	if diff := gocmp.Diff(written, derivedLines(t, sc)); diff != "" {
		t.Errorf("the backfill derived other lines than the writes kept (-written +backfilled):\n%s", diff)
	}
	for _, p := range periods {
		if diff := gocmp.Diff(before[p], figures(t, svc, sc, p)); diff != "" {
			t.Errorf("%+v: figures after the migration differ from those before (-before +after):\n%s", p, diff)
		}
	}
	// Again, after a crash that left part of it undone: the same lines.
	if _, err := sc.Collection(totalsKind).DeleteMany(ctx, bson.D{{Key: "dim", Value: "member@month"}}); err != nil {
		t.Fatal(err)
	}
	if again, err := reach.Backfill(ctx, sc); err != nil || again != rep {
		t.Fatalf("backfill again: %+v, %v; first %+v", again, err, rep)
	}
	if diff := gocmp.Diff(written, derivedLines(t, sc)); diff != "" {
		t.Errorf("a second backfill changed the lines (-first +second):\n%s", diff)
	}

	// m2 objects: their lines move to the instance's, and they share no
	// more in any period.
	if err := svc.PrivacySource().(tenant.ConsentObserver).ConsentChanged(ctx, sc, "m2", tenant.PurposeAnalyticsAttribution, false); err != nil {
		t.Fatal(err)
	}
	moved := derivedLines(t, sc)
	if _, err := sc.Collection(totalsKind).DeleteMany(ctx, bson.D{{Key: "dim", Value: bson.D{{Key: "$nin", Value: dailyDims}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reach.Backfill(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(moved, derivedLines(t, sc)); diff != "" {
		t.Errorf("after a move the lines differ from what the daily totals give (-moved +derived):\n%s", diff)
	}
	check("after a move")
	if s, _ := reach.SharingMembers(ctx, sc, periods[4]); s["m2"] || len(s) == 0 {
		t.Errorf("sharers of the whole history after m2's objection: %v", s)
	}
}
