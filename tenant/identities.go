package tenant

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// A sign-in identity that claims the address of an existing member is never
// merged on its own: it waits on the member until an admin approves it
// (then it signs in as that member) or rejects it.

// PendingIdentity is an identity waiting on a member.
type PendingIdentity struct {
	MemberID string `json:"member_id"`
	Email    string `json:"email"`
	Issuer   string `json:"issuer"`
	Subject  string `json:"subject"`
	SeenAt   string `json:"seen_at"`
}

type withPending struct {
	Member  `bson:",inline"`
	Pending []pendingIdentity `bson:"pending_identities"`
}

// PendingIdentities lists every identity waiting for an admin.
func (sc Scope) PendingIdentities(ctx context.Context) ([]PendingIdentity, error) {
	var ms []withPending
	if err := sc.Collection(memberKind).Find(ctx, bson.D{{Key: "pending_identities", Value: bson.D{{Key: "$exists", Value: true}}}}, &ms); err != nil {
		return nil, err
	}
	out := []PendingIdentity{}
	for _, m := range ms {
		for _, p := range m.Pending {
			out = append(out, PendingIdentity{MemberID: m.ID, Email: m.Email, Issuer: p.Issuer, Subject: p.Subject,
				SeenAt: p.SeenAt.UTC().Format("2006-01-02T15:04:05Z")})
		}
	}
	return out, nil
}

// ErrNoPendingIdentity: the member has no such identity waiting.
var ErrNoPendingIdentity = errors.New("no such identity waits on this member")

// DecideIdentity approves (the identity then signs in as the member) or
// rejects an identity waiting on a member; admins only, audited.
func (sc Scope) DecideIdentity(ctx context.Context, by Member, memberID string, id Identity, approve bool) error {
	if !httpapi.ValidID(memberID) {
		return ErrNotFound
	}
	var m withPending
	if err := sc.Collection(memberKind).FindOne(ctx, bson.D{{Key: "_id", Value: memberID}}, &m); err != nil {
		return err
	}
	i := slices.IndexFunc(m.Pending, func(p pendingIdentity) bool { return p.Issuer == id.Issuer && p.Subject == id.Subject })
	if i < 0 {
		return ErrNoPendingIdentity
	}
	rest := slices.Delete(slices.Clone(m.Pending), i, i+1)
	set := bson.D{{Key: "pending_identities", Value: rest}}
	if approve {
		if other, err := sc.memberByIdentity(ctx, id); err == nil && other.ID != memberID {
			return ErrConflict
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		set = append(set, bson.E{Key: "identities", Value: append(slices.Clone(m.Identities), id)})
	}
	// Conditional on the lists read above, so two admins cannot both act.
	ok, err := sc.Collection(memberKind).Update(ctx, bson.D{{Key: "_id", Value: memberID},
		{Key: "pending_identities", Value: m.Pending}, {Key: "identities", Value: m.Identities}},
		bson.D{{Key: "$set", Value: set}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrConflict
	}
	action := "identity.rejected"
	if approve {
		action = "identity.approved"
	}
	return sc.Audit(ctx, MemberActor(by), action, memberID, map[string]string{"issuer": id.Issuer})
}

func (h *Handlers) getPendingIdentities(c *gin.Context, sc Scope, _ Member) error {
	ps, err := sc.PendingIdentities(c.Request.Context())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.List[PendingIdentity]{Items: ps})
	return nil
}

func (h *Handlers) postIdentityDecision(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Issuer  string `json:"issuer"`
		Subject string `json:"subject"`
		Approve *bool  `json:"approve"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	// The member first: another instance's ID is a 404 whatever the body.
	if _, err := sc.Member(c.Request.Context(), c.Param("id")); err != nil {
		return err
	}
	if in.Approve == nil || in.Issuer == "" || in.Subject == "" {
		return httpapi.Invalid(httpapi.FieldError{Field: "approve", Message: "issuer, subject and approve (true or false) are required"})
	}
	if err := sc.DecideIdentity(c.Request.Context(), me, c.Param("id"), Identity{Issuer: in.Issuer, Subject: in.Subject}, *in.Approve); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
