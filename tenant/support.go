package tenant

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Operators reach an instance's data only through a support grant that the
// instance's admins gave, for a limited time; every read is audited.

// MaxSupportHours bounds a support grant.
const MaxSupportHours = 72

// ErrNoSupportGrant: the operator has no live grant for the instance.
var ErrNoSupportGrant = errors.New("no live support grant for this instance")

// SupportGrant lets operators read the instance's data until ExpiresAt.
type SupportGrant struct {
	ID        string    `bson:"_id" json:"id"`
	GrantedBy string    `bson:"granted_by" json:"granted_by"`
	Reason    string    `bson:"reason" json:"reason"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	ExpiresAt time.Time `bson:"expires_at" json:"expires_at"`
	Revoked   bool      `bson:"revoked" json:"revoked"`
}

var grantKind = Kind{Name: "support_grants"}

// GrantSupport gives operators access for hours (1..72), audited.
func (s *Service) GrantSupport(ctx context.Context, sc Scope, by Member, hours int, reason string) (SupportGrant, error) {
	reason = strings.TrimSpace(reason)
	var verr ValidationErrors
	if hours < 1 || hours > MaxSupportHours {
		verr = append(verr, &ValidationError{Field: "hours", Reason: "must be from 1 to 72"})
	}
	if reason == "" || len([]rune(reason)) > 500 {
		verr = append(verr, &ValidationError{Field: "reason", Reason: "must be 1 to 500 characters"})
	}
	if len(verr) > 0 {
		return SupportGrant{}, verr
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	g := SupportGrant{ID: httpapi.NewID(), GrantedBy: by.ID, Reason: reason, CreatedAt: now, ExpiresAt: now.Add(time.Duration(hours) * time.Hour)}
	if err := sc.Collection(grantKind).Insert(ctx, g); err != nil {
		return SupportGrant{}, err
	}
	return g, sc.Audit(ctx, MemberActor(by), "support.granted", g.ID, map[string]string{"hours": strconv.Itoa(hours)})
}

// RevokeSupport ends a grant early.
func (s *Service) RevokeSupport(ctx context.Context, sc Scope, by Member, id string) error {
	if !httpapi.ValidID(id) {
		return ErrNotFound
	}
	ok, err := sc.Collection(grantKind).Update(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "revoked", Value: true}}}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return sc.Audit(ctx, MemberActor(by), "support.revoked", id, nil)
}

// liveGrant returns the grant if it is unrevoked and unexpired.
func (s *Service) liveGrant(ctx context.Context, sc Scope, id string) (SupportGrant, error) {
	if !httpapi.ValidID(id) {
		return SupportGrant{}, ErrNoSupportGrant
	}
	var g SupportGrant
	err := sc.Collection(grantKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "revoked", Value: false},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: s.Now().UTC()}}}}, &g)
	if errors.Is(err, ErrNotFound) {
		return SupportGrant{}, ErrNoSupportGrant
	}
	return g, err
}

func (h *Handlers) postSupportGrant(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Hours  int    `json:"hours"`
		Reason string `json:"reason"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	g, err := h.svc.GrantSupport(c.Request.Context(), sc, me, in.Hours, in.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, g)
	return nil
}

func (h *Handlers) getSupportGrants(c *gin.Context, sc Scope, _ Member) error {
	var gs []SupportGrant
	if err := sc.Collection(grantKind).Find(c.Request.Context(), bson.D{}, &gs,
		options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}}).SetLimit(200)); err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.List[SupportGrant]{Items: nonNil(gs)})
	return nil
}

func (h *Handlers) deleteSupportGrant(c *gin.Context, sc Scope, me Member) error {
	if err := h.svc.RevokeSupport(c.Request.Context(), sc, me, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// opsMembers is an operator's read of an instance's members under a
// grant (X-Support-Grant), written to the instance's audit log.
func (h *Handlers) opsMembers(c *gin.Context) error {
	ctx := c.Request.Context()
	sc, err := h.svc.Store.Open(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	g, err := h.svc.liveGrant(ctx, sc, c.GetHeader("X-Support-Grant"))
	if err != nil {
		return err
	}
	ms, err := sc.Members(ctx, "", 500)
	if err != nil {
		return err
	}
	if err := sc.Audit(ctx, OperatorActor, "support.read", "members", map[string]string{"grant": g.ID, "reason": g.Reason}); err != nil {
		return err
	}
	out := make([]memberView, len(ms))
	for i, m := range ms {
		out[i] = viewOf(m, true)
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, httpapi.List[memberView]{Items: out})
	return nil
}
