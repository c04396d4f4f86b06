package content

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// AimEveryone is the AimedAt value of a post aimed at everyone.
const AimEveryone = "*"

// maxAudience bounds the groups a post is aimed at.
const maxAudience = 20

// aim is the AimedAt of a post aimed at audience.
func aim(audience []string) []string {
	if len(audience) == 0 {
		return []string{AimEveryone}
	}
	return slices.Clone(audience)
}

// aimedAt reports whether a post is aimed at a member of groups.
func (p Post) aimedAt(groups []string) bool {
	if len(p.Audience) == 0 {
		return true
	}
	for _, g := range p.Audience {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// sees is the rule of who sees a post, for a member in groups at now:
// curators and admins see every post, the author their own; everyone else
// a published, due, unexpired post aimed at everyone or at one of their
// groups. aimFilter is the same rule as a query.
func sees(me tenant.Member, groups []string, p Post, now time.Time) bool {
	if isCurator(me) || (p.AuthorID == me.ID && p.AuthorID != "") {
		return true
	}
	return p.StateAt(now) == StatePublished && p.aimedAt(groups)
}

// Sees reports whether member me may see post p: the one rule that the
// feed, the composer, share creation, the weekly digest and notifications
// of new content follow. It resolves the member's groups from the
// process's cached group list (no read on a warm cache).
func (s *Service) Sees(ctx context.Context, sc tenant.Scope, me tenant.Member, p Post) (bool, error) {
	if isCurator(me) {
		return true, nil
	}
	groups, err := sc.MemberGroups(ctx, me)
	if err != nil {
		return false, err
	}
	return sees(me, groups, p, s.now()), nil
}

// aimFilter selects the posts aimed at a member of groups: the feed's
// indexed condition. Every post carries aimed_at (each write sets it from
// the audience; migration 8, BackfillAimedAt, gave it to the posts stored
// before). nil for curators and admins, who see every post.
func aimFilter(me tenant.Member, groups []string) bson.D {
	if isCurator(me) {
		return nil
	}
	in := bson.A{AimEveryone}
	for _, g := range groups {
		in = append(in, g)
	}
	return bson.D{{Key: "aimed_at", Value: bson.D{{Key: "$in", Value: in}}}}
}

// memberAim is aimFilter for member me, resolving their groups.
func memberAim(ctx context.Context, sc tenant.Scope, me tenant.Member) (bson.D, error) {
	if isCurator(me) {
		return nil, nil
	}
	groups, err := sc.MemberGroups(ctx, me)
	if err != nil {
		return nil, err
	}
	return aimFilter(me, groups), nil
}

// checkAudience validates a post's audience: group IDs of the instance,
// each once, at most maxAudience.
func checkAudience(ctx context.Context, sc tenant.Scope, ids []string, errs *tenant.ValidationErrors) ([]string, error) {
	out := []string{}
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) > maxAudience {
		*errs = append(*errs, &tenant.ValidationError{Field: "audience", Reason: fmt.Sprintf("must name at most %d groups", maxAudience)})
		return out, nil
	}
	for _, id := range out {
		if !httpapi.ValidID(id) {
			*errs = append(*errs, &tenant.ValidationError{Field: "audience", Reason: fmt.Sprintf("%q is not a group ID", id)})
			return out, nil
		}
	}
	unknown, err := sc.UnknownGroups(ctx, out)
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		*errs = append(*errs, &tenant.ValidationError{Field: "audience", Reason: fmt.Sprintf("no group of this company has the ID %s", unknown[0])})
	}
	return out, nil
}

// ShareableBy returns a post member me may share now: one they see
// (Sees) that is published, due and unexpired. A post not aimed at them
// is ErrNotFound, as if it did not exist; otherwise as Shareable.
func (s *Service) ShareableBy(ctx context.Context, sc tenant.Scope, me tenant.Member, id string) (Post, error) {
	p, err := s.Shareable(ctx, sc, id)
	if err != nil {
		return Post{}, err
	}
	ok, err := s.Sees(ctx, sc, me, p)
	if err != nil {
		return Post{}, err
	}
	if !ok {
		return Post{}, ErrNotFound
	}
	return p, nil
}
