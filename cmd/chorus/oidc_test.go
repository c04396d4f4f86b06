package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/oidctest"
)

// oidcApp is the test app signing in through a real Dex.
type oidcApp struct {
	*testApp
	dex *oidctest.Dex
}

// newOIDCTestApp is newTestApp with OIDC sign-in enabled against a Dex
// holding users, its client's redirect URI being the app's callback.
func newOIDCTestApp(t *testing.T, users ...oidctest.User) *oidcApp {
	t.Helper()
	a := newTestApp(t, nil)
	d := oidctest.Start(t, a.srv.URL+"/api/v1/auth/oidc/callback", users...)
	if err := a.auth.EnableOIDC(t.Context(), tenant.OIDCProvider{Issuer: d.Issuer, ClientID: d.ClientID, ClientSecret: d.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	return &oidcApp{testApp: a, dex: d}
}

// oidcLogin starts an OIDC sign-in at the app (query: email= or
// instance=), signs in at Dex as email and returns the URL Dex sends the
// browser back to.
func (c *client) oidcLogin(d *oidctest.Dex, query url.Values, email, password string) string {
	c.t.Helper()
	res := c.do("GET", "/api/v1/auth/oidc/start?"+query.Encode(), nil)
	if res.status != http.StatusFound {
		c.t.Fatalf("start OIDC sign-in (%s): %d %s", query.Encode(), res.status, res.body)
	}
	return d.Login(c.t, res.header.Get("Location"), email, password)
}

// get requests an absolute URL of the app.
func (c *client) get(rawURL string) response {
	c.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do("GET", u.RequestURI(), nil)
}

// oidcSignIn signs email in through Dex and returns the member.
func (c *client) oidcSignIn(d *oidctest.Dex, email, password string) me {
	c.t.Helper()
	res := c.get(c.oidcLogin(d, url.Values{"email": {email}}, email, password))
	if res.status != http.StatusSeeOther {
		c.t.Fatalf("OIDC callback for %s: %d %s", email, res.status, res.body)
	}
	var m me
	c.do("GET", "/api/v1/me", nil).json(c.t, &m)
	if m.Member.ID == "" {
		c.t.Fatalf("no member after signing in %s", email)
	}
	return m
}

// sessionCookieSet reports whether res sets the session cookie.
func sessionCookieSet(res response) bool {
	for _, sc := range res.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "chorus_session=") || strings.HasPrefix(sc, "__Host-chorus_session=") {
			return true
		}
	}
	return false
}

// wantRefused checks that res is the problem code and that the browser has
// no session.
func (c *client) wantRefused(res response, wantStatus int, wantCode string) {
	c.t.Helper()
	if p := res.problem(c.t); res.status != wantStatus || p.Code != wantCode {
		c.t.Errorf("got %d %s (%s), want %d %s", res.status, p.Code, p.Detail, wantStatus, wantCode)
	}
	if sessionCookieSet(res) {
		c.t.Errorf("a refused sign-in set the session cookie: %v", res.header.Values("Set-Cookie"))
	}
	if res := c.do("GET", "/api/v1/me", nil); res.status != http.StatusUnauthorized {
		c.t.Errorf("after a refused sign-in /me = %d, want 401", res.status)
	}
}

var (
	dexAlice = oidctest.User{Email: "alice@acme.example", Password: "alice-pw", EmailVerified: true}
	dexCarol = oidctest.User{Email: "carol@acme.example", Password: "carol-pw", EmailVerified: true}
	dexBob   = oidctest.User{Email: "bob@globex.example", Password: "bob-pw", EmailVerified: true}
)

func TestOIDCSignInCreatesAndJoinsInstances(t *testing.T) {
	a := newOIDCTestApp(t, dexAlice, dexCarol, dexBob)

	ac := a.client(t)
	res := ac.get(ac.oidcLogin(a.dex, url.Values{"email": {"alice@acme.example"}}, dexAlice.Email, dexAlice.Password))
	if res.status != http.StatusSeeOther || res.header.Get("Location") != a.srv.URL+"/" {
		t.Fatalf("callback: %d Location %q, want 303 to %s/", res.status, res.header.Get("Location"), a.srv.URL)
	}
	sc := res.header.Get("Set-Cookie")
	for _, want := range []string{"chorus_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	var alice me
	ac.do("GET", "/api/v1/me", nil).json(t, &alice)

	bob := a.client(t).oidcSignIn(a.dex, dexBob.Email, dexBob.Password)
	carol := a.client(t).oidcSignIn(a.dex, dexCarol.Email, dexCarol.Password)
	again := a.client(t).oidcSignIn(a.dex, dexAlice.Email, dexAlice.Password)

	type who struct {
		Email, Role string
		Domains     []string
		Verified    bool
	}
	whoOf := func(m me) who {
		return who{m.Member.Email, m.Member.Role, m.Instance.Domains, m.Instance.Verified}
	}
	got := []who{whoOf(alice), whoOf(bob), whoOf(carol)}
	want := []who{
		{"alice@acme.example", "admin", []string{"acme.example"}, false},
		{"bob@globex.example", "admin", []string{"globex.example"}, false},
		{"carol@acme.example", "employee", []string{"acme.example"}, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	if alice.Instance.ID == bob.Instance.ID {
		t.Error("alice and bob landed in the same instance")
	}
	if carol.Instance.ID != alice.Instance.ID {
		t.Errorf("carol is in %s, want Acme's %s", carol.Instance.ID, alice.Instance.ID)
	}
	if again.Member.ID != alice.Member.ID {
		t.Errorf("alice's second sign-in is member %s, want %s", again.Member.ID, alice.Member.ID)
	}
}

func TestOIDCUnverifiedEmailGetsNoSession(t *testing.T) {
	dave := oidctest.User{Email: "dave@initech.example", Password: "dave-pw", EmailVerified: false}
	a := newOIDCTestApp(t, dave)
	c := a.client(t)
	res := c.get(c.oidcLogin(a.dex, url.Values{"email": {dave.Email}}, dave.Email, dave.Password))
	c.wantRefused(res, http.StatusForbidden, "email_unverified")
}

func TestOIDCCallbackRefusesBadAndReplayedStates(t *testing.T) {
	a := newOIDCTestApp(t, dexAlice)
	c := a.client(t)
	callback, err := url.Parse(c.oidcLogin(a.dex, url.Values{"email": {dexAlice.Email}}, dexAlice.Email, dexAlice.Password))
	if err != nil {
		t.Fatal(err)
	}
	withQuery := func(state, code string) string {
		u := *callback
		q := url.Values{}
		if state != "" {
			q.Set("state", state)
		}
		if code != "" {
			q.Set("code", code)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	code := callback.Query().Get("code")

	t.Run("wrong state", func(t *testing.T) {
		c := a.client(t)
		c.wantRefused(c.get(withQuery("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", code)), http.StatusBadRequest, "invalid_state")
	})
	t.Run("missing state", func(t *testing.T) {
		c := a.client(t)
		c.wantRefused(c.sendingMalformed().get(withQuery("", code)), http.StatusBadRequest, "invalid_state")
	})
	t.Run("state from another browser", func(t *testing.T) {
		other := a.client(t)
		other.wantRefused(other.get(callback.String()), http.StatusBadRequest, "invalid_state")
	})

	// None of those used the state up.
	if res := c.get(callback.String()); res.status != http.StatusSeeOther {
		t.Fatalf("the genuine callback: %d %s", res.status, res.body)
	}

	t.Run("replayed state", func(t *testing.T) {
		res := c.get(callback.String())
		if p := res.problem(t); res.status != http.StatusBadRequest || p.Code != "invalid_state" || sessionCookieSet(res) {
			t.Errorf("got %d %s, want 400 invalid_state and no new session", res.status, p.Code)
		}
	})
	t.Run("replayed code with a fresh state", func(t *testing.T) {
		c := a.client(t)
		res := c.do("GET", "/api/v1/auth/oidc/start?email=alice%40acme.example", nil)
		authorize, err := url.Parse(res.header.Get("Location"))
		if res.status != http.StatusFound || err != nil {
			t.Fatalf("start: %d %s", res.status, res.body)
		}
		// Dex refuses to exchange a code twice.
		c.wantRefused(c.get(withQuery(authorize.Query().Get("state"), code)), http.StatusBadRequest, "oidc_refused")
	})
}

func TestOIDCNewIdentityForKnownEmailIsPending(t *testing.T) {
	bob := dexBob
	bob.UserID = "bob-1"
	a := newOIDCTestApp(t, dexAlice, bob)

	t.Run("member by email link", func(t *testing.T) {
		ec := a.client(t)
		alice := ec.signIn("alice@acme.example")
		c := a.client(t)
		res := c.get(c.oidcLogin(a.dex, url.Values{"email": {dexAlice.Email}}, dexAlice.Email, dexAlice.Password))
		c.wantRefused(res, http.StatusForbidden, "identity_pending")

		var list struct {
			Items []struct{ ID string } `json:"items"`
		}
		ec.do("GET", "/api/v1/members", nil).json(t, &list)
		if len(list.Items) != 1 || list.Items[0].ID != alice.Member.ID {
			t.Errorf("members %+v, want alice (%s) alone", list.Items, alice.Member.ID)
		}
	})

	t.Run("new subject at the provider", func(t *testing.T) {
		first := a.client(t).oidcSignIn(a.dex, bob.Email, bob.Password)
		// The provider now gives the same address another account.
		bob2 := bob
		bob2.UserID = "bob-2"
		a.dex.Restart(t, dexAlice, bob2)
		c := a.client(t)
		res := c.get(c.oidcLogin(a.dex, url.Values{"email": {bob.Email}}, bob.Email, bob.Password))
		c.wantRefused(res, http.StatusForbidden, "identity_pending")

		// The first account still signs in to the same member.
		a.dex.Restart(t, dexAlice, bob)
		if again := a.client(t).oidcSignIn(a.dex, bob.Email, bob.Password); again.Member.ID != first.Member.ID {
			t.Errorf("bob's first account signs in as %s, want %s", again.Member.ID, first.Member.ID)
		}
	})
}

func TestOIDCStartRefuses(t *testing.T) {
	a := newOIDCTestApp(t)
	tests := []struct {
		name       string
		query      string
		wantStatus int
		wantCode   string
	}{
		{"freemail", "email=x%40gmail.com", 422, "invalid_email_domain"},
		{"disposable", "email=x%40mailinator.com", 422, "invalid_email_domain"},
		{"public suffix", "email=x%40co.uk", 422, "invalid_email_domain"},
		{"malformed", "email=not+an+address", 400, "validation_failed"},
		{"nothing", "", 400, "validation_failed"},
		{"email and instance", "email=alice%40acme.example&instance=aaaaaaaaaaaaaaaaaaaaaaaaaa", 400, "validation_failed"},
		{"unknown instance", "instance=aaaaaaaaaaaaaaaaaaaaaaaaaa", 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.client(t).do("GET", "/api/v1/auth/oidc/start?"+tt.query, nil)
			if p := res.problem(t); res.status != tt.wantStatus || p.Code != tt.wantCode {
				t.Errorf("got %d %s (%s), want %d %s", res.status, p.Code, p.Detail, tt.wantStatus, tt.wantCode)
			}
			if sc := res.header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("a refused start set cookies: %v", sc)
			}
		})
	}
}

func TestOIDCStartForInstance(t *testing.T) {
	a := newOIDCTestApp(t, dexAlice, dexCarol, dexBob)
	alice := a.client(t).oidcSignIn(a.dex, dexAlice.Email, dexAlice.Password)
	acme := url.Values{"instance": {alice.Instance.ID}}

	c := a.client(t)
	if res := c.get(c.oidcLogin(a.dex, acme, dexCarol.Email, dexCarol.Password)); res.status != http.StatusSeeOther {
		t.Fatalf("carol through Acme's login: %d %s", res.status, res.body)
	}
	var carol me
	c.do("GET", "/api/v1/me", nil).json(t, &carol)
	if carol.Instance.ID != alice.Instance.ID || carol.Member.Role != "employee" {
		t.Errorf("carol = %+v in %s, want an employee of %s", carol.Member, carol.Instance.ID, alice.Instance.ID)
	}

	// Bob's address belongs to no instance Acme's login page may admit.
	c = a.client(t)
	c.wantRefused(c.get(c.oidcLogin(a.dex, acme, dexBob.Email, dexBob.Password)), http.StatusForbidden, "wrong_instance")
}

func TestOIDCFollowsJoinPolicy(t *testing.T) {
	a := newOIDCTestApp(t, dexAlice, dexCarol)
	ac := a.client(t)
	alice := ac.oidcSignIn(a.dex, dexAlice.Email, dexAlice.Password)
	// Only a verified instance may stop admitting everyone of its domain.
	if _, err := tenant.NewService(tenant.Config{Store: a.store}).ForceVerify(t.Context(), alice.Instance.Domains[0], "test"); err != nil {
		t.Fatal(err)
	}
	if res := ac.do("PATCH", "/api/v1/instance/settings", map[string]string{"join_policy": "invite"}); res.status != http.StatusOK {
		t.Fatalf("set the invite policy: %d %s", res.status, res.body)
	}
	c := a.client(t)
	res := c.get(c.oidcLogin(a.dex, url.Values{"email": {dexCarol.Email}}, dexCarol.Email, dexCarol.Password))
	c.wantRefused(res, http.StatusForbidden, "not_invited")
}

func TestOIDCPendingIdentityApprovedByAdmin(t *testing.T) {
	a := newOIDCTestApp(t, dexAlice)
	ec := a.client(t)
	alice := ec.signIn("alice@acme.example") // admin, by email link
	c := a.client(t)
	res := c.get(c.oidcLogin(a.dex, url.Values{"email": {dexAlice.Email}}, dexAlice.Email, dexAlice.Password))
	c.wantRefused(res, http.StatusForbidden, "identity_pending")

	var pending struct {
		Items []struct {
			MemberID string `json:"member_id"`
			Issuer   string `json:"issuer"`
			Subject  string `json:"subject"`
		} `json:"items"`
	}
	ec.do("GET", "/api/v1/identities/pending", nil).json(t, &pending)
	if len(pending.Items) != 1 || pending.Items[0].MemberID != alice.Member.ID {
		t.Fatalf("pending = %+v", pending.Items)
	}
	p := pending.Items[0]
	bob := a.client(t)
	bob.signIn("bob@globex.example")
	if res := bob.do("POST", "/api/v1/members/"+alice.Member.ID+"/identities", map[string]any{"issuer": p.Issuer, "subject": p.Subject, "approve": true}); res.status != http.StatusNotFound {
		t.Errorf("another instance's admin approving: %d, want 404", res.status)
	}
	if res := ec.do("POST", "/api/v1/members/"+alice.Member.ID+"/identities", map[string]any{"issuer": p.Issuer, "subject": p.Subject, "approve": true}); res.status != http.StatusNoContent {
		t.Fatalf("approve: %d %s", res.status, res.body)
	}
	// Now the identity signs in as Alice.
	if m := a.client(t).oidcSignIn(a.dex, dexAlice.Email, dexAlice.Password); m.Member.ID != alice.Member.ID {
		t.Errorf("after approval the identity signs in as %s, want %s", m.Member.ID, alice.Member.ID)
	}
	if res := ec.do("POST", "/api/v1/members/"+alice.Member.ID+"/identities", map[string]any{"issuer": p.Issuer, "subject": p.Subject, "approve": true}); res.status != http.StatusNotFound {
		t.Errorf("approving twice: %d, want 404", res.status)
	}
	if res := ec.do("GET", "/api/v1/audit", nil); !strings.Contains(string(res.body), "identity.approved") {
		t.Errorf("the approval is not audited")
	}
}
