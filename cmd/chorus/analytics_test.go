package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
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
	// As the worker would (the queue's clock is not the test's).
	w, err := jobs.NewWorker(jobs.Config{Store: f.a.store, Social: f.a.social})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(f.instance, out.Items[0].ID)); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(out.Items[0].TrackedURL)
	return u.Path
}

// clicks waits until the recorder has stored n clicks in all.
func (f *reachFixture) waitClicks(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for f.a.redirector.Stored() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the recorder stored %d clicks, want %d", f.a.redirector.Stored(), n)
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
	want := reach.Summary{From: sum.From, To: sum.To, Shares: int64(len(links)), Clicks: humans, UniqueClicks: sum.UniqueClicks,
		PotentialReach: reachSum, Reactions: sum.Reactions, Comments: sum.Comments, Reposts: sum.Reposts, Engagement: engagement,
		EarnedMediaValue: tenant.Money{Amount: humans * 35, Currency: "EUR"}}
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

	var out strings.Builder
	if err := run(t.Context(), []string{"analytics", "rebuild", "--instance", f.instance}, mongoEnv(a), &out); err != nil {
		t.Fatalf("chorus analytics rebuild: %v\n%s", err, out.String())
	}
	t.Log(strings.TrimSpace(out.String()))
	rebuilt, err := svc.Rollups(t.Context(), sc, everything())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(incremental, rebuilt); diff != "" {
		t.Errorf("incremental rollups differ from the rebuild (-incremental +rebuilt):\n%s", diff)
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
