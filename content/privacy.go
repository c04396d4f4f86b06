package content

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// privacySource is content's part of data-subject requests.
type privacySource struct{ svc *Service }

// PrivacySource returns content's tenant.PrivacySource: the posts a person
// wrote or reviewed.
func (s *Service) PrivacySource() tenant.PrivacySource { return privacySource{s} }

// createdRecord is a campaign or a source as the export names it: the
// object is the company's, the export says which ones the person made.
type createdRecord struct {
	ID        string    `bson:"_id" json:"id"`
	Name      string    `bson:"name" json:"name"`
	Title     string    `bson:"title" json:"-"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

// createdBy returns the objects of kind k that memberID created, oldest
// first, named by their name (a campaign's) or title (a source's).
func createdBy(ctx context.Context, sc tenant.Scope, k tenant.Kind, memberID string) ([]createdRecord, error) {
	var out []createdRecord
	err := sc.Collection(k).Find(ctx, bson.D{{Key: "created_by", Value: memberID}}, &out, options.Find().
		SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetProjection(bson.D{{Key: "name", Value: 1}, {Key: "title", Value: 1}, {Key: "created_at", Value: 1}}))
	for i := range out {
		if out[i].Name == "" {
			out[i].Name = out[i].Title
		}
	}
	return nonNil(out), err
}

// Export returns the posts the subject authored or reviewed, the
// campaigns and sources they created, their digests and push records.
func (p privacySource) Export(ctx context.Context, sc tenant.Scope, s tenant.Subject) ([]string, map[string]any, error) {
	kinds := []string{postKind.Name, digestKind.Name, pushSubscriptionKind.Name, pushMemberKind.Name, pushSentKind.Name,
		campaignKind.Name, sourceKind.Name}
	if s.MemberID == "" {
		return kinds, map[string]any{"content_authored": []Post{}, "digests": []digestRecord{},
			"push_subscriptions": []PushSubscription{}, "push_notifications": []pushSent{},
			"campaigns_created": []createdRecord{}, "sources_created": []createdRecord{}}, nil
	}
	campaigns, err := createdBy(ctx, sc, campaignKind, s.MemberID)
	if err != nil {
		return nil, nil, err
	}
	sources, err := createdBy(ctx, sc, sourceKind, s.MemberID)
	if err != nil {
		return nil, nil, err
	}
	var authored, reviewed []Post
	if err := sc.Collection(postKind).Find(ctx, bson.D{{Key: "author_id", Value: s.MemberID}}, &authored); err != nil {
		return nil, nil, err
	}
	if err := sc.Collection(postKind).Find(ctx, bson.D{{Key: "reviewer_id", Value: s.MemberID}}, &reviewed); err != nil {
		return nil, nil, err
	}
	var digests []digestRecord
	if err := sc.Collection(digestKind).Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}, &digests); err != nil {
		return nil, nil, err
	}
	var subs []PushSubscription
	if err := sc.Collection(pushSubscriptionKind).Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}, &subs); err != nil {
		return nil, nil, err
	}
	var notified []pushSent
	if err := sc.Collection(pushSentKind).Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}, &notified); err != nil {
		return nil, nil, err
	}
	var prefs []pushMember
	if err := sc.Collection(pushMemberKind).Find(ctx, bson.D{{Key: "_id", Value: s.MemberID}}, &prefs); err != nil {
		return nil, nil, err
	}
	pushPrefs := map[string]any{}
	for _, pm := range prefs {
		pushPrefs = map[string]any{"time_zone": pm.TimeZone, "quiet_hours": pm.QuietHours, "day": pm.Day, "sent_that_day": pm.Count}
	}
	return kinds, map[string]any{
		// The member's devices registered for push notifications, the
		// posts they were notified of, and their quiet hours.
		"push_subscriptions": nonNil(subs),
		"push_notifications": nonNil(notified),
		"push_settings":      pushPrefs,
		"content_authored":   nonNil(authored),
		"content_reviewed":   idsOf(reviewed),
		// The digest mails the member was sent (or is being sent).
		"digests": nonNil(digests),
		// The campaigns and sources they created (the company's, which
		// erasure keeps without the link to them).
		"campaigns_created": campaigns,
		"sources_created":   sources,
	}, nil
}

// Erase deletes the subject's unpublished suggestions and drafts (their
// own words that never became the company's content) and the record of
// their digest mails, and replaces their member ID with the pseudonym on
// posts that stay and as the creator of campaigns and sources (those are
// the company's and stay too).
func (p privacySource) Erase(ctx context.Context, sc tenant.Scope, s tenant.Subject, pseudonym string) error {
	if s.MemberID == "" {
		return nil
	}
	if _, err := sc.Collection(digestKind).DeleteMany(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}); err != nil {
		return err
	}
	for _, k := range []tenant.Kind{pushSubscriptionKind, pushSentKind, pushMemberKind} {
		if _, err := sc.Collection(k).DeleteMany(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}); err != nil {
			return err
		}
	}
	// Sources and campaigns first: a source poll that read the source
	// before this stores its posts with the member's ID, and reads the
	// source again after (insertSourcePosts); posts stored before the
	// posts are renamed below are renamed with them.
	for _, k := range []tenant.Kind{campaignKind, sourceKind} {
		if _, err := sc.Collection(k).UpdateMany(ctx, bson.D{{Key: "created_by", Value: s.MemberID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "created_by", Value: pseudonym}}}}); err != nil {
			return err
		}
	}
	posts := sc.Collection(postKind)
	if _, err := posts.DeleteMany(ctx, bson.D{{Key: "author_id", Value: s.MemberID},
		{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{StatePending, StateRejected, StateDraft}}}}}); err != nil {
		return err
	}
	if _, err := posts.UpdateMany(ctx, bson.D{{Key: "author_id", Value: s.MemberID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "author_id", Value: pseudonym}}}}); err != nil {
		return err
	}
	if _, err := posts.UpdateMany(ctx, bson.D{{Key: "reviewer_id", Value: s.MemberID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "reviewer_id", Value: pseudonym}}}}); err != nil {
		return err
	}
	return nil
}

// ConsentChanged deletes the member's push subscriptions when they
// withdraw the push consent (tenant.ConsentObserver).
func (p privacySource) ConsentChanged(ctx context.Context, sc tenant.Scope, memberID, purpose string, granted bool) error {
	if purpose != tenant.PurposePush || granted {
		return nil
	}
	return dropPushSubscriptions(ctx, sc, memberID)
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func idsOf(ps []Post) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}
