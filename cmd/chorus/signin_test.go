package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestEmailSignInCreatesAndJoinsInstances(t *testing.T) {
	a := newTestApp(t, nil)
	alice := a.client(t).signIn("Alice@ACME.example")
	if alice.Member.Role != "admin" || alice.Member.Email != "alice@acme.example" {
		t.Errorf("alice = %+v, want admin alice@acme.example", alice.Member)
	}
	if diff := cmp.Diff([]string{"acme.example"}, alice.Instance.Domains); diff != "" {
		t.Errorf("instance domains (-want +got):\n%s", diff)
	}
	if alice.Instance.Verified {
		t.Error("a new instance is verified; want pending")
	}

	carol := a.client(t).signIn("carol@acme.example")
	if carol.Instance.ID != alice.Instance.ID || carol.Member.Role != "employee" {
		t.Errorf("carol = %+v in %s; want employee in %s", carol.Member, carol.Instance.ID, alice.Instance.ID)
	}
	// Signing in again keeps the member.
	again := a.client(t).signIn("alice@acme.example")
	if again.Member.ID != alice.Member.ID || again.Member.Role != "admin" {
		t.Errorf("alice again = %+v, want the same admin member %s", again.Member, alice.Member.ID)
	}

	bobc := a.client(t)
	bob := bobc.signIn("bob@globex.example")
	if bob.Instance.ID == alice.Instance.ID {
		t.Fatal("bob joined Acme's instance")
	}
	if bob.Member.Role != "admin" {
		t.Errorf("bob's role = %s, want admin of the new instance", bob.Member.Role)
	}
	res := bobc.do("GET", "/api/v1/members", nil)
	if res.status != http.StatusOK || strings.Contains(string(res.body), "acme") || strings.Contains(string(res.body), alice.Member.ID) {
		t.Errorf("bob's member list: %d %s", res.status, res.body)
	}
	res = bobc.do("GET", "/api/v1/members/"+alice.Member.ID, nil)
	if res.status != http.StatusNotFound || res.problem(t).Code != "not_found" {
		t.Errorf("bob GET alice: %d %s, want 404 not_found", res.status, res.body)
	}
}

func TestSignInRefusesDomains(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	tests := []struct {
		email      string
		wantStatus int
		wantCode   string
	}{
		{"x@gmail.com", 422, "invalid_email_domain"},
		{"x@GMail.com.", 422, "invalid_email_domain"},
		{"x@mailinator.com", 422, "invalid_email_domain"},
		{"x@co.uk", 422, "invalid_email_domain"},
		{"x@[127.0.0.1]", 422, "invalid_email_domain"},
		{"x@127.0.0.1", 422, "invalid_email_domain"},
		{"x@аcme.example", 422, "invalid_email_domain"}, // Cyrillic а
		{"Alice <alice@acme.example>", 400, "validation_failed"},
		{"not an address", 400, "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			res := c.do("POST", "/api/v1/auth/email", map[string]string{"email": tt.email})
			p := res.problem(t)
			if res.status != tt.wantStatus || p.Code != tt.wantCode {
				t.Errorf("got %d %s (%s), want %d %s", res.status, p.Code, p.Detail, tt.wantStatus, tt.wantCode)
			}
		})
	}
	if res := c.do("GET", "/api/v1/dev/mail", nil); strings.Contains(string(res.body), "@") {
		t.Errorf("a refused address got mail: %s", res.body)
	}
}

func TestSignInLinkWorksOnce(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	link := c.signInLink("alice@acme.example")
	if res := c.useLink(link); res.status != http.StatusNoContent {
		t.Fatalf("first use: %d %s", res.status, res.body)
	}
	other := a.client(t)
	res := other.useLink(link)
	if res.status != http.StatusBadRequest || res.problem(t).Code != "invalid_token" {
		t.Errorf("replay: %d %s, want 400 invalid_token", res.status, res.body)
	}
	if res.header.Get("Set-Cookie") != "" {
		t.Errorf("replay set a cookie: %s", res.header.Get("Set-Cookie"))
	}
	if res := other.do("GET", "/api/v1/me", nil); res.status != http.StatusUnauthorized {
		t.Errorf("after replay /me = %d, want 401", res.status)
	}
}

func TestSignInLinkExpiresAndForgedTokens(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	link, _ := url.Parse(c.signInLink("alice@acme.example"))
	a.clock.Add(16 * time.Minute)
	for name, token := range map[string]string{
		"expired": link.Query().Get("token"),
		"forged":  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"empty":   "",
		"huge":    strings.Repeat("a", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			// The link leads to the confirmation page, which says so.
			res := c.do("GET", "/api/v1/auth/email/callback?"+url.Values{"token": {token}}.Encode(), nil)
			if loc, _ := url.Parse(res.header.Get("Location")); res.status != http.StatusSeeOther || loc.Path != "/signin/confirm" || loc.Fragment != "error=invalid_token" {
				t.Errorf("GET: %d to %q, want 303 to /signin/confirm#error=invalid_token", res.status, res.header.Get("Location"))
			}
			res = c.do("POST", "/api/v1/auth/email/callback", map[string]string{"token": token})
			if res.status != http.StatusBadRequest || res.problem(t).Code != "invalid_token" {
				t.Errorf("POST: %d %s, want 400 invalid_token", res.status, res.body)
			}
			if res.header.Get("Set-Cookie") != "" {
				t.Errorf("a cookie was set: %s", res.header.Get("Set-Cookie"))
			}
		})
	}
}

func TestSessionCookieRotationAndLogout(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	c.signIn("alice@acme.example")
	base, _ := url.Parse(a.srv.URL)
	first := c.http.Jar.Cookies(base)
	if len(first) != 1 {
		t.Fatalf("cookies after sign-in: %v", first)
	}
	// A second sign-in in the same browser replaces the session.
	c.signIn("alice@acme.example")
	second := c.http.Jar.Cookies(base)
	if len(second) != 1 || second[0].Value == first[0].Value {
		t.Fatalf("session not rotated: %v then %v", first, second)
	}
	stale := a.client(t)
	stale.http.Jar.SetCookies(base, first)
	if res := stale.do("GET", "/api/v1/me", nil); res.status != http.StatusUnauthorized {
		t.Errorf("old session after rotation: %d, want 401", res.status)
	}

	if res := c.do("POST", "/api/v1/auth/logout", nil); res.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", res.status, res.body)
	}
	killed := a.client(t)
	killed.http.Jar.SetCookies(base, second)
	if res := killed.do("GET", "/api/v1/me", nil); res.status != http.StatusUnauthorized {
		t.Errorf("session after logout: %d, want 401", res.status)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	res := c.useLink(c.signInLink("alice@acme.example"))
	sc := res.header.Get("Set-Cookie")
	for _, want := range []string{"chorus_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if res.status != http.StatusNoContent {
		t.Errorf("sign-in: %d %s, want 204", res.status, res.body)
	}
}

func TestSignInRateLimits(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		a := newTestApp(t, nil)
		for i := range 10 {
			// Each request from its own client: only the address repeats.
			res := a.client(t).do("POST", "/api/v1/auth/email", map[string]string{"email": "alice@acme.example"},
				"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
			if res.status != http.StatusAccepted {
				t.Fatalf("mail %d: %d %s", i+1, res.status, res.body)
			}
		}
		res := a.client(t).do("POST", "/api/v1/auth/email", map[string]string{"email": "alice@acme.example"})
		if res.status != http.StatusTooManyRequests || res.problem(t).Code != "rate_limited" {
			t.Fatalf("11th mail: %d %s, want 429 rate_limited", res.status, res.body)
		}
		if res.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
		if res := a.client(t).do("POST", "/api/v1/auth/email", map[string]string{"email": "carol@acme.example"}); res.status != http.StatusAccepted {
			t.Errorf("another address was limited: %d", res.status)
		}
	})
	t.Run("per mailbox, whatever its plus tag or dots", func(t *testing.T) {
		a := newTestApp(t, nil)
		for i := range 10 {
			if res := a.client(t).do("POST", "/api/v1/auth/email", map[string]string{"email": "victim@acme.example"}); res.status != http.StatusAccepted {
				t.Fatalf("mail %d: %d %s", i+1, res.status, res.body)
			}
		}
		for _, addr := range []string{"victim+0@acme.example", "Victim+news@acme.example", "vic.tim@acme.example", "v.i.c.t.i.m+1@acme.example"} {
			res := a.client(t).do("POST", "/api/v1/auth/email", map[string]string{"email": addr})
			if res.status != http.StatusTooManyRequests {
				t.Errorf("%s after 10 mails to victim@: %d %s, want 429", addr, res.status, res.body)
			}
		}
		if res := a.client(t).do("POST", "/api/v1/auth/email", map[string]string{"email": "victor+0@acme.example"}); res.status != http.StatusAccepted {
			t.Errorf("another mailbox was limited: %d", res.status)
		}
	})
	t.Run("per IP ignores X-Forwarded-For", func(t *testing.T) {
		a := newTestApp(t, map[string]string{"CHORUS_SIGNIN_LIMIT_IP": "3"})
		c := a.client(t)
		for i := range 3 {
			res := c.do("POST", "/api/v1/auth/email", map[string]string{"email": fmt.Sprintf("p%d@acme.example", i)},
				"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i), "X-Real-IP", fmt.Sprintf("198.51.100.%d", i))
			if res.status != http.StatusAccepted {
				t.Fatalf("request %d: %d %s", i+1, res.status, res.body)
			}
		}
		res := c.do("POST", "/api/v1/auth/email", map[string]string{"email": "p9@acme.example"}, "X-Forwarded-For", "192.0.2.77")
		if res.status != http.StatusTooManyRequests {
			t.Errorf("4th request with a spoofed X-Forwarded-For: %d %s, want 429", res.status, res.body)
		}
	})
}
