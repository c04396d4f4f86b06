package content

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Errors of the content service.
var (
	// ErrNotFound: no such post in this instance.
	ErrNotFound = tenant.ErrNotFound
	// ErrWrongState: the post is not in a state that allows the action
	// (approving a post that is no longer pending, editing an archived one).
	ErrWrongState = errors.New("the post is not in a state that allows this")
	// ErrNotShareable: the post is not published, is scheduled, or expired.
	ErrNotShareable = errors.New("the post cannot be shared now")
	// ErrPreviewRefused: the link's preview cannot be fetched however often
	// it is tried (the fetcher refuses its destination, or it is not an
	// HTML page).
	ErrPreviewRefused = errors.New("the link's preview cannot be fetched")
)

// Fetcher fetches link previews; *preview.Fetcher is the real one.
type Fetcher interface {
	Fetch(ctx context.Context, rawURL string) (preview.Preview, error)
}

// Service manages posts, suggestions, topics and the feed.
type Service struct {
	fetcher Fetcher
	log     *slog.Logger
	now     func() time.Time
	// retryPreview, when set, asks a job to fetch a failed preview again.
	retryPreview func(ctx context.Context, sc tenant.Scope, postID string) error
	memberClicks func(ctx context.Context, sc tenant.Scope, memberID string, since, until time.Time) (int64, error)
	feeds        feedPoller
	push         PushConfig
	// campaignCounts adds up campaigns' shares and clicks (nil: none).
	campaignCounts CampaignCounter
}

// Config configures a Service.
type Config struct {
	Fetcher      Fetcher
	Log          *slog.Logger
	Now          func() time.Time
	RetryPreview func(ctx context.Context, sc tenant.Scope, postID string) error
	// MemberClicks, when set, counts the clicks on a member's links
	// between two times, for the digest's "your posts got N clicks"
	// (reach measurement provides it: content knows no clicks).
	MemberClicks func(ctx context.Context, sc tenant.Scope, memberID string, since, until time.Time) (int64, error)
	// FeedClient fetches content sources' feeds (nil: a client of the
	// preview fetcher's outbound policy, 15 s per poll).
	FeedClient *http.Client
	// MaxFeedBody caps a feed's body in bytes [4 MiB]; a larger feed fails
	// the poll.
	MaxFeedBody int64
	// Push sends push notifications of new content (zero: none).
	Push PushConfig
	// CampaignCounts, when set, adds up the shares and clicks of a
	// campaign's posts (reach measurement provides it).
	CampaignCounts CampaignCounter
}

// NewService returns a Service.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{fetcher: cfg.Fetcher, log: cfg.Log, now: cfg.Now, retryPreview: cfg.RetryPreview, memberClicks: cfg.MemberClicks,
		feeds: newFeedPoller(cfg.FeedClient, cfg.MaxFeedBody), push: cfg.Push, campaignCounts: cfg.CampaignCounts}
}

// Kinds are the tenant kinds content keeps, for tenant.StoreConfig.
func Kinds() []tenant.Kind {
	return append([]tenant.Kind{postKind, topicKind, digestKind, sourceKind, campaignKind}, pushKinds()...)
}

// Draft is the input of a new or edited post; nil fields are not set.
type Draft struct {
	URL        *string
	Title      *string
	Commentary *string
	ShareTexts map[string]string
	Topics     *[]string
	ImageURL   *string
	Language   *string
	PublishAt  *time.Time
	ExpiresAt  *time.Time
	// NoExpiry (edit and approve) removes the expiry; ExpiresAt is then nil.
	NoExpiry bool
	// AsDraft keeps a new curated post unpublished.
	AsDraft bool
	// Audience aims the post at groups of the instance; empty: everyone.
	Audience *[]string
	// CampaignID puts the post in a campaign ("" takes it out).
	CampaignID *string
}

// apply validates d onto p, collecting every invalid field.
func (s *Service) apply(ctx context.Context, sc tenant.Scope, p *Post, d Draft) error {
	var errs tenant.ValidationErrors
	add := func(field, reason string) { errs = append(errs, &tenant.ValidationError{Field: field, Reason: reason}) }
	if d.URL != nil {
		u, verr := checkURL("url", *d.URL)
		if verr != nil {
			errs = append(errs, verr)
		}
		p.URL = u
		p.CanonicalURL = CanonicalURL(u)
	}
	if d.Title != nil {
		p.Title = strings.TrimSpace(*d.Title)
		if len([]rune(p.Title)) > maxTitleLen {
			add("title", fmt.Sprintf("must be at most %d characters", maxTitleLen))
		}
	}
	if d.Commentary != nil {
		p.Commentary = strings.TrimSpace(*d.Commentary)
		if len([]rune(p.Commentary)) > maxCommentaryLen {
			add("commentary", fmt.Sprintf("must be at most %d characters", maxCommentaryLen))
		}
	}
	if d.ShareTexts != nil {
		texts, terrs := checkShareTexts(d.ShareTexts)
		errs = append(errs, terrs...)
		p.ShareTexts = texts
	}
	if d.Topics != nil {
		topics, err := s.fieldTopics(ctx, sc, *d.Topics, &errs)
		if err != nil {
			return err
		}
		p.Topics = topics
	}
	if d.Audience != nil {
		audience, err := checkAudience(ctx, sc, *d.Audience, &errs)
		if err != nil {
			return err
		}
		p.Audience, p.AimedAt = audience, aim(audience)
	}
	if d.ImageURL != nil {
		p.ImageURL = ""
		if strings.TrimSpace(*d.ImageURL) != "" {
			u, verr := checkURL("image_url", *d.ImageURL)
			if verr != nil {
				errs = append(errs, verr)
			}
			p.ImageURL = u
		}
	}
	if d.Language != nil {
		p.Language = strings.TrimSpace(*d.Language)
		if !validLanguage(p.Language) {
			add("language", "must be a language tag such as en or pt-BR")
		}
	}
	if d.PublishAt != nil {
		p.PublishAt = d.PublishAt.UTC().Truncate(time.Millisecond)
	}
	if d.ExpiresAt != nil {
		e := d.ExpiresAt.UTC().Truncate(time.Millisecond)
		p.ExpiresAt = &e
	}
	if d.NoExpiry {
		p.ExpiresAt = nil
	}
	if p.ExpiresAt != nil && !p.ExpiresAt.After(p.PublishAt) {
		add("expires_at", "must be after publish_at")
	}
	if len(errs) > 0 {
		return errs
	}
	if d.CampaignID != nil && *d.CampaignID != p.CampaignID {
		if err := s.checkCampaign(ctx, sc, p.ID, *d.CampaignID); err != nil {
			return err
		}
		p.CampaignID = *d.CampaignID
	}
	return nil
}

// validLanguage accepts "" or a BCP 47-shaped tag (letters, digits, '-').
func validLanguage(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > 35 {
		return false
	}
	for i, part := range strings.Split(s, "-") {
		if part == "" || len(part) > 8 || (i == 0 && len(part) > 3) {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return false
			}
		}
	}
	return true
}

// Create stores a curated post (curators and admins), published at once,
// scheduled for PublishAt, or as a draft. It fetches the link's preview;
// a preview that fails never fails the create and is retried by a job.
func (s *Service) Create(ctx context.Context, sc tenant.Scope, author tenant.Member, d Draft) (Post, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	p := Post{ID: httpapi.NewID(), State: StatePublished, PublishAt: now, AuthorID: author.ID,
		ShareTexts: map[string]string{}, Topics: []string{}, CreatedAt: now, UpdatedAt: now}
	if d.URL == nil {
		d.URL = new(string)
	}
	if d.PublishAt != nil && d.PublishAt.Before(now.Add(-time.Minute)) {
		return Post{}, &tenant.ValidationError{Field: "publish_at", Reason: "must not be in the past"}
	}
	if err := s.apply(ctx, sc, &p, d); err != nil {
		return Post{}, err
	}
	if d.AsDraft {
		p.State = StateDraft
	}
	return s.insertWithPreview(ctx, sc, p)
}

// Suggest stores a member's suggestion, pending review — or published at
// once where the instance's settings say suggestions need no approval.
func (s *Service) Suggest(ctx context.Context, sc tenant.Scope, author tenant.Member, rawURL, commentary string, topics []string) (Post, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	p := Post{ID: httpapi.NewID(), State: StatePending, PublishAt: now, AuthorID: author.ID, Suggested: true,
		ShareTexts: map[string]string{}, Topics: []string{}, CreatedAt: now, UpdatedAt: now}
	if topics == nil {
		topics = []string{}
	}
	if err := s.apply(ctx, sc, &p, Draft{URL: &rawURL, Commentary: &commentary, Topics: &topics}); err != nil {
		return Post{}, err
	}
	if !sc.Instance().Settings.NeedsApproval() {
		p.State = StatePublished
	}
	return s.insertWithPreview(ctx, sc, p)
}

func (s *Service) insertWithPreview(ctx context.Context, sc tenant.Scope, p Post) (Post, error) {
	p.AimedAt = aim(p.Audience)
	p.Preview = s.previewOf(ctx, p.URL)
	if err := sc.Collection(postKind).Insert(ctx, p); err != nil {
		return Post{}, fmt.Errorf("store post: %w", err)
	}
	s.announce(ctx, sc, p)
	if p.Preview.Status == "failed" && s.retryPreview != nil {
		if err := s.retryPreview(ctx, sc, p.ID); err != nil {
			// The post stands; the preview stays failed until edited.
			s.log.WarnContext(ctx, "preview retry not queued", "post_id", p.ID, "err", err)
		}
	}
	return p, nil
}

// previewOf is a written post's preview: a failed fetch is logged and
// gives a failed preview.
func (s *Service) previewOf(ctx context.Context, rawURL string) Preview {
	pv, err := s.fetchPreview(ctx, rawURL)
	if err != nil {
		s.log.InfoContext(ctx, "link preview failed", "err", err)
	}
	return pv
}

// fetchPreview fetches rawURL's preview. A failed fetch is a failed
// preview and the fetcher's error, wrapped in ErrPreviewRefused when
// trying again cannot help.
func (s *Service) fetchPreview(ctx context.Context, rawURL string) (Preview, error) {
	if s.fetcher == nil {
		return Preview{Status: "pending"}, nil
	}
	pv, err := s.fetcher.Fetch(ctx, rawURL)
	if errors.Is(err, preview.ErrBlocked) || errors.Is(err, preview.ErrNotHTML) {
		err = fmt.Errorf("%w: %w", ErrPreviewRefused, err)
	}
	if err != nil {
		return Preview{Status: "failed", FetchedAt: s.now().UTC()}, err
	}
	return Preview{Title: pv.Title, Description: pv.Description, ImageURL: pv.ImageURL,
		CanonicalURL: pv.CanonicalURL, SiteName: pv.SiteName, Status: "ok", FetchedAt: s.now().UTC()}, nil
}

// RefreshPreview fetches a post's preview again (the preview job). It
// returns an error while the fetch fails, so the job retries; one wrapping
// ErrPreviewRefused when retrying cannot help.
func (s *Service) RefreshPreview(ctx context.Context, sc tenant.Scope, id string) error {
	p, err := s.Get(ctx, sc, id)
	if err != nil {
		return err
	}
	pv, err := s.fetchPreview(ctx, p.URL)
	switch {
	case err != nil:
		return fmt.Errorf("preview of %s: %w", id, err)
	case pv.Status != "ok":
		return fmt.Errorf("preview of %s: no fetcher", id)
	}
	_, err = sc.Collection(postKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "url", Value: p.URL}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "preview", Value: pv}}}})
	return err
}

// Get returns one post of the instance.
func (s *Service) Get(ctx context.Context, sc tenant.Scope, id string) (Post, error) {
	if !httpapi.ValidID(id) {
		return Post{}, ErrNotFound
	}
	var p Post
	if err := sc.Collection(postKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &p); err != nil {
		return Post{}, err
	}
	return p, nil
}

// Visible returns a post the member may see (Sees): everything for
// curators and admins; their own suggestions, and published, unexpired
// posts aimed at everyone or at one of their groups for the others.
// Anything else is ErrNotFound.
func (s *Service) Visible(ctx context.Context, sc tenant.Scope, me tenant.Member, id string) (Post, error) {
	p, err := s.Get(ctx, sc, id)
	if err != nil {
		return Post{}, err
	}
	switch ok, err := s.Sees(ctx, sc, me, p); {
	case err != nil:
		return Post{}, err
	case !ok:
		return Post{}, ErrNotFound
	}
	return p, nil
}

func isCurator(m tenant.Member) bool { return m.Allows(tenant.RoleCurator, tenant.RoleAdmin) }

// Shareable returns a post that may be shared now: published, due and
// unexpired. Otherwise ErrNotShareable (or ErrNotFound).
func (s *Service) Shareable(ctx context.Context, sc tenant.Scope, id string) (Post, error) {
	p, err := s.Get(ctx, sc, id)
	if err != nil {
		return Post{}, err
	}
	if p.StateAt(s.now()) != StatePublished {
		return Post{}, ErrNotShareable
	}
	return p, nil
}

// Edit changes a post (curators and admins). An archived or rejected post
// cannot be edited; a changed URL fetches the preview again.
func (s *Service) Edit(ctx context.Context, sc tenant.Scope, id string, d Draft, state *State) (Post, error) {
	p, err := s.Get(ctx, sc, id)
	if err != nil {
		return Post{}, err
	}
	if p.State == StateArchived || p.State == StateRejected {
		return Post{}, ErrWrongState
	}
	before := p
	if err := s.apply(ctx, sc, &p, d); err != nil {
		return Post{}, err
	}
	if state != nil {
		switch {
		case *state == p.State:
		case *state == StatePublished && p.State == StateDraft:
			p.State = *state
			// Published now unless a time was given: a draft's publish
			// time was only when it was written.
			if d.PublishAt == nil {
				p.PublishAt = s.now().UTC().Truncate(time.Millisecond)
			}
		case *state == StateDraft && p.State == StatePublished:
			p.State = *state
		default:
			return Post{}, &tenant.ValidationError{Field: "state", Reason: "can only move between draft and published (archive with DELETE, review with approve/reject)"}
		}
	}
	if p.URL != before.URL {
		p.Preview = s.previewOf(ctx, p.URL)
	}
	p.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	set := bson.D{
		{Key: "state", Value: p.State}, {Key: "url", Value: p.URL}, {Key: "canonical_url", Value: p.CanonicalURL}, {Key: "title", Value: p.Title},
		{Key: "commentary", Value: p.Commentary}, {Key: "share_texts", Value: p.ShareTexts},
		{Key: "topics", Value: p.Topics}, {Key: "image_url", Value: p.ImageURL}, {Key: "language", Value: p.Language},
		{Key: "publish_at", Value: p.PublishAt}, {Key: "preview", Value: p.Preview}, {Key: "updated_at", Value: p.UpdatedAt},
		{Key: "audience", Value: nonNil(p.Audience)}, {Key: "aimed_at", Value: aim(p.Audience)},
	}
	set = append(set, bson.E{Key: "campaign_id", Value: p.CampaignID})
	update := withExpiry(set, p.ExpiresAt)
	// Conditional on the state read above: an edit never resurrects a
	// post archived or reviewed meanwhile.
	ok, err := sc.Collection(postKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: before.State}}, update)
	if err != nil {
		return Post{}, err
	}
	if !ok {
		return Post{}, ErrWrongState
	}
	// Newly published, or its publish time moved: a notification for the
	// new time (one for the old time finds it not yet due, or notified).
	if p.State == StatePublished && (before.State != StatePublished || !p.PublishAt.Equal(before.PublishAt)) {
		s.announce(ctx, sc, p)
	}
	return p, nil
}

// withExpiry is the update that sets set and the expiry: set when there is
// one, removed when there is none.
func withExpiry(set bson.D, expires *time.Time) bson.D {
	if expires != nil {
		return bson.D{{Key: "$set", Value: append(set, bson.E{Key: "expires_at", Value: *expires})}}
	}
	return bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "expires_at", Value: ""}}}}
}

// Archive takes a post out of every feed; archiving twice is ErrWrongState.
func (s *Service) Archive(ctx context.Context, sc tenant.Scope, id string) error {
	if !httpapi.ValidID(id) {
		return ErrNotFound
	}
	ok, err := sc.Collection(postKind).Update(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: bson.D{{Key: "$ne", Value: StateArchived}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: StateArchived}, {Key: "updated_at", Value: s.now().UTC()}}}})
	if err != nil || ok {
		return err
	}
	if _, err := s.Get(ctx, sc, id); err != nil {
		return err
	}
	return ErrWrongState
}

// Approve publishes a pending suggestion, with optional edits; of two
// curators approving at once exactly one succeeds, the other gets
// ErrWrongState.
func (s *Service) Approve(ctx context.Context, sc tenant.Scope, reviewer tenant.Member, id string, d Draft) (Post, error) {
	p, err := s.Get(ctx, sc, id)
	if err != nil {
		return Post{}, err
	}
	if p.State != StatePending {
		return Post{}, ErrWrongState
	}
	before := p.URL
	if err := s.apply(ctx, sc, &p, d); err != nil {
		return Post{}, err
	}
	if d.URL != nil && p.URL != before {
		p.Preview = s.previewOf(ctx, p.URL)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	p.State, p.ReviewerID, p.UpdatedAt = StatePublished, reviewer.ID, now
	if d.PublishAt == nil {
		p.PublishAt = now
	}
	set := bson.D{
		{Key: "state", Value: p.State}, {Key: "reviewer_id", Value: p.ReviewerID}, {Key: "url", Value: p.URL}, {Key: "title", Value: p.Title},
		{Key: "commentary", Value: p.Commentary}, {Key: "share_texts", Value: p.ShareTexts}, {Key: "topics", Value: p.Topics},
		{Key: "image_url", Value: p.ImageURL}, {Key: "language", Value: p.Language}, {Key: "preview", Value: p.Preview},
		{Key: "publish_at", Value: p.PublishAt}, {Key: "updated_at", Value: now},
		{Key: "audience", Value: nonNil(p.Audience)}, {Key: "aimed_at", Value: aim(p.Audience)},
	}
	set = append(set, bson.E{Key: "campaign_id", Value: p.CampaignID})
	ok, err := sc.Collection(postKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: StatePending}},
		withExpiry(set, p.ExpiresAt))
	if err != nil {
		return Post{}, err
	}
	if !ok {
		return Post{}, ErrWrongState
	}
	s.announce(ctx, sc, p)
	return p, nil
}

// Reject turns a pending suggestion down with a reason the suggester sees.
func (s *Service) Reject(ctx context.Context, sc tenant.Scope, reviewer tenant.Member, id, reason string) (Post, error) {
	p, err := s.Get(ctx, sc, id)
	if err != nil {
		return Post{}, err
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len([]rune(reason)) > 1000 {
		return Post{}, &tenant.ValidationError{Field: "reason", Reason: "must be 1 to 1000 characters"}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	ok, err := sc.Collection(postKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: StatePending}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: StateRejected}, {Key: "reason", Value: reason},
			{Key: "reviewer_id", Value: reviewer.ID}, {Key: "updated_at", Value: now}}}})
	if err != nil {
		return Post{}, err
	}
	if !ok {
		return Post{}, ErrWrongState
	}
	p.State, p.Reason, p.ReviewerID, p.UpdatedAt = StateRejected, reason, reviewer.ID, now
	return p, nil
}

// sortedUnique returns the distinct values of xs in order.
func sortedUnique(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}
