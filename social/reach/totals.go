package reach

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
)

// Beside the daily totals, rollup_totals holds three derived kinds of
// line, kept by the same ordered bulk upserts, so that no analytics read
// costs a period's days × lines:
//
//   - monthly totals (dim "<dim>@month", day "YYYY-MM"): the sums of a
//     daily line's days of one calendar month. A period reads its whole
//     months from them and only its ragged ends (at most 62 days) from
//     the daily totals.
//   - sharers (dim "sharers" per day, "sharers@month" per month, id ""):
//     the members with a share published then, attributed to them (a
//     member total with shares); the adoption figure reads one set per
//     day or month.
//   - content spans (dim "content@all", one per content): its totals of
//     every day and its first and last day. The content table of a period
//     reads the spans of the contents active in it, and the daily totals
//     only of the contents also active outside it.
const (
	dimSharers = "sharers"
	dimSpan    = "content@all"
)

// monthly is the dimension of dim's monthly totals.
func monthly(dim string) string { return dim + "@month" }

// monthOf is a day's month, as monthly totals store it.
func monthOf(day string) string { return day[:len("2006-01")] }

// segment is one stretch of a period as totals store it: days of the
// daily dimension dim, or months of its monthly one.
type segment struct {
	dim      string
	from, to string
}

// segments splits p into its ragged first days, its whole months and its
// ragged last days: at most 62 daily totals and 24 monthly ones per line.
func (p Period) segments(dim string) []segment {
	f, _ := time.Parse(time.DateOnly, p.From)
	t, _ := time.Parse(time.DateOnly, p.To)
	first := time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, time.UTC)
	if f.Day() != 1 {
		first = first.AddDate(0, 1, 0)
	}
	last := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	if t.AddDate(0, 0, 1).Day() != 1 {
		last = last.AddDate(0, -1, 0)
	}
	if last.Before(first) {
		return []segment{{dim, p.From, p.To}}
	}
	var out []segment
	if f.Before(first) {
		out = append(out, segment{dim, p.From, first.AddDate(0, 0, -1).Format(time.DateOnly)})
	}
	out = append(out, segment{monthly(dim), first.Format("2006-01"), last.Format("2006-01")})
	if after := last.AddDate(0, 1, 0); !after.After(t) {
		out = append(out, segment{dim, after.Format(time.DateOnly), p.To})
	}
	return out
}

// match is the filter of the segment's lines, with extra conditions.
func (g segment) match(extra ...bson.E) bson.D {
	m := append(bson.D{{Key: "dim", Value: g.dim}}, extra...)
	return append(m, bson.E{Key: "day", Value: bson.D{{Key: "$gte", Value: g.from}, {Key: "$lte", Value: g.to}}})
}

// periodMatch is the filter of every line of dim that p reads: the
// daily and monthly totals of its segments.
func periodMatch(p Period, dim string, extra ...bson.E) bson.D {
	segs := p.segments(dim)
	if len(segs) == 1 {
		return segs[0].match(extra...)
	}
	or := make(bson.A, len(segs))
	for i, g := range segs {
		or[i] = g.match(extra...)
	}
	return bson.D{{Key: "$or", Value: or}}
}

// span is a content's totals of every day, with its first and last day.
type span struct {
	Counters
	first, last string
}

// derived collects what a set of daily lines adds to the derived lines:
// monthly totals, sharers and content spans.
type derived struct {
	totals  map[totalKey]Counters
	sharers map[totalKey]map[string]bool
	spans   map[string]*span
}

func newDerived() *derived {
	return &derived{totals: map[totalKey]Counters{}, sharers: map[totalKey]map[string]bool{}, spans: map[string]*span{}}
}

// addRollup adds a rollup's counters to the daily totals of its day,
// content, member and network and to their derived lines.
func (d *derived) addRollup(k Key, c Counters) {
	for _, t := range []totalKey{{dimDay, "", k.Day}, {dimContent, k.ContentID, k.Day},
		{dimMember, k.MemberID, k.Day}, {dimNetwork, k.Network, k.Day}} {
		d.add(d.totals, t, c)
		d.addDaily(t, c)
	}
}

// addDaily adds a daily total's counters to its derived lines.
func (d *derived) addDaily(t totalKey, c Counters) {
	d.add(d.totals, totalKey{monthly(t.dim), t.of, monthOf(t.day)}, c)
	switch {
	case t.dim == dimMember && t.of != "" && c.Shares > 0:
		for _, k := range []totalKey{{dimSharers, "", t.day}, {monthly(dimSharers), "", monthOf(t.day)}} {
			if d.sharers[k] == nil {
				d.sharers[k] = map[string]bool{}
			}
			d.sharers[k][t.of] = true
		}
	case t.dim == dimContent:
		s := d.spans[t.of]
		if s == nil {
			s = &span{first: t.day, last: t.day}
			d.spans[t.of] = s
		}
		s.add(c)
		s.first, s.last = min(s.first, t.day), max(s.last, t.day)
	}
}

func (d *derived) add(m map[totalKey]Counters, k totalKey, c Counters) {
	n := m[k]
	n.add(c)
	m[k] = n
}

// spanKey is the key of a content's span.
func spanKey(contentID string) totalKey { return totalKey{dimSpan, contentID, ""} }

// incs are the keyed upserts that add d to the stored lines, in _id
// order: two processes' bulks over the same documents then lock them in
// the same order (in map order, PostgreSQL with DocumentDB found
// deadlocks between two API processes' click flushes, and the losing
// flush's counts were dropped).
func (d *derived) incs() []keyedOp {
	ops := make([]keyedOp, 0, len(d.totals)+len(d.sharers)+len(d.spans))
	for k, c := range d.totals {
		if inc := c.incDoc(); len(inc) > 0 {
			ops = append(ops, keyedOp{k.id(), bson.D{{Key: "$setOnInsert", Value: k.fields()}, {Key: "$inc", Value: inc}}})
		}
	}
	for k, ms := range d.sharers {
		ops = append(ops, keyedOp{k.id(), bson.D{{Key: "$setOnInsert", Value: k.fields()},
			{Key: "$addToSet", Value: bson.D{{Key: "members", Value: bson.D{{Key: "$each", Value: slices.Sorted(maps.Keys(ms))}}}}}}})
	}
	for id, s := range d.spans {
		k := spanKey(id)
		up := bson.D{{Key: "$setOnInsert", Value: bson.D{{Key: "dim", Value: k.dim}, {Key: "id", Value: k.of}}},
			{Key: "$min", Value: bson.D{{Key: "first", Value: s.first}}}, {Key: "$max", Value: bson.D{{Key: "last", Value: s.last}}}}
		if inc := s.incDoc(); len(inc) > 0 {
			up = append(up, bson.E{Key: "$inc", Value: inc})
		}
		ops = append(ops, keyedOp{k.id(), up})
	}
	slices.SortFunc(ops, func(a, b keyedOp) int { return strings.Compare(a.id, b.id) })
	return ops
}

// docs are d's lines as whole documents (a rebuild inserts them, the
// backfill sets them), in _id order.
func (d *derived) docs() []total {
	out := make([]total, 0, len(d.totals)+len(d.sharers)+len(d.spans))
	for k, c := range d.totals {
		out = append(out, total{ID: k.id(), Dim: k.dim, Of: k.of, Day: k.day, Counters: c})
	}
	for k, ms := range d.sharers {
		out = append(out, total{ID: k.id(), Dim: k.dim, Of: k.of, Day: k.day, Members: slices.Sorted(maps.Keys(ms))})
	}
	for id, s := range d.spans {
		k := spanKey(id)
		out = append(out, total{ID: k.id(), Dim: k.dim, Of: k.of, Counters: s.Counters, First: s.first, Last: s.last})
	}
	slices.SortFunc(out, func(a, b total) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// keyedOp is an update of the document with _id id.
type keyedOp struct {
	id     string
	update bson.D
}

// BackfillReport says what Backfill derived.
type BackfillReport struct {
	// Daily is how many daily totals were read, Derived how many monthly
	// totals, sharers and content spans were set from them.
	Daily, Derived int
}

// Backfill sets the instance's monthly totals, sharers and content spans
// to what its daily totals add up to (for a store kept before they
// existed, where a whole month without its monthly total would read as
// zero). It reads the totals once, 500 a page by _id, and sets each
// derived line whole, so that running it again, or after a crash part of
// the way, leaves the same lines. Run it while no process of an older
// release writes (they keep the daily totals only).
func Backfill(ctx context.Context, sc tenant.Scope) (BackfillReport, error) {
	var rep BackfillReport
	d := newDerived()
	coll := sc.Collection(totalKind)
	proj := bson.D{{Key: "_id", Value: 1}, {Key: "dim", Value: 1}, {Key: "id", Value: 1}, {Key: "day", Value: 1}}
	for _, f := range counterFields {
		proj = append(proj, bson.E{Key: f, Value: 1})
	}
	err := tenant.WalkByID(ctx, coll, proj, 500, func(t total) string { return t.ID }, func(page []total) error {
		for _, t := range page {
			switch t.Dim {
			case dimDay, dimContent, dimMember, dimNetwork:
				d.addDaily(totalKey{t.Dim, t.Of, t.Day}, t.Counters)
				rep.Daily++
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	docs := d.docs()
	for len(docs) > 0 {
		n := min(len(docs), 500)
		ops := make([]keyedOp, n)
		for i, t := range docs[:n] {
			set, err := t.fields()
			if err != nil {
				return rep, err
			}
			ops[i] = keyedOp{t.ID, bson.D{{Key: "$set", Value: set}}}
		}
		if err := upsertOps(ctx, coll, ops); err != nil {
			return rep, err
		}
		rep.Derived += n
		docs = docs[n:]
	}
	return rep, nil
}

// fields are the line's fields but its _id, every counter included.
func (t total) fields() (bson.D, error) {
	raw, err := bson.Marshal(t)
	if err != nil {
		return nil, err
	}
	var doc bson.D
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(doc, func(e bson.E) bool {
		// Sharers count nobody's figures: they carry no counters.
		return e.Key == "_id" || t.Members != nil && slices.Contains(counterFields, e.Key)
	}), nil
}
