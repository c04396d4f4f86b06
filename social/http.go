package social

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Handlers serves social's routes.
type Handlers struct {
	svc  *Service
	auth *tenant.Service
	log  *slog.Logger
}

// NewHandlers returns social's HTTP handlers.
func NewHandlers(svc *Service, auth *tenant.Service, log *slog.Logger) *Handlers {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handlers{svc: svc, auth: auth, log: log}
}

// problems answers social's handlers' errors: social's own, then those of
// content (Shareable) it passes on.
var problems = slices.Concat(Problems, content.Problems)

// Routes mounts social's routes under r (the /api/v1 group).
func (h *Handlers) Routes(r gin.IRouter) {
	m := func(f tenant.HandlerFunc, roles ...tenant.Role) gin.HandlerFunc {
		return h.auth.Member(problems, f, roles...)
	}
	r.GET("/networks", m(h.networks))
	r.PUT("/networks/:network", m(h.allow, tenant.RoleAdmin))
	r.DELETE("/networks/:network", m(h.disallow, tenant.RoleAdmin))
	r.GET("/connections", m(h.connections))
	r.POST("/connections/:network/start", m(h.start))
	r.POST("/connections/:network/password", m(h.connectPassword))
	r.GET("/connections/:network/callback", m(h.callback))
	r.DELETE("/connections/:id", m(h.disconnect))
	r.POST("/content/:id/shares", m(h.share))
	r.POST("/content/:id/link", m(h.linkShare))
	r.GET("/shares", m(h.shares))
	r.GET("/shares/:id", m(h.getShare))
	r.POST("/shares/:id/cancel", m(h.cancelShare))
}

func (h *Handlers) networks(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	ns, err := h.svc.Networks(c.Request.Context(), sc)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.List[NetworkState]{Items: ns})
	return nil
}

func (h *Handlers) allow(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	// The body is optional: PUT with none, or with no config, allows the
	// network with its stored config. A body must be an object.
	// (httpapi.Decode refuses a null body.)
	var in struct {
		Config *NetworkConfig `json:"config"`
	}
	if c.Request.ContentLength != 0 {
		if err := httpapi.Decode(c, &in); err != nil {
			return err
		}
	}
	st, err := h.svc.Allow(c.Request.Context(), sc, me, c.Param("network"), in.Config)
	if err != nil {
		return err
	}
	h.log.InfoContext(c.Request.Context(), "network allowed", "network", st.Name)
	c.JSON(http.StatusOK, st)
	return nil
}

func (h *Handlers) disallow(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	if err := h.svc.Disallow(c.Request.Context(), sc, me, c.Param("network")); err != nil {
		return err
	}
	h.log.InfoContext(c.Request.Context(), "network disallowed", "network", c.Param("network"))
	c.Status(http.StatusNoContent)
	return nil
}

// connectionView is a connection as its member sees it: never its tokens.
type connectionView struct {
	ID          string `json:"id"`
	Network     string `json:"network"`
	Handle      string `json:"handle"`
	DisplayName string `json:"display_name"`
	ProfileURL  string `json:"profile_url"`
	Status      Status `json:"status"`
	Followers   int64  `json:"followers"`
	// MaxChars is the account's own post limit (a Mastodon server's),
	// absent for the network's default.
	MaxChars    int        `json:"max_chars,omitempty"`
	InstanceURL string     `json:"instance_url,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

func viewOf(c Connection) connectionView {
	return connectionView{ID: c.ID, Network: c.Network, Handle: c.Handle, DisplayName: c.DisplayName,
		ProfileURL: c.ProfileURL, Status: c.Status, Followers: c.Followers, MaxChars: c.MaxChars, InstanceURL: c.InstanceURL,
		ExpiresAt: c.ExpiresAt, CreatedAt: c.CreatedAt}
}

func (h *Handlers) connections(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	cs, err := h.svc.Connections(c.Request.Context(), sc, me)
	if err != nil {
		return err
	}
	out := httpapi.List[connectionView]{Items: make([]connectionView, 0, len(cs))}
	for _, conn := range cs {
		out.Items = append(out.Items, viewOf(conn))
	}
	c.JSON(http.StatusOK, out)
	return nil
}

func (h *Handlers) start(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in struct {
		InstanceURL string `json:"instance_url"`
		ReturnTo    string `json:"return_to"`
	}
	if c.Request.ContentLength != 0 {
		if err := httpapi.Decode(c, &in); err != nil {
			return err
		}
	}
	u, err := h.svc.Start(c.Request.Context(), sc, me, c.Param("network"), in.InstanceURL, in.ReturnTo)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"authorize_url": u})
	return nil
}

// connectPassword connects an account at a PasswordNetwork (Bluesky) with
// an app password, which is neither stored nor logged.
func (h *Handlers) connectPassword(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in struct {
		InstanceURL string `json:"instance_url"`
		Identifier  string `json:"identifier"`
		AppPassword Secret `json:"app_password"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	network := c.Param("network")
	conn, err := h.svc.Connect(c.Request.Context(), sc, me, network, in.InstanceURL, in.Identifier, in.AppPassword)
	if err != nil {
		return err
	}
	h.log.InfoContext(c.Request.Context(), "account connected", "connection_id", conn.ID, "network", network)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, viewOf(conn))
	return nil
}

// callback is where the network sends the member's browser back. Success
// and a declined authorisation both go back to the app; an invalid state
// is a 400 problem, never a redirect.
func (h *Handlers) callback(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	network := c.Param("network")
	conn, back, err := h.svc.CallbackReturn(c.Request.Context(), sc, me, network, CallbackParams{
		Code: c.Query("code"), State: c.Query("state"), Error: c.Query("error"),
	})
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	if errors.Is(err, ErrDeclined) {
		c.Redirect(http.StatusSeeOther, h.svc.ReturnURL(back, url.Values{"connect_error": {"declined"}, "network": {network}}))
		return nil
	}
	if err != nil {
		return err
	}
	h.log.InfoContext(c.Request.Context(), "account connected", "connection_id", conn.ID, "network", network)
	c.Redirect(http.StatusSeeOther, h.svc.ReturnURL(back, url.Values{"connected": {network}}))
	return nil
}

func (h *Handlers) disconnect(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	if err := h.svc.Disconnect(c.Request.Context(), sc, me, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handlers) share(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in struct {
		Connections []string `json:"connections"`
		Text        *string  `json:"text"`
		PublishAt   *string  `json:"publish_at"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	req := ShareRequest{Connections: in.Connections, Text: in.Text, Key: strings.TrimSpace(c.GetHeader("Idempotency-Key"))}
	if len(req.Key) > 200 {
		return httpapi.Invalid(httpapi.FieldError{Field: "Idempotency-Key", Message: "must be at most 200 characters"})
	}
	if in.PublishAt != nil {
		t, err := time.Parse(time.RFC3339, *in.PublishAt)
		if err != nil {
			return httpapi.Invalid(httpapi.FieldError{Field: "publish_at", Message: "must be an RFC 3339 time such as 2026-12-01T09:00:00Z"})
		}
		req.PublishAt = &t
	}
	post, err := h.svc.content.ShareableBy(c.Request.Context(), sc, me, c.Param("id"))
	if err != nil {
		return err
	}
	shares, err := h.svc.CreateShares(c.Request.Context(), sc, me, post, req)
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, httpapi.List[Share]{Items: shares})
	return nil
}

// linkShare hands the member their tracked link of a content (a share
// on the link channel): 201 the first time, 200 with the same share
// after. It takes no body.
func (h *Handlers) linkShare(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	if c.Request.ContentLength > 0 {
		var in struct{}
		if err := httpapi.Decode(c, &in); err != nil {
			return err
		}
	}
	post, err := h.svc.content.ShareableBy(c.Request.Context(), sc, me, c.Param("id"))
	if err != nil {
		return err
	}
	sh, created, err := h.svc.LinkShare(c.Request.Context(), sc, me, post)
	if err != nil {
		return err
	}
	if sh, err = clicked(c.Request.Context(), sc, sh); err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, sh)
	return nil
}

func (h *Handlers) shares(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	all := c.Query("all") == "1"
	if all && !me.Allows(tenant.RoleAdmin, tenant.RoleAnalyst) {
		return tenant.ErrForbidden
	}
	limit, err := httpapi.Limit(c)
	if err != nil {
		return err
	}
	// Shares page like content lists, with content's cursor format.
	after, err := content.ParseCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	shares, next, err := h.svc.Shares(c.Request.Context(), sc, me, all, limit, after)
	if err != nil {
		return err
	}
	if err := withClicks(c.Request.Context(), sc, shares); err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.Page(shares, next))
	return nil
}

func (h *Handlers) getShare(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	sh, err := h.svc.GetShare(c.Request.Context(), sc, me, c.Param("id"))
	if err != nil {
		return err
	}
	if sh, err = clicked(c.Request.Context(), sc, sh); err != nil {
		return err
	}
	c.JSON(http.StatusOK, sh)
	return nil
}

func (h *Handlers) cancelShare(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	sh, err := h.svc.CancelShare(c.Request.Context(), sc, me, c.Param("id"))
	if err != nil {
		return err
	}
	if sh, err = clicked(c.Request.Context(), sc, sh); err != nil {
		return err
	}
	c.JSON(http.StatusOK, sh)
	return nil
}
