package tenant

import (
	"encoding/base64"
	"net/http"
	"net/netip"
	"time"

	"github.com/gin-gonic/gin"
)

// The binding cookie ties a started sign-in to its browser. It lives as
// long as a state and is reused by the browser's next sign-ins, so two
// tabs can sign in at once.
const oidcCookieMaxAge = int(OIDCStateTTL / time.Second)

func (h *Handlers) oidcCookieName() string {
	if h.svc.cookie.secure {
		return "__Host-chorus_oidc"
	}
	return "chorus_oidc"
}

func (h *Handlers) getOIDCStart(c *gin.Context) error {
	browser, _ := c.Cookie(h.oidcCookieName())
	if len(browser) != base64.RawURLEncoding.EncodedLen(32) { // not one of newSecret's
		browser = newSecret()
	}
	ip, _ := netip.ParseAddr(c.ClientIP())
	u, err := h.svc.startOIDC(c.Request.Context(), oidcStart{
		Email:      c.Query("email"),
		InstanceID: c.Query("instance"),
		IP:         ip,
		Browser:    browser,
	})
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     h.oidcCookieName(),
		Value:    browser,
		Path:     "/",
		MaxAge:   oidcCookieMaxAge,
		Secure:   h.svc.cookie.secure,
		HttpOnly: true,
		// Lax: the provider's redirect back is a top-level GET navigation.
		SameSite: http.SameSiteLaxMode,
	})
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Redirect(http.StatusFound, u)
	return nil
}

func (h *Handlers) oidcCallbackHandler(c *gin.Context) error {
	// The URL holds a code: keep it out of caches and Referer headers.
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	ctx := c.Request.Context()
	old, _ := c.Cookie(h.svc.cookie.name)
	browser, _ := c.Cookie(h.oidcCookieName())
	secret, err := h.svc.signInWithOIDC(ctx, oidcCallback{
		State:   c.Query("state"),
		Code:    c.Query("code"),
		Error:   c.Query("error"),
		Browser: browser,
	}, old)
	if p := Problems.Problem(err); p != nil {
		// The cause (which check failed) goes to the log, never a token
		// or code; the client gets the problem.
		if p.Status < 500 {
			h.svc.Log.InfoContext(ctx, "OIDC sign-in refused", "code", p.Code, "err", err)
		} else {
			h.svc.Log.WarnContext(ctx, "OIDC sign-in failed", "code", p.Code, "err", err)
		}
		return p
	}
	if err != nil {
		return err
	}
	h.setCookie(c, secret, int(SessionTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, h.svc.BaseURL.JoinPath("/").String())
	return nil
}
