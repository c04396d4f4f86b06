package main

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// connectMastodon connects c's account on the app's Mastodon fake (the
// network must be whitelisted) and returns the connection ID.
func (a *testApp) connectMastodon(t *testing.T, c *client) string {
	t.Helper()
	return connectMastodonAt(t, c, a.mastodon.URL)
}

// connectMastodonAt connects c's member to the Mastodon server at instance
// as a member does; it returns the connection's ID.
func connectMastodonAt(t *testing.T, c *client, instance string) string {
	t.Helper()
	res := c.do("POST", "/api/v1/connections/mastodon/start", map[string]string{"instance_url": instance})
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	res.json(t, &out)
	if res.status != http.StatusOK {
		t.Fatalf("start: %d %s", res.status, res.body)
	}
	if res := approveAt(t, c, out.AuthorizeURL); res.status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", res.status, res.body)
	}
	var conns struct{ Items []struct{ ID string } }
	c.do("GET", "/api/v1/connections", nil).json(t, &conns)
	if len(conns.Items) == 0 {
		t.Fatal("no connection after the callback")
	}
	return conns.Items[len(conns.Items)-1].ID
}

// approveAt approves at the network's authorize URL, which sends the
// browser back: it returns the app's answer to c at the callback.
func approveAt(t *testing.T, c *client, authorizeURL string) response {
	t.Helper()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := browser.Get(authorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return c.do("GET", loc.RequestURI(), nil)
}

func TestSocialConnectionsThroughTheApp(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	employee := a.client(t)
	employee.signIn("carol@acme.example")

	if res := employee.do("POST", "/api/v1/connections/mastodon/start", map[string]string{"instance_url": a.mastodon.URL}); res.status != http.StatusForbidden || res.problem(t).Code != "network_not_allowed" {
		t.Fatalf("start before whitelisting: %d %s, want 403 network_not_allowed", res.status, res.body)
	}
	if res := employee.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusForbidden {
		t.Errorf("employee whitelisting: %d, want 403", res.status)
	}
	if res := admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusOK {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	id := a.connectMastodon(t, employee)
	res := employee.do("GET", "/api/v1/connections", nil)
	if !strings.Contains(string(res.body), `"status":"active"`) || strings.Contains(strings.ToLower(string(res.body)), "token") {
		t.Errorf("connections: %s", res.body)
	}
	// Un-whitelisting disables the connection.
	if res := admin.do("DELETE", "/api/v1/networks/mastodon", nil); res.status != http.StatusNoContent {
		t.Fatalf("un-whitelist: %d %s", res.status, res.body)
	}
	if res := employee.do("GET", "/api/v1/connections", nil); !strings.Contains(string(res.body), `"status":"disabled"`) {
		t.Errorf("after un-whitelisting: %s", res.body)
	}
	// Erasing the member revokes the token at the network and deletes it.
	admin.do("PUT", "/api/v1/networks/mastodon", nil)
	if res := employee.do("DELETE", "/api/v1/me", nil); res.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", res.status, res.body)
	}
	if n := a.mastodon.Calls("POST /oauth/revoke"); n != 1 {
		t.Errorf("revocations at the network = %d, want 1", n)
	}
	if strings.Contains(scanAll(t, a), id) {
		t.Error("the erased member's connection is still stored")
	}
}

func TestKeyRotationAndNoTokensAnywhere(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	admin.do("PUT", "/api/v1/networks/mastodon", nil)
	employee := a.client(t)
	employee.signIn("carol@acme.example")
	a.connectMastodon(t, employee)

	// No token anywhere in the database, in clear: the fake's tokens are
	// the ones it issued.
	all := scanAll(t, a)
	if len(a.mastodon.IssuedTokens()) == 0 {
		t.Fatal("the fake issued no token: the scan would prove nothing")
	}
	elsewhere := scanRedis(t, a) + a.logs.String()
	for _, tok := range a.mastodon.IssuedTokens() {
		if strings.Contains(all, tok) {
			t.Errorf("a token is stored in clear: %.12s…", tok)
		}
		if strings.Contains(elsewhere, tok) {
			t.Errorf("a token is in Redis or the logs: %.12s…", tok)
		}
	}
	// Rotation to a new key leaves nothing undecryptable, and the old key
	// can then be dropped.
	uri, db := a.mongo()
	oldKey := "test:" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	newKey := "k2:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 32)))
	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db, "CHORUS_TOKEN_KEYS": newKey + "," + oldKey}
	var out strings.Builder
	if err := run(t.Context(), []string{"keys", "rotate"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("keys rotate: %v (%s)", err, out.String())
	}
	if !strings.Contains(out.String(), "1 re-encrypted") {
		t.Errorf("first rotation: %s", out.String())
	}
	env["CHORUS_TOKEN_KEYS"] = newKey // the old key is gone now
	out.Reset()
	if err := run(t.Context(), []string{"keys", "rotate"}, func(k string) string { return env[k] }, &out); err != nil || !strings.Contains(out.String(), "0 re-encrypted") || !strings.Contains(out.String(), "0 undecryptable") {
		t.Errorf("second rotation with the new key only: %v, %s", err, out.String())
	}
}

func TestNetworksServedWhenConfigured(t *testing.T) {
	names := func(a *testApp) string {
		c := a.client(t)
		c.signIn("alice@acme.example")
		var out struct {
			Items []struct{ Name, State string }
		}
		c.do("GET", "/api/v1/networks", nil).json(t, &out)
		var ns []string
		for _, n := range out.Items {
			if n.State != "not_configured" {
				ns = append(ns, n.Name)
			}
		}
		return strings.Join(ns, ",")
	}
	// Mastodon and Bluesky need no credentials of Chorus's; the others
	// are listed as not configured.
	if got := names(newTestApp(t, nil)); got != "mastodon,bluesky" {
		t.Errorf("without credentials: %s served, want mastodon,bluesky only", got)
	}
	got := names(newTestApp(t, map[string]string{
		"CHORUS_LINKEDIN_CLIENT_ID": "li", "CHORUS_LINKEDIN_CLIENT_SECRET": "s",
		"CHORUS_X_CLIENT_ID": "x", "CHORUS_X_CLIENT_SECRET": "s",
		"CHORUS_FACEBOOK_APP_ID": "fb", "CHORUS_FACEBOOK_APP_SECRET": "s",
	}))
	for _, want := range []string{"mastodon", "bluesky", "linkedin", "x", "facebook"} {
		if !strings.Contains(got, want) {
			t.Errorf("with credentials: %s lacks %s", got, want)
		}
	}
	err := run(t.Context(), []string{"serve"}, func(k string) string {
		return map[string]string{"CHORUS_DEV_MAILBOX": "1", "CHORUS_X_CLIENT_ID": "x"}[k]
	}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CHORUS_X_CLIENT_ID") {
		t.Errorf("an ID without its secret: %v", err)
	}
}

// A server address the outbound guard refuses is the member's mistake, not
// a network outage: 422 naming instance_url, never 503 "try again later".
func TestBlockedServerAddressIsInvalid(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	for _, n := range []string{"mastodon", "bluesky"} {
		if res := admin.do("PUT", "/api/v1/networks/"+n, nil); res.status != http.StatusOK {
			t.Fatalf("whitelist %s: %d %s", n, res.status, res.body)
		}
	}
	employee := a.client(t)
	employee.signIn("carol@acme.example")
	for _, tc := range []struct{ server, want string }{
		{"https://169.254.169.254", "non-public"},
		{"https://[::ffff:a9fe:a9fe]", "non-public"},
		{"https://2130706433", "non-public"},
		{"https://0x7f.1", "non-public"},
		{"https://127.0.0.1:1", "port"},
	} {
		for _, call := range []struct{ path, body string }{
			{"/api/v1/connections/mastodon/start", `{"instance_url":"` + tc.server + `"}`},
			{"/api/v1/connections/bluesky/password", `{"instance_url":"` + tc.server + `","identifier":"carol.test","app_password":"aaaa-bbbb-cccc-dddd"}`},
		} {
			res := employee.do("POST", call.path, call.body)
			p := res.problem(t)
			if res.status != http.StatusUnprocessableEntity || p.Title != "Unprocessable Entity" ||
				!strings.Contains(string(res.body), `"instance_url"`) || !strings.Contains(p.Detail, tc.want) {
				t.Errorf("%s %s: %d %s, want 422 naming instance_url (%s)", call.path, tc.server, res.status, res.body, tc.want)
			}
		}
	}
}
