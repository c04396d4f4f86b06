package content

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Campaign groups posts under a name, a time window and a goal; curators
// follow its progress, members see it in the feed while it runs.
type Campaign struct {
	ID          string    `bson:"_id" json:"id"`
	Name        string    `bson:"name" json:"name"`
	Description string    `bson:"description" json:"description"`
	Start       time.Time `bson:"start" json:"start"`
	End         time.Time `bson:"end" json:"end"`
	Goal        Goal      `bson:"goal" json:"goal"`
	Archived    bool      `bson:"archived" json:"archived"`
	CreatedBy   string    `bson:"created_by" json:"created_by"`
	CreatedAt   time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt   time.Time `bson:"updated_at" json:"updated_at"`
	// Rev counts the campaign's edits: an edit is written only over the
	// revision it read (EditCampaign). Campaigns stored before it have
	// none (0).
	Rev int64 `bson:"rev,omitempty" json:"-"`
}

// Goal is what a campaign aims at: a number of shares or of clicks of its
// posts within its window.
type Goal struct {
	Metric string `bson:"metric" json:"metric"`
	Target int64  `bson:"target" json:"target"`
}

// Goal metrics.
const (
	MetricShares = "shares"
	MetricClicks = "clicks"
)

// Campaign statuses, as seen from a point in time.
const (
	CampaignScheduled = "scheduled"
	CampaignActive    = "active"
	CampaignEnded     = "ended"
	CampaignArchived  = "archived"
)

// StatusAt is the campaign's status at now.
func (c Campaign) StatusAt(now time.Time) string {
	switch {
	case c.Archived:
		return CampaignArchived
	case now.Before(c.Start):
		return CampaignScheduled
	case now.After(c.End):
		return CampaignEnded
	}
	return CampaignActive
}

var campaignKind = tenant.Kind{
	Name: "campaigns",
	Indexes: []tenant.Index{
		// The curators' list (newest start first) of live or archived ones.
		{Keys: bson.D{{Key: "archived", Value: 1}, {Key: "start", Value: -1}, {Key: "_id", Value: -1}}},
		// The feed's strip: live campaigns not ended yet, ending first.
		{Keys: bson.D{{Key: "archived", Value: 1}, {Key: "end", Value: 1}, {Key: "_id", Value: 1}}},
	},
}

// Limits of campaigns.
const (
	maxCampaignName        = 120
	maxCampaignDescription = 2000
	// maxCampaignDuration bounds a window, and so the days its progress
	// reads.
	maxCampaignDuration = 366 * 24 * time.Hour
	maxGoalTarget       = 1_000_000_000
	// MaxCampaignPosts is how many posts a campaign holds: its progress
	// adds up their totals.
	MaxCampaignPosts = 200
	// maxActiveCampaigns is how many running campaigns the feed shows.
	maxActiveCampaigns = 10
)

// ErrCampaignArchived: the campaign is archived; it takes no more edits
// or posts.
var ErrCampaignArchived = errors.New("the campaign is archived")

// CampaignDraft is the input of a new or edited campaign; nil fields are
// not set.
type CampaignDraft struct {
	Name        *string
	Description *string
	Start       *time.Time
	End         *time.Time
	Goal        *Goal
}

func applyCampaign(c *Campaign, d CampaignDraft) error {
	var errs tenant.ValidationErrors
	add := func(field, reason string) { errs = append(errs, &tenant.ValidationError{Field: field, Reason: reason}) }
	if d.Name != nil {
		c.Name = strings.Join(strings.Fields(*d.Name), " ")
		if c.Name == "" || len([]rune(c.Name)) > maxCampaignName {
			add("name", fmt.Sprintf("must be 1 to %d characters", maxCampaignName))
		}
	}
	if d.Description != nil {
		c.Description = strings.TrimSpace(*d.Description)
		if len([]rune(c.Description)) > maxCampaignDescription {
			add("description", fmt.Sprintf("must be at most %d characters", maxCampaignDescription))
		}
	}
	if d.Start != nil {
		c.Start = d.Start.UTC().Truncate(time.Millisecond)
	}
	if d.End != nil {
		c.End = d.End.UTC().Truncate(time.Millisecond)
	}
	switch {
	case c.Start.IsZero():
		add("start", "is required")
	case c.End.IsZero():
		add("end", "is required")
	case !c.End.After(c.Start):
		add("end", "must be after start")
	case c.End.Sub(c.Start) > maxCampaignDuration:
		add("end", "must be at most 366 days after start")
	}
	if d.Goal != nil {
		c.Goal = *d.Goal
	}
	if c.Goal.Metric != MetricShares && c.Goal.Metric != MetricClicks {
		add("goal.metric", "must be shares or clicks")
	}
	if c.Goal.Target <= 0 || c.Goal.Target > maxGoalTarget {
		add("goal.target", fmt.Sprintf("must be a whole number from 1 to %d", maxGoalTarget))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// CreateCampaign stores a new campaign (curators and admins) and audits
// it. Name, start, end and goal are required.
func (s *Service) CreateCampaign(ctx context.Context, sc tenant.Scope, by tenant.Member, d CampaignDraft) (Campaign, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	c := Campaign{ID: httpapi.NewID(), CreatedBy: by.ID, CreatedAt: now, UpdatedAt: now}
	if d.Name == nil {
		d.Name = new(string)
	}
	if err := applyCampaign(&c, d); err != nil {
		return Campaign{}, err
	}
	if err := sc.Collection(campaignKind).Insert(ctx, c); err != nil {
		return Campaign{}, fmt.Errorf("store campaign: %w", err)
	}
	return c, sc.Audit(ctx, tenant.MemberActor(by), "campaign.created", c.ID, map[string]string{"name": c.Name})
}

// GetCampaign returns one campaign; ErrNotFound if the instance has none
// by id.
func (s *Service) GetCampaign(ctx context.Context, sc tenant.Scope, id string) (Campaign, error) {
	var c Campaign
	if !httpapi.ValidID(id) {
		return c, ErrNotFound
	}
	err := sc.Collection(campaignKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &c)
	return c, err
}

// EditCampaign changes a live campaign (ErrCampaignArchived for an
// archived one) and audits which fields changed. The edit is checked
// against the campaign as stored and written only over the revision it
// read: of two edits at once, the second is checked and made again on
// top of the first (an edit of the name and one of the end both stand;
// one that would put the end before a start just moved is refused).
func (s *Service) EditCampaign(ctx context.Context, sc tenant.Scope, by tenant.Member, id string, d CampaignDraft) (Campaign, error) {
	var c Campaign
	for try := 1; ; try++ {
		var err error
		if c, err = s.GetCampaign(ctx, sc, id); err != nil {
			return Campaign{}, err
		}
		if c.Archived {
			return Campaign{}, ErrCampaignArchived
		}
		read := bson.E{Key: "rev", Value: c.Rev}
		if c.Rev == 0 {
			read.Value = bson.D{{Key: "$exists", Value: false}}
		}
		if err := applyCampaign(&c, d); err != nil {
			return Campaign{}, err
		}
		c.UpdatedAt, c.Rev = s.now().UTC().Truncate(time.Millisecond), c.Rev+1
		ok, err := sc.Collection(campaignKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "archived", Value: false}, read},
			bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: c.Name}, {Key: "description", Value: c.Description},
				{Key: "start", Value: c.Start}, {Key: "end", Value: c.End}, {Key: "goal", Value: c.Goal}, {Key: "updated_at", Value: c.UpdatedAt},
				{Key: "rev", Value: c.Rev}}}})
		if err != nil {
			return Campaign{}, err
		}
		if ok {
			break
		}
		// Archived or edited meanwhile: read it again.
		if try == editTries {
			return Campaign{}, fmt.Errorf("campaign %s: edited by others %d times while this edit was made", id, try)
		}
	}
	var fields []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"name", d.Name != nil}, {"description", d.Description != nil}, {"start", d.Start != nil}, {"end", d.End != nil}, {"goal", d.Goal != nil}} {
		if f.set {
			fields = append(fields, f.name)
		}
	}
	return c, sc.Audit(ctx, tenant.MemberActor(by), "campaign.edited", c.ID, map[string]string{"fields": strings.Join(fields, ",")})
}

// editTries bounds how often an edit of a campaign is made again over
// edits made meanwhile.
const editTries = 5

// ArchiveCampaign archives a campaign: it leaves the feed and the list of
// live campaigns, its posts keep it. Archiving twice is
// ErrCampaignArchived.
func (s *Service) ArchiveCampaign(ctx context.Context, sc tenant.Scope, by tenant.Member, id string) error {
	if !httpapi.ValidID(id) {
		return ErrNotFound
	}
	ok, err := sc.Collection(campaignKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "archived", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "archived", Value: true}, {Key: "updated_at", Value: s.now().UTC()}}}})
	if err != nil {
		return err
	}
	if !ok {
		if _, err := s.GetCampaign(ctx, sc, id); err != nil {
			return err
		}
		return ErrCampaignArchived
	}
	return sc.Audit(ctx, tenant.MemberActor(by), "campaign.archived", id, nil)
}

// CampaignCursor is a position in the campaigns list: newest start first,
// then by ID.
type CampaignCursor struct {
	Start time.Time `json:"t"`
	ID    string    `json:"id"`
}

// ParseCampaignCursor reads a cursor of the campaigns list.
func ParseCampaignCursor(s string) (*CampaignCursor, error) {
	c, err := httpapi.ParseCursor(s, func(c CampaignCursor) bool { return httpapi.ValidID(c.ID) && !c.Start.IsZero() })
	if c != nil {
		c.Start = c.Start.UTC()
	}
	return c, err
}

// Campaigns returns a page of live (or archived) campaigns, newest start
// first, and the cursor of the next page (nil at the end): one range of
// the {archived, start, _id} index.
func (s *Service) Campaigns(ctx context.Context, sc tenant.Scope, archived bool, after *CampaignCursor, limit int) ([]Campaign, *CampaignCursor, error) {
	filter := bson.D{{Key: "archived", Value: archived}}
	if after != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "start", Value: bson.D{{Key: "$lt", Value: after.Start}}}},
			bson.D{{Key: "start", Value: after.Start}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
		}})
	}
	var out []Campaign
	err := sc.Collection(campaignKind).Find(ctx, filter, &out,
		options.Find().SetSort(bson.D{{Key: "start", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit+1)))
	if err != nil || len(out) <= limit {
		return out, nil, err
	}
	out = out[:limit]
	last := out[len(out)-1]
	return out, &CampaignCursor{Start: last.Start, ID: last.ID}, nil
}

// ActiveCampaigns returns the campaigns running now (start ≤ now ≤ end,
// not archived), ending first, at most maxActiveCampaigns: a range of the
// {archived, end, _id} index from now on.
func (s *Service) ActiveCampaigns(ctx context.Context, sc tenant.Scope) ([]Campaign, error) {
	now := s.now().UTC()
	var out []Campaign
	err := sc.Collection(campaignKind).Find(ctx, bson.D{{Key: "archived", Value: false},
		{Key: "end", Value: bson.D{{Key: "$gte", Value: now}}}, {Key: "start", Value: bson.D{{Key: "$lte", Value: now}}}}, &out,
		options.Find().SetSort(bson.D{{Key: "end", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(maxActiveCampaigns))
	if out == nil {
		out = []Campaign{}
	}
	return out, err
}

// campaignPostIDs returns the IDs of the campaign's posts (at most
// MaxCampaignPosts+1, so callers can tell a full campaign).
func campaignPostIDs(ctx context.Context, sc tenant.Scope, id string) ([]string, error) {
	var posts []struct {
		ID string `bson:"_id"`
	}
	err := sc.Collection(postKind).Find(ctx, bson.D{{Key: "campaign_id", Value: id}}, &posts,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(MaxCampaignPosts+1))
	ids := make([]string, len(posts))
	for i, p := range posts {
		ids[i] = p.ID
	}
	return ids, err
}

// checkCampaign validates a post's campaign: "" is none; another
// instance's or an unknown campaign is ErrNotFound, an archived one
// ErrCampaignArchived, a full one a validation error.
func (s *Service) checkCampaign(ctx context.Context, sc tenant.Scope, postID, id string) error {
	if id == "" {
		return nil
	}
	c, err := s.GetCampaign(ctx, sc, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("campaign %s: %w", id, ErrNotFound)
	case err != nil:
		return err
	case c.Archived:
		return ErrCampaignArchived
	}
	ids, err := campaignPostIDs(ctx, sc, id)
	if err != nil {
		return err
	}
	if len(ids) >= MaxCampaignPosts && !slices.Contains(ids, postID) {
		return &tenant.ValidationError{Field: "campaign_id", Reason: fmt.Sprintf("a campaign holds at most %d posts", MaxCampaignPosts)}
	}
	return nil
}

// CampaignCounter adds up the shares published and the clicks made
// between from and to (whole days of the instance's time zone) of the
// posts postIDs. Reach measurement provides it from its daily totals.
type CampaignCounter func(ctx context.Context, sc tenant.Scope, postIDs []string, from, to time.Time) (shares, clicks int64, err error)

// Progress is a campaign's figures against its goal at a point in time.
type Progress struct {
	Metric string `json:"metric"`
	Target int64  `json:"target"`
	// Value is the goal metric's count so far; Shares and Clicks are both.
	Value  int64 `json:"value"`
	Shares int64 `json:"shares"`
	Clicks int64 `json:"clicks"`
	// Percent is Value of Target (floor; may pass 100).
	Percent int64 `json:"percent"`
	// ElapsedPercent is how much of the window has passed; Expected is
	// that share of the target, and OnTrack says Value reached it.
	ElapsedPercent int64     `json:"elapsed_percent"`
	Expected       int64     `json:"expected"`
	OnTrack        bool      `json:"on_track"`
	Status         string    `json:"status"`
	Posts          int       `json:"posts"`
	AsOf           time.Time `json:"as_of"`
}

// CampaignProgress counts the campaign's posts' shares and clicks inside
// its window up to now and weighs them against its goal. It reads the
// campaign, its posts' IDs (≤ MaxCampaignPosts) and the counter's totals
// of those posts and days: never more than the campaign holds.
func (s *Service) CampaignProgress(ctx context.Context, sc tenant.Scope, id string) (Progress, error) {
	c, err := s.GetCampaign(ctx, sc, id)
	if err != nil {
		return Progress{}, err
	}
	now := s.now().UTC()
	p := Progress{Metric: c.Goal.Metric, Target: c.Goal.Target, Status: c.StatusAt(now), AsOf: now}
	ids, err := campaignPostIDs(ctx, sc, id)
	if err != nil {
		return Progress{}, err
	}
	p.Posts = len(ids)
	until := now
	if c.End.Before(now) {
		until = c.End
	}
	if len(ids) > 0 && !until.Before(c.Start) && s.campaignCounts != nil {
		if p.Shares, p.Clicks, err = s.campaignCounts(ctx, sc, ids, c.Start, until); err != nil {
			return Progress{}, fmt.Errorf("campaign %s progress: %w", id, err)
		}
	}
	return weigh(p, c, now), nil
}

// weigh sets p's value, percent and pace from its counts and c's window
// at now.
func weigh(p Progress, c Campaign, now time.Time) Progress {
	p.Value = p.Shares
	if c.Goal.Metric == MetricClicks {
		p.Value = p.Clicks
	}
	if p.Target > 0 {
		p.Percent = p.Value * 100 / p.Target
	}
	var elapsed float64
	switch total := c.End.Sub(c.Start); {
	case !now.After(c.Start):
	case !now.Before(c.End):
		elapsed = 1
	default:
		elapsed = float64(now.Sub(c.Start)) / float64(total)
	}
	p.ElapsedPercent = int64(elapsed * 100)
	p.Expected = int64(elapsed * float64(p.Target))
	p.OnTrack = p.Value >= p.Expected
	return p
}
