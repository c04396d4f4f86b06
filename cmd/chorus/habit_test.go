package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// What comes back for sharing: each share says its clicks and reach, the
// content says how many colleagues shared it and its shares and clicks,
// all from counters kept as shares are made and cancelled and clicks
// stored.
func TestShareAndContentCounters(t *testing.T) {
	f := newReachFixture(t, 2)
	post := f.post(t, "counters", nil)
	link := f.share(t, 0, post)
	f.share(t, 1, post)
	visitor := f.a.client(t)
	for range 3 {
		visitor.do("GET", link, nil)
	}
	f.waitClicks(t, 3)

	var shares struct {
		Items []struct {
			ID     string `json:"id"`
			Clicks int64  `json:"clicks"`
			Reach  int64  `json:"reach"`
		}
	}
	f.employees[0].do("GET", "/api/v1/shares", nil).json(t, &shares)
	if len(shares.Items) != 1 || shares.Items[0].Clicks != 3 || shares.Items[0].Reach != 100 {
		t.Errorf("employee 0's shares: %+v, want one with 3 clicks and reach 100", shares.Items)
	}

	// My impact's trend: a week per week of the period, adding up to the
	// period's figures.
	var mine struct {
		Clicks int64 `json:"clicks"`
		Weeks  []struct {
			Start  string `json:"start"`
			Shares int64  `json:"shares"`
			Clicks int64  `json:"clicks"`
		} `json:"weeks"`
	}
	f.employees[0].do("GET", "/api/v1/analytics/me?from=2026-01-01&to=2026-12-31", nil).json(t, &mine)
	var weekClicks int64
	for _, w := range mine.Weeks {
		weekClicks += w.Clicks
	}
	if len(mine.Weeks) != 53 || mine.Weeks[0].Start != "2026-01-01" || mine.Weeks[1].Start != "2026-01-05" || weekClicks != mine.Clicks {
		t.Errorf("my impact over 2026: %d weeks from %v, %d clicks in them and %d in all; want 53 weeks (Thursday 1 January, then Mondays) adding up",
			len(mine.Weeks), mine.Weeks[:min(2, len(mine.Weeks))], weekClicks, mine.Clicks)
	}

	type counted struct {
		ID        string `json:"id"`
		Shares    int64  `json:"shares"`
		Clicks    int64  `json:"clicks"`
		Colleague int64  `json:"colleagues_shared"`
	}
	get := func(c *client) counted {
		t.Helper()
		var p counted
		if res := c.do("GET", "/api/v1/content/"+post, nil); res.status != http.StatusOK {
			t.Fatalf("content: %d %s", res.status, res.body)
		} else {
			res.json(t, &p)
		}
		return p
	}
	if p := get(f.admin); p.Shares != 2 || p.Clicks != 3 || p.Colleague != 2 {
		t.Errorf("the admin sees %+v, want 2 shares, 3 clicks, 2 colleagues", p)
	}
	// Each sharer sees the other one: "1 colleague shared this".
	if p := get(f.employees[0]); p.Colleague != 1 {
		t.Errorf("a sharer sees %d colleagues, want 1 (not counting themselves)", p.Colleague)
	}

	// A second share of the same member (scheduled) adds a share, not a
	// colleague; cancelling it takes the share back only.
	second := f.schedule(t, 0, post)
	if p := get(f.admin); p.Shares != 3 || p.Colleague != 2 {
		t.Errorf("after a second share of one member: %+v, want 3 shares, 2 colleagues", p)
	}
	if res := f.employees[0].do("POST", "/api/v1/shares/"+second+"/cancel", nil); res.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	if p := get(f.admin); p.Shares != 2 || p.Colleague != 2 {
		t.Errorf("after cancelling it: %+v, want 2 shares, 2 colleagues", p)
	}

	// A share that fails leaves the counters too: the member revoked
	// Chorus at their server, so their only share of another post fails.
	f.a.mastodon.RevokeAll()
	post = f.post(t, "fails", nil)
	f.share(t, 0, post)
	if p := get(f.admin); p.Shares != 0 || p.Colleague != 0 {
		t.Errorf("after the only share failed: %+v, want 0 shares, 0 colleagues", p)
	}
}

// New instances show members their points and rank; admins may turn it off.
func TestTeamPointsOnForNewInstances(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	var inst struct {
		Settings struct {
			LeaderboardVisible bool `json:"leaderboard_visible"`
		} `json:"settings"`
	}
	admin.do("GET", "/api/v1/instance", nil).json(t, &inst)
	if !inst.Settings.LeaderboardVisible {
		t.Errorf("a new instance's leaderboard_visible is false, want true")
	}
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"leaderboard_visible": false}); res.status != http.StatusOK {
		t.Fatalf("turn off: %d %s", res.status, res.body)
	}
	admin.do("GET", "/api/v1/instance", nil).json(t, &inst)
	if inst.Settings.LeaderboardVisible {
		t.Errorf("leaderboard_visible stayed true after the admin turned it off")
	}
}

// The first-sign-in checklist is dismissed per member and stays so.
func TestOnboardingDismissed(t *testing.T) {
	a := newTestApp(t, nil)
	verifiedAdmin(t, a, "admin@acme.example")
	c := a.client(t)
	c.signIn("carol@acme.example")
	type me struct {
		Member struct {
			Onboarding struct {
				Dismissed bool `json:"dismissed"`
			} `json:"onboarding"`
		} `json:"member"`
	}
	var m me
	c.do("GET", "/api/v1/me", nil).json(t, &m)
	if m.Member.Onboarding.Dismissed {
		t.Fatal("a new member's checklist is dismissed")
	}
	if res := c.sendingMalformed().do("PATCH", "/api/v1/members/me", map[string]any{"onboarding_dismissed": "yes"}); res.status != http.StatusBadRequest && res.status != http.StatusUnprocessableEntity {
		t.Errorf("a string for onboarding_dismissed: %d, want a validation problem", res.status)
	}
	if res := c.do("PATCH", "/api/v1/members/me", map[string]any{"onboarding_dismissed": true}); res.status != http.StatusOK {
		t.Fatalf("dismiss: %d %s", res.status, res.body)
	}
	c.do("GET", "/api/v1/me", nil).json(t, &m)
	if !m.Member.Onboarding.Dismissed {
		t.Error("the checklist is not dismissed after PATCH")
	}
}

// Connecting from the composer comes back to the composer; a return path
// that leaves the app is refused.
func TestConnectReturnsToTheComposer(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	if res := admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusOK {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	c := a.client(t)
	c.signIn("carol@acme.example")
	for _, bad := range []string{"//evil.example/share/x", "https://evil.example/", "http:/evil.example", "/\\evil.example", "share/x", "/share/x\n", "javascript:alert(1)"} {
		res := c.do("POST", "/api/v1/connections/mastodon/start", map[string]string{"instance_url": a.mastodon.URL, "return_to": bad})
		if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "return_to") {
			t.Errorf("return_to %q: %d %s, want 400 naming return_to", bad, res.status, res.body)
		}
	}
	res := c.do("POST", "/api/v1/connections/mastodon/start", map[string]string{"instance_url": a.mastodon.URL, "return_to": "/share/abc?x=1"})
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	res.json(t, &out)
	if res.status != http.StatusOK {
		t.Fatalf("start: %d %s", res.status, res.body)
	}
	back := approveAt(t, c, out.AuthorizeURL)
	if back.status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", back.status, back.body)
	}
	to, err := url.Parse(back.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if to.Path != "/share/abc" || to.Query().Get("connected") != "mastodon" || to.Query().Get("x") != "1" || to.Host != a.srv.Listener.Addr().String() {
		t.Errorf("the callback sent the browser to %s, want the composer at /share/abc?x=1&connected=mastodon on the app", to)
	}
}

// "Review (N)": curators get the number of suggestions waiting, bounded.
func TestReviewCount(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	c := a.client(t)
	c.signIn("carol@acme.example")
	if res := c.do("PATCH", "/api/v1/members/me", map[string]string{"name": "Carol Diaz"}); res.status != http.StatusOK {
		t.Fatal(res.status)
	}
	for _, p := range []string{"/one", "/two"} {
		if res := c.do("POST", "/api/v1/suggestions", map[string]any{"url": a.pages.url(p)}); res.status != http.StatusCreated {
			t.Fatalf("suggest: %d %s", res.status, res.body)
		}
	}
	if res := c.do("GET", "/api/v1/content/review-count", nil); res.status != http.StatusForbidden {
		t.Errorf("an employee asking for the review count: %d, want 403", res.status)
	}
	var n struct {
		Pending int  `json:"pending"`
		More    bool `json:"more"`
	}
	admin.do("GET", "/api/v1/content/review-count", nil).json(t, &n)
	if n.Pending != 2 || n.More {
		t.Errorf("review count %+v, want 2 and not more", n)
	}
	var list struct {
		Items []struct {
			AuthorName string `json:"author_name"`
		}
	}
	admin.do("GET", "/api/v1/content?state=pending", nil).json(t, &list)
	if len(list.Items) != 2 || list.Items[0].AuthorName != "Carol Diaz" {
		t.Errorf("pending suggestions %+v, want each with author_name Carol Diaz", list.Items)
	}
}

// The digest tells a member what their posts got since the last one.
func TestDigestSaysClicks(t *testing.T) {
	f := newDigestFixture(t)
	if res := f.admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusOK {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	conn := f.a.connectMastodon(t, f.alice)
	post := f.post(t, f.admin, "acme-news")
	var out struct{ Items []shareDoc }
	res := f.alice.do("POST", "/api/v1/content/"+post+"/shares", map[string]any{"connections": []string{conn}})
	if res.status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	res.json(t, &out)
	publishShare(t, f.a, f.a.mustInstance(t, f.alice), out.Items[0].ID)
	u, _ := url.Parse(out.Items[0].TrackedURL)
	for range 2 {
		f.a.client(t).do("GET", u.Path, nil)
	}
	waitStored(t, f.a, 2)
	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	alice := f.digests("alice@acme.example")
	if len(alice) != 1 || !strings.Contains(alice[0].Text, "your posts got 2 clicks since") || !strings.Contains(alice[0].Text, f.base.JoinPath("impact").String()) {
		t.Errorf("alice's digests %+v, want one saying her posts got 2 clicks, with a link to her impact", alice)
	}
	carol := f.digests("carol@acme.example")
	if len(carol) != 1 || strings.Contains(carol[0].Text, "your posts got") {
		t.Errorf("carol, who shared nothing, got %+v, want one digest without clicks", carol)
	}
}
