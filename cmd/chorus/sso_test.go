package main

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chorushq/chorus/tenant/oidctest"
)

// An instance's admin configures the company's own identity provider (a
// second Dex); Acme's people then sign in through it, the secret never
// comes back, and the join policy sso closes email links.
func TestInstanceSSOThroughTheAPI(t *testing.T) {
	a := newOIDCTestApp(t, dexBob)
	acmeIdP := oidctest.Start(t, a.srv.URL+"/api/v1/auth/oidc/callback", dexAlice, dexCarol)
	admin, adminMe := verifiedAdmin(t, a.testApp, "admin@acme.example")
	pendingAdmin := a.client(t)
	pendingAdmin.signIn("boss@initech.example")
	employee := a.client(t)
	employee.signIn("erin@acme.example")

	put := map[string]any{"issuer": acmeIdP.Issuer, "client_id": acmeIdP.ClientID, "client_secret": acmeIdP.ClientSecret}
	if res := pendingAdmin.do("PUT", "/api/v1/instance/sso", put); res.status != http.StatusForbidden || res.problem(t).Code != "domain_unverified" {
		t.Errorf("pending instance: %d %s, want 403 domain_unverified", res.status, res.body)
	}
	if res := employee.do("PUT", "/api/v1/instance/sso", put); res.status != http.StatusForbidden || res.problem(t).Code != "forbidden" {
		t.Errorf("employee: %d %s, want 403 forbidden", res.status, res.body)
	}
	bad := map[string]any{"issuer": acmeIdP.Issuer + "/nothing", "client_id": "x", "client_secret": "y"}
	if res := admin.do("PUT", "/api/v1/instance/sso", bad); res.status != http.StatusUnprocessableEntity || res.problem(t).Code != "idp_discovery_failed" ||
		res.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("issuer without discovery: %d %s %s, want 422 idp_discovery_failed", res.status, res.header.Get("Content-Type"), res.body)
	}
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"join_policy": "sso"}); res.status != http.StatusUnprocessableEntity || res.problem(t).Code != "sso_not_configured" {
		t.Errorf("join policy sso without a provider: %d %s, want 422 sso_not_configured", res.status, res.body)
	}

	res := admin.do("PUT", "/api/v1/instance/sso", put)
	if res.status != http.StatusOK {
		t.Fatalf("configure: %d %s", res.status, res.body)
	}
	var cfg struct {
		Configured  bool     `json:"configured"`
		HasSecret   bool     `json:"has_secret"`
		Domains     []string `json:"domains"`
		RedirectURI string   `json:"redirect_uri"`
	}
	res.json(t, &cfg)
	if !cfg.Configured || !cfg.HasSecret || strings.Join(cfg.Domains, ",") != "acme.example" || cfg.RedirectURI != a.srv.URL+"/api/v1/auth/oidc/callback" {
		t.Errorf("configuration %s", res.body)
	}
	got := admin.do("GET", "/api/v1/instance/sso", nil)
	if got.status != http.StatusOK || strings.Contains(string(got.body), acmeIdP.ClientSecret) || strings.Contains(string(res.body), acmeIdP.ClientSecret) {
		t.Errorf("GET shows the secret or fails: %d %s", got.status, got.body)
	}
	var inst struct {
		SSO struct{ Available, Instance, Required bool } `json:"sso"`
	}
	employee.do("GET", "/api/v1/instance", nil).json(t, &inst)
	if !inst.SSO.Available || !inst.SSO.Instance {
		t.Errorf("instance view: %+v", inst.SSO)
	}

	// alice@acme.example starts at Acme's own provider and signs in.
	c := a.client(t)
	start := c.do("GET", "/api/v1/auth/oidc/start?email=alice@acme.example", nil)
	if start.status != http.StatusFound || !strings.HasPrefix(start.header.Get("Location"), acmeIdP.Issuer+"/") {
		t.Fatalf("start for alice: %d %s, want 302 to %s", start.status, start.header.Get("Location"), acmeIdP.Issuer)
	}
	alice := c.oidcSignIn(acmeIdP, dexAlice.Email, dexAlice.Password)
	if alice.Instance.ID != adminMe.Instance.ID {
		t.Errorf("alice is in %s, want Acme's %s", alice.Instance.ID, adminMe.Instance.ID)
	}
	// From Acme's login page (?instance=) too.
	if res := a.client(t).do("GET", "/api/v1/auth/oidc/start?instance="+adminMe.Instance.ID, nil); !strings.HasPrefix(res.header.Get("Location"), acmeIdP.Issuer+"/") {
		t.Errorf("start from Acme's login page: %d %s", res.status, res.header.Get("Location"))
	}
	// Globex still uses the global provider.
	if res := a.client(t).do("GET", "/api/v1/auth/oidc/start?email=bob@globex.example", nil); !strings.HasPrefix(res.header.Get("Location"), a.dex.Issuer+"/") {
		t.Errorf("bob's start: %d %s, want the global provider", res.status, res.header.Get("Location"))
	}
	// Dex names no end_session_endpoint: logout is 204.
	if res := c.do("POST", "/api/v1/auth/logout", nil); res.status != http.StatusNoContent {
		t.Errorf("logout: %d %s, want 204", res.status, res.body)
	}

	// The join policy sso: email links refused, the provider stays.
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"join_policy": "sso"}); res.status != http.StatusOK {
		t.Fatalf("join policy sso: %d %s", res.status, res.body)
	}
	if res := a.client(t).do("POST", "/api/v1/auth/email", map[string]any{"email": "frank@acme.example"}); res.status != http.StatusForbidden || res.problem(t).Code != "sso_required" {
		t.Errorf("email link under sso: %d %s, want 403 sso_required", res.status, res.body)
	}
	if res := admin.do("DELETE", "/api/v1/instance/sso", nil); res.status != http.StatusConflict || res.problem(t).Code != "sso_in_use" {
		t.Errorf("remove under sso: %d %s, want 409 sso_in_use", res.status, res.body)
	}
	a.client(t).oidcSignIn(acmeIdP, dexCarol.Email, dexCarol.Password)

	admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"join_policy": "open"})
	if res := admin.do("DELETE", "/api/v1/instance/sso", nil); res.status != http.StatusNoContent {
		t.Errorf("remove: %d %s", res.status, res.body)
	}
	if res := admin.do("GET", "/api/v1/instance/sso", nil); !strings.Contains(string(res.body), `"configured":false`) {
		t.Errorf("after removal: %s", res.body)
	}
	audit := string(admin.do("GET", "/api/v1/audit", nil).body)
	for _, action := range []string{"sso.configured", "sso.removed"} {
		if !strings.Contains(audit, action) {
			t.Errorf("audit log lacks %s: %s", action, audit)
		}
	}
}

// Without the test's override, instances' providers are reached through
// the guarded client: a loopback issuer is refused before anything is
// stored.
func TestInstanceSSOIssuerGoesThroughTheGuard(t *testing.T) {
	reached := make(chan string, 10)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached <- r.URL.Path }))
	t.Cleanup(srv.Close)
	// As in production: no dev mailbox setting, no test client.
	a := newTestAppEdit(t, nil, nil, func(d *appDeps) { d.idpHTTP, d.idpAllowHTTP, d.cfg.DevMailbox = nil, false, false })
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	for _, issuer := range []string{srv.URL, "https://169.254.169.254/latest", "http://idp.example"} {
		res := admin.do("PUT", "/api/v1/instance/sso", map[string]any{"issuer": issuer, "client_id": "x", "client_secret": "y"})
		if res.status != http.StatusUnprocessableEntity && res.status != http.StatusBadRequest {
			t.Errorf("issuer %s: %d %s, want refused", issuer, res.status, res.body)
		}
		t.Logf("issuer %s: %d %s", issuer, res.status, res.body)
	}
	select {
	case p := <-reached:
		t.Errorf("the guarded client reached the loopback issuer (%s)", p)
	default:
	}
	if res := admin.do("GET", "/api/v1/instance/sso", nil); !strings.Contains(string(res.body), `"configured":false`) {
		t.Errorf("something was stored: %s", res.body)
	}
}

// chorus keys rotate re-encrypts companies' identity provider secrets too;
// no secret is in the database, Redis or the logs in clear.
func TestInstanceSSOSecretRotatesAndIsNowhereInClear(t *testing.T) {
	a := newTestApp(t, nil)
	idp := oidctest.Start(t, a.srv.URL+"/api/v1/auth/oidc/callback")
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	if res := admin.do("PUT", "/api/v1/instance/sso", map[string]any{"issuer": idp.Issuer, "client_id": idp.ClientID, "client_secret": idp.ClientSecret}); res.status != http.StatusOK {
		t.Fatalf("configure: %d %s", res.status, res.body)
	}
	if strings.Contains(scanAll(t, a)+scanRedis(t, a)+a.logs.String(), idp.ClientSecret) {
		t.Error("the client secret is stored or logged in clear")
	}
	uri, db := a.mongo()
	oldKey := "test:" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	newKey := "k2:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("s", 32)))
	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db, "CHORUS_TOKEN_KEYS": newKey + "," + oldKey}
	var out strings.Builder
	if err := run(t.Context(), []string{"keys", "rotate"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("keys rotate: %v (%s)", err, out.String())
	}
	if !strings.Contains(out.String(), "identity provider secrets: 1 re-encrypted to key k2, 0 already on it, 0 undecryptable") {
		t.Errorf("first rotation: %s", out.String())
	}
	env["CHORUS_TOKEN_KEYS"] = newKey
	out.Reset()
	if err := run(t.Context(), []string{"keys", "rotate"}, func(k string) string { return env[k] }, &out); err != nil ||
		!strings.Contains(out.String(), "identity provider secrets: 0 re-encrypted to key k2, 1 already on it, 0 undecryptable") {
		t.Errorf("second rotation with the new key only: %v, %s", err, out.String())
	}
}

// A provider whose discovery sends browsers off its own host would make
// Chorus's sign-in and logout addresses open redirects: it is refused.
func TestInstanceSSORefusesEndpointsOffTheIssuersHost(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	idp := oidctest.ServeDiscovery(t, func(doc map[string]any) { doc["authorization_endpoint"] = "https://evil.example/phish" })
	res := admin.do("PUT", "/api/v1/instance/sso", map[string]any{"issuer": idp.Issuer, "client_id": "x", "client_secret": "y"})
	if p := res.problem(t); res.status != http.StatusUnprocessableEntity || p.Code != "idp_discovery_failed" ||
		!strings.Contains(p.Detail, "authorization_endpoint") || !strings.Contains(p.Detail, "https://evil.example/phish") {
		t.Errorf("configure: %d %s, want 422 idp_discovery_failed naming the endpoint", res.status, res.body)
	}
	if res := admin.do("GET", "/api/v1/instance/sso", nil); !strings.Contains(string(res.body), `"configured":false`) {
		t.Errorf("something was stored: %s", res.body)
	}
}
