package tenant

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// HandlerFunc serves a signed-in member's request; sc is their instance.
type HandlerFunc func(c *gin.Context, sc Scope, me Member) error

// Member adapts h to Gin: the request must carry a live session (else 401)
// of a member holding one of roles (else 403; no roles means any member).
// Errors h returns are answered from errs (the domain's error table), then
// tenant's own (Problems).
func (s *Service) Member(errs httpapi.Table, h HandlerFunc, roles ...Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		secret, _ := c.Cookie(s.cookie.name)
		sc, me, err := s.Authenticate(c.Request.Context(), secret)
		if err != nil {
			httpapi.Respond(c, s.Log, err, Problems)
			return
		}
		c.Request = c.Request.WithContext(withLogIDs(c.Request.Context(), sc, me))
		if len(roles) > 0 && !me.Allows(roles...) {
			httpapi.Write(c, httpapi.ErrForbidden)
			return
		}
		if err := h(c, sc, me); err != nil {
			httpapi.Respond(c, s.Log, err, errs, Problems)
		}
	}
}

// Public adapts a handler that needs no session.
func (s *Service) Public(h func(c *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			httpapi.Respond(c, s.Log, err, Problems)
		}
	}
}

// Handlers serves tenant's routes: sign-in, the member's own views, the
// instance and its members, the admin console, the data-subject rights
// and the operator API.
type Handlers struct {
	svc     *Service
	privacy *Privacy
	// export queues an export job (cmd gives it the task queue; tenant
	// knows no queue).
	export func(ctx context.Context, sc Scope, id string) error
}

// NewHandlers returns tenant's HTTP handlers.
func NewHandlers(svc *Service) *Handlers {
	return &Handlers{svc: svc}
}

// WithPrivacy mounts the data-subject rights of p too, export queueing
// the export jobs.
func (h *Handlers) WithPrivacy(p *Privacy, export func(ctx context.Context, sc Scope, id string) error) *Handlers {
	h.privacy, h.export = p, export
	return h
}

// Routes mounts sign-in, the member's own views, the instance and its
// members, the admin console and (WithPrivacy) the data-subject rights
// under r (the /api/v1 group).
func (h *Handlers) Routes(r gin.IRouter) {
	m := func(f HandlerFunc, roles ...Role) gin.HandlerFunc { return h.svc.Member(nil, f, roles...) }
	public := h.svc.Public
	r.POST("/auth/email", public(h.postEmailSignIn))
	r.GET("/auth/email/callback", public(h.getEmailCallback))
	r.HEAD("/auth/email/callback", public(h.getEmailCallback))
	r.POST("/auth/email/callback", public(h.postEmailCallback))
	r.GET("/auth/login-page", public(h.getLoginPage))
	// Until EnableOIDC has run the OIDC routes answer 404 oidc_not_configured.
	r.GET("/auth/oidc/start", public(h.getOIDCStart))
	r.GET("/auth/oidc/callback", public(h.oidcCallbackHandler))
	// The instance's identity provider: admins of a verified instance only.
	r.GET("/instance/sso", m(h.getSSO, RoleAdmin))
	r.PUT("/instance/sso", m(h.putSSO, RoleAdmin))
	r.DELETE("/instance/sso", m(h.deleteSSO, RoleAdmin))
	h.groupRoutes(r)
	r.POST("/auth/logout", m(h.postLogout))
	r.GET("/me", m(h.getMe))
	r.GET("/instance", m(h.getInstance))
	r.PATCH("/instance/settings", m(h.patchSettings, RoleAdmin))
	r.DELETE("/instance", m(h.deleteInstance, RoleAdmin))
	r.GET("/members", m(h.listMembers))
	r.PATCH("/members/me", m(h.patchMe))
	r.GET("/members/:id", m(h.getMember))
	r.PATCH("/members/:id", m(h.patchMember, RoleAdmin))
	r.DELETE("/members/:id", m(h.deleteMember, RoleAdmin))
	r.GET("/instance/domains", m(h.getDomains, RoleAdmin))
	r.POST("/instance/domains", m(h.postDomain, RoleAdmin))
	r.POST("/instance/domains/:domain/verify", m(h.postVerifyDomain, RoleAdmin))
	r.GET("/invitations", m(h.getInvitations, RoleAdmin))
	r.POST("/invitations", m(h.svc.Idempotent(h.postInvitations), RoleAdmin))
	r.DELETE("/invitations/:id", m(h.deleteInvitation, RoleAdmin))
	r.POST("/invitations/:id/resend", m(h.postResend, RoleAdmin))
	r.GET("/audit", m(h.getAudit, RoleAdmin))
	r.GET("/identities/pending", m(h.getPendingIdentities, RoleAdmin))
	r.POST("/members/:id/identities", m(h.postIdentityDecision, RoleAdmin))
	r.POST("/instance/support-grants", m(h.postSupportGrant, RoleAdmin))
	r.GET("/instance/support-grants", m(h.getSupportGrants, RoleAdmin))
	r.DELETE("/instance/support-grants/:id", m(h.deleteSupportGrant, RoleAdmin))
	if h.svc.DevMailbox != nil {
		r.GET("/dev/mail", public(h.getDevMail))
	}
	if h.privacy != nil {
		r.GET("/me/export", m(h.getExport))
		r.DELETE("/me", m(h.deleteMe))
		r.GET("/me/consents", m(h.getConsents))
		r.PUT("/me/consents/:purpose", m(h.putConsent))
		r.GET("/privacy/subjects", m(h.getSubject, RoleAdmin))
		r.POST("/privacy/subjects/erase", m(h.postErase, RoleAdmin))
		r.POST("/me/exports", m(h.svc.Idempotent(h.postExports)))
		r.GET("/me/exports/:id", m(h.getExportJob))
		r.GET("/me/exports/:id/download", m(h.downloadExport))
	}
}

// OpsRoutes mounts the operator API under r (/ops/v1) when an operator
// token is configured; every call needs it as a bearer token.
func (h *Handlers) OpsRoutes(r gin.IRouter) {
	if h.svc.OperatorToken == "" {
		return
	}
	g := r.Group("", h.requireOperator)
	g.GET("/instances", h.svc.Public(h.opsInstances))
	g.POST("/domains/:domain/verify", h.svc.Public(h.opsVerifyDomain))
	g.GET("/instances/:id/members", h.svc.Public(h.opsMembers))
}

func (h *Handlers) postEmailSignIn(c *gin.Context) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	ip, _ := netip.ParseAddr(c.ClientIP())
	if err := h.svc.RequestEmailLink(c.Request.Context(), in.Email, ip); err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "sent", "detail": "if the address can sign in, a sign-in link is on its way"})
	return nil
}

// getEmailCallback is the link in sign-in and invitation mails: it sends
// the browser to the web app's confirmation page (/signin/confirm) with
// the token and its address in the fragment (never sent to a server, nor
// in a Referer). It consumes nothing and sets no cookie: see
// PeekEmailLink.
func (h *Handlers) getEmailCallback(c *gin.Context) error {
	frag := "error=invalid_token"
	token := c.Query("token")
	switch email, err := h.svc.PeekEmailLink(c.Request.Context(), token); {
	case err == nil:
		frag = url.Values{"token": {token}, "email": {email}}.Encode()
	case !errors.Is(err, ErrInvalidToken):
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(http.StatusSeeOther, h.svc.BaseURL.JoinPath("/signin/confirm").String()+"#"+frag)
	return nil
}

// postEmailCallback is the confirmation page's sign-in: {"token": …}
// consumes the link and sets the session cookie (204). Like every
// state-changing request it must be same-origin (cross_origin_request
// otherwise), so another site cannot sign a visitor in to its account.
func (h *Handlers) postEmailCallback(c *gin.Context) error {
	var in struct {
		Token string `json:"token"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	old, _ := c.Cookie(h.svc.cookie.name)
	secret, err := h.svc.SignInWithEmailLink(c.Request.Context(), in.Token, old)
	if err != nil {
		return err
	}
	h.setCookie(c, secret, int(SessionTTL.Seconds()))
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handlers) setCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     h.svc.cookie.name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   h.svc.cookie.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// postLogout ends the session: 204, or 200 with end_session_url when an
// identity provider signed the session in and can end its own session too
// (the app sends the browser there).
func (h *Handlers) postLogout(c *gin.Context, _ Scope, _ Member) error {
	secret, _ := c.Cookie(h.svc.cookie.name)
	endSession := h.svc.endSessionURL(c.Request.Context(), secret)
	if err := h.svc.SignOut(c.Request.Context(), secret); err != nil {
		return err
	}
	h.setCookie(c, "", -1)
	if endSession != "" {
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, gin.H{"end_session_url": endSession})
		return nil
	}
	c.Status(http.StatusNoContent)
	return nil
}

// memberView is a member as colleagues see them; admins also see emails.
type memberView struct {
	ID     string   `json:"id"`
	Email  string   `json:"email,omitempty"`
	Name   string   `json:"name"`
	Role   Role     `json:"role"`
	Title  string   `json:"title"`
	Topics []string `json:"topics"`
	// Onboarding is the member's own first-sign-in checklist state, shown
	// to themselves and admins only.
	Onboarding *onboardingView `json:"onboarding,omitempty"`
}

type onboardingView struct {
	Dismissed bool `json:"dismissed"`
}

func viewOf(m Member, withEmail bool) memberView {
	v := memberView{ID: m.ID, Name: m.Name, Role: m.Role, Title: m.Title, Topics: m.Topics}
	if v.Topics == nil {
		v.Topics = []string{}
	}
	if withEmail {
		v.Email = m.Email
		v.Onboarding = &onboardingView{Dismissed: m.OnboardingDismissed}
	}
	return v
}

type instanceView struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Domains  []string `json:"domains"`
	Verified bool     `json:"verified"`
	Settings Settings `json:"settings"`
	// SSO says whether members can sign in with an identity provider.
	SSO *ssoAvailability `json:"sso,omitempty"`
	// Region names where the instance's data is stored; Regions are the
	// deployment's regions (a pending instance's admin picks one).
	Region  string   `json:"region"`
	Regions []string `json:"regions"`
}

// ssoAvailability is which identity providers sign an instance's people in.
type ssoAvailability struct {
	// Available: some provider does.
	Available bool `json:"available"`
	// Instance: the instance's own provider.
	Instance bool `json:"instance"`
	// Required: only the instance's own provider (join policy sso).
	Required bool `json:"required"`
}

func (s *Service) ssoOf(ctx context.Context, inst Instance) *ssoAvailability {
	own, global := s.ssoAvailable(ctx, inst.ID)
	return &ssoAvailability{Available: own || global, Instance: own, Required: inst.Settings.JoinPolicy == JoinSSO}
}

func (h *Handlers) instanceViewOf(inst Instance) instanceView {
	return instanceView{ID: inst.ID, Name: inst.Name, Domains: inst.Domains, Verified: inst.Verified, Settings: inst.Settings.WithDefaults(),
		Region: h.svc.Store.RegionOf(inst), Regions: h.svc.Store.Regions()}
}

func (h *Handlers) getMe(c *gin.Context, sc Scope, me Member) error {
	inst := sc.Instance()
	c.JSON(http.StatusOK, gin.H{
		"member": viewOf(me, true),
		"instance": gin.H{
			"id": inst.ID, "name": inst.Name, "domains": inst.Domains, "verified": inst.Verified,
		},
	})
	return nil
}

func (h *Handlers) getInstance(c *gin.Context, sc Scope, _ Member) error {
	v := h.instanceViewOf(sc.Instance())
	v.SSO = h.svc.ssoOf(c.Request.Context(), sc.Instance())
	c.JSON(http.StatusOK, v)
	return nil
}

func (h *Handlers) patchSettings(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Name              *string     `json:"name"`
		InvitationMessage *string     `json:"invitation_message"`
		RetentionDays     *int        `json:"retention_days"`
		JoinPolicy        *JoinPolicy `json:"join_policy"`
		NeedApproval      *bool       `json:"suggestions_need_approval"`
		Subdomain         *string     `json:"subdomain"`
		// Reach measurement.
		TimeZone           *string `json:"time_zone"`
		CPC                *Money  `json:"cpc"`
		MinGroupSize       *int    `json:"min_group_size"`
		LeaderboardVisible *bool   `json:"leaderboard_visible"`
		Points             *Points `json:"points"`
		Digest             *string `json:"digest"`
		// Region: a pending instance's admin picks where its data is stored.
		Region       *string `json:"region"`
		PushDailyCap *int    `json:"push_daily_cap"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	inst, err := h.svc.UpdateSettings(c.Request.Context(), sc, me, SettingsUpdate{
		Name: in.Name, InvitationMessage: in.InvitationMessage, RetentionDays: in.RetentionDays, JoinPolicy: in.JoinPolicy,
		SuggestionsNeedApproval: in.NeedApproval, Subdomain: in.Subdomain,
		TimeZone: in.TimeZone, CPC: in.CPC, MinGroupSize: in.MinGroupSize, LeaderboardVisible: in.LeaderboardVisible, Points: in.Points,
		Digest: in.Digest, Region: in.Region, PushDailyCap: in.PushDailyCap,
	})
	if err != nil {
		return err
	}
	h.svc.Log.InfoContext(c.Request.Context(), "instance settings changed", "by", me.ID)
	c.JSON(http.StatusOK, h.instanceViewOf(inst))
	return nil
}

func (h *Handlers) listMembers(c *gin.Context, sc Scope, me Member) error {
	limit, err := httpapi.Limit(c)
	if err != nil {
		return err
	}
	after, err := httpapi.ParseCursor(c.Query("cursor"), func(p memberCursor) bool { return httpapi.ValidID(p.ID) })
	if err != nil {
		return err
	}
	var from string
	if after != nil {
		from = after.ID
	}
	ms, err := sc.Members(c.Request.Context(), from, limit+1)
	if err != nil {
		return err
	}
	var next *memberCursor
	if len(ms) > limit {
		ms, next = ms[:limit], &memberCursor{ID: ms[limit-1].ID}
	}
	views := make([]memberView, len(ms))
	for i, m := range ms {
		views[i] = viewOf(m, me.Role == RoleAdmin)
	}
	c.JSON(http.StatusOK, httpapi.Page(views, next))
	return nil
}

// memberCursor is where a page of members starts: after the ID of the
// last member seen.
type memberCursor struct {
	ID string `json:"m"`
}

func (h *Handlers) getMember(c *gin.Context, sc Scope, me Member) error {
	m, err := sc.Member(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, viewOf(m, me.Role == RoleAdmin || m.ID == me.ID))
	return nil
}

func (h *Handlers) patchMe(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Name       *string   `json:"name"`
		Title      *string   `json:"title"`
		Topics     *[]string `json:"topics"`
		Onboarding *bool     `json:"onboarding_dismissed"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if in.Topics != nil {
		if h.svc.CheckTopics == nil {
			return &ValidationError{Field: "topics", Reason: "this instance has no topics"}
		}
		topics, err := h.svc.CheckTopics(c.Request.Context(), sc, *in.Topics)
		if err != nil {
			return err
		}
		in.Topics = &topics
	}
	m, err := sc.UpdateProfile(c.Request.Context(), me.ID, ProfileUpdate{Name: in.Name, Title: in.Title, Topics: in.Topics,
		OnboardingDismissed: in.Onboarding})
	if err != nil {
		return err
	}
	if fields := changedFields(me, m); len(fields) > 0 {
		if err := sc.Audit(c.Request.Context(), MemberActor(me), "member.profile_edited", m.ID, map[string]string{"fields": strings.Join(fields, ",")}); err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, viewOf(m, true))
	return nil
}

func (h *Handlers) getDevMail(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"items": h.svc.DevMailbox.List(strings.ToLower(strings.TrimSpace(c.Query("to"))))})
	return nil
}
