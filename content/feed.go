package content

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Query selects a page of posts.
type Query struct {
	// State is "" or published for the feed; other states are for
	// curators and admins.
	State State
	Topic string
	// Followed restricts to the member's followed topics.
	Followed bool
	// MineSuggested lists the member's own suggestions, in every state.
	MineSuggested bool
	// Campaign restricts to one campaign's posts.
	Campaign string
	After    *Cursor
	Limit    int
}

// Cursor is a position in a list ordered by publish time, then ID, both
// descending: stable while posts are added.
type Cursor struct {
	PublishAt time.Time `json:"t"`
	ID        string    `json:"id"`
}

// ParseCursor reads a cursor of a list ordered like posts (httpapi.Page made
// it from a Cursor); anything else is a validation problem on the cursor
// field.
func ParseCursor(s string) (*Cursor, error) {
	c, err := httpapi.ParseCursor(s, func(c Cursor) bool { return httpapi.ValidID(c.ID) && !c.PublishAt.IsZero() })
	if c != nil {
		c.PublishAt = c.PublishAt.UTC()
	}
	return c, err
}

// List returns a page of posts for the member and the cursor of the next
// page (nil at the end). Members other than curators and admins see only
// the feed and their own suggestions; asking for more is ErrForbidden.
func (s *Service) List(ctx context.Context, sc tenant.Scope, me tenant.Member, q Query) ([]Post, *Cursor, error) {
	now := s.now().UTC()
	var and bson.A
	// The list reads its pages through windows of publish_at
	// (tenant.Newest); before is an upper bound of every post in it.
	var before time.Time
	switch {
	case q.MineSuggested:
		and = append(and, bson.D{{Key: "author_id", Value: me.ID}, {Key: "suggested", Value: true}})
	case q.State == "" || q.State == StatePublished:
		before = now
		and = append(and,
			bson.D{{Key: "state", Value: StatePublished}},
			bson.D{{Key: "$or", Value: bson.A{
				bson.D{{Key: "expires_at", Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}},
			}}})
	case !isCurator(me):
		return nil, nil, tenant.ErrForbidden
	case q.State == StateScheduled:
		// What is scheduled lies between now and the future: not history,
		// so one range holds it.
		and = append(and, bson.D{{Key: "state", Value: StatePublished}, {Key: "publish_at", Value: bson.D{{Key: "$gt", Value: now}}}})
	case q.State == StateExpired:
		// Published before it expired, and it expired by now.
		before = now
		and = append(and, bson.D{{Key: "state", Value: StatePublished}, {Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now}}}})
	case q.State == StateDraft, q.State == StatePending, q.State == StateRejected, q.State == StateArchived:
		and = append(and, bson.D{{Key: "state", Value: q.State}})
	default:
		return nil, nil, &tenant.ValidationError{Field: "state", Reason: "must be draft, scheduled, published, pending, rejected, archived or expired"}
	}
	aimed := false
	if !q.MineSuggested && (q.State == "" || q.State == StatePublished) {
		// The feed: only what is aimed at the member.
		f, err := memberAim(ctx, sc, me)
		if err != nil {
			return nil, nil, err
		}
		if f != nil {
			and, aimed = append(and, f), true
		}
	}
	if q.Topic != "" {
		and = append(and, bson.D{{Key: "topics", Value: q.Topic}})
	}
	if q.Campaign != "" {
		and = append(and, bson.D{{Key: "campaign_id", Value: q.Campaign}})
	}
	if q.Followed {
		and = append(and, bson.D{{Key: "topics", Value: bson.D{{Key: "$in", Value: append([]string{}, me.Topics...)}}}})
	}
	if c := q.After; c != nil {
		// The windows start at the cursor (a next page reads a page, not
		// everything before it); the $or breaks ties at its exact time.
		if before.IsZero() || c.PublishAt.Before(before) {
			before = c.PublishAt
		}
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "publish_at", Value: bson.D{{Key: "$lt", Value: c.PublishAt}}}},
			bson.D{{Key: "publish_at", Value: c.PublishAt}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: c.ID}}}},
		}}})
	}
	var posts []Post
	var err error
	if q.State == StateScheduled {
		err = sc.Collection(postKind).Find(ctx, bson.D{{Key: "$and", Value: and}}, &posts, options.Find().
			SetSort(bson.D{{Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}).
			SetLimit(int64(q.Limit+1)))
	} else {
		// Lists shared by every member (by state and topic) learn how far
		// back a page reaches, first pages (from now) apart from next ones
		// (from a cursor); a member's own lists do not.
		key := ""
		if !q.Followed && !q.MineSuggested && q.Campaign == "" {
			key = string(q.State) + "\x00" + q.Topic
			if q.After != nil {
				key += "\x00next"
			}
			if aimed {
				key += "\x00aimed"
			}
		}
		err = tenant.Newest(ctx, sc.Collection(postKind), bson.D{{Key: "$and", Value: and}},
			tenant.Window{Field: "publish_at", Before: before, Now: now, Key: key}, q.Limit+1, &posts)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(posts) <= q.Limit {
		return posts, nil, nil
	}
	posts = posts[:q.Limit]
	last := posts[len(posts)-1]
	return posts, &Cursor{PublishAt: last.PublishAt, ID: last.ID}, nil
}
