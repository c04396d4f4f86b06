package tenant

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Link is a tracked link: /r/{code} leads to Destination, and the click
// counts for one share of one instance. Links are global routing data,
// like domain claims: a click arrives with no session, so the code alone
// must find its instance.
type Link struct {
	Code        string    `bson:"_id"`
	InstanceID  string    `bson:"instance_id"`
	ShareID     string    `bson:"share_id"`
	ContentID   string    `bson:"content_id"`
	Network     string    `bson:"network"`
	Destination string    `bson:"destination"`
	CreatedAt   time.Time `bson:"created_at"`
}

const collLinks = "links"

// CreateLink registers a tracked link of the scope's instance; a taken
// code is ErrDuplicate.
func (sc Scope) CreateLink(ctx context.Context, l Link) error {
	l.InstanceID = sc.InstanceID()
	l.CreatedAt = sc.store.now().UTC().Truncate(time.Millisecond)
	_, err := sc.store.db.Collection(collLinks).InsertOne(ctx, l)
	return storeErr(err)
}

// ResolveLink returns the link of a code, or ErrNotFound.
func (s *Store) ResolveLink(ctx context.Context, code string) (Link, error) {
	var l Link
	err := s.db.Collection(collLinks).FindOne(ctx, bson.D{{Key: "_id", Value: code}}).Decode(&l)
	return l, storeErr(err)
}

// OpenLink returns the scope of a resolved link's instance: the click
// recorder's verified route to the instance's data.
func (s *Store) OpenLink(ctx context.Context, l Link) (Scope, error) {
	return s.Open(ctx, l.InstanceID)
}

// DeleteLinks deletes the scope's tracked links of shares that were never
// made (a share request that failed): their codes lead nowhere after.
func (sc Scope) DeleteLinks(ctx context.Context, shareIDs []string) error {
	if len(shareIDs) == 0 {
		return nil
	}
	_, err := sc.store.db.Collection(collLinks).DeleteMany(ctx, bson.D{{Key: "instance_id", Value: sc.InstanceID()},
		{Key: "share_id", Value: bson.D{{Key: "$in", Value: shareIDs}}}})
	return storeErr(err)
}

// SessionMember returns the instance and member of the live session
// behind a session cookie's secret (ErrNoSession if none): the click
// recorder tells a sharer's own visits of their links from others'. It
// reads through the process's session cache, as a request's session check
// does, so a sign-out in this process shows at once.
func (s *Store) SessionMember(ctx context.Context, secret string) (instanceID, memberID string, err error) {
	ses, err := s.cachedSession(ctx, secret)
	return ses.InstanceID, ses.MemberID, err
}

// SessionCookie is the name of the session cookie this service sets.
func (s *Service) SessionCookie() string { return s.cookie.name }
