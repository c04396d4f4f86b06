// Package tenant owns company instances and everything that decides who is
// who: email domains, members and their roles, sign-in (email links and
// OIDC), sessions, invitations, the audit log, data-subject requests, and
// the tenant-scoped store — the only route to any instance's data.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Instance is one company's isolated space.
type Instance struct {
	ID      string   `bson:"_id" json:"id"`
	Name    string   `bson:"name" json:"name"`
	Domains []string `bson:"domains" json:"domains"`
	// Verified is true once one of the domains passed DNS verification;
	// until then the instance is pending and admin powers are limited.
	Verified  bool      `bson:"verified" json:"verified"`
	Settings  Settings  `bson:"settings" json:"settings"`
	Placement Placement `bson:"placement" json:"-"`
	// FounderEmail is the first verified address of the instance; its
	// member is the admin-to-be. It is cleared once the founder joined
	// (and by the founder's erasure).
	FounderEmail string    `bson:"founder_email" json:"-"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
	// IndexSet fingerprints the kinds and indexes the instance's
	// collections were last given (Store.indexSet): a start whose set is
	// the same has nothing to check.
	IndexSet string `bson:"index_set,omitempty" json:"-"`
}

// Settings are what an instance's admins configure.
type Settings struct {
	// Subdomain selects the instance's login page (acme.<base domain>).
	Subdomain         string     `bson:"subdomain,omitempty" json:"subdomain,omitempty"`
	InvitationMessage string     `bson:"invitation_message" json:"invitation_message"`
	RetentionDays     int        `bson:"retention_days" json:"retention_days"`
	JoinPolicy        JoinPolicy `bson:"join_policy" json:"join_policy"`
	// SuggestionsNeedApproval, when false, publishes members' suggestions
	// without review. Unset means true.
	SuggestionsNeedApproval *bool `bson:"suggestions_need_approval,omitempty" json:"suggestions_need_approval"`

	// Reach measurement (social/reach). TimeZone is the IANA zone whose
	// calendar days bucket the analytics ("" is UTC); CPC prices a click
	// for the earned media value; MinGroupSize suppresses per-member
	// figures of groups smaller than it (0 and 1: off); LeaderboardVisible
	// shows members their rank; Points weighs the leaderboard.
	TimeZone           string `bson:"time_zone,omitempty" json:"time_zone"`
	CPC                *Money `bson:"cpc,omitempty" json:"cpc"`
	MinGroupSize       int    `bson:"min_group_size,omitempty" json:"min_group_size"`
	LeaderboardVisible bool   `bson:"leaderboard_visible" json:"leaderboard_visible"`
	Points             Points `bson:"points" json:"points"`

	// Digest is how often members get the digest mail of new content:
	// DigestOff or DigestWeekly ("" is weekly, see DigestSchedule).
	Digest string `bson:"digest,omitempty" json:"digest"`

	// PushDailyCap is how many push notifications of new content a member
	// gets a day at most (0: DefaultPushDailyCap, see PushCap).
	PushDailyCap int `bson:"push_daily_cap,omitempty" json:"push_daily_cap"`
	// AttributeClaims names the ID token claim that gives each member
	// attribute (department, location…) at sign-in (group_claims.go).
	AttributeClaims map[string]string `bson:"attribute_claims,omitempty" json:"attribute_claims,omitempty"`
}

// DefaultPushDailyCap is the push notifications a member gets a day when
// the admins set no cap; MaxPushDailyCap the highest cap they may set.
const (
	DefaultPushDailyCap = 3
	MaxPushDailyCap     = 24
)

// PushCap returns the daily cap of push notifications per member.
func (s Settings) PushCap() int {
	if s.PushDailyCap <= 0 {
		return DefaultPushDailyCap
	}
	return s.PushDailyCap
}

// Money is an amount in a currency's minor units (cents): never floating
// point.
type Money struct {
	Amount   int64  `bson:"amount" json:"amount"`
	Currency string `bson:"currency" json:"currency"`
}

// Points weigh the analytics leaderboard: points per published share and
// per unique click. Zero values mean the defaults.
type Points struct {
	PerShare       int64 `bson:"per_share,omitempty" json:"per_share"`
	PerUniqueClick int64 `bson:"per_unique_click,omitempty" json:"per_unique_click"`
}

// Default reach settings.
const (
	DefaultTimeZone       = "UTC"
	DefaultPointsPerShare = 10
	DefaultPointsPerClick = 1
)

// Location returns the instance's time zone (UTC when unset or unknown).
func (s Settings) Location() *time.Location {
	if s.TimeZone == "" || s.TimeZone == "UTC" {
		return time.UTC
	}
	if loc, ok := zones.Load(s.TimeZone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return time.UTC
	}
	zones.Store(s.TimeZone, loc)
	return loc
}

// zones caches loaded time zones: every click batch asks for one.
var zones sync.Map

// PointWeights returns the leaderboard weights with defaults applied.
func (s Settings) PointWeights() Points {
	p := s.Points
	if p.PerShare == 0 {
		p.PerShare = DefaultPointsPerShare
	}
	if p.PerUniqueClick == 0 {
		p.PerUniqueClick = DefaultPointsPerClick
	}
	return p
}

// WithDefaults fills in the settings an instance never set (retention,
// the reach settings, the digest) as they apply: GET /api/v1/instance
// shows the effective settings.
func (s Settings) WithDefaults() Settings {
	s.RetentionDays = s.RetentionPeriod()
	if s.TimeZone == "" {
		s.TimeZone = DefaultTimeZone
	}
	s.MinGroupSize = s.GroupSize()
	s.Points = s.PointWeights()
	s.Digest = s.DigestSchedule()
	s.PushDailyCap = s.PushCap()
	return s
}

// GroupSize returns the smallest group whose per-member figures are shown.
func (s Settings) GroupSize() int { return max(s.MinGroupSize, 1) }

// NeedsApproval reports whether members' suggestions wait for review.
func (s Settings) NeedsApproval() bool {
	return s.SuggestionsNeedApproval == nil || *s.SuggestionsNeedApproval
}

// JoinPolicy says who may join an instance.
type JoinPolicy string

// Join policies.
const (
	JoinOpen   JoinPolicy = "open"   // anyone with a verified address on a domain
	JoinInvite JoinPolicy = "invite" // invited addresses only
	JoinSSO    JoinPolicy = "sso"    // through the instance's identity provider only
)

// Placement says where an instance's data lives, so instances can be
// spread over clusters and pinned to a region.
type Placement struct {
	Cluster string `bson:"cluster"`
	// Region names the region holding the instance's data ("" for an
	// instance placed before regions existed: the home database).
	Region string `bson:"region"`
	// A move to another region in progress (chorus instance move): MoveTo
	// is its target, MoveID its owner and MoveUntil the end of its lease,
	// renewed while it copies. Until then the instance is read-only; a
	// lease that ran out (an interrupted move) holds nothing.
	MoveTo    string     `bson:"move_to,omitempty"`
	MoveID    string     `bson:"move_id,omitempty"`
	MoveUntil *time.Time `bson:"move_until,omitempty"`
}

// Default settings of a new instance.
const (
	DefaultRetentionDays     = 395
	DefaultInvitationMessage = "Join us on Chorus to find and share news from our company."
)

// domainClaim records which instance holds a domain; _id is the domain, so
// a domain is held by one instance at a time. Only a claim that routes
// people (see routes) owns the domain for good; an admin's added domain is
// held until verified and may be taken over meanwhile (see Store.claim).
type domainClaim struct {
	Domain     string     `bson:"_id"`
	InstanceID string     `bson:"instance_id"`
	Verified   bool       `bson:"verified"`
	Token      string     `bson:"token"`
	CreatedAt  time.Time  `bson:"created_at"`
	VerifiedAt *time.Time `bson:"verified_at,omitempty"`
	CheckedAt  *time.Time `bson:"checked_at,omitempty"`
	// Missing: the record was gone at the last periodic check.
	Missing bool `bson:"missing"`
}

func (s *Store) instance(ctx context.Context, id string) (Instance, error) {
	if !httpapi.ValidID(id) {
		return Instance{}, ErrNotFound
	}
	var inst Instance
	err := s.db.Collection(collInstances).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&inst)
	return inst, storeErr(err)
}

// EnsureInstance returns the instance owning a normalised domain, creating
// a pending one whose admin-to-be is founder if there is none. Operators'
// tools and tests call it; people reach it by signing in.
func (s *Store) EnsureInstance(ctx context.Context, domain, founder string) (Instance, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Instance{}, err
	}
	return s.instanceForDomain(ctx, d, founder)
}

// instanceForDomain returns the instance a person of domain lands in,
// creating a pending one with founder as admin-to-be if no claim of the
// domain routes anyone (see domainClaim.routes); the new instance's claim
// then replaces another instance's unverified added claim. Two first users
// racing end up in the same instance: the domain claim is unique.
func (s *Store) instanceForDomain(ctx context.Context, domain, founder string) (Instance, error) {
	claim, owner, ok, err := s.claimOwner(ctx, domain)
	switch {
	case err != nil:
		return Instance{}, err
	case ok && claim.routes(owner):
		return owner, nil
	}

	now := s.now().UTC().Truncate(time.Millisecond)
	inst := Instance{
		ID:      httpapi.NewID(),
		Name:    domain,
		Domains: []string{domain},
		Settings: Settings{
			InvitationMessage:       DefaultInvitationMessage,
			RetentionDays:           DefaultRetentionDays,
			JoinPolicy:              JoinOpen,
			SuggestionsNeedApproval: new(true),
			TimeZone:                DefaultTimeZone,
			MinGroupSize:            1,
			// Team points and rank are shown from the start; admins may
			// turn them off. Instances made before keep what they stored.
			LeaderboardVisible: true,
			Points:             Points{PerShare: DefaultPointsPerShare, PerUniqueClick: DefaultPointsPerClick},
		},
		FounderEmail: founder,
		CreatedAt:    now,
		IndexSet:     s.indexSet,
		Placement:    Placement{Region: s.defaultRegion},
	}
	// The instance's collections and record exist before the domain points
	// at it, so nobody ever lands in a half-made instance.
	db, err := Scope{store: s, inst: inst}.database()
	if err != nil {
		return Instance{}, err
	}
	if err := s.ensureTenantIndexes(ctx, db, inst.ID); err != nil {
		return Instance{}, err
	}
	if _, err := s.db.Collection(collInstances).InsertOne(ctx, inst); err != nil {
		return Instance{}, fmt.Errorf("create instance for %s: %w", domain, storeErr(err))
	}
	claim = domainClaim{Domain: domain, InstanceID: inst.ID, Token: httpapi.NewID(), CreatedAt: now}
	if err := s.claim(ctx, claim, "a new instance was created from it"); err != nil {
		s.dropInstance(context.WithoutCancel(ctx), inst)
		if errors.Is(err, ErrDuplicate) {
			// Someone else claimed the domain a moment ago: join theirs.
			return s.instanceForDomain(ctx, domain, founder)
		}
		return Instance{}, fmt.Errorf("claim domain %s: %w", domain, err)
	}
	s.log.InfoContext(ctx, "instance created", "tenant_id", inst.ID, "domain", domain)
	return inst, nil
}

// dropInstance removes an instance's record and collections (in its
// region); it logs what it cannot drop and goes on, so a retry finishes
// the job.
func (s *Store) dropInstance(ctx context.Context, inst Instance) {
	id := inst.ID
	if err := s.dropCollections(ctx, inst.Placement.Region, id); err != nil {
		s.log.WarnContext(ctx, "drop collections", "tenant_id", id, "err", err)
	}
	if _, err := s.db.Collection(collInstances).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		s.log.WarnContext(ctx, "drop instance", "tenant_id", id, "err", storeErr(err))
	}
	s.cache.dropInstance(id)
}

// dropCollections drops every collection of an instance in a region's
// database; it goes on after a failure and returns them all.
func (s *Store) dropCollections(ctx context.Context, region, id string) error {
	db, err := s.database(region)
	if err != nil {
		return err
	}
	var errs []error
	for name := range s.kinds {
		if err := db.Collection(collectionName(id, name)).Drop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drop %s: %w", name, storeErr(err)))
		}
	}
	return errors.Join(errs...)
}

// updateInstance stores the name and settings of the scope's instance and
// returns the instance as stored.
func (s *Store) updateInstance(ctx context.Context, sc Scope, name string, st Settings) (Instance, error) {
	_, err := s.db.Collection(collInstances).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: sc.inst.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: name}, {Key: "settings", Value: st}}}},
	)
	s.cache.dropInstance(sc.inst.ID)
	if err != nil {
		return Instance{}, storeErr(err)
	}
	return s.instance(ctx, sc.inst.ID)
}

// forgetFounder removes email from the instance record when it names
// the founder; it is idempotent.
func (s *Store) forgetFounder(ctx context.Context, instanceID, email string) error {
	_, err := s.db.Collection(collInstances).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: instanceID}, {Key: "founder_email", Value: email}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "founder_email", Value: ""}}}})
	if err != nil {
		return fmt.Errorf("forget the founder's address: %w", storeErr(err))
	}
	return nil
}

// founderRecord returns the instance record's part about email: its
// founder's address when it is email's (export).
func (s *Store) founderRecord(ctx context.Context, instanceID, email string) (map[string]any, error) {
	inst, err := s.instance(ctx, instanceID)
	if err != nil {
		return nil, err
	}
	if email == "" || inst.FounderEmail != email {
		return map[string]any{}, nil
	}
	return map[string]any{"id": inst.ID, "founder_email": inst.FounderEmail}, nil
}

// Instances lists every instance (operators), oldest first, without any
// instance's data.
func (s *Store) Instances(ctx context.Context) ([]Instance, error) {
	cur, err := s.db.Collection(collInstances).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}))
	if err != nil {
		return nil, storeErr(err)
	}
	insts := []Instance{}
	return insts, storeErr(cur.All(ctx, &insts))
}

// EachInstance calls f with the scope of every instance (periodic jobs).
// One instance's failure does not stop the others; the errors are joined.
func (s *Store) EachInstance(ctx context.Context, f func(Scope) error) error {
	insts, err := s.Instances(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, inst := range insts {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f(Scope{store: s, inst: inst}); err != nil {
			errs = append(errs, fmt.Errorf("instance %s: %w", inst.ID, err))
		}
	}
	return errors.Join(errs...)
}
