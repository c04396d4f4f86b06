package content

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// pushRoutes mounts a member's push notification routes: settings (with
// the VAPID public key the web app subscribes with) and devices.
func (h *Handlers) pushRoutes(r gin.IRouter, m func(f tenant.HandlerFunc, roles ...tenant.Role) gin.HandlerFunc) {
	r.GET("/me/push", m(h.pushSettings))
	r.PUT("/me/push", m(h.putPushSettings))
	r.POST("/me/push/subscriptions", m(h.subscribe))
	r.DELETE("/me/push/subscriptions/:id", m(h.unsubscribe))
}

func (h *Handlers) pushSettings(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	out, err := h.svc.PushSettingsOf(c.Request.Context(), sc, me)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// quietIn is quiet_hours in a body: absent (unchanged), null (off) or a
// span.
type quietIn struct {
	set   bool
	value *QuietHours
}

func (q *quietIn) UnmarshalJSON(b []byte) error {
	q.set = true
	if string(b) == "null" {
		return nil
	}
	q.value = new(QuietHours)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(q.value)
}

func (h *Handlers) putPushSettings(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in struct {
		TimeZone   *string `json:"time_zone"`
		QuietHours quietIn `json:"quiet_hours"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	p := PushPrefs{TimeZone: in.TimeZone}
	if in.QuietHours.set {
		p.QuietHours, p.NoQuietHours = in.QuietHours.value, in.QuietHours.value == nil
	}
	out, err := h.svc.SetPushPrefs(c.Request.Context(), sc, me, p)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (h *Handlers) subscribe(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in SubscriptionIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	sub, err := h.svc.Subscribe(c.Request.Context(), sc, me, in)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"id": sub.ID, "created_at": sub.CreatedAt})
	return nil
}

func (h *Handlers) unsubscribe(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	if err := h.svc.Unsubscribe(c.Request.Context(), sc, me, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
