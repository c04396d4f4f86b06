package tenant

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// OIDCRoutes mounts GET /auth/oidc/start and GET /auth/oidc/callback under
// r (the /api/v1 group). Until EnableOIDC has run they answer 404
// oidc_not_configured.
func (s *Service) OIDCRoutes(r gin.IRouter) {
	r.GET("/auth/oidc/start", s.Public(oidcHandler(s.getOIDCStart)))
	r.GET("/auth/oidc/callback", s.Public(s.oidcCallbackHandler))
}

// oidcHandler makes h's errors problems through oidcProblem; Public maps
// whatever is left (domain policy, validation, rate limits) through
// ProblemOf.
func oidcHandler(h func(c *gin.Context) error) func(c *gin.Context) error {
	return func(c *gin.Context) error {
		err := h(c)
		if p := oidcProblem(err); p != nil {
			return p
		}
		return err
	}
}

// oidcProblem maps OIDC sign-in's errors to problems; nil for anything
// else.
func oidcProblem(err error) *httpapi.Problem {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrOIDCDisabled):
		return httpapi.New(http.StatusNotFound, "oidc_not_configured", "sign-in with an identity provider is not configured here: sign in by email")
	case errors.Is(err, ErrInvalidState):
		return httpapi.New(http.StatusBadRequest, "invalid_state", "this sign-in is unknown, used, expired or was started in another browser: start again")
	case errors.Is(err, ErrOIDCRefused):
		return httpapi.New(http.StatusBadRequest, "oidc_refused", "the identity provider did not complete the sign-in: start again")
	case errors.Is(err, ErrInvalidIDToken):
		return httpapi.New(http.StatusBadRequest, "invalid_id_token", "the identity provider's answer could not be verified: start again")
	case errors.Is(err, ErrEmailUnverified):
		return httpapi.New(http.StatusForbidden, "email_unverified", "your identity provider does not confirm that the email address is verified: verify it there, or sign in by email")
	case errors.Is(err, ErrIdentityPending):
		return httpapi.New(http.StatusForbidden, "identity_pending", "an admin must approve this new sign-in identity; until then, sign in as before")
	case errors.Is(err, ErrWrongInstance):
		return httpapi.New(http.StatusForbidden, "wrong_instance", "you signed in with an address that does not belong to this company's instance")
	case errors.Is(err, ErrOIDCUnavailable):
		return httpapi.New(http.StatusBadGateway, "idp_unavailable", "the identity provider cannot be reached; try again later")
	}
	return nil
}

// The binding cookie ties a started sign-in to its browser. It lives as
// long as a state and is reused by the browser's next sign-ins, so two
// tabs can sign in at once.
const oidcCookieMaxAge = int(OIDCStateTTL / time.Second)

func (s *Service) oidcCookieName() string {
	if s.cookie.secure {
		return "__Host-chorus_oidc"
	}
	return "chorus_oidc"
}

func (s *Service) getOIDCStart(c *gin.Context) error {
	browser, _ := c.Cookie(s.oidcCookieName())
	if len(browser) != base64.RawURLEncoding.EncodedLen(32) { // not one of newSecret's
		browser = newSecret()
	}
	ip, _ := netip.ParseAddr(c.ClientIP())
	u, err := s.startOIDC(c.Request.Context(), oidcStart{
		Email:      c.Query("email"),
		InstanceID: c.Query("instance"),
		IP:         ip,
		Browser:    browser,
	})
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     s.oidcCookieName(),
		Value:    browser,
		Path:     "/",
		MaxAge:   oidcCookieMaxAge,
		Secure:   s.cookie.secure,
		HttpOnly: true,
		// Lax: the provider's redirect back is a top-level GET navigation.
		SameSite: http.SameSiteLaxMode,
	})
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(http.StatusFound, u)
	return nil
}

func (s *Service) oidcCallbackHandler(c *gin.Context) error {
	// The URL holds a code: keep it out of caches and Referer headers.
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	ctx := c.Request.Context()
	old, _ := c.Cookie(s.cookie.name)
	browser, _ := c.Cookie(s.oidcCookieName())
	secret, err := s.signInWithOIDC(ctx, oidcCallback{
		State:   c.Query("state"),
		Code:    c.Query("code"),
		Error:   c.Query("error"),
		Browser: browser,
	}, old)
	if p := oidcProblem(err); p != nil {
		// The cause (which check failed) goes to the log, never a token
		// or code; the client gets the problem.
		if p.Status < 500 {
			s.Log.InfoContext(ctx, "OIDC sign-in refused", "code", p.Code, "err", err)
		} else {
			s.Log.WarnContext(ctx, "OIDC sign-in failed", "code", p.Code, "err", err)
		}
		return p
	}
	if err != nil {
		return err
	}
	s.setCookie(c, secret, int(SessionTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, s.BaseURL.JoinPath("/").String())
	return nil
}
