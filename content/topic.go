package content

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// Topic is a subject content is filed under and members follow. Its ID is
// a slug of its name, stable once made.
type Topic struct {
	ID        string    `bson:"_id" json:"id"`
	Name      string    `bson:"name" json:"name"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
}

var topicKind = tenant.Kind{Name: "topics"}

const (
	maxTopicName    = 60
	maxTopicsPerOrg = 200
)

// ErrTopicExists: a topic with that slug exists.
var ErrTopicExists = errors.New("a topic with this name exists")

// slug turns a topic name into its ID: lower-case letters and digits of
// any script, words joined by '-'.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r > 127 && (isLetterOrDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
	}
	return b.String()
}

// Topics lists the instance's topics by name.
func (s *Service) Topics(ctx context.Context, sc tenant.Scope) ([]Topic, error) {
	var ts []Topic
	err := sc.Collection(topicKind).Find(ctx, bson.D{}, &ts, options.Find().SetSort(bson.D{{Key: "name", Value: 1}}).SetLimit(maxTopicsPerOrg))
	if ts == nil {
		ts = []Topic{}
	}
	return ts, err
}

// CreateTopic adds a topic (admins); ErrTopicExists if its slug is taken.
func (s *Service) CreateTopic(ctx context.Context, sc tenant.Scope, name string) (Topic, error) {
	name = strings.Join(strings.Fields(name), " ")
	id := slug(name)
	if name == "" || len([]rune(name)) > maxTopicName || id == "" {
		return Topic{}, &tenant.ValidationError{Field: "name", Reason: fmt.Sprintf("must be 1 to %d characters with a letter or digit", maxTopicName)}
	}
	n, err := sc.Collection(topicKind).Count(ctx, bson.D{})
	if err != nil {
		return Topic{}, err
	}
	if n >= maxTopicsPerOrg {
		return Topic{}, &tenant.ValidationError{Field: "name", Reason: fmt.Sprintf("an instance has at most %d topics", maxTopicsPerOrg)}
	}
	t := Topic{ID: id, Name: name, CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	switch err := sc.Collection(topicKind).Insert(ctx, t); {
	case errors.Is(err, tenant.ErrDuplicate):
		return Topic{}, ErrTopicExists
	case err != nil:
		return Topic{}, err
	}
	return t, nil
}

// DeleteTopic removes a topic (admins) and takes it off every post and
// every member's followed topics: a tag nobody can see or choose would
// otherwise make those posts and profiles fail validation when saved. The
// clean-up runs even when the topic is already gone, so a retry after a
// failure finishes it.
func (s *Service) DeleteTopic(ctx context.Context, sc tenant.Scope, id string) error {
	if id == "" || len(id) > 4*maxTopicName {
		return ErrNotFound
	}
	ok, err := sc.Collection(topicKind).Delete(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return err
	}
	if _, err := sc.Collection(postKind).UpdateMany(ctx, bson.D{{Key: "topics", Value: id}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "topics", Value: id}}}}); err != nil {
		return fmt.Errorf("untag posts: %w", err)
	}
	if err := sc.UnfollowTopic(ctx, id); err != nil {
		return fmt.Errorf("unfollow: %w", err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// fieldTopics checks a body's topics: a problem with them is added to
// errs (the other fields are still checked); err is the store's.
func (s *Service) fieldTopics(ctx context.Context, sc tenant.Scope, topics []string, errs *tenant.ValidationErrors) ([]string, error) {
	checked, err := s.checkTopics(ctx, sc, topics)
	var ve *tenant.ValidationError
	if errors.As(err, &ve) {
		*errs = append(*errs, ve)
		return nil, nil
	}
	return checked, err
}

// checkTopics returns the distinct topics, each of which must exist.
func (s *Service) checkTopics(ctx context.Context, sc tenant.Scope, topics []string) ([]string, error) {
	if len(topics) > maxTopics {
		return nil, &tenant.ValidationError{Field: "topics", Reason: fmt.Sprintf("at most %d topics", maxTopics)}
	}
	out := sortedUnique(topics)
	if len(out) == 0 {
		return []string{}, nil
	}
	known, err := s.Topics(ctx, sc)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, t := range known {
		ids[t.ID] = true
	}
	for _, t := range out {
		if !ids[t] {
			return nil, &tenant.ValidationError{Field: "topics", Reason: fmt.Sprintf("%q is not a topic of this instance", t)}
		}
	}
	return out, nil
}

// CheckTopics validates a member's followed topics; tenant calls it when a
// member edits their profile.
func (s *Service) CheckTopics(ctx context.Context, sc tenant.Scope, topics []string) ([]string, error) {
	return s.checkTopics(ctx, sc, topics)
}

func isLetterOrDigit(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
