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
	"slices"
	"sync"
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
	{Keys: bson.D{{Key: "day", Value: 1}}},
	{Keys: bson.D{{Key: "member_id", Value: 1}, {Key: "day", Value: 1}}},
}}

// Kinds are the tenant kinds reach keeps, for tenant.StoreConfig.
func Kinds() []tenant.Kind { return []tenant.Kind{rollupKind} }

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
	return &Service{redis: cfg.Redis, log: cfg.Log, now: cfg.Now, salts: map[string][]byte{}, seen: map[string]map[string]bool{}}
}

// inc adds c to the rollup of k, creating it if needed.
func inc(ctx context.Context, sc tenant.Scope, k Key, c Counters) error {
	d := c.incDoc()
	if len(d) == 0 {
		return nil
	}
	update := bson.D{
		{Key: "$setOnInsert", Value: bson.D{{Key: "day", Value: k.Day}, {Key: "content_id", Value: k.ContentID},
			{Key: "member_id", Value: k.MemberID}, {Key: "network", Value: k.Network}}},
		{Key: "$inc", Value: d},
	}
	coll := sc.Collection(rollupKind)
	err := coll.Upsert(ctx, bson.D{{Key: "_id", Value: k.id()}}, update)
	if errors.Is(err, tenant.ErrDuplicate) {
		// Two upserts inserted at once: the loser's retry updates.
		err = coll.Upsert(ctx, bson.D{{Key: "_id", Value: k.id()}}, update)
	}
	return err
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

// visitor is the daily-salted hash of a click's code, IP prefix and
// User-Agent.
func visitor(salt []byte, c social.Click) string {
	h := sha256.New()
	h.Write(salt)
	for _, p := range []string{c.Code, c.IPPrefix, c.UserAgent} {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// PrepareClicks gives each click its visitor hash (social.ClickHook).
func (s *Service) PrepareClicks(ctx context.Context, sc tenant.Scope, clicks []social.Click) {
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
	loc := sc.Instance().Settings.Location()
	ids := make([]string, 0, len(clicks))
	for _, c := range clicks {
		ids = append(ids, c.ShareID)
	}
	slices.Sort(ids)
	shares, err := social.SharesByID(ctx, sc, slices.Compact(ids))
	if err != nil {
		return err
	}
	members := make([]string, 0, len(shares))
	for _, sh := range shares {
		members = append(members, sh.MemberID)
	}
	attr, err := tenant.Attributions(ctx, sc, members)
	if err != nil {
		return err
	}
	days := make([]string, len(clicks))
	for i, c := range clicks {
		days[i] = Day(c.At, loc)
	}
	first, err := s.firstVisits(ctx, sc, days, clicks)
	if err != nil {
		return err
	}
	sums := map[Key]Counters{}
	for i, c := range clicks {
		k := Key{Day: days[i], ContentID: c.ContentID, Network: c.Network,
			MemberID: attributed(attr, shares[c.ShareID].MemberID, c.At)}
		n := sums[k]
		n.Clicks++
		if first[i] {
			n.UniqueClicks++
		}
		sums[k] = n
	}
	var errs []error
	for k, n := range sums {
		if err := inc(ctx, sc, k, n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// move takes every rollup of memberID and adds it to the same key under
// to ("" for the instance totals, or an erased member's pseudonym). Each
// row is deleted before it is added elsewhere, so a crash can lose a
// row's figures (a rebuild restores them) but never counts them twice.
func move(ctx context.Context, sc tenant.Scope, memberID, to string) error {
	coll := sc.Collection(rollupKind)
	var rows []Rollup
	if err := coll.Find(ctx, bson.D{{Key: "member_id", Value: memberID}}, &rows); err != nil {
		return err
	}
	for _, r := range rows {
		gone, err := coll.Delete(ctx, bson.D{{Key: "_id", Value: r.ID}, {Key: "member_id", Value: memberID}})
		if err != nil {
			return err
		}
		if !gone {
			continue
		}
		k := r.Key
		k.MemberID = to
		if err := inc(ctx, sc, k, r.Counters); err != nil {
			return err
		}
	}
	return nil
}
