package social

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// TrackedLink is a tracked link: /r/{code} leads to Destination, and the
// click counts for one share of one instance. The code's route to its
// instance is directory data in the home database (tenant.Route: a click
// arrives with no session, so the code alone must find its instance);
// everything else — share, content, destination — is the instance's data
// and lives in its region (linkKind).
type TrackedLink struct {
	Code        string    `bson:"_id"`
	InstanceID  string    `bson:"instance_id"`
	ShareID     string    `bson:"share_id"`
	ContentID   string    `bson:"content_id"`
	Network     string    `bson:"network"`
	Destination string    `bson:"destination"`
	CreatedAt   time.Time `bson:"created_at"`
}

// linkKind holds an instance's tracked links (the TrackedLink without its
// instance ID), in its region.
var linkKind = tenant.Kind{Name: "links", Indexes: []tenant.Index{{Keys: bson.D{{Key: "share_id", Value: 1}}}}}

// linkClicks returns the clicks counted on the tracked links of the
// shares, by share (one read of the {share_id} index). The click
// recorder counts a click on its link, a small document with one index,
// not on its share, which carries three more: a flush of a burst
// touches thousands.
func linkClicks(ctx context.Context, sc tenant.Scope, shares []Share) (map[string]int64, error) {
	shareIDs := make([]string, len(shares))
	for i, sh := range shares {
		shareIDs[i] = sh.ID
	}
	var links []struct {
		ShareID string `bson:"share_id"`
		Clicks  int64  `bson:"clicks"`
	}
	err := sc.Collection(linkKind).Find(ctx, bson.D{{Key: "share_id", Value: bson.D{{Key: "$in", Value: shareIDs}}}}, &links,
		options.Find().SetProjection(bson.D{{Key: "share_id", Value: 1}, {Key: "clicks", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(links))
	for _, l := range links {
		out[l.ShareID] += l.Clicks
	}
	return out, nil
}

// withClicks sets each share's Clicks to what it counts: the clicks
// counted on the share itself (before the counter moved to its link) and
// those on its link.
func withClicks(ctx context.Context, sc tenant.Scope, shares []Share) error {
	if len(shares) == 0 {
		return nil
	}
	counted, err := linkClicks(ctx, sc, shares)
	if err != nil {
		return err
	}
	for i := range shares {
		shares[i].Clicks += counted[shares[i].ID]
	}
	return nil
}

// clicked is sh with its clicks (withClicks).
func clicked(ctx context.Context, sc tenant.Scope, sh Share) (Share, error) {
	one := []Share{sh}
	err := withClicks(ctx, sc, one)
	return one[0], err
}

// CreateLink registers a tracked link of the scope's instance; a taken
// code is tenant.ErrDuplicate. The code's route goes to the home
// database, the link to the instance's region.
func CreateLink(ctx context.Context, sc tenant.Scope, l TrackedLink) error {
	r, err := sc.ReserveRoute(ctx, l.Code)
	if err != nil {
		return err
	}
	l.InstanceID, l.CreatedAt = r.InstanceID, r.CreatedAt
	if err := sc.Collection(linkKind).Insert(ctx, regionalLink(l)); err != nil {
		sc.DeleteRoutes(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: l.Code}})
		return err
	}
	return nil
}

// regionalLink is l as its region stores it.
func regionalLink(l TrackedLink) bson.D {
	return bson.D{{Key: "_id", Value: l.Code}, {Key: "share_id", Value: l.ShareID}, {Key: "content_id", Value: l.ContentID},
		{Key: "network", Value: l.Network}, {Key: "destination", Value: l.Destination}, {Key: "created_at", Value: l.CreatedAt}}
}

// ResolveLink returns the link of a code, or tenant.ErrNotFound.
func ResolveLink(ctx context.Context, store *tenant.Store, code string) (TrackedLink, error) {
	var l TrackedLink
	sc, err := store.ResolveRoute(ctx, code, &l)
	if err != nil {
		return TrackedLink{}, err
	}
	if l.Destination != "" {
		return l, nil // made before regions existed, not moved yet
	}
	if err := sc.Collection(linkKind).FindOne(ctx, bson.D{{Key: "_id", Value: code}}, &l); err != nil {
		return TrackedLink{}, err
	}
	l.InstanceID = sc.InstanceID()
	return l, nil
}

// DeleteLinks deletes the scope's tracked links of shares that were never
// made (a share request that failed): their codes lead nowhere after.
func DeleteLinks(ctx context.Context, sc tenant.Scope, shareIDs []string) error {
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
	if err := sc.DeleteRoutes(ctx, bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: codes}}}},
		bson.D{{Key: "share_id", Value: bson.D{{Key: "$in", Value: shareIDs}}}}, // not moved yet
	}}}); err != nil {
		return err
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
func MoveLinksToRegions(ctx context.Context, store *tenant.Store) (int, error) {
	return store.TrimRoutes(ctx, bson.D{{Key: "destination", Value: bson.D{{Key: "$exists", Value: true}}}},
		func(sc tenant.Scope, record bson.Raw) error {
			var l TrackedLink
			if err := bson.Unmarshal(record, &l); err != nil {
				return err
			}
			if err := sc.Collection(linkKind).Insert(ctx, regionalLink(l)); err != nil && !errors.Is(err, tenant.ErrDuplicate) {
				return err
			}
			return nil
		})
}
