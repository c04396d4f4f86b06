package tenant

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	dex "github.com/chorushq/chorus/tenant/oidctest"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// ssoRig is a Service with a global provider (one Dex) and the keys to
// give instances their own (another Dex each).
type ssoRig struct {
	s      *Service
	global *dex.Dex
	box    *DevMailbox
	clock  *testClock
}

func newSSORig(t *testing.T, globalUsers ...dex.User) *ssoRig {
	t.Helper()
	base, _ := url.Parse("http://127.0.0.1:9")
	keys, err := ParseKeyring("k1:" + testKey(7))
	if err != nil {
		t.Fatal(err)
	}
	clock := tenanttest.NewClock(time.Now().UTC())
	box := NewDevMailbox(100, slog.New(slog.DiscardHandler), clock.Now)
	s := NewService(Config{Store: newTestStore(t, clock), Policy: newDomainPolicy(t), BaseURL: base, Now: clock.Now,
		Mailer: box, Keys: keys, AllowHTTPIssuers: true})
	r := &ssoRig{s: s, box: box, clock: clock}
	if len(globalUsers) > 0 {
		r.global = dex.Start(t, base.JoinPath(oidcCallbackPath).String(), globalUsers...)
		if err := s.EnableOIDC(t.Context(), OIDCProvider{Issuer: r.global.Issuer, ClientID: r.global.ClientID, ClientSecret: r.global.ClientSecret}); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// companyDex starts an instance's own Dex.
func (r *ssoRig) companyDex(t *testing.T, users ...dex.User) *dex.Dex {
	t.Helper()
	return dex.Start(t, r.s.BaseURL.JoinPath(oidcCallbackPath).String(), users...)
}

// verifiedInstance creates the instance of domain, verified, with its
// admin.
func (r *ssoRig) verifiedInstance(t *testing.T, domain string) (Scope, Member) {
	t.Helper()
	sc := newTestScope(t, r.s.Store, domain)
	if err := r.s.Store.markVerified(t.Context(), sc.InstanceID(), domain, r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	return r.reopen(t, sc), r.admin(t, sc)
}

func (r *ssoRig) admin(t *testing.T, sc Scope) Member {
	t.Helper()
	m, err := sc.joinByEmail(t.Context(), sc.Instance().FounderEmail, r.clock.Now())
	if err != nil || m.Role != RoleAdmin {
		t.Fatalf("founder: %+v, %v", m, err)
	}
	return m
}

func (r *ssoRig) reopen(t *testing.T, sc Scope) Scope {
	t.Helper()
	sc, err := r.s.Store.Open(t.Context(), sc.InstanceID())
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func (r *ssoRig) start(t *testing.T, in oidcStart) *url.URL {
	t.Helper()
	in.IP, in.Browser = netip.MustParseAddr("192.0.2.1"), "browser"
	u, err := r.s.startOIDC(t.Context(), in)
	if err != nil {
		t.Fatalf("start %+v: %v", in, err)
	}
	au, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return au
}

// signIn completes a sign-in at d as email and returns the callback's
// result.
func (r *ssoRig) signIn(t *testing.T, d *dex.Dex, au *url.URL, email, password string) (string, error) {
	t.Helper()
	cb, err := url.Parse(d.Login(t, au.String(), email, password))
	if err != nil {
		t.Fatal(err)
	}
	q := cb.Query()
	return r.s.signInWithOIDC(t.Context(), oidcCallback{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), Browser: "browser"}, "")
}

func fromIssuer(au *url.URL, d *dex.Dex) bool { return strings.HasPrefix(au.String(), d.Issuer+"/") }

func TestInstanceIdentityProvider(t *testing.T) {
	global := []dex.User{{Email: "bob@globex.example", Password: "pw-bob", EmailVerified: true}}
	r := newSSORig(t, global...)
	acmeIdP := r.companyDex(t,
		dex.User{Email: "alice@acme.example", Password: "pw-alice", EmailVerified: true},
		dex.User{Email: "alice@acme.de", Password: "pw-alice", EmailVerified: true},
		dex.User{Email: "mallory@globex.example", Password: "pw-mallory", EmailVerified: true})
	ctx := t.Context()

	pending := newTestScope(t, r.s.Store, "acme.example")
	admin := r.admin(t, pending)
	secret := acmeIdP.ClientSecret
	in := SSOUpdate{Issuer: acmeIdP.Issuer, ClientID: acmeIdP.ClientID, ClientSecret: secret}
	if _, err := r.s.ConfigureSSO(ctx, pending, admin, in); !errors.Is(err, ErrDomainUnverified) {
		t.Fatalf("pending instance: %v, want ErrDomainUnverified", err)
	}
	if err := r.s.Store.markVerified(ctx, pending.InstanceID(), "acme.example", r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	acme := r.reopen(t, pending)

	// Refused configurations.
	var verr ValidationErrors
	if _, err := r.s.ConfigureSSO(ctx, acme, admin, SSOUpdate{Issuer: acmeIdP.Issuer, ClientID: acmeIdP.ClientID, ClientSecret: secret,
		Domains: []string{"globex.example"}}); !errors.As(err, &verr) || verr[0].Field != "domains" {
		t.Errorf("another instance's domain: %v, want a domains validation error", err)
	}
	if _, err := r.s.ConfigureSSO(ctx, acme, admin, SSOUpdate{Issuer: acmeIdP.Issuer, ClientID: acmeIdP.ClientID}); !errors.As(err, &verr) || verr[0].Field != "client_secret" {
		t.Errorf("no secret: %v, want a client_secret validation error", err)
	}
	var idpErr *IdPError
	if _, err := r.s.ConfigureSSO(ctx, acme, admin, SSOUpdate{Issuer: acmeIdP.Issuer + "/nothing-here", ClientID: "c", ClientSecret: "s"}); !errors.As(err, &idpErr) {
		t.Errorf("issuer without discovery: %v, want *IdPError", err)
	}
	if _, err := r.s.ConfigureSSO(ctx, acme, admin, SSOUpdate{Issuer: "ftp://idp.example", ClientID: "c", ClientSecret: "s"}); !errors.As(err, &verr) || verr[0].Field != "issuer" {
		t.Errorf("ftp issuer: %v, want an issuer validation error", err)
	}

	cfg, err := r.s.ConfigureSSO(ctx, acme, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Configured || !cfg.HasSecret || cfg.Issuer != acmeIdP.Issuer || strings.Join(cfg.Domains, ",") != "acme.example" {
		t.Errorf("configuration %+v", cfg)
	}
	if j, _ := json.Marshal(cfg); bytes.Contains(j, []byte(secret)) {
		t.Errorf("the view shows the secret: %s", j)
	}
	// Stored encrypted, bound to the instance and client.
	rec, err := r.s.Store.ssoRecord(ctx, acme.InstanceID())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := bson.Marshal(rec)
	if bytes.Contains(raw, []byte(secret)) || rec.Secret.KeyID != "k1" {
		t.Errorf("secret stored in clear or without key ID: %+v", rec.Secret)
	}
	if _, err := r.s.Keys.Open(rec.Secret, ssoAD("another-instance", rec.Issuer, rec.ClientID)); !errors.Is(err, ErrUndecryptable) {
		t.Errorf("opened under another instance: %v", err)
	}
	// Keeping the secret: same issuer and client, no secret given.
	if _, err := r.s.ConfigureSSO(ctx, acme, admin, SSOUpdate{Issuer: acmeIdP.Issuer, ClientID: acmeIdP.ClientID}); err != nil {
		t.Errorf("reconfigure keeping the secret: %v", err)
	}

	// Acme's people go to Acme's provider, by email or from its login page.
	au := r.start(t, oidcStart{Email: "alice@acme.example"})
	if !fromIssuer(au, acmeIdP) {
		t.Fatalf("alice@acme.example starts at %s, want Acme's provider %s", au, acmeIdP.Issuer)
	}
	secretA, err := r.signIn(t, acmeIdP, au, "alice@acme.example", "pw-alice")
	if err != nil {
		t.Fatalf("sign-in through Acme's provider: %v", err)
	}
	ses, err := r.s.Store.liveSession(ctx, secretA)
	if err != nil || ses.InstanceID != acme.InstanceID() || ses.OIDC == nil || ses.OIDC.Provider != acme.InstanceID() || ses.OIDC.IDToken == nil {
		t.Fatalf("session %+v, %v", ses, err)
	}
	if au := r.start(t, oidcStart{InstanceID: acme.InstanceID()}); !fromIssuer(au, acmeIdP) {
		t.Errorf("Acme's login page starts at %s, want Acme's provider", au)
	}
	// Everyone else goes to the global provider.
	au = r.start(t, oidcStart{Email: "bob@globex.example"})
	if !fromIssuer(au, r.global) {
		t.Fatalf("bob@globex.example starts at %s, want the global provider", au)
	}
	if _, err := r.signIn(t, r.global, au, "bob@globex.example", "pw-bob"); err != nil {
		t.Fatalf("global sign-in: %v", err)
	}

	// Acme's provider cannot vouch for another company's address.
	au = r.start(t, oidcStart{InstanceID: acme.InstanceID()})
	if s, err := r.signIn(t, acmeIdP, au, "mallory@globex.example", "pw-mallory"); !errors.Is(err, ErrWrongInstance) || s != "" {
		t.Errorf("Acme's provider vouching for globex.example: %q, %v; want ErrWrongInstance", s, err)
	}
	// Nor for a domain of Acme's it was not given (acme.de, verified
	// later).
	if _, err := r.s.AddDomain(ctx, acme, admin, "acme.de"); err != nil {
		t.Fatal(err)
	}
	if err := r.s.Store.markVerified(ctx, acme.InstanceID(), "acme.de", r.clock.Now()); err != nil {
		t.Fatal(err)
	}
	au = r.start(t, oidcStart{InstanceID: acme.InstanceID()})
	if _, err := r.signIn(t, acmeIdP, au, "alice@acme.de", "pw-alice"); !errors.Is(err, ErrWrongInstance) {
		t.Errorf("a domain the provider was not given: %v, want ErrWrongInstance", err)
	}
	if got := r.s.ssoOf(ctx, acme.Instance()); !got.Available || !got.Instance || got.Required {
		t.Errorf("availability %+v", got)
	}
}

func TestJoinPolicySSO(t *testing.T) {
	r := newSSORig(t, dex.User{Email: "carol@acme.example", Password: "pw-carol", EmailVerified: true})
	acmeIdP := r.companyDex(t, dex.User{Email: "dave@acme.example", Password: "pw-dave", EmailVerified: true})
	ctx := t.Context()
	acme, admin := r.verifiedInstance(t, "acme.example")

	if _, err := r.s.UpdateSettings(ctx, acme, admin, SettingsUpdate{JoinPolicy: new(JoinSSO)}); !errors.Is(err, ErrSSONotConfigured) {
		t.Fatalf("sso without a provider: %v, want ErrSSONotConfigured", err)
	}
	if p := Problems.Problem(ErrSSONotConfigured); p.Status != http.StatusUnprocessableEntity || p.Code != "sso_not_configured" {
		t.Errorf("problem %+v, want 422 sso_not_configured", p)
	}

	// Before the policy: a link mailed, a global sign-in under way.
	token := tokenOf(t, r.s, r.box, "erin@acme.example")
	globalStart := r.start(t, oidcStart{Email: "carol@acme.example"})
	if !fromIssuer(globalStart, r.global) {
		t.Fatalf("carol starts at %s, want the global provider", globalStart)
	}

	if _, err := r.s.ConfigureSSO(ctx, acme, admin, SSOUpdate{Issuer: acmeIdP.Issuer, ClientID: acmeIdP.ClientID, ClientSecret: acmeIdP.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	acme = r.reopen(t, acme)
	if _, err := r.s.UpdateSettings(ctx, acme, admin, SettingsUpdate{JoinPolicy: new(JoinSSO)}); err != nil {
		t.Fatalf("sso with the provider: %v", err)
	}
	acme = r.reopen(t, acme)

	if err := r.s.RequestEmailLink(ctx, "frank@acme.example", netip.MustParseAddr("192.0.2.1")); !errors.Is(err, ErrSSORequired) {
		t.Errorf("email link request: %v, want ErrSSORequired", err)
	}
	if p := Problems.Problem(ErrSSORequired); p.Status != http.StatusForbidden || p.Code != "sso_required" {
		t.Errorf("problem %+v, want 403 sso_required", p)
	}
	if _, err := r.s.SignInWithEmailLink(ctx, token, ""); !errors.Is(err, ErrSSORequired) {
		t.Errorf("link mailed before the policy: %v, want ErrSSORequired", err)
	}
	if _, err := r.signIn(t, r.global, globalStart, "carol@acme.example", "pw-carol"); !errors.Is(err, ErrSSORequired) {
		t.Errorf("global provider's sign-in into an sso instance: %v, want ErrSSORequired", err)
	}
	if err := r.s.RemoveSSO(ctx, acme, admin); !errors.Is(err, ErrSSOInUse) {
		t.Errorf("remove the provider under sso: %v, want ErrSSOInUse", err)
	}
	// Only the instance's provider signs people in, newcomers included.
	au := r.start(t, oidcStart{Email: "dave@acme.example"})
	if _, err := r.signIn(t, acmeIdP, au, "dave@acme.example", "pw-dave"); err != nil {
		t.Fatalf("sign-in through Acme's provider: %v", err)
	}
	if got := r.s.ssoOf(ctx, acme.Instance()); !got.Required {
		t.Errorf("availability %+v, want required", got)
	}
	// Invitations lead to the provider, not to an email link.
	if _, err := r.s.Invite(ctx, acme, admin, []string{"gina@acme.example"}, nil); err != nil {
		t.Fatal(err)
	}
	mails := r.box.List("gina@acme.example")
	if len(mails) != 1 || mails[0].Link != "http://127.0.0.1:9/api/v1/auth/oidc/start?email=gina%40acme.example" || strings.Contains(mails[0].Text, "token=") {
		t.Errorf("invitation under sso: %+v", mails)
	}
}

// Dex (v2.45) advertises no end_session_endpoint: logout then ends only
// the local session.
func TestLogoutWithoutEndSessionEndpoint(t *testing.T) {
	r := newSSORig(t, dex.User{Email: "alice@acme.example", Password: "pw-alice", EmailVerified: true})
	au := r.start(t, oidcStart{Email: "alice@acme.example"})
	secret, err := r.signIn(t, r.global, au, "alice@acme.example", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	if c := r.s.oidc.p.Load(); c.endSession != nil {
		t.Skipf("this Dex advertises %s; the absence path needs one that does not", c.endSession)
	}
	if u := r.s.endSessionURL(t.Context(), secret); u != "" {
		t.Errorf("end-session URL %q, want none", u)
	}
}

// A provider whose discovery names an end_session_endpoint (a discovery
// document served here: Dex has none) gets the browser after logout, with
// the ID token as hint.
func TestLogoutOffersEndSessionEndpoint(t *testing.T) {
	issuer := dex.ServeDiscovery(t, func(doc map[string]any) {
		doc["end_session_endpoint"] = doc["issuer"].(string) + "/logout?tenant=x"
	}).Issuer
	r := newSSORig(t)
	if err := r.s.EnableOIDC(t.Context(), OIDCProvider{Issuer: issuer, ClientID: "chorus-app", ClientSecret: "s"}); err != nil {
		t.Fatal(err)
	}
	sc := newTestScope(t, r.s.Store, "acme.example")
	m := r.admin(t, sc)
	sealed, err := r.s.Keys.Seal("the.id.token", idTokenAD(sc.InstanceID(), m.ID))
	if err != nil {
		t.Fatal(err)
	}
	withToken, err := r.s.Store.createSession(t.Context(), sc.InstanceID(), m.ID, &sessionOIDC{Provider: providerGlobal, IDToken: &sealed})
	if err != nil {
		t.Fatal(err)
	}
	emailOnly, err := r.s.Store.createSession(t.Context(), sc.InstanceID(), m.ID, nil)
	if err != nil {
		t.Fatal(err)
	}

	got, err := url.Parse(r.s.endSessionURL(t.Context(), withToken))
	if err != nil {
		t.Fatal(err)
	}
	q := got.Query()
	if got.Path != "/logout" || !strings.HasPrefix(got.String(), issuer) || q.Get("tenant") != "x" ||
		q.Get("id_token_hint") != "the.id.token" || q.Get("client_id") != "chorus-app" || q.Get("post_logout_redirect_uri") != "http://127.0.0.1:9/" {
		t.Errorf("end-session URL %s", got)
	}
	if u := r.s.endSessionURL(t.Context(), emailOnly); u != "" {
		t.Errorf("an email-link session offers %q", u)
	}
	// A token sealed for another member is not sent as hint.
	other, _ := r.s.Keys.Seal("other.token", idTokenAD(sc.InstanceID(), "someone-else"))
	moved, err := r.s.Store.createSession(t.Context(), sc.InstanceID(), m.ID, &sessionOIDC{Provider: providerGlobal, IDToken: &other})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := url.Parse(r.s.endSessionURL(t.Context(), moved)); u.Query().Has("id_token_hint") {
		t.Errorf("hint from a token sealed for another member: %s", u)
	}
}

func TestRotateSSOSecrets(t *testing.T) {
	r := newSSORig(t)
	idp := r.companyDex(t)
	acme, admin := r.verifiedInstance(t, "acme.example")
	if _, err := r.s.ConfigureSSO(t.Context(), acme, admin, SSOUpdate{Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	both, err := ParseKeyring("k2:" + testKey(8) + ",k1:" + testKey(7))
	if err != nil {
		t.Fatal(err)
	}
	if rot, cur, broken, err := r.s.Store.RotateSSOSecrets(t.Context(), both); err != nil || rot != 1 || cur != 0 || broken != 0 {
		t.Fatalf("rotate = %d, %d, %d, %v; want 1 re-encrypted", rot, cur, broken, err)
	}
	onlyNew, _ := ParseKeyring("k2:" + testKey(8))
	if rot, cur, broken, err := r.s.Store.RotateSSOSecrets(t.Context(), onlyNew); err != nil || rot != 0 || cur != 1 || broken != 0 {
		t.Fatalf("second rotation = %d, %d, %d, %v; want 1 current", rot, cur, broken, err)
	}
	// The new key alone signs in through the provider.
	r.s.Keys = onlyNew
	r.s.sso.forget(acme.InstanceID())
	if _, _, err := r.s.instanceClient(t.Context(), acme.InstanceID()); err != nil {
		t.Errorf("provider with the rotated secret: %v", err)
	}
	other, _ := ParseKeyring("k3:" + testKey(9))
	if _, _, broken, _ := r.s.Store.RotateSSOSecrets(t.Context(), other); broken != 1 {
		t.Errorf("a keyring without the secret's key: %d broken, want 1", broken)
	}
}

// A discovery document that names an authorization or end-session
// endpoint off the issuer's host is refused: when an instance's admin
// configures it, when it changes after configuration (start and logout
// send no browser there) and for the global provider.
func TestDiscoveryEndpointsStayOnTheIssuersHost(t *testing.T) {
	r := newSSORig(t)
	sc, admin := r.verifiedInstance(t, "acme.example")
	away := map[string]func(doc map[string]any){
		"authorization_endpoint": func(doc map[string]any) { doc["authorization_endpoint"] = "https://evil.example/phish" },
		"end_session_endpoint":   func(doc map[string]any) { doc["end_session_endpoint"] = "https://evil.example/logout" },
	}
	for field, edit := range away {
		t.Run(field, func(t *testing.T) {
			idp := dex.ServeDiscovery(t, edit)
			_, err := r.s.ConfigureSSO(t.Context(), sc, admin, SSOUpdate{Issuer: idp.Issuer, ClientID: "c", ClientSecret: "s"})
			var ie *IdPError
			if !errors.As(err, &ie) || !strings.Contains(ie.Reason, field) || !strings.Contains(ie.Reason, "evil.example") {
				t.Errorf("configure: %v, want an IdPError naming %s", err, field)
			}
			if err := r.s.EnableOIDC(t.Context(), OIDCProvider{Issuer: idp.Issuer, ClientID: "c", ClientSecret: "s"}); err == nil {
				t.Error("the global provider was enabled")
			}
		})
	}
	for _, tc := range []struct{ name, endpoint string }{
		{"another host", "https://evil.example/auth"},
		{"another port", "http://127.0.0.1:1/auth"},
		{"user info", "http://user@127.0.0.1/auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := "http://127.0.0.1:8080/dex"
			if err := checkEndpoint(iss, "authorization_endpoint", tc.endpoint); err == nil {
				t.Errorf("%s accepted for issuer %s", tc.endpoint, iss)
			}
		})
	}
	for iss, endpoint := range map[string]string{
		"https://accounts.google.com":                "https://accounts.google.com/o/oauth2/v2/auth",
		"https://login.microsoftonline.com/tid/v2.0": "https://login.microsoftonline.com/tid/oauth2/v2.0/logout",
		"https://acme.okta.com/oauth2/default":       "https://acme.okta.com/oauth2/default/v1/authorize",
		"https://acme.eu.auth0.com/":                 "https://acme.eu.auth0.com/oidc/logout",
		"https://sso.acme.example/realms/acme":       "https://SSO.acme.example:443/realms/acme/protocol/openid-connect/auth",
		"http://127.0.0.1:5556/dex":                  "http://127.0.0.1:5556/dex/auth",
	} {
		if err := checkEndpoint(iss, "authorization_endpoint", endpoint); err != nil {
			t.Errorf("%s for issuer %s: %v", endpoint, iss, err)
		}
	}

	// Configured while its endpoints were on its host, then changed.
	idp := dex.ServeDiscovery(t, func(doc map[string]any) { doc["end_session_endpoint"] = doc["issuer"].(string) + "/logout" })
	if _, err := r.s.ConfigureSSO(t.Context(), sc, admin, SSOUpdate{Issuer: idp.Issuer, ClientID: "c", ClientSecret: "s"}); err != nil {
		t.Fatal(err)
	}
	m, err := sc.joinByEmail(t.Context(), "alice@acme.example", r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	secret, err := r.s.Store.createSession(t.Context(), sc.InstanceID(), m.ID, &sessionOIDC{Provider: sc.InstanceID()})
	if err != nil {
		t.Fatal(err)
	}
	if u := r.s.endSessionURL(t.Context(), secret); !strings.HasPrefix(u, idp.Issuer+"/logout?") {
		t.Fatalf("end-session URL before the change: %q", u)
	}
	idp.Set(func(doc map[string]any) {
		doc["authorization_endpoint"] = "https://evil.example/phish"
		doc["end_session_endpoint"] = "https://evil.example/logout"
	})
	r.s.sso.forget(sc.InstanceID()) // as after a restart
	in := oidcStart{InstanceID: sc.InstanceID(), IP: netip.MustParseAddr("192.0.2.1"), Browser: "browser"}
	if u, err := r.s.startOIDC(t.Context(), in); !errors.Is(err, ErrOIDCUnavailable) {
		t.Errorf("start after the change: %q, %v, want ErrOIDCUnavailable", u, err)
	}
	if u := r.s.endSessionURL(t.Context(), secret); u != "" {
		t.Errorf("end-session URL after the change: %q, want none", u)
	}
}
