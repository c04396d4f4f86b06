package social

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
)

// recountPage is how many documents RecountCounters reads at a time.
const recountPage = 500

// RecountReport says what RecountCounters found and changed.
type RecountReport struct {
	// Clicks is how many stored clicks it read, Shares how many shares.
	Clicks, Shares int
	// SharesChanged and PostsChanged are how many counters it corrected.
	SharesChanged, PostsChanged int
}

// RecountCounters recomputes the counters kept on shares (clicks, beside
// their links') and on posts (shared_by, shares) from the stored shares
// and clicks, for data stored before the counters existed and for
// counters a failure left behind. It reads the instance's click batches,
// then its shares with their links, then its posts, each in pages by the
// _id index (cost proportional to the data, memory to the clicked shares
// and the contents' sharers), and writes only the counters that differ,
// one bulk write per page.
//
// A post's shares and shared_by become exactly its live shares (neither
// failed nor cancelled) and their members; its clicks are the reach
// totals' (chorus analytics rebuild). A share's clicks become the larger
// of its count and the stored clicks: the retention sweep deletes clicks
// the counters hold, so the stored ones are a lower bound, never a
// reason to lower a count. Running it twice gives the same numbers.
func RecountCounters(ctx context.Context, sc tenant.Scope) (RecountReport, error) {
	var rep RecountReport
	shareClicks := map[string]int64{}
	err := tenant.WalkByID(ctx, sc.Collection(clickKind), bson.D{{Key: "_id", Value: 1}, {Key: "links", Value: 1}, {Key: "link", Value: 1}},
		recountPage, func(b clickBatch) string { return b.ID }, func(page []clickBatch) error {
			for _, b := range page {
				for _, l := range b.Link {
					if l < 0 || l >= len(b.Links) {
						return fmt.Errorf("click batch %s: link %d of %d", b.ID, l, len(b.Links))
					}
					shareClicks[b.Links[l].ShareID]++
				}
				rep.Clicks += len(b.Link)
			}
			return nil
		})
	if err != nil {
		return rep, fmt.Errorf("read the clicks: %w", err)
	}

	posts := map[string]*content.Counts{}
	sharers := map[string]map[string]bool{}
	shares := sc.Collection(shareKind)
	err = tenant.WalkByID(ctx, shares, bson.D{{Key: "_id", Value: 1}, {Key: "content_id", Value: 1}, {Key: "member_id", Value: 1},
		{Key: "state", Value: 1}, {Key: "clicks", Value: 1}}, recountPage, func(sh Share) string { return sh.ID }, func(page []Share) error {
		linked, err := linkClicks(ctx, sc, page)
		if err != nil {
			return err
		}
		var ops []tenant.Upsert
		for _, sh := range page {
			rep.Shares++
			// The share's clicks are its own counter's and its link's: a
			// shortfall goes to its own, and the link's is left alone.
			if n := shareClicks[sh.ID]; n > sh.Clicks+linked[sh.ID] {
				ops = append(ops, tenant.Upsert{Filter: bson.D{{Key: "_id", Value: sh.ID}},
					Update: bson.D{{Key: "$set", Value: bson.D{{Key: "clicks", Value: n - linked[sh.ID]}}}}})
			}
			if sh.State == ShareFailed || sh.State == ShareCancelled {
				continue
			}
			c := posts[sh.ContentID]
			if c == nil {
				c = &content.Counts{}
				posts[sh.ContentID] = c
				sharers[sh.ContentID] = map[string]bool{}
			}
			c.Shares++
			if !sharers[sh.ContentID][sh.MemberID] {
				sharers[sh.ContentID][sh.MemberID] = true
				c.SharedBy++
			}
		}
		rep.SharesChanged += len(ops)
		return shares.BulkUpdate(ctx, ops)
	})
	if err != nil {
		return rep, fmt.Errorf("recount the shares: %w", err)
	}
	rep.PostsChanged, err = content.SetCounts(ctx, sc, posts)
	if err != nil {
		return rep, fmt.Errorf("recount the contents: %w", err)
	}
	return rep, nil
}

// shareEnded takes a share that was just cancelled or failed out of its
// content's counters (see sharesEnded).
func (s *Service) shareEnded(ctx context.Context, sc tenant.Scope, sh Share) {
	s.sharesEnded(ctx, sc, []Share{sh})
}

// sharesEnded takes shares that this process just cancelled or failed
// (each by its own conditional update, so no other path counts it) out of
// their contents' counters: per member and content, as many shares less,
// and one sharer less when the member has no other live share of it.
func (s *Service) sharesEnded(ctx context.Context, sc tenant.Scope, ended []Share) {
	type of struct{ member, content string }
	n := map[of]int64{}
	var order []of
	for _, sh := range ended {
		k := of{sh.MemberID, sh.ContentID}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	for _, k := range order {
		left := int64(0)
		if still, err := s.hasLiveShare(ctx, sc, k.member, k.content); err != nil {
			s.log.WarnContext(ctx, "share counters of the content not updated", "content_id", k.content, "err", err)
			continue
		} else if !still {
			left = -1
		}
		s.countShares(ctx, sc, k.content, left, -n[k])
	}
}

// cancelEach cancels each of shares still in one of from, one conditional
// update per share (set is the rest of the $set), and takes the ones this
// call cancelled out of their contents' counters: of two paths cancelling
// one share, only the one whose update matched counts it. It returns the
// shares it cancelled.
func (s *Service) cancelEach(ctx context.Context, sc tenant.Scope, shares []Share, from []ShareState, set bson.D) ([]Share, error) {
	var done []Share
	var err error
	for _, sh := range shares {
		var ok bool
		ok, err = s.transition(ctx, sc, sh.ID, shareMove{From: from, To: ShareCancelled, Set: set})
		if err != nil {
			break
		}
		if ok {
			done = append(done, sh)
		}
	}
	s.sharesEnded(ctx, sc, done)
	return done, err
}

// countShares updates the content's share counters. It cannot fail the
// share or its cancellation, which stand: a counter left behind is only
// a figure shown on the content.
func (s *Service) countShares(ctx context.Context, sc tenant.Scope, contentID string, sharedBy, shares int64) {
	if err := content.CountShares(context.WithoutCancel(ctx), sc, contentID, sharedBy, shares); err != nil {
		s.log.WarnContext(ctx, "share counters of the content not updated", "content_id", contentID, "err", err)
	}
}
