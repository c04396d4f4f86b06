package main

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
)

// Regression tests of the second security review (issue 14).

// A batch of only refused addresses is refused like a mixed one: 422
// naming each address, not a failure of the store.
func TestInviteOnlyRefusedAddresses(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "alice@acme.example")
	res := admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"eve@globex.example", "x@gmail.com"}})
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("only refused addresses: %d %s, want 422", res.status, res.body)
	}
	p := res.problem(t)
	if len(p.Errors) != 2 || p.Errors[0].Field != "emails[0]" || p.Errors[1].Field != "emails[1]" {
		t.Errorf("errors = %+v, want emails[0] and emails[1]", p.Errors)
	}
}

// Sharing through a connection whose network or server the admins stopped
// allowing names that reason (403), not "reconnect it first", which
// cannot help.
func TestShareRefusalNamesTheDisallowedNetwork(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	narrow := map[string]any{"config": map[string]any{"allowed_instances": []string{"mastodon.social"}}}
	if res := admin.do("PUT", "/api/v1/networks/mastodon", narrow); res.status != http.StatusOK {
		t.Fatalf("narrow: %d %s", res.status, res.body)
	}
	res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}})
	if p := res.problem(t); res.status != http.StatusForbidden || p.Code != "instance_not_allowed" || len(p.Errors) != 1 || p.Errors[0].Field != "connections[0]" {
		t.Errorf("server no longer allowed: %d %s, want 403 instance_not_allowed naming connections[0]", res.status, res.body)
	}
	if res := admin.do("DELETE", "/api/v1/networks/mastodon", nil); res.status != http.StatusNoContent {
		t.Fatalf("un-whitelist: %d", res.status)
	}
	res = employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}})
	p := res.problem(t)
	if res.status != http.StatusForbidden || p.Code != "network_not_allowed" || len(p.Errors) != 1 || p.Errors[0].Field != "connections[0]" {
		t.Fatalf("network no longer allowed: %d %s, want 403 network_not_allowed naming connections[0]", res.status, res.body)
	}
	if strings.Contains(p.Errors[0].Message, "reconnect") && !strings.Contains(p.Errors[0].Message, "cannot help") {
		t.Errorf("the refusal still suggests reconnecting: %q", p.Errors[0].Message)
	}
}

// The first person of a domain cannot lock colleagues out of a pending
// instance: its join policy stays open until a domain is verified.
func TestPendingInstanceKeepsTheJoinPolicyOpen(t *testing.T) {
	a := newTestApp(t, nil)
	founder := a.client(t)
	founder.signIn("alice@acme.example")
	for _, policy := range []string{"invite", "sso"} {
		res := founder.do("PATCH", "/api/v1/instance/settings", map[string]any{"join_policy": policy})
		if res.status != http.StatusForbidden || res.problem(t).Code != "domain_unverified" {
			t.Errorf("join_policy %s on a pending instance: %d %s, want 403 domain_unverified", policy, res.status, res.body)
		}
	}
	if res := founder.do("PATCH", "/api/v1/instance/settings", map[string]any{"join_policy": "open", "name": "Acme"}); res.status != http.StatusOK {
		t.Errorf("open (the policy it has) and a name on a pending instance: %d %s, want 200", res.status, res.body)
	}
	if m := a.client(t).signIn("bob@acme.example"); m.Member.Role != "employee" {
		t.Errorf("a colleague joining: %+v", m.Member)
	}
}

// Every settings change is audited with its old and new values, and
// retention cannot be shortened below its minimum.
func TestSettingsChangesAuditedAndRetentionHasAMinimum(t *testing.T) {
	a := newTestApp(t, nil)
	admin, m := verifiedAdmin(t, a, "alice@acme.example")
	for _, days := range []int{1, 29} {
		res := admin.sendingMalformed().do("PATCH", "/api/v1/instance/settings", map[string]any{"retention_days": days})
		if p := res.problem(t); res.status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "retention_days" || !strings.Contains(p.Errors[0].Message, "30") {
			t.Errorf("retention_days %d: %d %s, want 400 naming retention_days and its minimum 30", days, res.status, res.body)
		}
	}
	change := map[string]any{"retention_days": 30, "join_policy": "invite", "name": "Acme Corp", "digest": "off",
		"leaderboard_visible": false, "cpc": map[string]any{"amount": 150, "currency": "EUR"}, "points": map[string]any{"per_share": 5, "per_unique_click": 2}, "push_daily_cap": 5}
	if res := admin.do("PATCH", "/api/v1/instance/settings", change); res.status != http.StatusOK {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	entries := auditEntries(t, admin)
	if len(entries) == 0 || entries[0].Action != "instance.settings_changed" {
		t.Fatalf("newest audit entry: %+v, want instance.settings_changed", entries)
	}
	e := entries[0]
	want := map[string]string{
		"retention_days_old": "395", "retention_days_new": "30",
		"join_policy_old": "open", "join_policy_new": "invite",
		"name_old": "acme.example", "name_new": "Acme Corp",
		"digest_old": "weekly", "digest_new": "off",
		"leaderboard_visible_old": "true", "leaderboard_visible_new": "false",
		"cpc_old": "", "cpc_new": "150 EUR",
		"points_per_share_old": "10", "points_per_share_new": "5",
		"points_per_unique_click_old": "1", "points_per_unique_click_new": "2",
		"push_daily_cap_old": "3", "push_daily_cap_new": "5",
	}
	if e.Actor.ID != m.Member.ID || !maps.Equal(e.Details, want) {
		t.Errorf("entry = %+v\nwant details %v by %s", e, want, m.Member.ID)
	}
	// A change that changes nothing writes no entry.
	admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"retention_days": 30})
	if again := auditEntries(t, admin); len(again) != len(entries) {
		t.Errorf("an unchanged setting was audited: %+v", again[0])
	}
}

// A founder who was removed or erased joins again under the join policy
// like anyone else: the founder rule served the founding sign-in only.
func TestRemovedFounderIsNotAdminAgain(t *testing.T) {
	for _, how := range []string{"removed", "erased"} {
		t.Run(how, func(t *testing.T) {
			a := newTestApp(t, nil)
			alice, am := verifiedAdmin(t, a, "alice@acme.example")
			if am.Member.Role != "admin" {
				t.Fatalf("the founder: %+v, want admin", am.Member)
			}
			carol := a.client(t)
			cm := carol.signIn("carol@acme.example")
			if res := alice.do("PATCH", "/api/v1/members/"+cm.Member.ID, map[string]string{"role": "admin"}); res.status != http.StatusOK {
				t.Fatalf("make carol admin: %d %s", res.status, res.body)
			}
			// As an instance record made before the founder's address was
			// forgotten at the founding sign-in still names its founder.
			c, db := rawMongo(t, a)
			if _, err := c.Database(db).Collection("instances").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: am.Instance.ID}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "founder_email", Value: "alice@acme.example"}}}}); err != nil {
				t.Fatal(err)
			}
			var res response
			if how == "removed" {
				res = carol.do("DELETE", "/api/v1/members/"+am.Member.ID, nil)
			} else {
				res = carol.do("POST", "/api/v1/privacy/subjects/erase", map[string]string{"email": "alice@acme.example"})
			}
			if res.status != http.StatusNoContent {
				t.Fatalf("%s alice: %d %s", how, res.status, res.body)
			}
			again := a.client(t).signIn("alice@acme.example")
			if again.Member.Role != "employee" {
				t.Errorf("alice after being %s and signing in again: %s, want employee", how, again.Member.Role)
			}
			sc, err := a.store.Open(t.Context(), am.Instance.ID)
			if err != nil {
				t.Fatal(err)
			}
			if f := sc.Instance().FounderEmail; f != "" {
				t.Errorf("the instance record still holds the founder's address %q", f)
			}
		})
	}
}

// Strict-Transport-Security goes with every answer when the base URL is
// https, and only then.
func TestHSTSWhenTheBaseURLIsHTTPS(t *testing.T) {
	plain := newTestApp(t, nil)
	if h := plain.client(t).do("GET", "/healthz", nil).header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("plain-http base URL: Strict-Transport-Security %q, want none", h)
	}
	secure := newTestAppEdit(t, nil, nil, func(d *appDeps) {
		d.baseURL = &url.URL{Scheme: "https", Host: "chorus.example.com"}
	})
	c := secure.client(t)
	for _, path := range []string{"/healthz", "/api/v1/me", "/r/nosuchcode", "/"} {
		if h := c.do("GET", path, nil).header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
			t.Errorf("GET %s with an https base URL: Strict-Transport-Security %q, want max-age=…", path, h)
		}
	}
}

// /metrics answers only with the metrics token when one is set.
func TestMetricsToken(t *testing.T) {
	if res := newTestApp(t, nil).client(t).do("GET", "/metrics", nil); res.status != http.StatusOK {
		t.Errorf("/metrics without a token configured: %d, want 200", res.status)
	}
	a := newTestApp(t, map[string]string{"CHORUS_METRICS_TOKEN": "metrics-secret-for-tests"})
	c := a.client(t)
	for _, auth := range []string{"", "Bearer wrong", "Bearer metrics-secret-for-test"} {
		res := c.do("GET", "/metrics", nil, "Authorization", auth)
		if res.status != http.StatusUnauthorized || res.problem(t).Code != "unauthenticated" {
			t.Errorf("/metrics with %q: %d %.200s, want 401 unauthenticated", auth, res.status, res.body)
		}
	}
	res := c.do("GET", "/metrics", nil, "Authorization", "Bearer metrics-secret-for-tests")
	if res.status != http.StatusOK || !strings.Contains(string(res.body), "# HELP") {
		t.Errorf("/metrics with the token: %d %.200s", res.status, res.body)
	}
}

// The dev mailbox hands out every sign-in link: it runs only on a
// loopback listen address behind a plain-http base URL.
func TestDevMailboxOnlyOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		refused bool
	}{
		{"loopback", map[string]string{"CHORUS_ADDR": "127.0.0.1:8080"}, false},
		{"localhost", map[string]string{"CHORUS_ADDR": "localhost:8080", "CHORUS_BASE_URL": "http://localhost:8080"}, false},
		{"IPv6 loopback", map[string]string{"CHORUS_ADDR": "[::1]:8080"}, false},
		{"a public address", map[string]string{"CHORUS_ADDR": "0.0.0.0:8080"}, true},
		{"every interface", map[string]string{"CHORUS_ADDR": ":8080"}, true},
		{"a host name", map[string]string{"CHORUS_ADDR": "chorus.example.com:8080"}, true},
		{"an https base URL", map[string]string{"CHORUS_BASE_URL": "https://chorus.example.com"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"CHORUS_DEV_MAILBOX": "1"}
			maps.Copy(env, tc.env)
			_, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
			switch {
			case tc.refused && (err == nil || !strings.Contains(err.Error(), "CHORUS_DEV_MAILBOX: hands out every sign-in link")):
				t.Errorf("error = %v, want the dev mailbox refused", err)
			case !tc.refused && err != nil:
				t.Errorf("error = %v, want none", err)
			}
		})
	}
}

// Login subdomains cannot be squatted: only a verified instance claims
// one, and only a label of one of its verified domains.
func TestSubdomainsCannotBeSquatted(t *testing.T) {
	a := newTestApp(t, map[string]string{"CHORUS_BASE_DOMAIN": "chorus.test"})
	squatter := a.client(t)
	squatter.signIn("mallory@squat.example")
	res := squatter.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": "globex", "name": "Globex Corporation"})
	if res.status != http.StatusForbidden || res.problem(t).Code != "domain_unverified" {
		t.Errorf("a pending instance claiming a subdomain: %d %s, want 403 domain_unverified", res.status, res.body)
	}
	if res := squatter.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": "squat"}); res.status != http.StatusForbidden {
		t.Errorf("a pending instance claiming its own label: %d %s, want 403", res.status, res.body)
	}
	if res := a.client(t).do("GET", "/api/v1/auth/login-page", nil, "Host", "globex.chorus.test"); res.status != http.StatusNotFound {
		t.Errorf("the squatted login page: %d %s, want 404", res.status, res.body)
	}

	acme, _ := verifiedAdmin(t, a, "alice@mail.acme.example")
	res = acme.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": "globex"})
	if p := res.problem(t); res.status != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != "subdomain" || !strings.Contains(p.Errors[0].Message, "acme") {
		t.Errorf("a verified instance claiming another company's name: %d %s, want 400 naming subdomain and offering acme", res.status, res.body)
	}
	for _, sub := range []string{"acme", "example"} {
		if res := acme.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": sub}); (res.status == http.StatusOK) != (sub == "acme") {
			t.Errorf("subdomain %q of mail.acme.example: %d %s", sub, res.status, res.body)
		}
	}
	globex, _ := verifiedAdmin(t, a, "bob@globex.example")
	if res := globex.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": "globex"}); res.status != http.StatusOK {
		t.Errorf("globex claiming its own name: %d %s", res.status, res.body)
	}
}

// Removing a member does what erasure does to their connections, shares
// and tasks: nothing is posted to their accounts afterwards, and nothing
// of theirs stays orphaned out of the data-subject tools' reach.
func TestRemovalRevokesConnectionsAndCancelsShares(t *testing.T) {
	a, eve, connID, postID := shareSetup(t)
	var eveMe me
	eve.do("GET", "/api/v1/me", nil).json(t, &eveMe)
	later := a.clock.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	var shares struct{ Items []shareDoc }
	eve.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": later}).json(t, &shares)
	if len(shares.Items) != 1 || shares.Items[0].State != "scheduled" {
		t.Fatalf("scheduled share: %+v", shares.Items)
	}
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	if res := admin.do("DELETE", "/api/v1/members/"+eveMe.Member.ID, nil); res.status != http.StatusNoContent {
		t.Fatalf("remove eve: %d %s", res.status, res.body)
	}
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	if info, err := insp.GetTaskInfo(task.QueueCritical, shares.Items[0].ID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("the scheduled task after removal: %+v, %v; want it deleted", info, err)
	}
	// A task already running when she was removed publishes nothing.
	a.clock.Add(2 * time.Minute)
	w, _ := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(eveMe.Instance.ID, shares.Items[0].ID)); err != nil {
		t.Fatal(err)
	}
	if n := len(a.mastodon.Statuses()); n != 0 {
		t.Errorf("%d posts on a removed member's account, want 0", n)
	}
	c, db := rawMongo(t, a)
	for _, kind := range []string{"connections", "shares", "consents"} {
		n, err := c.Database(db).Collection("t_"+eveMe.Instance.ID+"_"+kind).CountDocuments(t.Context(), bson.D{{Key: "member_id", Value: eveMe.Member.ID}})
		if err != nil || n != 0 {
			t.Errorf("%d %s still name the removed member (%v), out of the data-subject tools' reach", n, kind, err)
		}
	}
	if revokedTokens(a) == 0 {
		t.Error("the removed member's token was not revoked at the network")
	}
}

// PublishShare refuses a share whose member no longer exists, whatever
// removed them: a second line of defence for tasks already running.
func TestPublishRefusesAShareOfAMemberWhoLeft(t *testing.T) {
	a, eve, connID, postID := shareSetup(t)
	var eveMe me
	eve.do("GET", "/api/v1/me", nil).json(t, &eveMe)
	var shares struct{ Items []shareDoc }
	eve.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &shares)
	c, db := rawMongo(t, a)
	if _, err := c.Database(db).Collection("t_"+eveMe.Instance.ID+"_members").DeleteOne(t.Context(), bson.D{{Key: "_id", Value: eveMe.Member.ID}}); err != nil {
		t.Fatal(err)
	}
	runPublishTasks(t, a)
	if n := len(a.mastodon.Statuses()); n != 0 {
		t.Errorf("%d posts for a member who no longer exists, want 0", n)
	}
	var sh struct{ State, Error string }
	if err := c.Database(db).Collection("t_"+eveMe.Instance.ID+"_shares").FindOne(t.Context(), bson.D{{Key: "_id", Value: shares.Items[0].ID}}).Decode(&sh); err != nil {
		t.Fatal(err)
	}
	if sh.State != "cancelled" || sh.Error == "" {
		t.Errorf("the share: %+v, want cancelled with a reason", sh)
	}
}

// A sign-in link's GET (the link in the mail) changes no session and
// consumes nothing: mail scanners that fetch it (GET, HEAD) leave it
// working, and a signed-in person who opens an attacker's link stays who
// they were. Only the confirmation page's same-origin POST signs in.
func TestSignInLinkNeedsTheConfirmationPage(t *testing.T) {
	a := newTestApp(t, nil)
	t.Run("mail scanner prefetch", func(t *testing.T) {
		alice := a.client(t)
		link := alice.signInLink("alice@acme.example")
		u, _ := url.Parse(link)
		scanner := a.client(t)
		for _, method := range []string{"HEAD", "GET", "GET"} {
			res := scanner.do(method, u.RequestURI(), nil)
			if res.status != http.StatusSeeOther || res.header.Get("Set-Cookie") != "" {
				t.Errorf("%s of the link: %d, Set-Cookie %q; want 303 and no cookie", method, res.status, res.header.Get("Set-Cookie"))
			}
			loc, _ := url.Parse(res.header.Get("Location"))
			if method == "GET" && (loc.Path != "/signin/confirm" || !strings.Contains(loc.Fragment, "email=alice@acme.example") || loc.RawQuery != "") {
				t.Errorf("GET of the link goes to %q, want the confirmation page with the address in the fragment", res.header.Get("Location"))
			}
		}
		if res := scanner.do("GET", "/api/v1/me", nil); res.status != http.StatusUnauthorized {
			t.Errorf("the scanner got a session: %d", res.status)
		}
		if res := alice.useLink(link); res.status != http.StatusNoContent {
			t.Fatalf("signing in after the scanner: %d %s", res.status, res.body)
		}
		var m me
		alice.do("GET", "/api/v1/me", nil).json(t, &m)
		if m.Member.Email != "alice@acme.example" {
			t.Errorf("signed in as %+v", m.Member)
		}
	})
	t.Run("login CSRF", func(t *testing.T) {
		victim := a.client(t)
		victim.signIn("victim@acme.example")
		link := a.client(t).signInLink("mallory@globex.example")
		u, _ := url.Parse(link)
		// A top-level cross-site navigation to the attacker's link.
		res := victim.do("GET", u.RequestURI(), nil, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate")
		if res.status != http.StatusSeeOther || res.header.Get("Set-Cookie") != "" {
			t.Errorf("cross-site GET of a link: %d, Set-Cookie %q; want 303 and no cookie", res.status, res.header.Get("Set-Cookie"))
		}
		// A cross-site POST of the token.
		res = victim.do("POST", "/api/v1/auth/email/callback", map[string]string{"token": u.Query().Get("token")},
			"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		if res.status != http.StatusForbidden || res.problem(t).Code != "cross_origin_request" || res.header.Get("Set-Cookie") != "" {
			t.Errorf("cross-site POST of a link's token: %d %s, want 403 cross_origin_request", res.status, res.body)
		}
		var m me
		victim.do("GET", "/api/v1/me", nil).json(t, &m)
		if m.Member.Email != "victim@acme.example" {
			t.Errorf("the victim is now %q, want still victim@acme.example", m.Member.Email)
		}
		// The link still works for its owner.
		if res := a.client(t).useLink(link); res.status != http.StatusNoContent {
			t.Errorf("the attacker's own link after the refused CSRF: %d %s", res.status, res.body)
		}
	})
}

// Offboarding an instance revokes its members' connections at the
// networks and deletes their waiting tasks before its data goes.
func TestOffboardingRevokesConnectionsAndTasks(t *testing.T) {
	a, eve, connID, postID := shareSetup(t)
	var shares struct{ Items []shareDoc }
	eve.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &shares)
	if len(shares.Items) != 1 {
		t.Fatalf("shares: %+v", shares.Items)
	}
	admin := a.client(t)
	am := admin.signIn("admin@acme.example")
	if res := admin.do("DELETE", "/api/v1/instance", map[string]string{"confirm": am.Instance.ID}); res.status != http.StatusNoContent {
		t.Fatalf("offboard: %d %s", res.status, res.body)
	}
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	if info, err := insp.GetTaskInfo(task.QueueCritical, shares.Items[0].ID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("the scheduled task after offboarding: %+v, %v; want it deleted", info, err)
	}
	if revokedTokens(a) == 0 {
		t.Error("the member's token was not revoked at the network")
	}
}

// revokedTokens counts the Mastodon fake's access tokens revoked so far.
func revokedTokens(a *testApp) int {
	n := 0
	for _, tok := range a.mastodon.IssuedTokens() {
		if a.mastodon.Revoked(tok) {
			n++
		}
	}
	return n
}

// An operator reserves a subdomain no verified domain of the instance
// offers (a company known by another name); audited.
func TestSubdomainReserveCommand(t *testing.T) {
	a := newTestApp(t, map[string]string{"CHORUS_BASE_DOMAIN": "chorus.test"})
	admin, m := verifiedAdmin(t, a, "alice@initech.example")
	uri, db := a.mongo()
	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db}
	getenv := func(k string) string { return env[k] }
	var out strings.Builder
	if err := run(t.Context(), []string{"subdomain", "reserve", "initrode", "--instance", m.Instance.ID}, getenv, &out); err == nil {
		t.Error("reserving without a reason succeeded")
	}
	if err := run(t.Context(), []string{"subdomain", "reserve", "initrode", "--instance", m.Instance.ID, "--reason", "ticket 7"}, getenv, &out); err != nil {
		t.Fatalf("chorus subdomain reserve: %v", err)
	}
	res := a.client(t).do("GET", "/api/v1/auth/login-page", nil, "Host", "initrode.chorus.test")
	if res.status != http.StatusOK || !strings.Contains(string(res.body), m.Instance.ID) {
		t.Errorf("the reserved login page: %d %s", res.status, res.body)
	}
	if es := auditEntries(t, admin); len(es) == 0 || es[0].Action != "subdomain.reserved" || es[0].Actor.Kind != "operator" || es[0].Details["reason"] != "ticket 7" {
		t.Errorf("newest audit entry: %+v, want subdomain.reserved by an operator with the reason", es)
	}
	// Other settings change as before; the reserved name stays.
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": "initrode", "name": "Initech"}); res.status != http.StatusOK {
		t.Errorf("settings with the reserved subdomain: %d %s", res.status, res.body)
	}
}
