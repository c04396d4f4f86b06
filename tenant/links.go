package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Link is a tracked link: /r/{code} leads to Destination, and the click
// counts for one share of one instance. The code's route to its instance
// is global routing data, like a domain claim (a click arrives with no
// session, so the code alone must find its instance); everything else —
// share, content, destination — is the instance's data and lives in its
// region.
type Link struct {
	Code        string    `bson:"_id"`
	InstanceID  string    `bson:"instance_id"`
	ShareID     string    `bson:"share_id"`
	ContentID   string    `bson:"content_id"`
	Network     string    `bson:"network"`
	Destination string    `bson:"destination"`
	CreatedAt   time.Time `bson:"created_at"`
}

// linkRoute is a code's entry in the home database: its instance only.
// (Entries made before regions existed hold the whole Link; migration
// MoveLinksToRegions moves the rest into the instance's region.)
type linkRoute struct {
	Code       string    `bson:"_id"`
	InstanceID string    `bson:"instance_id"`
	CreatedAt  time.Time `bson:"created_at"`
}

const collLinks = "links"

// linkKind holds an instance's tracked links (the Link without its
// instance ID), in its region.
var linkKind = Kind{Name: "links", Indexes: []Index{{Keys: bson.D{{Key: "share_id", Value: 1}}}}}

// CreateLink registers a tracked link of the scope's instance; a taken
// code is ErrDuplicate. The code's route goes to the home database, the
// link to the instance's region.
func (sc Scope) CreateLink(ctx context.Context, l Link) error {
	links := sc.Collection(linkKind)
	if links.err != nil {
		return links.err
	}
	if links.readOnly {
		return ErrMoving
	}
	l.InstanceID = sc.InstanceID()
	l.CreatedAt = sc.store.now().UTC().Truncate(time.Millisecond)
	routes := sc.store.db.Collection(collLinks)
	if _, err := routes.InsertOne(ctx, linkRoute{Code: l.Code, InstanceID: l.InstanceID, CreatedAt: l.CreatedAt}); err != nil {
		return storeErr(err)
	}
	if err := links.Insert(ctx, regionalLink(l)); err != nil {
		routes.DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: l.Code}, {Key: "instance_id", Value: l.InstanceID}})
		return err
	}
	return nil
}

// regionalLink is l as its region stores it.
func regionalLink(l Link) bson.D {
	return bson.D{{Key: "_id", Value: l.Code}, {Key: "share_id", Value: l.ShareID}, {Key: "content_id", Value: l.ContentID},
		{Key: "network", Value: l.Network}, {Key: "destination", Value: l.Destination}, {Key: "created_at", Value: l.CreatedAt}}
}

// ResolveLink returns the link of a code, or ErrNotFound.
func (s *Store) ResolveLink(ctx context.Context, code string) (Link, error) {
	var l Link
	if err := storeErr(s.db.Collection(collLinks).FindOne(ctx, bson.D{{Key: "_id", Value: code}}).Decode(&l)); err != nil {
		return Link{}, err
	}
	if l.Destination != "" {
		return l, nil // made before regions existed, not migrated yet
	}
	inst, err := s.cachedInstance(ctx, l.InstanceID)
	if err != nil {
		return Link{}, err
	}
	id := l.InstanceID
	if err := (Scope{store: s, inst: inst}).Collection(linkKind).FindOne(ctx, bson.D{{Key: "_id", Value: code}}, &l); err != nil {
		return Link{}, err
	}
	l.InstanceID = id
	return l, nil
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
	links := sc.Collection(linkKind)
	var found []struct {
		Code string `bson:"_id"`
	}
	if err := links.Find(ctx, bson.D{{Key: "share_id", Value: bson.D{{Key: "$in", Value: shareIDs}}}}, &found,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}})); err != nil {
		return err
	}
	codes := make([]string, len(found))
	for i, f := range found {
		codes[i] = f.Code
	}
	// The routes first: a code whose link is gone must not route.
	if _, err := sc.store.db.Collection(collLinks).DeleteMany(ctx, bson.D{{Key: "instance_id", Value: sc.InstanceID()},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: codes}}}},
			bson.D{{Key: "share_id", Value: bson.D{{Key: "$in", Value: shareIDs}}}}, // not migrated yet
		}}}); err != nil {
		return storeErr(err)
	}
	if len(codes) == 0 {
		return nil
	}
	_, err := links.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: codes}}}})
	return err
}

// MoveLinksToRegions moves the tracked links made before regions existed
// (whole links in the home database) into their instances' regions,
// leaving the code's route home. It is idempotent and returns how many it
// moved.
func (s *Store) MoveLinksToRegions(ctx context.Context) (int, error) {
	cur, err := s.db.Collection(collLinks).Find(ctx, bson.D{{Key: "destination", Value: bson.D{{Key: "$exists", Value: true}}}})
	if err != nil {
		return 0, storeErr(err)
	}
	defer cur.Close(ctx)
	n := 0
	scopes := map[string]Scope{}
	for cur.Next(ctx) {
		var l Link
		if err := cur.Decode(&l); err != nil {
			return n, storeErr(err)
		}
		sc, ok := scopes[l.InstanceID]
		if !ok {
			if sc, err = s.Open(ctx, l.InstanceID); errors.Is(err, ErrNotFound) {
				continue // an offboarded instance's: offboarding deletes it
			} else if err != nil {
				return n, err
			}
			scopes[l.InstanceID] = sc
		}
		if err := sc.Collection(linkKind).Insert(ctx, regionalLink(l)); err != nil && !errors.Is(err, ErrDuplicate) {
			return n, fmt.Errorf("instance %s: %w", l.InstanceID, err)
		}
		if _, err := s.db.Collection(collLinks).ReplaceOne(ctx, bson.D{{Key: "_id", Value: l.Code}},
			linkRoute{Code: l.Code, InstanceID: l.InstanceID, CreatedAt: l.CreatedAt}); err != nil {
			return n, storeErr(err)
		}
		n++
	}
	return n, storeErr(cur.Err())
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
