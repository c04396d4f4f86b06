package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

// reachFixture is a verified instance with Mastodon allowed, employees
// with connections (each with its own follower count) and content.
type reachFixture struct {
	a         *testApp
	admin     *client
	instance  string
	employees []*client
	ids       []string // the employees' member IDs
	conns     []string
	posts     []string
}

func newReachFixture(t *testing.T, employees int) *reachFixture {
	t.Helper()
	a := newTestApp(t, nil)
	admin, m := verifiedAdmin(t, a, "admin@acme.example")
	f := &reachFixture{a: a, admin: admin, instance: m.Instance.ID}
	if res := admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusOK {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	for i := range employees {
		c := a.client(t)
		me := c.signIn(fmt.Sprintf("employee%d@acme.example", i))
		a.mastodon.SetFollowers(int64(100 * (i + 1)))
		f.employees = append(f.employees, c)
		f.ids = append(f.ids, me.Member.ID)
		f.conns = append(f.conns, a.connectMastodon(t, c))
		if res := c.do("PATCH", "/api/v1/members/me", map[string]string{"name": fmt.Sprintf("Employee %d", i)}); res.status != http.StatusOK {
			t.Fatalf("name: %d %s", res.status, res.body)
		}
	}
	return f
}

func (f *reachFixture) post(t *testing.T, title string, expires *time.Time) string {
	t.Helper()
	body := map[string]any{"url": f.a.pages.url("/" + title), "title": title}
	if expires != nil {
		body["expires_at"] = expires.UTC().Format(time.RFC3339)
	}
	var p struct{ ID string }
	res := f.admin.do("POST", "/api/v1/content", body)
	if res.status != http.StatusCreated {
		t.Fatalf("post: %d %s", res.status, res.body)
	}
	res.json(t, &p)
	f.posts = append(f.posts, p.ID)
	return p.ID
}

// share shares post through employee i's connection and publishes it;
// it returns the tracked link's path.
func (f *reachFixture) share(t *testing.T, i int, post string) string {
	t.Helper()
	var out struct{ Items []shareDoc }
	res := f.employees[i].do("POST", "/api/v1/content/"+post+"/shares", map[string]any{"connections": []string{f.conns[i]}})
	if res.status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	res.json(t, &out)
	publishShare(t, f.a, f.instance, out.Items[0].ID)
	u, _ := url.Parse(out.Items[0].TrackedURL)
	return u.Path
}

// publishShare runs a share's publish task as the worker would (the
// queue's clock is not the test's).
func publishShare(t *testing.T, a *testApp, instance, shareID string) {
	t.Helper()
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(instance, shareID)); err != nil {
		t.Fatal(err)
	}
}

// clicks waits until the recorder has stored n clicks in all.
func (f *reachFixture) waitClicks(t *testing.T, n int64) {
	t.Helper()
	waitStored(t, f.a, n)
}

// waitStored waits until a's recorder has stored n clicks in all.
func waitStored(t *testing.T, a *testApp, n int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for a.redirector.Stored() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the recorder stored %d clicks, want %d", a.redirector.Stored(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *reachFixture) scope(t *testing.T) tenant.Scope {
	t.Helper()
	sc, err := f.a.store.Open(t.Context(), f.instance)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func (f *reachFixture) refreshEngagement(t *testing.T) {
	t.Helper()
	w, err := jobs.NewWorker(jobs.Config{Store: f.a.store, Social: f.a.social, Now: f.a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.RefreshEngagement()); err != nil {
		t.Fatal(err)
	}
}

// everything is a period that holds every day of the test.
func everything() reach.Period {
	return reach.Period{From: time.Now().AddDate(0, 0, -2).Format(time.DateOnly), To: time.Now().AddDate(0, 0, 60).Format(time.DateOnly)}
}

// After a random sequence of shares, clicks (bots among them, one content
// expired), engagement refreshes, consent changes and days passing, the
// rollups the hooks kept equal those rebuilt from the raw data, and their
// totals equal what the test counted itself.
func TestAnalyticsIncrementalEqualsRebuild(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("CHORUS_TEST_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (CHORUS_TEST_SEED repeats a run)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	f := newReachFixture(t, 3)
	a := f.a
	// The fake network dates posts by the real clock: keep the test's
	// clock ahead of it, as a server's own clock is ahead of the events it
	// has seen.
	a.clock.Add(time.Hour)
	if res := f.admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"time_zone": "Europe/Helsinki",
		"cpc": map[string]any{"amount": 35, "currency": "EUR"}}); res.status != http.StatusOK {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	expiry := a.clock.Now().Add(3 * time.Hour)
	expiring := f.post(t, "expiring", &expiry)
	f.post(t, "evergreen", nil)

	var (
		links    []string
		reachSum int64
		humans   int64
		granted  = []bool{true, true, true}
	)
	agents := []string{"Mozilla/5.0 (X11; Linux)", "Mozilla/5.0 (iPhone)", "curl/8.5", "LinkedInBot/1.0", "Mastodon/4.3 (http.rb)", "Slackbot-LinkExpanding 1.0"}
	// The expiring content is shared before it expires.
	links = append(links, f.share(t, 0, expiring))
	reachSum += 100
	for step := range 30 {
		switch op := rng.IntN(10); {
		case op < 3:
			i := rng.IntN(3)
			links = append(links, f.share(t, i, f.posts[1]))
			reachSum += int64(100 * (i + 1))
		case op < 7:
			n := 1 + rng.IntN(4)
			for range n {
				ua := agents[rng.IntN(len(agents))]
				link := links[rng.IntN(len(links))]
				res := a.client(t).do("GET", link, nil, "User-Agent", ua)
				if res.status != http.StatusFound {
					t.Fatalf("step %d: GET %s = %d", step, link, res.status)
				}
				if !social.IsBot(ua) {
					humans++
				}
			}
			f.waitClicks(t, humans)
		case op < 8:
			sts := a.mastodon.Statuses()
			st := sts[rng.IntN(len(sts))]
			a.mastodon.SetCounts(st.ID, int64(rng.IntN(50)), int64(rng.IntN(10)), int64(rng.IntN(20)))
			f.refreshEngagement(t)
		case op < 9:
			i := rng.IntN(3)
			granted[i] = !granted[i]
			if res := f.employees[i].do("PUT", "/api/v1/me/consents/analytics_attribution", map[string]any{"granted": granted[i]}); res.status != http.StatusOK {
				t.Fatalf("consent: %d %s", res.status, res.body)
			}
		default:
			a.clock.Add(time.Duration(1+rng.IntN(20)) * time.Hour)
		}
	}
	// The expiring content's link is clicked once more after it expired:
	// the click counts.
	sc := f.scope(t)
	svc := reach.New(reach.Config{Now: a.clock.Now})
	clicksOf := func(post string) int64 {
		rows, err := svc.Top(t.Context(), sc, everything(), reach.ByContent)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.ID == post {
				return r.Clicks
			}
		}
		return 0
	}
	before := clicksOf(expiring)
	a.clock.Add(4 * time.Hour)
	if _, err := a.content.Shareable(t.Context(), sc, expiring); err == nil {
		t.Fatal("the content has not expired: the test would prove nothing")
	}
	if res := a.client(t).do("GET", links[0], nil, "User-Agent", "Mozilla/5.0"); res.status != http.StatusFound {
		t.Fatalf("expired content's link: %d", res.status)
	}
	humans++
	f.waitClicks(t, humans)
	if after := clicksOf(expiring); after != before+1 {
		t.Errorf("a click on expired content: %d clicks, then %d", before, after)
	}
	f.refreshEngagement(t)

	incremental, err := svc.Rollups(t.Context(), sc, everything())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := svc.Summary(t.Context(), sc, everything())
	if err != nil {
		t.Fatal(err)
	}
	var engagement int64
	for _, st := range a.mastodon.Statuses() {
		engagement += st.Favourites + st.Replies + st.Reblogs
	}
	want := reach.Summary{From: sum.From, To: sum.To, Figures: reach.Figures{Shares: int64(len(links)), Clicks: humans, UniqueClicks: sum.UniqueClicks,
		PotentialReach: reachSum, Reactions: sum.Reactions, Comments: sum.Comments, Reposts: sum.Reposts, Engagement: engagement,
		EarnedMediaValue: tenant.Money{Amount: humans * 35, Currency: "EUR"}}}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("totals (-counted +rollups):\n%s", diff)
	}
	if sum.UniqueClicks < 1 || sum.UniqueClicks > sum.Clicks {
		t.Errorf("unique clicks %d of %d", sum.UniqueClicks, sum.Clicks)
	}
	// Objectors' figures carry no member ID.
	for _, r := range incremental {
		for i, id := range f.ids {
			if r.MemberID == id && !granted[i] {
				t.Errorf("rollup %+v is attributed to employee %d, who objected", r, i)
			}
		}
	}

	// What the analytics read (the daily totals) before and after.
	widgets := func() map[string]any {
		t.Helper()
		out := map[string]any{}
		var err error
		if out["summary"], err = svc.Summary(t.Context(), sc, everything()); err != nil {
			t.Fatal(err)
		}
		for _, by := range []string{reach.ByContent, reach.ByMember, reach.ByNetwork} {
			if out[by], err = svc.Top(t.Context(), sc, everything(), by); err != nil {
				t.Fatal(err)
			}
		}
		for i, id := range f.ids {
			if out[fmt.Sprint("me ", i)], err = svc.Me(t.Context(), sc, tenant.Member{ID: id}, everything(), false); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	beforeRebuild := widgets()

	var out strings.Builder
	if err := run(t.Context(), []string{"analytics", "rebuild", "--all"}, mongoEnv(a), &out); err != nil {
		t.Fatalf("chorus analytics rebuild: %v\n%s", err, out.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	if !strings.Contains(out.String(), f.instance) {
		t.Errorf("rebuild --all did not rebuild %s: %s", f.instance, out.String())
	}
	// It recounts the shares' and contents' counters too, which the
	// recorder and the share paths kept right.
	if !strings.Contains(out.String(), "counters of "+f.instance+" recounted from") || !strings.Contains(out.String(), ": 0 shares' and 0 contents' corrected") {
		t.Errorf("rebuild --all did not find %s's counters right: %s", f.instance, out.String())
	}
	rebuilt, err := svc.Rollups(t.Context(), sc, everything())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(incremental, rebuilt); diff != "" {
		t.Errorf("incremental rollups differ from the rebuild (-incremental +rebuilt):\n%s", diff)
	}
	if diff := cmp.Diff(beforeRebuild, widgets()); diff != "" {
		t.Errorf("incremental totals differ from the rebuilt ones (-incremental +rebuilt):\n%s", diff)
	}
}

// mongoEnv points a command at the test app's database.
func mongoEnv(a *testApp) func(string) string {
	uri, db := a.mongo()
	return func(k string) string {
		switch k {
		case "CHORUS_MONGO_URI":
			return uri
		case "CHORUS_MONGO_DATABASE":
			return db
		}
		return ""
	}
}

type summaryDoc struct {
	Shares, Clicks, UniqueClicks, PotentialReach, Engagement int64
	EarnedMediaValue                                         tenant.Money `json:"earned_media_value"`
}

func (d *summaryDoc) UnmarshalJSON(b []byte) error {
	var raw struct {
		Shares         int64        `json:"shares"`
		Clicks         int64        `json:"clicks"`
		UniqueClicks   int64        `json:"unique_clicks"`
		PotentialReach int64        `json:"potential_reach"`
		Engagement     int64        `json:"engagement"`
		EMV            tenant.Money `json:"earned_media_value"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*d = summaryDoc{raw.Shares, raw.Clicks, raw.UniqueClicks, raw.PotentialReach, raw.Engagement, raw.EMV}
	return nil
}

type rowsDoc struct {
	Items []struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Rank   int    `json:"rank"`
		Points int64  `json:"points"`
		Shares int64  `json:"shares"`
		Clicks int64  `json:"clicks"`
	} `json:"items"`
	NextCursor *string `json:"next_cursor"`
	Suppressed bool    `json:"suppressed"`
}

// The analytics API: who may ask, what periods, the numbers, CSV,
// leaderboard privacy, objections, retention, erasure, and another
// instance seeing none of it.
func TestAnalyticsAPI(t *testing.T) {
	f := newReachFixture(t, 2)
	a := f.a
	today := a.clock.Now().UTC().Format(time.DateOnly)
	q := "?from=" + today + "&to=" + today
	analyst := a.client(t)
	am := analyst.signIn("analyst@acme.example")
	sc := f.scope(t)
	if _, err := sc.SetRole(t.Context(), am.Member.ID, tenant.RoleAnalyst); err != nil {
		t.Fatal(err)
	}
	if res := f.admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"cpc": map[string]any{"amount": 120, "currency": "eur"}}); res.status != http.StatusOK {
		t.Fatalf("cpc: %d %s", res.status, res.body)
	}
	// A name that is a spreadsheet formula.
	f.employees[1].do("PATCH", "/api/v1/members/me", map[string]string{"name": `=HYPERLINK("http://evil.example","x")`})
	post := f.post(t, "launch", nil)
	l0, l1 := f.share(t, 0, post), f.share(t, 1, post)
	for i, link := range []string{l0, l0, l0, l1} {
		a.client(t).do("GET", link, nil, "User-Agent", fmt.Sprintf("Mozilla/5.0 visitor %d", i))
	}
	a.client(t).do("GET", l1, nil, "User-Agent", "facebookexternalhit/1.1")
	f.waitClicks(t, 4)

	paths := []string{"/api/v1/analytics/summary", "/api/v1/analytics/timeseries", "/api/v1/analytics/content",
		"/api/v1/analytics/members", "/api/v1/analytics/networks"}
	for _, p := range paths {
		if res := f.employees[0].do("GET", p+q, nil); res.status != http.StatusForbidden || res.problem(t).Code != "forbidden" {
			t.Errorf("employee GET %s: %d %s, want 403", p, res.status, res.body)
		}
		for _, c := range []*client{analyst, f.admin} {
			if res := c.do("GET", p+q, nil); res.status != http.StatusOK {
				t.Errorf("GET %s: %d %s", p, res.status, res.body)
			}
		}
	}
	for _, bad := range []string{"", "?from=" + today, "?to=" + today, "?from=2026-02-01&to=2026-01-01",
		"?from=2024-01-01&to=2026-01-01", "?from=yesterday&to=" + today} {
		res := analyst.sendingMalformed().do("GET", "/api/v1/analytics/summary"+bad, nil)
		if res.status != http.StatusUnprocessableEntity || res.problem(t).Code != "validation_failed" {
			t.Errorf("summary%s: %d %s, want 422", bad, res.status, res.body)
		}
	}

	var sum summaryDoc
	analyst.do("GET", "/api/v1/analytics/summary"+q, nil).json(t, &sum)
	// One address: one unique click per link, whatever the User-Agents.
	want := summaryDoc{Shares: 2, Clicks: 4, UniqueClicks: 2, PotentialReach: 300, EarnedMediaValue: tenant.Money{Amount: 480, Currency: "EUR"}}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	var series struct {
		Items []struct {
			Day   string
			Value int64
		}
	}
	week := "?from=" + a.clock.Now().AddDate(0, 0, -6).Format(time.DateOnly) + "&to=" + today
	analyst.do("GET", "/api/v1/analytics/timeseries"+week+"&metric=emv", nil).json(t, &series)
	if len(series.Items) != 7 || series.Items[6].Value != 480 || series.Items[0].Value != 0 {
		t.Errorf("emv series: %+v", series.Items)
	}
	if res := analyst.sendingMalformed().do("GET", "/api/v1/analytics/timeseries"+q+"&metric=likes", nil); res.status != http.StatusBadRequest {
		t.Errorf("unknown metric: %d", res.status)
	}

	var board rowsDoc
	analyst.do("GET", "/api/v1/analytics/members"+q, nil).json(t, &board)
	// Equal points (a share and a unique click each), equal rank; more
	// clicks first.
	if len(board.Items) != 2 || board.Items[0].ID != f.ids[0] || board.Items[0].Rank != 1 || board.Items[0].Points != 10+1 ||
		board.Items[1].Points != 10+1 || board.Items[1].Rank != 1 {
		t.Errorf("leaderboard: %+v", board.Items)
	}
	var page rowsDoc
	analyst.do("GET", "/api/v1/analytics/members"+q+"&limit=1", nil).json(t, &page)
	if len(page.Items) != 1 || page.NextCursor == nil {
		t.Fatalf("first page: %+v", page)
	}
	analyst.do("GET", "/api/v1/analytics/members"+q+"&limit=1&cursor="+*page.NextCursor, nil).json(t, &page)
	if len(page.Items) != 1 || page.Items[0].ID != f.ids[1] || page.NextCursor != nil {
		t.Errorf("second page: %+v", page)
	}

	res := analyst.do("GET", "/api/v1/analytics/members"+q+"&format=csv", nil)
	if ct := res.header.Get("Content-Type"); res.status != http.StatusOK || !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("csv: %d %s", res.status, ct)
	}
	lines, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[0][0] != "rank" || lines[0][2] != "name" || lines[2][2] != `'=HYPERLINK("http://evil.example","x")` {
		t.Errorf("members CSV: %q", lines)
	}
	for _, p := range []string{"content", "networks"} {
		res := analyst.do("GET", "/api/v1/analytics/"+p+q+"&format=csv", nil)
		lines, err := csv.NewReader(strings.NewReader(string(res.body))).ReadAll()
		if err != nil || len(lines) != 2 || lines[1][0] == "" {
			t.Errorf("%s CSV: %v %q", p, err, lines)
		}
	}

	// Employees see their own figures; their rank only when the
	// leaderboard is visible (new instances show it; the admin hides it).
	if res := f.admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"leaderboard_visible": false}); res.status != http.StatusOK {
		t.Fatalf("hide the leaderboard: %d %s", res.status, res.body)
	}
	var mine struct {
		Shares, Clicks int64
		Points         int64
		Rank           *int
		Attributed     bool
	}
	f.employees[1].do("GET", "/api/v1/analytics/me", nil).json(t, &mine)
	if mine.Shares != 1 || mine.Clicks != 1 || mine.Points != 11 || mine.Rank != nil || !mine.Attributed {
		t.Errorf("me: %+v", mine)
	}
	f.admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"leaderboard_visible": true})
	f.employees[1].do("GET", "/api/v1/analytics/me"+q, nil).json(t, &mine)
	if mine.Rank == nil || *mine.Rank != 1 {
		t.Errorf("me with the leaderboard visible: %+v", mine)
	}

	// A group smaller than the minimum shows no per-member figures.
	f.admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"min_group_size": 3})
	analyst.do("GET", "/api/v1/analytics/members"+q, nil).json(t, &board)
	if !board.Suppressed || len(board.Items) != 0 {
		t.Errorf("a group of 2 under a minimum of 3: %+v", board)
	}
	f.admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"min_group_size": 1})

	// An objection: employee 1 leaves the leaderboard, the totals stay.
	if res := f.employees[1].do("PUT", "/api/v1/me/consents/analytics_attribution", map[string]any{"granted": false}); res.status != http.StatusOK {
		t.Fatalf("objection: %d %s", res.status, res.body)
	}
	analyst.do("GET", "/api/v1/analytics/members"+q, nil).json(t, &board)
	if len(board.Items) != 1 || board.Items[0].ID != f.ids[0] {
		t.Errorf("leaderboard after an objection: %+v", board.Items)
	}
	analyst.do("GET", "/api/v1/analytics/summary"+q, nil).json(t, &sum)
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("totals changed with an objection (-want +got):\n%s", diff)
	}
	f.employees[1].do("GET", "/api/v1/analytics/me"+q, nil).json(t, &mine)
	if mine.Attributed || mine.Shares != 0 {
		t.Errorf("me after objecting: %+v", mine)
	}

	// Retention: raw clicks go, rollups stay.
	if n, err := social.SweepClicks(t.Context(), sc, a.clock.Now().AddDate(0, 0, 400)); err != nil || n != 4 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	analyst.do("GET", "/api/v1/analytics/summary"+q, nil).json(t, &sum)
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("totals after the retention sweep (-want +got):\n%s", diff)
	}

	// Export and erasure: the rollups are the member's, then a pseudonym's.
	var export struct {
		Manifest []string
		Data     struct {
			Rollups []struct {
				MemberID string `json:"member_id"`
				Clicks   int64  `json:"clicks"`
			} `json:"analytics_rollups"`
		}
	}
	f.employees[0].do("GET", "/api/v1/me/export", nil).json(t, &export)
	if len(export.Data.Rollups) != 1 || export.Data.Rollups[0].Clicks != 3 || !slices.Contains(export.Manifest, "rollups") {
		t.Errorf("export: %+v", export)
	}
	if res := f.employees[0].do("DELETE", "/api/v1/me", nil); res.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", res.status, res.body)
	}
	rows, err := reach.New(reach.Config{}).Rollups(t.Context(), sc, everything())
	if err != nil {
		t.Fatal(err)
	}
	var shares []social.Share
	shares, err = social.MemberShares(t.Context(), sc, f.ids[0])
	if err != nil || len(shares) != 0 {
		t.Fatalf("shares of the erased member: %d %v", len(shares), err)
	}
	pseudonymous := 0
	for _, r := range rows {
		if r.MemberID == f.ids[0] {
			t.Errorf("a rollup still names the erased member: %+v", r)
		}
		if strings.HasPrefix(r.MemberID, "erased-") {
			pseudonymous++
			if ps, _ := social.MemberShares(t.Context(), sc, r.MemberID); len(ps) != 1 {
				t.Errorf("the rollup's pseudonym %s is not the shares' (%d shares)", r.MemberID, len(ps))
			}
		}
	}
	if pseudonymous != 1 {
		t.Errorf("%d pseudonymous rollups, want 1: %+v", pseudonymous, rows)
	}
	analyst.do("GET", "/api/v1/analytics/summary"+q, nil).json(t, &sum)
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("totals after an erasure (-want +got):\n%s", diff)
	}

	// Another instance: an unverified one may not ask; once verified its
	// analyst sees none of A's numbers.
	other := a.client(t)
	om := other.signIn("admin@globex.example")
	if res := other.do("GET", "/api/v1/analytics/summary"+q, nil); res.status != http.StatusForbidden || res.problem(t).Code != "domain_unverified" {
		t.Errorf("unverified instance: %d %s", res.status, res.body)
	}
	if _, err := tenant.NewService(tenant.Config{Store: a.store}).ForceVerify(t.Context(), "globex.example", "test"); err != nil {
		t.Fatal(err)
	}
	otherAnalyst := a.client(t)
	oa := otherAnalyst.signIn("analyst@globex.example")
	osc, err := a.store.Open(t.Context(), om.Instance.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := osc.SetRole(t.Context(), oa.Member.ID, tenant.RoleAnalyst); err != nil {
		t.Fatal(err)
	}
	var zero summaryDoc
	otherAnalyst.do("GET", "/api/v1/analytics/summary"+q, nil).json(t, &zero)
	if zero != (summaryDoc{}) {
		t.Errorf("another instance's summary: %+v", zero)
	}
	secrets := append([]string{post, f.instance, "Employee", "HYPERLINK"}, f.ids...)
	for _, c := range []*client{other, otherAnalyst} {
		for _, p := range append(paths, "/api/v1/analytics/me") {
			for _, format := range []string{"", "&format=csv"} {
				res := c.do("GET", p+q+format, nil)
				if res.status != http.StatusOK {
					t.Errorf("%s%s: %d", p, format, res.status)
				}
				for _, s := range secrets {
					if strings.Contains(string(res.body), s) {
						t.Errorf("%s%s shows A's %q: %s", p, format, s, res.body)
					}
				}
			}
		}
	}
}

// Reach settings are validated, naming each bad field.
func TestReachSettingsValidation(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	res := admin.sendingMalformed().do("PATCH", "/api/v1/instance/settings", map[string]any{"time_zone": "Mars/Olympus",
		"cpc": map[string]any{"amount": -1, "currency": "EURO"}, "min_group_size": 0,
		"points": map[string]any{"per_share": 0, "per_unique_click": 5000}})
	p := res.problem(t)
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	slices.Sort(fields)
	if diff := cmp.Diff([]string{"cpc.amount", "cpc.currency", "min_group_size", "points.per_share", "points.per_unique_click", "time_zone"}, fields); diff != "" {
		t.Errorf("%d: fields (-want +got):\n%s", res.status, diff)
	}
	for _, bad := range []map[string]any{{"cpc": map[string]any{"amount": 1, "currency": "XYZ"}}, {"time_zone": "Local"},
		{"cpc": map[string]any{"amount": 1, "currency": "EUR", "extra": 1}}} {
		if res := admin.do("PATCH", "/api/v1/instance/settings", bad); res.status != http.StatusBadRequest {
			t.Errorf("%v: %d %s", bad, res.status, res.body)
		}
	}
	var inst struct {
		Settings struct {
			TimeZone     string       `json:"time_zone"`
			CPC          tenant.Money `json:"cpc"`
			MinGroupSize int          `json:"min_group_size"`
			Points       tenant.Points
		}
	}
	admin.do("GET", "/api/v1/instance", nil).json(t, &inst)
	if inst.Settings.TimeZone != "UTC" || inst.Settings.MinGroupSize != 1 || inst.Settings.Points.PerShare != 10 {
		t.Errorf("defaults: %+v", inst.Settings)
	}
	res = admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"time_zone": "Europe/Helsinki",
		"cpc": map[string]any{"amount": 150, "currency": "sek"}, "min_group_size": 5, "leaderboard_visible": true,
		"points": map[string]any{"per_share": 3, "per_unique_click": 2}})
	res.json(t, &inst)
	if res.status != http.StatusOK || inst.Settings.TimeZone != "Europe/Helsinki" || inst.Settings.CPC != (tenant.Money{Amount: 150, Currency: "SEK"}) ||
		inst.Settings.MinGroupSize != 5 || inst.Settings.Points != (tenant.Points{PerShare: 3, PerUniqueClick: 2}) {
		t.Errorf("stored: %d %+v", res.status, inst.Settings)
	}
}

// A share whose publication was unconfirmed counts once the reconciler
// finds its post, and not before.
func TestResolvedShareCounts(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	a.mastodon.DelayAnswers(5 * time.Second)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	inst := a.mustInstance(t, employee)
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	err = w.Handler().ProcessTask(ctx, task.Publish(inst, out.Items[0].ID))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	a.mastodon.DelayAnswers(0)
	sc, err := a.store.Open(t.Context(), inst)
	if err != nil {
		t.Fatal(err)
	}
	svc := reach.New(reach.Config{})
	if sum, _ := svc.Summary(t.Context(), sc, everything()); sum.Shares != 0 {
		t.Fatalf("an unconfirmed share counts: %+v", sum)
	}
	a.clock.Add(time.Minute)
	if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
		t.Fatal(err)
	}
	if sh, _ := social.ShareByID(t.Context(), sc, out.Items[0].ID); sh.State != social.SharePublished {
		t.Fatalf("the reconciler did not find the post: %+v", sh)
	}
	if sum, _ := svc.Summary(t.Context(), sc, everything()); sum.Shares != 1 {
		t.Errorf("the resolved share does not count: %+v", sum)
	}
}
