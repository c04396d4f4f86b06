// Package content owns what employees are asked to share: curated posts
// with their link previews and suggested share texts, employee suggestions
// and their review, the instance's topics, and the feed.
package content

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
)

// State is where a post stands. Stored states are draft, published,
// pending, rejected and archived; scheduled and expired are published
// posts seen from a point in time (before publish_at, after expires_at).
type State string

// States.
const (
	StateDraft     State = "draft"
	StateScheduled State = "scheduled"
	StatePublished State = "published"
	StatePending   State = "pending"
	StateRejected  State = "rejected"
	StateArchived  State = "archived"
	StateExpired   State = "expired"
)

// Post is a piece of content: curated by a curator, or suggested by an
// employee.
type Post struct {
	ID    string `bson:"_id"`
	State State  `bson:"state"`
	URL   string `bson:"url"`
	// CanonicalURL is URL in the form that deduplicates it (CanonicalURL),
	// so a feed item already posted by hand or by another source is not
	// posted again.
	CanonicalURL string `bson:"canonical_url,omitempty"`
	// SourceID names the content source the post came from, if any.
	SourceID string `bson:"source_id,omitempty"`
	// CampaignID names the campaign the post belongs to, if any.
	CampaignID string            `bson:"campaign_id,omitempty"`
	Title      string            `bson:"title"`
	Commentary string            `bson:"commentary"`
	ShareTexts map[string]string `bson:"share_texts"`
	Topics     []string          `bson:"topics"`
	ImageURL   string            `bson:"image_url"`
	Language   string            `bson:"language"`
	// PublishAt orders the feed; for posts not published yet it is their
	// creation time.
	PublishAt time.Time  `bson:"publish_at"`
	ExpiresAt *time.Time `bson:"expires_at,omitempty"`
	AuthorID  string     `bson:"author_id"`
	// PushSwept: the post's push notification marks were swept
	// (SweepPushSent); it is not notified again.
	PushSwept bool `bson:"push_swept,omitempty" json:"-"`
	// Suggested marks a post that an employee suggested.
	Suggested  bool      `bson:"suggested"`
	Reason     string    `bson:"reason,omitempty"`
	ReviewerID string    `bson:"reviewer_id,omitempty"`
	Preview    Preview   `bson:"preview"`
	CreatedAt  time.Time `bson:"created_at"`
	UpdatedAt  time.Time `bson:"updated_at"`
	// Counters kept by social as shares are made and cancelled (see
	// CountShares), so a page of posts says them without reading any
	// share: SharedBy is how many members have a share of the post that
	// they did not cancel, Shares how many such shares there are. Clicks
	// is a floor of how many clicks their links got: the click recorder
	// no longer writes it (the reach totals count a post's clicks, and the
	// API shows the larger of the two); releases before kept it, and
	// chorus counters recount sets it from the stored clicks.
	SharedBy int64 `bson:"shared_by,omitempty"`
	Shares   int64 `bson:"shares,omitempty"`
	Clicks   int64 `bson:"clicks,omitempty"`
	// Audience is the groups (tenant.Group IDs) the post is aimed at;
	// empty: everyone. AimedAt is what the feed's indexed filter matches:
	// Audience, or [AimEveryone] when it is empty (see aim); every write
	// sets it. Posts stored before audiences existed got it from migration
	// 8 (BackfillAimedAt).
	Audience []string `bson:"audience,omitempty"`
	AimedAt  []string `bson:"aimed_at,omitempty"`
}

// Preview is what the link's page says about itself.
type Preview struct {
	Title        string    `bson:"title" json:"title"`
	Description  string    `bson:"description" json:"description"`
	ImageURL     string    `bson:"image_url" json:"image_url"`
	CanonicalURL string    `bson:"canonical_url" json:"canonical_url"`
	SiteName     string    `bson:"site_name" json:"site_name"`
	Status       string    `bson:"status" json:"status"` // pending, ok or failed
	FetchedAt    time.Time `bson:"fetched_at,omitempty" json:"fetched_at,omitzero"`
}

// StateAt is the post's state as seen at now.
func (p Post) StateAt(now time.Time) State {
	if p.State != StatePublished {
		return p.State
	}
	switch {
	case p.PublishAt.After(now):
		return StateScheduled
	case p.ExpiresAt != nil && !p.ExpiresAt.After(now):
		return StateExpired
	}
	return StatePublished
}

var postKind = tenant.Kind{
	Name: "posts",
	Indexes: []tenant.Index{
		// The feed and curators' lists by state (List): equality on state, a
		// range on publish_at bounded by now and the cursor, the sort order.
		{Keys: bson.D{{Key: "state", Value: 1}, {Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}},
		// A member's own suggestions (GET /suggestions), and export/erasure.
		{Keys: bson.D{{Key: "author_id", Value: 1}, {Key: "publish_at", Value: -1}}},
		// The feed of one topic (?topic=) or of the followed ones (?followed=1,
		// one range per topic merged in order): a page of a rare topic must
		// not walk every newer post of the others.
		{Keys: bson.D{{Key: "topics", Value: 1}, {Key: "state", Value: 1}, {Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}},
		// Deduplication of the items of content sources (Source).
		{Keys: bson.D{{Key: "canonical_url", Value: 1}}},
		// The feed of a member who is not a curator: the posts aimed at
		// everyone or at one of their groups (audience.go), one range per
		// value merged in order, like the topics'.
		{Keys: bson.D{{Key: "aimed_at", Value: 1}, {Key: "state", Value: 1}, {Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}},
		// A campaign's posts: its feed (?campaign=) and its progress.
		{Keys: bson.D{{Key: "campaign_id", Value: 1}, {Key: "state", Value: 1}, {Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}},
	},
}

// Limits of a post's fields.
const (
	maxURLLen        = 2048
	maxTitleLen      = 300
	maxCommentaryLen = 5000
	maxTopics        = 10
	maxImageURLLen   = 2048
)

// checkURL validates a link to share: absolute http(s), at most 2 KB,
// without credentials. Where it points is checked only when it is fetched.
func checkURL(field, raw string) (string, *tenant.ValidationError) {
	raw = strings.TrimSpace(raw)
	bad := func(reason string) (string, *tenant.ValidationError) {
		return "", &tenant.ValidationError{Field: field, Reason: reason}
	}
	if raw == "" {
		return bad("is required")
	}
	if len(raw) > maxURLLen {
		return bad(fmt.Sprintf("must be at most %d bytes", maxURLLen))
	}
	if !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return bad("must not contain control characters")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad("is not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("must be an http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return bad("must be an absolute URL with a host")
	case u.User != nil:
		return bad("must not contain a user name or password")
	}
	return u.String(), nil
}
