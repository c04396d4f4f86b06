package social

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant"
)

// privacySource is social's part of data-subject requests.
type privacySource struct{ svc *Service }

// PrivacySource returns social's tenant.PrivacySource: the person's
// connected accounts, never their tokens.
func (s *Service) PrivacySource() tenant.PrivacySource { return privacySource{s} }

// Export lists the subject's connections without tokens.
func (p privacySource) Export(ctx context.Context, sc tenant.Scope, s tenant.Subject) ([]string, map[string]any, error) {
	views := []connectionView{}
	if s.MemberID != "" {
		conns, err := p.svc.Connections(ctx, sc, tenant.Member{ID: s.MemberID})
		if err != nil {
			return nil, nil, err
		}
		for _, c := range conns {
			views = append(views, viewOf(c))
		}
	}
	shares := []Share{}
	if s.MemberID != "" {
		if err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}, &shares); err != nil {
			return nil, nil, err
		}
		if err := withClicks(ctx, sc, shares); err != nil {
			return nil, nil, err
		}
	}
	// A share request's Idempotency-Key claim: which shares it made.
	claims := []keyClaim{}
	if s.MemberID != "" {
		if err := sc.Collection(claimKind).Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}, &claims); err != nil {
			return nil, nil, err
		}
	}
	requests := make([]map[string]any, len(claims))
	for i, c := range claims {
		requests[i] = map[string]any{"share_ids": c.ShareIDs, "done": c.Done, "claimed_at": c.ClaimedAt}
	}
	return []string{connectionKind.Name, stateKind.Name, shareKind.Name, linkKind.Name, claimKind.Name},
		map[string]any{"connections": views, "shares": shares, "share_requests": requests}, nil
}

// PendingTasks lists the publication tasks of the subject's shares that
// wait in the queue (queued or scheduled): the task ID is the share ID.
func (p privacySource) PendingTasks(ctx context.Context, sc tenant.Scope, s tenant.Subject) ([]tenant.TaskRef, error) {
	if s.MemberID == "" {
		return nil, nil
	}
	var waiting []Share
	if err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID},
		{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{ShareQueued, ShareScheduled}}}}}, &waiting); err != nil {
		return nil, err
	}
	refs := make([]tenant.TaskRef, len(waiting))
	for i, sh := range waiting {
		refs[i] = tenant.TaskRef{Queue: task.QueueCritical, ID: sh.ID}
	}
	return refs, nil
}

// Erase revokes the subject's tokens at each network where it can, then
// deletes the connections (Disconnect), so nothing can post for them.
func (p privacySource) Erase(ctx context.Context, sc tenant.Scope, s tenant.Subject, pseudonym string) error {
	if s.MemberID == "" {
		return nil
	}
	shares := sc.Collection(shareKind)
	if s.DeletePosts {
		// While the tokens still work: delete what was posted. A post that
		// cannot be deleted is logged; the erasure goes on.
		var posted []Share
		if err := shares.Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID}, {Key: "state", Value: SharePublished}}, &posted); err != nil {
			return err
		}
		for _, sh := range posted {
			if sh.Network == Link {
				continue // nothing was posted: the member passed the link on
			}
			if err := p.svc.DeletePost(ctx, sc, sh.ConnectionID, sh.RemoteID); err != nil {
				p.svc.log.WarnContext(ctx, "published post not deleted at the network", "share_id", sh.ID, "network", sh.Network, "err", err)
				continue
			}
			if _, err := p.svc.cancelEach(ctx, sc, []Share{sh}, []ShareState{SharePublished},
				bson.D{{Key: "error", Value: "deleted at the network when the member was erased"}, {Key: "post_url", Value: ""}}); err != nil {
				return err
			}
		}
	}
	// Shares not posted yet are cancelled (their tasks then do nothing);
	// the rest stay for the company's numbers under the pseudonym.
	// One conditional update per share: each leaves its content's counters
	// once, whichever path cancels it.
	var waiting []Share
	if err := shares.Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID},
		{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{ShareQueued, ShareScheduled}}}}}, &waiting,
		options.Find().SetProjection(shareEndFields)); err != nil {
		return err
	}
	if _, err := p.svc.cancelEach(ctx, sc, waiting, pendingStates, bson.D{{Key: "error", Value: "the member was erased"}}); err != nil {
		return err
	}
	if _, err := shares.UpdateMany(ctx, bson.D{{Key: "member_id", Value: s.MemberID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "member_id", Value: pseudonym}, {Key: "text", Value: ""}}}}); err != nil {
		return err
	}
	if _, err := sc.Collection(claimKind).DeleteMany(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}); err != nil {
		return err
	}
	me := tenant.Member{ID: s.MemberID}
	conns, err := p.svc.Connections(ctx, sc, me)
	if err != nil {
		return err
	}
	for _, c := range conns {
		if err := p.svc.Disconnect(ctx, sc, me, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
