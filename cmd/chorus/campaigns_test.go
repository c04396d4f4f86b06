package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chorushq/chorus/content"
)

// campaignDoc is a campaign as the API shows it.
type campaignDoc struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Goal        struct {
		Metric string `json:"metric"`
		Target int64  `json:"target"`
	} `json:"goal"`
	Archived bool   `json:"archived"`
	Status   string `json:"status"`
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// createCampaign creates a campaign through c and returns it.
func createCampaign(t *testing.T, c *client, body map[string]any) campaignDoc {
	t.Helper()
	res := c.do("POST", "/api/v1/campaigns", body)
	if res.status != http.StatusCreated {
		t.Fatalf("create campaign: %d %s", res.status, res.body)
	}
	var cp campaignDoc
	res.json(t, &cp)
	return cp
}

// TestCampaignsCRUD: curators create, list (cursor pages), read, edit and
// archive campaigns; employees see only the running ones; bad input is
// answered with problem+json naming the fields; the actions are audited.
func TestCampaignsCRUD(t *testing.T) {
	a := newTestApp(t, nil)
	admin, curator, employee := a.roles(t, "camp.example")
	now := a.clock.Now()

	if res := employee.do("POST", "/api/v1/campaigns", map[string]any{"name": "x"}); res.status != http.StatusForbidden {
		t.Errorf("employee create = %d, want 403", res.status)
	}
	if res := employee.do("GET", "/api/v1/campaigns", nil); res.status != http.StatusForbidden {
		t.Errorf("employee list = %d, want 403", res.status)
	}

	valid := func() map[string]any {
		return map[string]any{"name": "Spring launch", "description": "Tell everyone", "start": rfc(now.Add(-time.Hour)),
			"end": rfc(now.Add(7 * 24 * time.Hour)), "goal": map[string]any{"metric": "shares", "target": 10}}
	}
	with := func(k string, v any) map[string]any {
		b := valid()
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		fields []string
	}{
		{"end before start", with("end", rfc(now.Add(-2*time.Hour))), 400, []string{"end"}},
		{"end equals start", with("end", rfc(now.Add(-time.Hour))), 400, []string{"end"}},
		{"too long", with("end", rfc(now.Add(400*24*time.Hour))), 400, []string{"end"}},
		{"bad time", with("start", "tomorrow"), 400, []string{"start"}},
		{"no start", with("start", nil), 400, []string{"start"}},
		{"no name", with("name", "  "), 400, []string{"name"}},
		{"no goal", with("goal", nil), 400, []string{"goal.metric", "goal.target"}},
		{"bad metric", with("goal", map[string]any{"metric": "likes", "target": 5}), 400, []string{"goal.metric"}},
		{"zero target", with("goal", map[string]any{"metric": "clicks", "target": 0}), 400, []string{"goal.target"}},
		{"negative target", with("goal", map[string]any{"metric": "clicks", "target": -3}), 400, []string{"goal.target"}},
		{"fractional target", with("goal", map[string]any{"metric": "clicks", "target": 2.5}), 400, nil},
		{"unknown field", with("colour", "red"), 400, nil},
		{"unknown goal field", with("goal", map[string]any{"metric": "clicks", "target": 5, "$where": "1"}), 400, nil},
		{"operator as name", with("name", map[string]any{"$gt": ""}), 400, nil},
		{"operator as start", with("start", map[string]any{"$ne": nil}), 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := curator.sendingMalformed().do("POST", "/api/v1/campaigns", tc.body)
			p := res.problem(t)
			if res.status != tc.status || p.Code != "validation_failed" {
				t.Fatalf("= %d %s, want %d validation_failed", res.status, res.body, tc.status)
			}
			var got []string
			for _, e := range p.Errors {
				got = append(got, e.Field)
			}
			if tc.fields != nil && strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("fields = %v, want %v", got, tc.fields)
			}
		})
	}

	running := createCampaign(t, curator, valid())
	if running.Status != "active" || running.Goal.Metric != "shares" || running.Goal.Target != 10 {
		t.Errorf("created = %+v", running)
	}
	later := createCampaign(t, curator, with("start", rfc(now.Add(48*time.Hour))))
	if later.Status != "scheduled" {
		t.Errorf("later status = %q, want scheduled", later.Status)
	}
	var ids []string
	for i := range 3 {
		ids = append(ids, createCampaign(t, admin, with("start", rfc(now.Add(-time.Duration(i+2)*time.Hour)))).ID)
	}
	// Pages of two, newest start first, until the cursor runs out.
	var seen []string
	cursor := ""
	for range 5 {
		var page struct {
			Items      []campaignDoc `json:"items"`
			NextCursor *string       `json:"next_cursor"`
		}
		res := curator.do("GET", "/api/v1/campaigns?limit=2"+cursor, nil)
		if res.status != http.StatusOK {
			t.Fatalf("list: %d %s", res.status, res.body)
		}
		res.json(t, &page)
		for _, c := range page.Items {
			seen = append(seen, c.ID)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	want := append([]string{later.ID, running.ID}, ids...)
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("pages = %v, want %v", seen, want)
	}
	if res := curator.do("GET", "/api/v1/campaigns?cursor=bogus", nil); res.status != http.StatusBadRequest {
		t.Errorf("bad cursor = %d, want 400", res.status)
	}

	// Edit: end after start still holds on the merged campaign.
	if res := curator.do("PATCH", "/api/v1/campaigns/"+running.ID, map[string]any{"end": rfc(now.Add(-3 * time.Hour))}); res.status != http.StatusBadRequest {
		t.Errorf("edit end before start = %d %s, want 400", res.status, res.body)
	}
	res := curator.do("PATCH", "/api/v1/campaigns/"+running.ID, map[string]any{"name": "Spring launch 2", "goal": map[string]any{"metric": "clicks", "target": 50}})
	var edited campaignDoc
	res.json(t, &edited)
	if res.status != http.StatusOK || edited.Name != "Spring launch 2" || edited.Goal.Metric != "clicks" || edited.Description != "Tell everyone" {
		t.Errorf("edit = %d %+v", res.status, edited)
	}

	// Employees see the running ones only (not the scheduled one).
	var active struct{ Items []campaignDoc }
	employee.do("GET", "/api/v1/campaigns/active", nil).json(t, &active)
	if len(active.Items) != 4 || active.Items[0].ID != running.ID && active.Items[0].End.After(running.End) {
		t.Errorf("active = %+v, want the four running ones", active.Items)
	}
	for _, c := range active.Items {
		if c.ID == later.ID {
			t.Errorf("scheduled campaign among the active ones")
		}
	}

	// Archive: gone from the live list and the feed's strip, listed as
	// archived, frozen.
	if res := curator.do("DELETE", "/api/v1/campaigns/"+running.ID, nil); res.status != http.StatusNoContent {
		t.Fatalf("archive: %d %s", res.status, res.body)
	}
	if res := curator.do("DELETE", "/api/v1/campaigns/"+running.ID, nil); res.status != http.StatusConflict || res.problem(t).Code != "campaign_archived" {
		t.Errorf("archive twice = %d %s, want 409 campaign_archived", res.status, res.body)
	}
	if res := curator.do("PATCH", "/api/v1/campaigns/"+running.ID, map[string]any{"name": "x"}); res.status != http.StatusConflict {
		t.Errorf("edit archived = %d, want 409", res.status)
	}
	employee.do("GET", "/api/v1/campaigns/active", nil).json(t, &active)
	var archived struct{ Items []campaignDoc }
	curator.do("GET", "/api/v1/campaigns?archived=1", nil).json(t, &archived)
	if len(active.Items) != 3 || len(archived.Items) != 1 || archived.Items[0].Status != "archived" {
		t.Errorf("after archive: active %d, archived %+v", len(active.Items), archived.Items)
	}
	if res := curator.do("GET", "/api/v1/campaigns/nope", nil); res.status != http.StatusNotFound {
		t.Errorf("unknown id = %d, want 404", res.status)
	}

	// Audited like other curator actions.
	var audit struct {
		Items []struct{ Action, Target string }
	}
	admin.do("GET", "/api/v1/audit?limit=100", nil).json(t, &audit)
	var actions []string
	for _, e := range audit.Items {
		if e.Target == running.ID {
			actions = append(actions, e.Action)
		}
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, "campaign.created") || !strings.Contains(got, "campaign.edited") || !strings.Contains(got, "campaign.archived") {
		t.Errorf("audit of the campaign = %v", actions)
	}
}

// TestCampaignPosts: a post joins a campaign from the editor (campaign_id),
// the feed filters by campaign, an archived or unknown campaign is
// refused.
func TestCampaignPosts(t *testing.T) {
	a := newTestApp(t, nil)
	_, curator, employee := a.roles(t, "camp.example")
	now := a.clock.Now()
	cp := createCampaign(t, curator, map[string]any{"name": "Week", "start": rfc(now.Add(-time.Hour)), "end": rfc(now.Add(24 * time.Hour)),
		"goal": map[string]any{"metric": "clicks", "target": 3}})
	res := curator.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/in"), "title": "In", "campaign_id": cp.ID})
	var in struct {
		ID         string `json:"id"`
		CampaignID string `json:"campaign_id"`
	}
	res.json(t, &in)
	if res.status != http.StatusCreated || in.CampaignID != cp.ID {
		t.Fatalf("post in campaign = %d %s", res.status, res.body)
	}
	var out struct{ ID string }
	curator.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/out"), "title": "Out"}).json(t, &out)
	if res := curator.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/x"), "campaign_id": "0123456789abcdef0123456789abcdef"}); res.status != http.StatusNotFound {
		t.Errorf("unknown campaign = %d %s, want 404", res.status, res.body)
	}
	var feed struct{ Items []struct{ ID string } }
	employee.do("GET", "/api/v1/content?campaign="+cp.ID, nil).json(t, &feed)
	if len(feed.Items) != 1 || feed.Items[0].ID != in.ID {
		t.Errorf("campaign feed = %+v, want the one post", feed.Items)
	}
	if res := employee.do("GET", "/api/v1/content?campaign=$ne", nil); res.status != http.StatusBadRequest {
		t.Errorf("bad campaign filter = %d, want 400", res.status)
	}
	// Moved in from the editor, then out again.
	if res := curator.do("PATCH", "/api/v1/content/"+out.ID, map[string]any{"campaign_id": cp.ID}); res.status != http.StatusOK {
		t.Fatalf("move in: %d %s", res.status, res.body)
	}
	employee.do("GET", "/api/v1/content?campaign="+cp.ID, nil).json(t, &feed)
	if len(feed.Items) != 2 {
		t.Errorf("campaign feed after move = %d posts, want 2", len(feed.Items))
	}
	if res := curator.do("PATCH", "/api/v1/content/"+out.ID, map[string]any{"campaign_id": ""}); res.status != http.StatusOK {
		t.Fatalf("move out: %d %s", res.status, res.body)
	}
	employee.do("GET", "/api/v1/content?campaign="+cp.ID, nil).json(t, &feed)
	if len(feed.Items) != 1 {
		t.Errorf("campaign feed after move out = %d posts, want 1", len(feed.Items))
	}
	if res := curator.do("DELETE", "/api/v1/campaigns/"+cp.ID, nil); res.status != http.StatusNoContent {
		t.Fatal(res.status)
	}
	if res := curator.do("PATCH", "/api/v1/content/"+out.ID, map[string]any{"campaign_id": cp.ID}); res.status != http.StatusConflict || res.problem(t).Code != "campaign_archived" {
		t.Errorf("into archived = %d %s, want 409 campaign_archived", res.status, res.body)
	}
}

// TestCampaignProgress: shares and clicks of the campaign's posts count
// inside its window only; the goal's percent and pace follow.
func TestCampaignProgress(t *testing.T) {
	f := newReachFixture(t, 2)
	a := f.a
	now := a.clock.Now()
	// Running now for two days; goal 4 clicks.
	cp := createCampaign(t, f.admin, map[string]any{"name": "Now", "start": rfc(now.Add(-time.Hour)), "end": rfc(now.Add(48 * time.Hour)),
		"goal": map[string]any{"metric": "clicks", "target": 4}})
	// Ended days ago: today's activity is outside it.
	past := createCampaign(t, f.admin, map[string]any{"name": "Past", "start": rfc(now.Add(-10 * 24 * time.Hour)), "end": rfc(now.Add(-5 * 24 * time.Hour)),
		"goal": map[string]any{"metric": "shares", "target": 1}})
	progress := func(id string) content.Progress {
		t.Helper()
		var p content.Progress
		res := f.admin.do("GET", "/api/v1/campaigns/"+id+"/progress", nil)
		if res.status != http.StatusOK {
			t.Fatalf("progress: %d %s", res.status, res.body)
		}
		res.json(t, &p)
		return p
	}
	if p := progress(cp.ID); p.Value != 0 || p.Posts != 0 || p.Status != "active" {
		t.Errorf("empty progress = %+v", p)
	}
	post := f.post(t, "campaign-post", nil)
	other := f.post(t, "other-post", nil)
	old := f.post(t, "old-post", nil)
	for id, campaign := range map[string]string{post: cp.ID, old: past.ID} {
		if res := f.admin.do("PATCH", "/api/v1/content/"+id, map[string]any{"campaign_id": campaign}); res.status != http.StatusOK {
			t.Fatalf("into campaign: %d %s", res.status, res.body)
		}
	}
	l0, l1 := f.share(t, 0, post), f.share(t, 1, post)
	lo := f.share(t, 0, other)
	lold := f.share(t, 1, old)
	for i, link := range []string{l0, l0, l1, lo, lo, lold} {
		a.client(t).do("GET", link, nil, "User-Agent", fmt.Sprintf("Mozilla/5.0 visitor %d", i))
	}
	f.waitClicks(t, 6)
	p := progress(cp.ID)
	if p.Shares != 2 || p.Clicks != 3 || p.Value != 3 || p.Percent != 75 || p.Posts != 1 || p.Target != 4 || p.Metric != "clicks" {
		t.Errorf("progress = %+v, want 2 shares, 3 clicks of the campaign's post, 75%%", p)
	}
	if !p.OnTrack || p.ElapsedPercent > 5 {
		t.Errorf("pace = %+v, want on track early in the window", p)
	}
	if p := progress(past.ID); p.Shares != 0 || p.Clicks != 0 || p.Posts != 1 || p.Status != "ended" || p.OnTrack {
		t.Errorf("past campaign = %+v, want nothing counted (activity after its end)", p)
	}

	// Three days on the campaign has ended: later clicks do not count.
	a.clock.Add(72 * time.Hour)
	a.client(t).do("GET", l0, nil, "User-Agent", "Mozilla/5.0 late visitor")
	f.waitClicks(t, 7)
	p = progress(cp.ID)
	if p.Clicks != 3 || p.Status != "ended" || p.ElapsedPercent != 100 || p.Expected != 4 || p.OnTrack {
		t.Errorf("after the end = %+v, want 3 clicks, ended, behind its goal", p)
	}
	if res := f.employees[0].do("GET", "/api/v1/campaigns/"+cp.ID+"/progress", nil); res.status != http.StatusForbidden {
		t.Errorf("employee progress = %d, want 403", res.status)
	}
}
