package tenant

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// offboarding is what remains of a deleted instance: its ID, when and why.
type offboarding struct {
	InstanceID string    `bson:"_id"`
	DeletedAt  time.Time `bson:"deleted_at"`
	By         string    `bson:"by"`
	Reason     string    `bson:"reason"`
}

// DeleteInstance offboards an instance: its sessions, sign-in links,
// domain claims, every collection and its record go; a ledger entry (ID,
// time, reason) remains. Tokens at social networks are revoked by the
// social domain before this is called (when it exists).
func (s *Store) DeleteInstance(ctx context.Context, id, by, reason string) error {
	inst, err := s.instance(ctx, id)
	if err != nil {
		return err
	}
	if _, err := s.ledger().Database().Collection("offboarded").InsertOne(ctx, offboarding{
		InstanceID: id, DeletedAt: s.now().UTC().Truncate(time.Millisecond), By: by, Reason: reason}); err != nil && storeErr(err) != ErrDuplicate {
		return fmt.Errorf("offboarding ledger: %w", storeErr(err))
	}
	for _, coll := range []string{collSessions, collSignIn, collDomains, collRoutes} {
		if _, err := s.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "instance_id", Value: id}}); err != nil {
			return storeErr(err)
		}
	}
	// Plain sign-in links carry an address, not an instance.
	for _, d := range inst.Domains {
		if _, err := s.db.Collection(collSignIn).DeleteMany(ctx, bson.D{{Key: "email", Value: bson.D{
			{Key: "$regex", Value: "@" + regexp.QuoteMeta(d) + "$"}}}}); err != nil {
			return storeErr(err)
		}
	}
	if _, err := s.db.Collection(collSubdomains).DeleteMany(ctx, bson.D{{Key: "instance_id", Value: id}}); err != nil {
		return storeErr(err)
	}
	if _, err := s.db.Collection(collSSO).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return storeErr(err)
	}
	s.dropInstance(ctx, inst)
	s.log.InfoContext(ctx, "instance deleted", "tenant_id", id, "by", by)
	return nil
}

// deleteInstance is an admin's request to offboard their instance; the
// body must repeat the instance's ID.
func (h *Handlers) deleteInstance(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Confirm string `json:"confirm"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if in.Confirm != sc.InstanceID() {
		return httpapi.Invalid(httpapi.FieldError{Field: "confirm", Message: "must repeat the instance's ID: deleting it cannot be undone"})
	}
	// The members' connections are revoked at the networks and their
	// waiting tasks deleted while the data that names them still exists.
	if h.svc.privacy != nil {
		if err := h.svc.privacy.eraseEveryone(c.Request.Context(), sc); err != nil {
			return err
		}
	}
	if err := h.svc.Store.DeleteInstance(c.Request.Context(), sc.InstanceID(), "member:"+me.ID, "admin request"); err != nil {
		return err
	}
	h.setCookie(c, "", -1)
	c.Status(http.StatusNoContent)
	return nil
}
