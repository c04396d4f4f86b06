package social

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// keyClaim makes POST …/shares idempotent across requests and processes
// without transactions: a request with an Idempotency-Key first inserts
// the key's claim, whose _id is derived from (instance, member, key), so
// of racing requests exactly one insert succeeds. The claim records the
// share set only once every share of it is written; until then a share
// carrying the key is not the key's result (Reconcile leaves it alone),
// so the key answers a complete set or none.
//
// The other creating POSTs use tenant.Service.Idempotent, which keeps a
// finished request's answer. Shares need more than a kept answer: a
// request that dies after writing some shares must not have them
// published by the reconciler, so the claim is what says which shares
// are the key's.
type keyClaim struct {
	ID       string `bson:"_id"`
	MemberID string `bson:"member_id"`
	Hash     string `bson:"request_hash"`
	// Attempt names the request holding the claim; a takeover changes it,
	// so the request it replaced can no longer complete the claim.
	Attempt   string    `bson:"attempt"`
	Done      bool      `bson:"done"`
	ShareIDs  []string  `bson:"share_ids"`
	ClaimedAt time.Time `bson:"claimed_at"`
}

// Privacy export and erasure find a member's claims.
var claimKind = tenant.Kind{Name: "share_requests", Indexes: []tenant.Index{{Keys: bson.D{{Key: "member_id", Value: 1}}}}}

// claimTimeout is how long a claim not yet done holds its key: past it,
// the request holding it is taken to have died and another request with
// the key takes the claim over.
const claimTimeout = time.Minute

// ErrKeyInUse: a request with this Idempotency-Key is still being
// processed (the same error as the other creating POSTs').
var ErrKeyInUse = tenant.ErrKeyInUse

func claimID(instanceID, memberID, key string) string {
	h := sha256.Sum256([]byte(instanceID + "\x00" + memberID + "\x00" + key))
	return hex.EncodeToString(h[:])
}

// claimKey claims key for a request of hash. It returns the claim to
// complete, or the shares of the request that completed it earlier (a
// replay). A claim of another request is ErrKeyReused; one still in
// flight is ErrKeyInUse.
func (s *Service) claimKey(ctx context.Context, sc tenant.Scope, me tenant.Member, key, hash string) (*keyClaim, []Share, error) {
	coll := sc.Collection(claimKind)
	c := &keyClaim{ID: claimID(sc.InstanceID(), me.ID, key), MemberID: me.ID, Hash: hash, Attempt: httpapi.NewID(),
		ShareIDs: []string{}, ClaimedAt: s.timestamp()}
	err := coll.Insert(ctx, c)
	if err == nil {
		return c, nil, nil
	}
	if !errors.Is(err, tenant.ErrDuplicate) {
		return nil, nil, err
	}
	var prev keyClaim
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: c.ID}}, &prev); isNotFound(err) {
		return nil, nil, ErrKeyInUse // released in between: the client may retry
	} else if err != nil {
		return nil, nil, err
	}
	switch {
	case prev.Hash != hash:
		return nil, nil, ErrKeyReused
	case prev.Done:
		shares, err := s.claimedShares(ctx, sc, prev)
		return nil, shares, err
	case c.ClaimedAt.Sub(prev.ClaimedAt) < claimTimeout:
		return nil, nil, ErrKeyInUse
	}
	ok, err := coll.Update(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "attempt", Value: prev.Attempt}, {Key: "done", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "attempt", Value: c.Attempt}, {Key: "claimed_at", Value: c.ClaimedAt}}}})
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, ErrKeyInUse
	}
	// What the abandoned request wrote was never the key's result: its
	// shares and their tracked links go.
	stray := bson.D{{Key: "member_id", Value: me.ID}, {Key: "request_key", Value: key}}
	var left []Share
	if err := sc.Collection(shareKind).Find(ctx, stray, &left); err != nil {
		return nil, nil, err
	}
	if err := DeleteLinks(ctx, sc, shareIDs(left)); err != nil {
		return nil, nil, err
	}
	if _, err := sc.Collection(shareKind).DeleteMany(ctx, stray); err != nil {
		return nil, nil, err
	}
	return c, nil, nil
}

// completeClaim records the complete share set as the key's result; false
// if another request took the claim over meanwhile.
func (s *Service) completeClaim(ctx context.Context, sc tenant.Scope, c *keyClaim, shares []Share) (bool, error) {
	return sc.Collection(claimKind).Update(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "attempt", Value: c.Attempt}, {Key: "done", Value: false}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "done", Value: true}, {Key: "share_ids", Value: shareIDs(shares)}}}})
}

func shareIDs(shares []Share) []string {
	ids := make([]string, len(shares))
	for i, sh := range shares {
		ids[i] = sh.ID
	}
	return ids
}

// abandon undoes a request that failed: the tracked links and shares it
// wrote, then its claim, so that the key is free again. Whatever it cannot
// undo waits for a takeover.
func (s *Service) abandon(ctx context.Context, sc tenant.Scope, c *keyClaim, shares []Share) {
	ctx = context.WithoutCancel(ctx)
	if len(shares) > 0 {
		ids := shareIDs(shares)
		if err := DeleteLinks(ctx, sc, ids); err != nil {
			s.log.WarnContext(ctx, "tracked links of a failed request not deleted", "err", err)
		}
		if _, err := sc.Collection(shareKind).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			s.log.WarnContext(ctx, "shares of a failed request not deleted; a retry with its key replaces them", "err", err)
			return
		}
	}
	if c == nil {
		return
	}
	if _, err := sc.Collection(claimKind).Delete(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "attempt", Value: c.Attempt}, {Key: "done", Value: false}}); err != nil {
		s.log.WarnContext(ctx, "Idempotency-Key of a failed request not released; it frees itself", "timeout", claimTimeout, "err", err)
	}
}

// claimedShares returns a completed claim's shares in their order.
func (s *Service) claimedShares(ctx context.Context, sc tenant.Scope, c keyClaim) ([]Share, error) {
	var shares []Share
	if err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: c.ShareIDs}}}}, &shares); err != nil {
		return nil, err
	}
	slices.SortFunc(shares, func(a, b Share) int { return slices.Index(c.ShareIDs, a.ID) - slices.Index(c.ShareIDs, b.ID) })
	return shares, nil
}

// claimed filters waiting shares down to those that may be published: a
// share made with an Idempotency-Key must be in its key's completed set
// (one of a request that failed or was taken over is not). Shares from
// before keys were claimed have no claim and pass.
func (s *Service) claimed(ctx context.Context, sc tenant.Scope, shares []Share) ([]Share, error) {
	var ids []string
	for _, sh := range shares {
		if sh.RequestKey != "" {
			ids = append(ids, claimID(sc.InstanceID(), sh.MemberID, sh.RequestKey))
		}
	}
	if len(ids) == 0 {
		return shares, nil
	}
	var claims []keyClaim
	if err := sc.Collection(claimKind).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &claims); err != nil {
		return nil, err
	}
	byID := map[string]keyClaim{}
	for _, c := range claims {
		byID[c.ID] = c
	}
	return slices.DeleteFunc(shares, func(sh Share) bool {
		if sh.RequestKey == "" {
			return false
		}
		c, ok := byID[claimID(sc.InstanceID(), sh.MemberID, sh.RequestKey)]
		return ok && !(c.Done && slices.Contains(c.ShareIDs, sh.ID))
	}), nil
}
