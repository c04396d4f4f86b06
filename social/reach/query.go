package reach

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Period is an inclusive range of days in the instance's zone.
type Period struct{ From, To string }

// MaxPeriod bounds a query: two years.
const MaxPeriod = 2

// ParsePeriod checks from and to (YYYY-MM-DD, from ≤ to, at most two
// years); a bad period is a 422 problem naming the field.
func ParsePeriod(from, to string) (Period, error) {
	bad := func(field, msg string) error {
		p := httpapi.Invalid(httpapi.FieldError{Field: field, Message: msg})
		p.Status, p.Title = http.StatusUnprocessableEntity, http.StatusText(http.StatusUnprocessableEntity)
		return p
	}
	f, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return Period{}, bad("from", "is required, a day as YYYY-MM-DD")
	}
	t, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return Period{}, bad("to", "is required, a day as YYYY-MM-DD")
	}
	if t.Before(f) {
		return Period{}, bad("to", "must not be before from")
	}
	if !t.Before(f.AddDate(MaxPeriod, 0, 0)) {
		return Period{}, bad("to", fmt.Sprintf("must be less than %d years after from", MaxPeriod))
	}
	return Period{From: f.Format(time.DateOnly), To: t.Format(time.DateOnly)}, nil
}

// Days lists the period's days.
func (p Period) Days() []string {
	f, _ := time.Parse(time.DateOnly, p.From)
	t, _ := time.Parse(time.DateOnly, p.To)
	var out []string
	for d := f; !d.After(t); d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(time.DateOnly))
	}
	return out
}

// rows reads the period's rollups (operator tools and tests).
func rows(ctx context.Context, sc tenant.Scope, p Period) ([]Rollup, error) {
	var out []Rollup
	err := sc.Collection(rollupKind).Find(ctx, bson.D{{Key: "day", Value: bson.D{{Key: "$gte", Value: p.From}, {Key: "$lte", Value: p.To}}}}, &out)
	return out, err
}

// lineTotals reads one line's totals of the period (the instance's with
// dimDay and ""): its daily totals of the ragged ends and its monthly
// totals of the whole months, at most 62 + 24 documents, on an index.
func lineTotals(ctx context.Context, sc tenant.Scope, p Period, dim, of string) (Counters, error) {
	var sum Counters
	err := eachSegment(ctx, sc, p, dim, of, nil, func(t total) { sum.add(t.Counters) })
	return sum, err
}

// eachSegment calls fn with each of one line's totals of the period: one
// find per segment, each a range of the {dim, id, day} index (an $or of
// the segments may be planned on a shorter prefix of it).
func eachSegment(ctx context.Context, sc tenant.Scope, p Period, dim, of string, proj bson.D, fn func(total)) error {
	for _, g := range p.segments(dim) {
		var out []total
		opts := options.Find().SetLimit(int64(MaxPeriod*367 + 1))
		if proj != nil {
			opts.SetProjection(proj)
		}
		if err := sc.Collection(totalKind).Find(ctx, g.match(bson.E{Key: "id", Value: of}), &out, opts); err != nil {
			return err
		}
		for _, t := range out {
			fn(t)
		}
	}
	return nil
}

// days reads one line's totals of each day of the period (the instance's
// with dimDay and ""): at most one document a day, on an index.
func days(ctx context.Context, sc tenant.Scope, p Period, dim, of string) ([]total, error) {
	var out []total
	err := sc.Collection(totalKind).Find(ctx, bson.D{{Key: "dim", Value: dim}, {Key: "id", Value: of},
		{Key: "day", Value: bson.D{{Key: "$gte", Value: p.From}, {Key: "$lte", Value: p.To}}}}, &out,
		options.Find().SetLimit(int64(MaxPeriod*367)))
	return out, err
}

// counterFields are the counters' fields, in the order grouped sums are
// asked for.
var counterFields = []string{"shares", "clicks", "unique_clicks", "potential_reach", "reactions", "comments", "reposts"}

// grouped is one line of a top list as the database adds it up.
type grouped struct {
	ID       string `bson:"_id"`
	Counters `bson:",inline"`
	// Lines counts the totals added up; asked for last, it is never 0 on
	// an engine that sums every field of a $group (FerretDB v1 answers 0
	// for all but the first).
	Lines int64 `bson:"lines"`
}

// groups adds up the period's totals of dim per line (the ragged ends'
// daily totals and the whole months' monthly ones; with extra, of the
// lines that match it), most clicks first (then most shares, then by ID),
// skipping skip lines and returning at most limit (0: all). The database
// adds them up ($group) where it can; on an engine that cannot, the lines
// are read and added up here.
func (s *Service) groups(ctx context.Context, sc tenant.Scope, p Period, dim string, skip, limit int, extra ...bson.E) ([]grouped, error) {
	match := periodMatch(p, dim, extra...)
	coll := sc.Collection(totalKind)
	if !s.ungrouped.Load() {
		group := bson.D{{Key: "_id", Value: "$id"}}
		for _, f := range counterFields {
			group = append(group, bson.E{Key: f, Value: bson.D{{Key: "$sum", Value: "$" + f}}})
		}
		group = append(group, bson.E{Key: "lines", Value: bson.D{{Key: "$sum", Value: 1}}})
		pipe := mongo.Pipeline{{{Key: "$match", Value: match}}, {{Key: "$group", Value: group}},
			{{Key: "$sort", Value: bson.D{{Key: "clicks", Value: -1}, {Key: "shares", Value: -1}, {Key: "_id", Value: 1}}}}}
		if skip > 0 {
			pipe = append(pipe, bson.D{{Key: "$skip", Value: int64(skip)}})
		}
		if limit > 0 {
			pipe = append(pipe, bson.D{{Key: "$limit", Value: int64(limit)}})
		}
		var out []grouped
		if err := coll.Aggregate(ctx, pipe, &out); err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(g grouped) bool { return g.Lines == 0 }) {
			return out, nil
		}
		s.ungrouped.Store(true)
		s.log.WarnContext(ctx, "the database adds up only one field per $group (FerretDB v1): analytics lists are added up in the application")
	}
	var lines []total
	if err := coll.Find(ctx, match, &lines); err != nil {
		return nil, err
	}
	at := map[string]int{}
	var out []grouped
	for _, l := range lines {
		i, ok := at[l.Of]
		if !ok {
			i, at[l.Of] = len(out), len(out)
			out = append(out, grouped{ID: l.Of})
		}
		out[i].add(l.Counters)
		out[i].Lines++
	}
	slices.SortFunc(out, byClicks)
	out = out[min(skip, len(out)):]
	if limit > 0 {
		out = out[:min(limit, len(out))]
	}
	return out, nil
}

// byClicks orders a top list: most clicks first, then most shares, then
// by ID.
func byClicks(a, b grouped) int {
	return cmp.Or(cmp.Compare(b.Clicks, a.Clicks), cmp.Compare(b.Shares, a.Shares), cmp.Compare(a.ID, b.ID))
}

// recentDays is how close to today a period must end for the content
// table to read the content spans: the spans read are those of the
// contents active from the period's first day on, so for a period long
// past they would be every content since.
const recentDays = 7

// contents is the content table of p from skip, at most limit lines (0:
// all), as groups returns it. A period that ends within recentDays of
// today reads the spans of the contents active only within it (the
// database orders them and returns a page), the keys of those active
// within it and outside it, and adds up the period's totals of those
// only (a page again); the two pages together hold the table's page.
// Older periods add up every content line of the period, as groups does.
func (s *Service) contents(ctx context.Context, sc tenant.Scope, p Period, skip, limit int) ([]grouped, error) {
	if p.To < Day(s.now().AddDate(0, 0, -recentDays), sc.Instance().Settings.Location()) {
		return s.groups(ctx, sc, p, dimContent, skip, limit)
	}
	n := 0
	if limit > 0 {
		n = skip + limit
	}
	coll := sc.Collection(totalKind)
	var inside []total
	opts := options.Find().SetSort(bson.D{{Key: "clicks", Value: -1}, {Key: "shares", Value: -1}, {Key: "id", Value: 1}})
	if n > 0 {
		opts.SetLimit(int64(n))
	}
	err := coll.Find(ctx, bson.D{{Key: "dim", Value: dimSpan},
		{Key: "last", Value: bson.D{{Key: "$gte", Value: p.From}, {Key: "$lte", Value: p.To}}},
		{Key: "first", Value: bson.D{{Key: "$gte", Value: p.From}}}}, &inside, opts)
	if err != nil {
		return nil, err
	}
	var across []total
	err = coll.Find(ctx, bson.D{{Key: "dim", Value: dimSpan}, {Key: "last", Value: bson.D{{Key: "$gte", Value: p.From}}},
		{Key: "first", Value: bson.D{{Key: "$lte", Value: p.To}}},
		{Key: "$or", Value: bson.A{bson.D{{Key: "first", Value: bson.D{{Key: "$lt", Value: p.From}}}}, bson.D{{Key: "last", Value: bson.D{{Key: "$gt", Value: p.To}}}}}}},
		&across, options.Find().SetProjection(bson.D{{Key: "id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make([]grouped, 0, len(inside)+n)
	for _, t := range inside {
		out = append(out, grouped{ID: t.Of, Counters: t.Counters, Lines: 1})
	}
	if len(across) > 0 {
		ids := make([]string, len(across))
		for i, t := range across {
			ids[i] = t.Of
		}
		slices.Sort(ids)
		gs, err := s.groups(ctx, sc, p, dimContent, 0, n, bson.E{Key: "id", Value: bson.D{{Key: "$in", Value: ids}}})
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
	}
	// The two sets of contents are apart: the first skip + limit of both
	// hold the first skip + limit of all.
	slices.SortFunc(out, byClicks)
	out = out[min(skip, len(out)):]
	if limit > 0 {
		out = out[:min(limit, len(out))]
	}
	return out, nil
}

// Money is an amount in minor units (cents) of a currency.
type Money = tenant.Money

// emv is the earned media value of clicks: clicks × the instance's CPC.
func emv(sc tenant.Scope, clicks int64) Money {
	cpc := sc.Instance().Settings.CPC
	if cpc == nil {
		return Money{}
	}
	return Money{Amount: clicks * cpc.Amount, Currency: cpc.Currency}
}

// Figures are what rollups add up to, as the API shows them: a period's
// totals (Summary) or one line of a top list (Row).
type Figures struct {
	Shares           int64 `json:"shares"`
	Clicks           int64 `json:"clicks"`
	UniqueClicks     int64 `json:"unique_clicks"`
	PotentialReach   int64 `json:"potential_reach"`
	Reactions        int64 `json:"reactions"`
	Comments         int64 `json:"comments"`
	Reposts          int64 `json:"reposts"`
	Engagement       int64 `json:"engagement"`
	EarnedMediaValue Money `json:"earned_media_value"`
}

func figuresOf(sc tenant.Scope, c Counters) Figures {
	return Figures{Shares: c.Shares, Clicks: c.Clicks, UniqueClicks: c.UniqueClicks, PotentialReach: c.PotentialReach,
		Reactions: c.Reactions, Comments: c.Comments, Reposts: c.Reposts, Engagement: c.Engagement(), EarnedMediaValue: emv(sc, c.Clicks)}
}

// Summary is a period's totals.
type Summary struct {
	From string `json:"from"`
	To   string `json:"to"`
	Figures
}

func summaryOf(sc tenant.Scope, p Period, c Counters) Summary {
	return Summary{From: p.From, To: p.To, Figures: figuresOf(sc, c)}
}

// Summary returns the instance's totals over p.
func (s *Service) Summary(ctx context.Context, sc tenant.Scope, p Period) (Summary, error) {
	sum, err := lineTotals(ctx, sc, p, dimDay, "")
	if err != nil {
		return Summary{}, err
	}
	return summaryOf(sc, p, sum), nil
}

// Metrics of a time series.
var Metrics = []string{"clicks", "unique_clicks", "shares", "reach", "engagement", "emv"}

// DayValue is one day of a time series.
type DayValue struct {
	Day   string `json:"day"`
	Value int64  `json:"value"`
}

func metricOf(sc tenant.Scope, metric string, c Counters) int64 {
	switch metric {
	case "clicks":
		return c.Clicks
	case "unique_clicks":
		return c.UniqueClicks
	case "shares":
		return c.Shares
	case "reach":
		return c.PotentialReach
	case "engagement":
		return c.Engagement()
	case "emv":
		return emv(sc, c.Clicks).Amount
	}
	return 0
}

// Timeseries returns one value of metric per day of p, zero-filled.
func (s *Service) Timeseries(ctx context.Context, sc tenant.Scope, p Period, metric string) ([]DayValue, error) {
	if !slices.Contains(Metrics, metric) {
		return nil, &tenant.ValidationError{Field: "metric", Reason: "must be one of clicks, unique_clicks, shares, reach, engagement, emv"}
	}
	ds, err := days(ctx, sc, p, dimDay, "")
	if err != nil {
		return nil, err
	}
	byDay := map[string]Counters{}
	for _, d := range ds {
		c := byDay[d.Day]
		c.add(d.Counters)
		byDay[d.Day] = c
	}
	days := p.Days()
	out := make([]DayValue, len(days))
	for i, d := range days {
		out[i] = DayValue{Day: d, Value: metricOf(sc, metric, byDay[d])}
	}
	return out, nil
}

// Row is one line of a top list: a content, member or network with its
// figures over a period.
type Row struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Rank   int    `json:"rank,omitempty"`
	Points int64  `json:"points,omitempty"`
	Figures
}

func rowOf(sc tenant.Scope, id string, c Counters) Row {
	return Row{ID: id, Figures: figuresOf(sc, c)}
}

// Dimensions of the top lists.
const (
	ByContent = "content"
	ByMember  = "member"
	ByNetwork = "network"
)

// Top groups the period's totals by dimension, most clicks first (then
// most shares). By member it is the leaderboard: only members still in
// the instance, with their points, ranked by points; totals of members
// who objected to attribution ("") and of erased members are left out.
// Top lists every line; Page lists limit lines from offset, and says
// whether more follow.
func (s *Service) Top(ctx context.Context, sc tenant.Scope, p Period, by string) ([]Row, error) {
	rows, _, err := s.Page(ctx, sc, p, by, 0, 0)
	return rows, err
}

// Page returns limit lines (0: all) of the top list by dimension from
// offset, and whether more follow. The leaderboard (ByMember) ranks every
// member of the period, so its cost grows with the members who shared
// then; the other lists are added up, ordered and cut by the database
// (the content table as contents describes).
func (s *Service) Page(ctx context.Context, sc tenant.Scope, p Period, by string, offset, limit int) ([]Row, bool, error) {
	switch by {
	case ByContent, ByNetwork:
	case ByMember:
		gs, err := s.groups(ctx, sc, p, dimMember, 0, 0)
		if err != nil {
			return nil, false, err
		}
		board, err := s.leaderboard(ctx, sc, gs)
		if err != nil {
			return nil, false, err
		}
		if limit <= 0 {
			return board[min(offset, len(board)):], false, nil
		}
		return board[min(offset, len(board)):min(offset+limit, len(board))], offset+limit < len(board), nil
	default:
		return nil, false, fmt.Errorf("unknown dimension %q", by)
	}
	n := limit
	if limit > 0 {
		n++ // one more tells whether a next page exists
	}
	var gs []grouped
	var err error
	if by == ByContent {
		gs, err = s.contents(ctx, sc, p, offset, n)
	} else {
		gs, err = s.groups(ctx, sc, p, by, offset, n)
	}
	if err != nil {
		return nil, false, err
	}
	more := limit > 0 && len(gs) > limit
	if more {
		gs = gs[:limit]
	}
	out := make([]Row, len(gs))
	for i, g := range gs {
		out[i] = rowOf(sc, g.ID, g.Counters)
	}
	return out, more, nil
}

func (s *Service) leaderboard(ctx context.Context, sc tenant.Scope, gs []grouped) ([]Row, error) {
	names := map[string]string{}
	for after := ""; ; {
		ms, err := sc.Members(ctx, after, 500)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			names[m.ID] = m.Name
		}
		if len(ms) < 500 {
			break
		}
		after = ms[len(ms)-1].ID
	}
	w := sc.Instance().Settings.PointWeights()
	out := make([]Row, 0, len(gs))
	for _, g := range gs {
		id, c := g.ID, g.Counters
		name, ok := names[id]
		if !ok {
			continue // "" (objected) or an erased member's pseudonym
		}
		r := rowOf(sc, id, c)
		r.Name = name
		r.Points = c.Shares*w.PerShare + c.UniqueClicks*w.PerUniqueClick
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b Row) int {
		return cmp.Or(cmp.Compare(b.Points, a.Points), cmp.Compare(b.Clicks, a.Clicks), cmp.Compare(a.ID, b.ID))
	})
	for i := range out {
		out[i].Rank = i + 1
		if i > 0 && out[i].Points == out[i-1].Points {
			out[i].Rank = out[i-1].Rank // equal points, equal rank
		}
	}
	return out, nil
}

// Mine is a member's own impact over a period.
type Mine struct {
	Summary
	// Attributed is false when the member objected to analytics
	// attribution: their events count in the instance totals only.
	Attributed bool  `json:"attributed"`
	Points     int64 `json:"points"`
	// Rank and Of are set when the leaderboard is visible to the member
	// (settings.leaderboard_visible, or analysts and admins) and the member
	// is on it.
	Rank *int `json:"rank"`
	Of   *int `json:"of,omitempty"`
	// Weeks is the trend: the member's shares and clicks per week
	// (Monday to Sunday) of the period, oldest first, every week present.
	Weeks []Week `json:"weeks"`
}

// Week is one week of a member's trend: Start is its Monday (or the
// period's first day, when the period starts mid-week).
type Week struct {
	Start  string `json:"start"`
	Shares int64  `json:"shares"`
	Clicks int64  `json:"clicks"`
}

// weeksOf adds up daily totals per week of p, oldest first.
func weeksOf(p Period, ds []total) []Week {
	byDay := make(map[string]Counters, len(ds))
	for _, d := range ds {
		c := byDay[d.Day]
		c.add(d.Counters)
		byDay[d.Day] = c
	}
	var out []Week
	for _, day := range p.Days() {
		t, _ := time.Parse(time.DateOnly, day)
		if len(out) == 0 || t.Weekday() == time.Monday {
			out = append(out, Week{Start: day})
		}
		w := &out[len(out)-1]
		w.Shares += byDay[day].Shares
		w.Clicks += byDay[day].Clicks
	}
	return out
}

// Me returns the member's own figures over p; with rank, their place on
// the leaderboard.
func (s *Service) Me(ctx context.Context, sc tenant.Scope, me tenant.Member, p Period, rank bool) (Mine, error) {
	ds, err := days(ctx, sc, p, dimMember, me.ID)
	if err != nil {
		return Mine{}, err
	}
	var c Counters
	for _, d := range ds {
		c.add(d.Counters)
	}
	attr, err := tenant.Attributions(ctx, sc, []string{me.ID})
	if err != nil {
		return Mine{}, err
	}
	w := sc.Instance().Settings.PointWeights()
	out := Mine{Summary: summaryOf(sc, p, c), Attributed: !attr[me.ID].Withdrawn,
		Points: c.Shares*w.PerShare + c.UniqueClicks*w.PerUniqueClick, Weeks: weeksOf(p, ds)}
	if rank && out.Points > 0 {
		board, err := s.Top(ctx, sc, p, ByMember)
		if err != nil {
			return Mine{}, err
		}
		for _, r := range board {
			if r.ID == me.ID {
				out.Rank, out.Of = new(r.Rank), new(len(board))
			}
		}
	}
	return out, nil
}

// MemberClicks returns the clicks on the member's links from the day of
// since to the day of until (the instance's calendar days): one read of
// at most one daily total a day.
func MemberClicks(ctx context.Context, sc tenant.Scope, memberID string, since, until time.Time) (int64, error) {
	loc := sc.Instance().Settings.Location()
	ds, err := days(ctx, sc, Period{From: Day(since, loc), To: Day(until, loc)}, dimMember, memberID)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, d := range ds {
		n += d.Clicks
	}
	return n, nil
}

// ContentClicks returns the clicks on each post's tracked links over
// its whole life (its content span; a post never clicked is missing):
// one read of the {dim, id, day} index, a line per post. content shows
// it with each post, in place of a counter on the post that every click
// flush would have to write.
func ContentClicks(ctx context.Context, sc tenant.Scope, postIDs []string) (map[string]int64, error) {
	var spans []total
	err := sc.Collection(totalKind).Find(ctx, bson.D{{Key: "dim", Value: dimSpan}, {Key: "id", Value: bson.D{{Key: "$in", Value: postIDs}}}}, &spans,
		options.Find().SetProjection(bson.D{{Key: "id", Value: 1}, {Key: "clicks", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(spans))
	for _, t := range spans {
		out[t.Of] += t.Clicks
	}
	return out, nil
}

// Rollups returns the period's rollup documents, by day, content, member
// and network (operator tools and tests compare them).
func (s *Service) Rollups(ctx context.Context, sc tenant.Scope, p Period) ([]Rollup, error) {
	rs, err := rows(ctx, sc, p)
	slices.SortFunc(rs, func(a, b Rollup) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.ContentID, b.ContentID), cmp.Compare(a.MemberID, b.MemberID), cmp.Compare(a.Network, b.Network))
	})
	return rs, err
}
