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

// Routes mounts sign-in, the member's own views, the instance and its
// members under r (the /api/v1 group).
func (s *Service) Routes(r gin.IRouter) {
	r.POST("/auth/email", s.Public(s.postEmailSignIn))
	r.GET("/auth/email/callback", s.Public(s.getEmailCallback))
	r.HEAD("/auth/email/callback", s.Public(s.getEmailCallback))
	r.POST("/auth/email/callback", s.Public(s.postEmailCallback))
	r.GET("/auth/login-page", s.Public(s.getLoginPage))
	s.OIDCRoutes(r)
	s.SSORoutes(r)
	s.GroupRoutes(r)
	r.POST("/auth/logout", s.Member(nil, s.postLogout))
	r.GET("/me", s.Member(nil, s.getMe))
	r.GET("/instance", s.Member(nil, s.getInstance))
	r.PATCH("/instance/settings", s.Member(nil, s.patchSettings, RoleAdmin))
	r.DELETE("/instance", s.Member(nil, s.deleteInstance, RoleAdmin))
	r.GET("/members", s.Member(nil, s.listMembers))
	r.PATCH("/members/me", s.Member(nil, s.patchMe))
	r.GET("/members/:id", s.Member(nil, s.getMember))
	r.PATCH("/members/:id", s.Member(nil, s.patchMember, RoleAdmin))
	r.DELETE("/members/:id", s.Member(nil, s.deleteMember, RoleAdmin))
	r.GET("/instance/domains", s.Member(nil, s.getDomains, RoleAdmin))
	r.POST("/instance/domains", s.Member(nil, s.postDomain, RoleAdmin))
	r.POST("/instance/domains/:domain/verify", s.Member(nil, s.postVerifyDomain, RoleAdmin))
	r.GET("/invitations", s.Member(nil, s.getInvitations, RoleAdmin))
	r.POST("/invitations", s.Member(nil, s.Idempotent(s.postInvitations), RoleAdmin))
	r.DELETE("/invitations/:id", s.Member(nil, s.deleteInvitation, RoleAdmin))
	r.POST("/invitations/:id/resend", s.Member(nil, s.postResend, RoleAdmin))
	r.GET("/audit", s.Member(nil, s.getAudit, RoleAdmin))
	r.GET("/identities/pending", s.Member(nil, s.getPendingIdentities, RoleAdmin))
	r.POST("/members/:id/identities", s.Member(nil, s.postIdentityDecision, RoleAdmin))
	r.POST("/instance/support-grants", s.Member(nil, s.postSupportGrant, RoleAdmin))
	r.GET("/instance/support-grants", s.Member(nil, s.getSupportGrants, RoleAdmin))
	r.DELETE("/instance/support-grants/:id", s.Member(nil, s.deleteSupportGrant, RoleAdmin))
	if s.DevMailbox != nil {
		r.GET("/dev/mail", s.Public(s.getDevMail))
	}
}

func (s *Service) postEmailSignIn(c *gin.Context) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	ip, _ := netip.ParseAddr(c.ClientIP())
	if err := s.RequestEmailLink(c.Request.Context(), in.Email, ip); err != nil {
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
func (s *Service) getEmailCallback(c *gin.Context) error {
	frag := "error=invalid_token"
	token := c.Query("token")
	switch email, err := s.PeekEmailLink(c.Request.Context(), token); {
	case err == nil:
		frag = url.Values{"token": {token}, "email": {email}}.Encode()
	case !errors.Is(err, ErrInvalidToken):
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(http.StatusSeeOther, s.BaseURL.JoinPath("/signin/confirm").String()+"#"+frag)
	return nil
}

// postEmailCallback is the confirmation page's sign-in: {"token": …}
// consumes the link and sets the session cookie (204). Like every
// state-changing request it must be same-origin (cross_origin_request
// otherwise), so another site cannot sign a visitor in to its account.
func (s *Service) postEmailCallback(c *gin.Context) error {
	var in struct {
		Token string `json:"token"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	old, _ := c.Cookie(s.cookie.name)
	secret, err := s.SignInWithEmailLink(c.Request.Context(), in.Token, old)
	if err != nil {
		return err
	}
	s.setCookie(c, secret, int(SessionTTL.Seconds()))
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusNoContent)
	return nil
}

func (s *Service) setCookie(c *gin.Context, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     s.cookie.name,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		Secure:   s.cookie.secure,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// postLogout ends the session: 204, or 200 with end_session_url when an
// identity provider signed the session in and can end its own session too
// (the app sends the browser there).
func (s *Service) postLogout(c *gin.Context, _ Scope, _ Member) error {
	secret, _ := c.Cookie(s.cookie.name)
	endSession := s.endSessionURL(c.Request.Context(), secret)
	if err := s.SignOut(c.Request.Context(), secret); err != nil {
		return err
	}
	s.setCookie(c, "", -1)
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

func (s *Service) instanceViewOf(inst Instance) instanceView {
	return instanceView{ID: inst.ID, Name: inst.Name, Domains: inst.Domains, Verified: inst.Verified, Settings: inst.Settings.WithDefaults(),
		Region: s.Store.RegionOf(inst), Regions: s.Store.Regions()}
}

func (s *Service) getMe(c *gin.Context, sc Scope, me Member) error {
	inst := sc.Instance()
	c.JSON(http.StatusOK, gin.H{
		"member": viewOf(me, true),
		"instance": gin.H{
			"id": inst.ID, "name": inst.Name, "domains": inst.Domains, "verified": inst.Verified,
		},
	})
	return nil
}

func (s *Service) getInstance(c *gin.Context, sc Scope, _ Member) error {
	v := s.instanceViewOf(sc.Instance())
	v.SSO = s.ssoOf(c.Request.Context(), sc.Instance())
	c.JSON(http.StatusOK, v)
	return nil
}

func (s *Service) patchSettings(c *gin.Context, sc Scope, me Member) error {
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
		Region *string `json:"region"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	inst, err := s.UpdateSettings(c.Request.Context(), sc, me, SettingsUpdate{
		Name: in.Name, InvitationMessage: in.InvitationMessage, RetentionDays: in.RetentionDays, JoinPolicy: in.JoinPolicy,
		SuggestionsNeedApproval: in.NeedApproval, Subdomain: in.Subdomain,
		TimeZone: in.TimeZone, CPC: in.CPC, MinGroupSize: in.MinGroupSize, LeaderboardVisible: in.LeaderboardVisible, Points: in.Points,
		Digest: in.Digest, Region: in.Region,
	})
	if err != nil {
		return err
	}
	s.Log.InfoContext(c.Request.Context(), "instance settings changed", "by", me.ID)
	c.JSON(http.StatusOK, s.instanceViewOf(inst))
	return nil
}

func (s *Service) listMembers(c *gin.Context, sc Scope, me Member) error {
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

func (s *Service) getMember(c *gin.Context, sc Scope, me Member) error {
	m, err := sc.Member(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, viewOf(m, me.Role == RoleAdmin || m.ID == me.ID))
	return nil
}

func (s *Service) patchMe(c *gin.Context, sc Scope, me Member) error {
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
		if s.CheckTopics == nil {
			return &ValidationError{Field: "topics", Reason: "this instance has no topics"}
		}
		topics, err := s.CheckTopics(c.Request.Context(), sc, *in.Topics)
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

func (s *Service) getDevMail(c *gin.Context) error {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"items": s.DevMailbox.List(strings.ToLower(strings.TrimSpace(c.Query("to"))))})
	return nil
}
