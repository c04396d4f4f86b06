// Package reach measures what employee sharing brings: daily rollups per
// instance × day × content × member × network, kept up to date by the
// publishing, click and engagement hooks, rebuilt from the raw shares and
// clicks on demand, and read by the analytics API. Days are YYYY-MM-DD
// strings in the instance's time zone, so no date operators are needed.
package reach

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
)

// Counters are a rollup's figures.
type Counters struct {
	Shares         int64 `bson:"shares" json:"shares"`
	Clicks         int64 `bson:"clicks" json:"clicks"`
	UniqueClicks   int64 `bson:"unique_clicks" json:"unique_clicks"`
	PotentialReach int64 `bson:"potential_reach" json:"potential_reach"`
	Reactions      int64 `bson:"reactions" json:"reactions"`
	Comments       int64 `bson:"comments" json:"comments"`
	Reposts        int64 `bson:"reposts" json:"reposts"`
}

// Engagement is reactions + comments + reposts.
func (c Counters) Engagement() int64 { return c.Reactions + c.Comments + c.Reposts }

func (c *Counters) add(o Counters) {
	c.Shares += o.Shares
	c.Clicks += o.Clicks
	c.UniqueClicks += o.UniqueClicks
	c.PotentialReach += o.PotentialReach
	c.Reactions += o.Reactions
	c.Comments += o.Comments
	c.Reposts += o.Reposts
}

// incDoc is the $inc of the non-zero counters.
func (c Counters) incDoc() bson.D {
	var d bson.D
	for _, f := range []struct {
		k string
		v int64
	}{{"shares", c.Shares}, {"clicks", c.Clicks}, {"unique_clicks", c.UniqueClicks}, {"potential_reach", c.PotentialReach},
		{"reactions", c.Reactions}, {"comments", c.Comments}, {"reposts", c.Reposts}} {
		if f.v != 0 {
			d = append(d, bson.E{Key: f.k, Value: f.v})
		}
	}
	return d
}

// Key is what a rollup counts for. MemberID is "" for events of members
// who objected to analytics attribution: they count in the instance's
// totals only.
type Key struct {
	Day       string `bson:"day" json:"day"`
	ContentID string `bson:"content_id" json:"content_id"`
	MemberID  string `bson:"member_id" json:"member_id"`
	Network   string `bson:"network" json:"network"`
}

// id is the rollup's _id, derived from the key so that concurrent upserts
// of one key meet on one document.
func (k Key) id() string {
	h := sha256.Sum256([]byte(k.Day + "\x00" + k.ContentID + "\x00" + k.MemberID + "\x00" + k.Network))
	return hex.EncodeToString(h[:16])
}

// Rollup is one day's figures of one content shared by one member to one
// network.
type Rollup struct {
	ID       string `bson:"_id" json:"-"`
	Key      `bson:",inline"`
	Counters `bson:",inline"`
}

var rollupKind = tenant.Kind{Name: "rollups", Indexes: []tenant.Index{
	// Rebuild and Rollups: the rows of a range of days.
	{Keys: bson.D{{Key: "day", Value: 1}}},
	// move, Export: a member's rows.
	{Keys: bson.D{{Key: "member_id", Value: 1}, {Key: "day", Value: 1}}},
}}

// Dimensions of the totals: the instance's daily totals (ID ""), and one
// line per content, member and network and day.
const (
	dimDay     = "day"
	dimContent = ByContent
	dimMember  = ByMember
	dimNetwork = ByNetwork
)

// total is one day's sums of the rollups of one content, member or
// network, or of the whole instance (dim "day", ID ""): what the
// analytics read, so that a read costs days or one group per line, not
// every rollup of the period.
type total struct {
	ID       string `bson:"_id"`
	Dim      string `bson:"dim"`
	Of       string `bson:"id"`
	Day      string `bson:"day,omitempty"`
	Counters `bson:",inline"`
	// Members are a sharers line's members (see totals.go).
	Members []string `bson:"members,omitempty" json:"members,omitempty"`
	// First and Last are a content span's first and last day.
	First string `bson:"first,omitempty" json:"first,omitempty"`
	Last  string `bson:"last,omitempty" json:"last,omitempty"`
}

// totalKey is what a total counts for.
type totalKey struct{ dim, of, day string }

func (k totalKey) id() string {
	h := sha256.Sum256([]byte(k.dim + "\x00" + k.of + "\x00" + k.day))
	return hex.EncodeToString(h[:16])
}

var totalKind = tenant.Kind{Name: "rollup_totals", Indexes: []tenant.Index{
	// Summary and Timeseries ({dim: day, day range}) and the top lists
	// ($match {dim, day range}, $group by id).
	{Keys: bson.D{{Key: "dim", Value: 1}, {Key: "day", Value: 1}}},
	// A member's own days (analytics/me: {dim: member, id, day range}),
	// and moving a member's lines (erasure, objection).
	{Keys: bson.D{{Key: "dim", Value: 1}, {Key: "id", Value: 1}, {Key: "day", Value: 1}}},
	// The content spans active in a period (dim content@all, last ≥ its
	// first day).
	{Keys: bson.D{{Key: "dim", Value: 1}, {Key: "last", Value: 1}}},
}}

// Kinds are the tenant kinds reach keeps, for tenant.StoreConfig.
func Kinds() []tenant.Kind { return []tenant.Kind{rollupKind, totalKind} }

// Day is t's calendar day in loc, as rollups store it.
func Day(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// Service keeps and reads the rollups.
type Service struct {
	redis redis.UniversalClient
	log   *slog.Logger
	now   func() time.Time

	// Without Redis (operator commands, single-process tests) salts and
	// seen visitors live in memory.
	mu    sync.Mutex
	salts map[string][]byte
	seen  map[string]map[string]bool

	// cache holds what click flushes look up, per instance (see
	// lookup.go).
	cacheMu sync.Mutex
	cache   map[string]*instanceCache
	// grouped is false once the database answered a $group with several
	// sums wrongly (FerretDB v1): the top lists then add up in Go.
	ungrouped atomic.Bool
}

// Config configures a Service.
type Config struct {
	// Redis keeps the daily visitor salts and the day's seen visitors,
	// shared by every process; nil keeps them in this process's memory.
	Redis redis.UniversalClient
	Log   *slog.Logger
	Now   func() time.Time
}

// New returns a Service.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{redis: cfg.Redis, log: cfg.Log, now: cfg.Now, salts: map[string][]byte{}, seen: map[string]map[string]bool{},
		cache: map[string]*instanceCache{}}
}

// inc adds c to the rollup of k and to its totals, creating them if
// needed.
func inc(ctx context.Context, sc tenant.Scope, k Key, c Counters) error {
	return apply(ctx, sc, map[Key]Counters{k: c})
}

// apply adds each key's counters to its rollup and to the totals of its
// day, content, member and network and their derived lines (totals.go):
// keyed upserts of the two collections (upsertOps), written at once.
func apply(ctx context.Context, sc tenant.Scope, sums map[Key]Counters) error {
	d := newDerived()
	for k, c := range sums {
		d.addRollup(k, c)
	}
	var rollupsErr error
	var wg sync.WaitGroup
	wg.Go(func() { rollupsErr = upsertRollups(ctx, sc, sums) })
	totalsErr := upsertOps(ctx, sc.Collection(totalKind), d.incs())
	wg.Wait()
	return errors.Join(rollupsErr, totalsErr)
}

// keyed is a key that names its document: its _id and the fields an
// upsert sets on insert.
type keyed interface {
	comparable
	id() string
	fields() bson.D
}

func (k Key) fields() bson.D {
	return bson.D{{Key: "day", Value: k.Day}, {Key: "content_id", Value: k.ContentID},
		{Key: "member_id", Value: k.MemberID}, {Key: "network", Value: k.Network}}
}

func (k totalKey) fields() bson.D {
	return bson.D{{Key: "dim", Value: k.dim}, {Key: "id", Value: k.of}, {Key: "day", Value: k.day}}
}

// upsertRollups adds each key's counters to its rollup (one bulk write).
func upsertRollups(ctx context.Context, sc tenant.Scope, sums map[Key]Counters) error {
	return bulkInc(ctx, sc.Collection(rollupKind), sums)
}

// upsertOps applies keyed upserts (tenant.UpsertByID: one unordered
// bulk in _id order; writes broken out of a deadlock are sent again).
func upsertOps(ctx context.Context, coll *tenant.Collection, ops []keyedOp) error {
	ups := make([]tenant.KeyedUpdate, len(ops))
	for i, op := range ops {
		ups[i] = tenant.KeyedUpdate{ID: op.id, Update: op.update}
	}
	return coll.UpsertByID(ctx, ups)
}

// bulkInc adds each key's counters to its document, creating it if
// needed (upsertOps).
func bulkInc[K keyed](ctx context.Context, coll *tenant.Collection, sums map[K]Counters) error {
	ops := make([]keyedOp, 0, len(sums))
	for k, c := range sums {
		if d := c.incDoc(); len(d) > 0 {
			ops = append(ops, keyedOp{k.id(), bson.D{{Key: "$setOnInsert", Value: k.fields()}, {Key: "$inc", Value: d}}})
		}
	}
	return upsertOps(ctx, coll, ops)
}

// attributed returns whom an event of memberID at t counts for.
func attributed(attr map[string]tenant.Attribution, memberID string, t time.Time) string {
	if memberID == "" || !attr[memberID].Covers(t) {
		return ""
	}
	return memberID
}

// SharePublished counts a share that became published: one share and the
// connection's followers at share time as potential reach, on the day it
// was published. social.Config.OnPublished calls it; failures are logged
// (a rebuild repairs them).
func (s *Service) SharePublished(ctx context.Context, sc tenant.Scope, shareID string) {
	if err := s.sharePublished(ctx, sc, shareID); err != nil {
		s.log.ErrorContext(ctx, "rollup of a published share not updated; run chorus analytics rebuild", "tenant_id", sc.InstanceID(), "share_id", shareID, "err", err)
	}
}

func (s *Service) sharePublished(ctx context.Context, sc tenant.Scope, shareID string) error {
	sh, err := social.ShareByID(ctx, sc, shareID)
	if err != nil {
		return err
	}
	if sh.State != social.SharePublished || sh.PublishedAt == nil {
		return nil // the publishing attempt lost its lease: not published
	}
	// Read, not cached: one keyed read per publication, and the
	// publishing worker may run in a process that hears of consent
	// changes late.
	attr, err := tenant.Attributions(ctx, sc, []string{sh.MemberID})
	if err != nil {
		return err
	}
	at := *sh.PublishedAt
	k := Key{Day: Day(at, sc.Instance().Settings.Location()), ContentID: sh.ContentID,
		MemberID: attributed(attr, sh.MemberID, at), Network: sh.Network}
	return inc(ctx, sc, k, Counters{Shares: 1, PotentialReach: sh.Followers})
}

// Salts and seen visitors expire after three days: a day string lasts
// about 50 hours around the world, and no longer is needed.
const visitorTTL = 72 * time.Hour

// salt returns the day's random salt, creating it if needed.
func (s *Service) salt(ctx context.Context, day string) ([]byte, error) {
	s.mu.Lock()
	if b, ok := s.salts[day]; ok {
		s.mu.Unlock()
		return b, nil
	}
	s.mu.Unlock()
	fresh := make([]byte, 32)
	rand.Read(fresh)
	b := fresh
	if s.redis != nil {
		key := "chorus:reach:salt:" + day
		if err := s.redis.SetNX(ctx, key, fresh, visitorTTL).Err(); err != nil {
			return nil, err
		}
		v, err := s.redis.Get(ctx, key).Bytes()
		if err != nil {
			return nil, err
		}
		b = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.salts[day]; ok && s.redis == nil {
		return old, nil
	}
	if len(s.salts) > 8 { // older days are done with: discard their salts
		for d := range s.salts {
			if d < day {
				delete(s.salts, d)
			}
		}
	}
	s.salts[day] = b
	return b, nil
}

// visitor is the daily-salted hash of a click's code and IP prefix: one
// visitor per link, address prefix and day. The User-Agent is left out:
// anyone can send a new one with every request.
func visitor(salt []byte, c social.Click) string {
	h := sha256.New()
	h.Write(salt)
	for _, p := range []string{c.Code, c.IPPrefix} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// PrepareClicks gives each click its visitor hash, and marks the clicks
// that came with the sharer's own session (social.ClickHook).
func (s *Service) PrepareClicks(ctx context.Context, sc tenant.Scope, clicks []social.Click) {
	if err := s.markOwn(ctx, sc, clicks); err != nil {
		s.log.WarnContext(ctx, "shares of clicks not read: own visits not told apart", "tenant_id", sc.InstanceID(), "err", err)
	}
	loc := sc.Instance().Settings.Location()
	for i := range clicks {
		salt, err := s.salt(ctx, Day(clicks[i].At, loc))
		if err != nil {
			s.log.WarnContext(ctx, "no visitor salt: clicks count as unique", "tenant_id", sc.InstanceID(), "err", err)
			return
		}
		clicks[i].Visitor = visitor(salt, clicks[i])
	}
}

// firstVisits reports, per click, whether its visitor is new that day.
func (s *Service) firstVisits(ctx context.Context, sc tenant.Scope, days []string, clicks []social.Click) ([]bool, error) {
	out := make([]bool, len(clicks))
	if s.redis == nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, c := range clicks {
			if c.Visitor == "" {
				out[i] = true
				continue
			}
			k := days[i] + ":" + sc.InstanceID()
			if s.seen[k] == nil {
				s.seen[k] = map[string]bool{}
				// Days three before are done with: forget them.
				old := days[i]
				if d, err := time.Parse(time.DateOnly, days[i]); err == nil {
					old = d.AddDate(0, 0, -3).Format(time.DateOnly)
				}
				for seen := range s.seen {
					if seen < old {
						delete(s.seen, seen)
					}
				}
			}
			out[i] = !s.seen[k][c.Visitor]
			s.seen[k][c.Visitor] = true
		}
		return out, nil
	}
	// One script call per day's set, not two commands per click: it adds
	// the visitors in order and reports which were new.
	sets := map[string][]int{}
	for i, c := range clicks {
		if c.Visitor == "" {
			out[i] = true
			continue
		}
		k := "chorus:reach:seen:" + sc.InstanceID() + ":" + days[i]
		sets[k] = append(sets[k], i)
	}
	for k, idx := range sets {
		args := make([]any, 0, len(idx)+1)
		args = append(args, int64(visitorTTL/time.Second))
		for _, i := range idx {
			args = append(args, clicks[i].Visitor)
		}
		added, err := addVisitors.Run(ctx, s.redis, []string{k}, args...).Int64Slice()
		if err != nil {
			return nil, err
		}
		if len(added) != len(idx) {
			return nil, fmt.Errorf("visitor set %s: %d answers for %d visitors", k, len(added), len(idx))
		}
		for j, i := range idx {
			out[i] = added[j] == 1
		}
	}
	return out, nil
}

// addVisitors adds ARGV[2:] to the set KEYS[1] one by one, returns 1 for
// each that was new and 0 for each already there, and sets the set's
// lifetime to ARGV[1] seconds.
var addVisitors = redis.NewScript(`
local added = {}
for i = 2, #ARGV do
	added[i - 1] = redis.call('SADD', KEYS[1], ARGV[i])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return added
`)

// ClicksRecorded counts a stored batch of clicks (social.ClickHook):
// clicks and unique clicks per day, content, member and network. A click
// counts whatever became of the content since (expired, archived).
func (s *Service) ClicksRecorded(ctx context.Context, sc tenant.Scope, clicks []social.Click) {
	if err := s.clicksRecorded(ctx, sc, clicks); err != nil {
		s.log.ErrorContext(ctx, "click rollups not updated; run chorus analytics rebuild", "tenant_id", sc.InstanceID(), "count", len(clicks), "err", err)
	}
}

func (s *Service) clicksRecorded(ctx context.Context, sc tenant.Scope, clicks []social.Click) error {
	start := time.Now()
	loc := sc.Instance().Settings.Location()
	shares, err := s.shares(ctx, sc, clicks)
	if err != nil {
		return err
	}
	members := make([]string, 0, len(shares))
	for _, sh := range shares {
		members = append(members, sh.memberID)
	}
	attr, err := s.attributions(ctx, sc, members)
	if err != nil {
		return err
	}
	days := make([]string, len(clicks))
	// Only clicks that can earn points are looked up in the day's
	// visitors: another's click from the same address still counts.
	var counted []social.Click
	var countedDays []string
	var at []int
	for i, c := range clicks {
		days[i] = Day(c.At, loc)
		if countsForPoints(shares[c.ShareID], c) {
			counted, countedDays, at = append(counted, c), append(countedDays, days[i]), append(at, i)
		}
	}
	first, err := s.firstVisits(ctx, sc, countedDays, counted)
	if err != nil {
		return err
	}
	unique := make([]bool, len(clicks))
	for j, i := range at {
		unique[i] = first[j]
	}
	sums := map[Key]Counters{}
	for i, c := range clicks {
		k := Key{Day: days[i], ContentID: c.ContentID, Network: c.Network,
			MemberID: attributed(attr, shares[c.ShareID].memberID, c.At)}
		n := sums[k]
		n.Clicks++
		if unique[i] {
			n.UniqueClicks++
		}
		sums[k] = n
	}
	looked := time.Since(start)
	err = apply(ctx, sc, sums)
	if took := time.Since(start); took > slowFlush {
		s.log.WarnContext(ctx, "click rollups slow to write", "tenant_id", sc.InstanceID(), "count", len(clicks), "keys", len(sums),
			"lookups", looked.Round(time.Millisecond), "took", took.Round(time.Millisecond))
	}
	return err
}

// slowFlush is how long a flush's rollups may take before it is logged.
const slowFlush = 5 * time.Second

// countsForPoints reports whether a click may be a unique click, which
// earns points: the share was published when the click came, and the
// click is not the sharer's own (their session came with it).
func countsForPoints(sh shareFacts, c social.Click) bool {
	return sh.from != nil && !c.At.Before(*sh.from) && !c.Own
}

// move takes every rollup and member total of memberID and adds it to
// the same key under to ("" for the instance totals, or an erased
// member's pseudonym). Each row is deleted before it is added elsewhere,
// so a crash can lose a row's figures (a rebuild restores them) but never
// counts them twice; for the same reason memberID leaves the sharers and
// its monthly totals go first. The day, content and network totals do
// not name members and stay as they are.
func (s *Service) move(ctx context.Context, sc tenant.Scope, memberID, to string) error {
	defer s.forget(ctx, sc)
	err := moveRows(ctx, sc.Collection(rollupKind), bson.D{{Key: "member_id", Value: memberID}},
		func(r Rollup) error {
			k := r.Key
			k.MemberID = to
			return upsertRollups(ctx, sc, map[Key]Counters{k: r.Counters})
		})
	if err != nil {
		return err
	}
	totals := sc.Collection(totalKind)
	daily := bson.D{{Key: "dim", Value: dimMember}, {Key: "id", Value: memberID}}
	var lines []total
	if err := totals.Find(ctx, daily, &lines); err != nil {
		return err
	}
	pulls := map[string]bool{}
	for _, l := range lines {
		if l.Shares > 0 {
			pulls[totalKey{dimSharers, "", l.Day}.id()] = true
			pulls[totalKey{monthly(dimSharers), "", monthOf(l.Day)}.id()] = true
		}
	}
	var ops []tenant.Upsert
	for _, id := range slices.Sorted(maps.Keys(pulls)) {
		ops = append(ops, tenant.Upsert{Filter: bson.D{{Key: "_id", Value: id}},
			Update: bson.D{{Key: "$pull", Value: bson.D{{Key: "members", Value: memberID}}}}})
	}
	if err := totals.BulkUpdate(ctx, ops); err != nil {
		return err
	}
	if _, err := totals.DeleteMany(ctx, bson.D{{Key: "dim", Value: monthly(dimMember)}, {Key: "id", Value: memberID}}); err != nil {
		return err
	}
	return moveRows(ctx, totals, daily, func(t total) error {
		d := newDerived()
		k := totalKey{dimMember, to, t.Day}
		d.add(d.totals, k, t.Counters)
		d.addDaily(k, t.Counters)
		return upsertOps(ctx, totals, d.incs())
	})
}

// moveRows deletes each row that matches filter and adds the rows this
// call deleted elsewhere with add (of two moves at once, one moves each
// row).
func moveRows[T interface{ rowID() string }](ctx context.Context, coll *tenant.Collection, filter bson.D, add func(T) error) error {
	var rows []T
	if err := coll.Find(ctx, filter, &rows); err != nil {
		return err
	}
	for _, r := range rows {
		gone, err := coll.Delete(ctx, append(bson.D{{Key: "_id", Value: r.rowID()}}, filter...))
		if err != nil {
			return err
		}
		if !gone {
			continue
		}
		if err := add(r); err != nil {
			return err
		}
	}
	return nil
}

func (r Rollup) rowID() string { return r.ID }
func (t total) rowID() string  { return t.ID }
