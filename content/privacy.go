package content

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
)

// privacySource is content's part of data-subject requests.
type privacySource struct{ svc *Service }

// PrivacySource returns content's tenant.PrivacySource: the posts a person
// wrote or reviewed.
func (s *Service) PrivacySource() tenant.PrivacySource { return privacySource{s} }

// Export returns the posts the subject authored or reviewed.
func (p privacySource) Export(ctx context.Context, sc tenant.Scope, s tenant.Subject) ([]string, map[string]any, error) {
	if s.MemberID == "" {
		return []string{postKind.Name, digestKind.Name}, map[string]any{"content_authored": []Post{}, "digests": []digestRecord{}}, nil
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
	return []string{postKind.Name, digestKind.Name}, map[string]any{
		"content_authored": nonNil(authored),
		"content_reviewed": idsOf(reviewed),
		// The digest mails the member was sent (or is being sent).
		"digests": nonNil(digests),
	}, nil
}

// Erase deletes the subject's unpublished suggestions and drafts (their
// own words that never became the company's content) and the record of
// their digest mails, and replaces their member ID with the pseudonym on
// posts that stay.
func (p privacySource) Erase(ctx context.Context, sc tenant.Scope, s tenant.Subject, pseudonym string) error {
	if s.MemberID == "" {
		return nil
	}
	if _, err := sc.Collection(digestKind).DeleteMany(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}); err != nil {
		return err
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
	_, err := posts.UpdateMany(ctx, bson.D{{Key: "reviewer_id", Value: s.MemberID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "reviewer_id", Value: pseudonym}}}})
	return err
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
