package main

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/jobs/task"
)

// TestNetworksListEverySupportedNetworkWithItsState: networks the
// deployment does not serve are listed as not_configured, the others as
// allowed or not_allowed; allowing one not configured says why it cannot.
func TestNetworksListEverySupportedNetworkWithItsState(t *testing.T) {
	a, employee, _, _ := shareSetup(t) // Mastodon allowed; LinkedIn, X, Facebook have no credentials here
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	var list struct {
		Items []struct {
			Name    string `json:"name"`
			State   string `json:"state"`
			Allowed bool   `json:"allowed"`
		} `json:"items"`
	}
	employee.do("GET", "/api/v1/networks", nil).json(t, &list)
	var got []string
	for _, n := range list.Items {
		got = append(got, n.Name+":"+n.State)
		if n.Allowed != (n.State == "allowed") {
			t.Errorf("%s: allowed %v with state %s", n.Name, n.Allowed, n.State)
		}
	}
	want := []string{"mastodon:allowed", "bluesky:not_allowed", "linkedin:not_configured", "x:not_configured", "facebook:not_configured"}
	if !slices.Equal(got, want) {
		t.Errorf("networks %v, want %v", got, want)
	}
	res := admin.do("PUT", "/api/v1/networks/linkedin", nil)
	if p := res.problem(t); res.status != http.StatusConflict || p.Code != "network_not_configured" || !strings.Contains(p.Detail, "operator") {
		t.Errorf("allowing a network not configured: %d %s, want 409 network_not_configured naming the operator", res.status, res.body)
	}
	if res := admin.do("PUT", "/api/v1/networks/myspace", nil); res.status != http.StatusNotFound {
		t.Errorf("an unknown network: %d, want 404", res.status)
	}
}

// TestLinkShareIsAPublishedShareWithItsOwnTrackedLink: "Copy tracked
// link" makes a share on the link channel, published at once and never
// queued, that My shares, the tracked redirect and the analytics count.
func TestLinkShareIsAPublishedShareWithItsOwnTrackedLink(t *testing.T) {
	a, employee, _, postID := shareSetup(t)
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	res := employee.do("POST", "/api/v1/content/"+postID+"/link", nil)
	var sh shareDoc
	res.json(t, &sh)
	if res.status != http.StatusCreated || sh.Network != "link" || sh.State != "published" || !strings.Contains(sh.TrackedURL, "/r/") {
		t.Fatalf("link share: %d %s", res.status, res.body)
	}
	res = employee.do("POST", "/api/v1/content/"+postID+"/link", nil)
	var again shareDoc
	res.json(t, &again)
	if res.status != http.StatusOK || again.ID != sh.ID || again.TrackedURL != sh.TrackedURL {
		t.Errorf("a second copy: %d %s, want 200 with the same share", res.status, res.body)
	}
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	if queued, err := insp.ListPendingTasks(task.QueueCritical); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	} else if len(queued) != 0 {
		t.Errorf("%d publish tasks queued for a link share, want none", len(queued))
	}
	var mine struct{ Items []shareDoc }
	employee.do("GET", "/api/v1/shares", nil).json(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].ID != sh.ID || mine.Items[0].ContentTitle != "Launch" {
		t.Errorf("my shares: %+v, want the link share", mine.Items)
	}
	// Another member gets a link of their own.
	dave := a.client(t)
	dave.signIn("dave@acme.example")
	var daves shareDoc
	dave.do("POST", "/api/v1/content/"+postID+"/link", nil).json(t, &daves)
	if daves.ID == "" || daves.ID == sh.ID || daves.TrackedURL == sh.TrackedURL {
		t.Errorf("dave's link share %+v is carol's %+v", daves, sh)
	}

	counted := clicksCounted(a)
	u, _ := url.Parse(sh.TrackedURL)
	visitor := a.client(t)
	click := visitor.do("GET", u.Path, nil, "User-Agent", "Mozilla/5.0")
	if click.status != http.StatusFound || !strings.Contains(click.header.Get("Location"), "utm_source=link") {
		t.Fatalf("the tracked link: %d %s", click.status, click.header.Get("Location"))
	}
	if err := waitCounted(a, counted+1, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	today := a.clock.Now().UTC().Format(time.DateOnly)
	var sum struct {
		Shares         int64 `json:"shares"`
		Clicks         int64 `json:"clicks"`
		MembersSharing int64 `json:"members_sharing"`
	}
	admin.do("GET", "/api/v1/analytics/summary?from="+today+"&to="+today, nil).json(t, &sum)
	if sum.Shares != 2 || sum.Clicks != 1 || sum.MembersSharing != 2 {
		t.Errorf("summary %+v, want 2 shares, 1 click, 2 members sharing", sum)
	}
	var nets struct {
		Items []struct {
			ID     string `json:"id"`
			Shares int64  `json:"shares"`
			Clicks int64  `json:"clicks"`
		} `json:"items"`
	}
	admin.do("GET", "/api/v1/analytics/networks?from="+today+"&to="+today, nil).json(t, &nets)
	if len(nets.Items) != 1 || nets.Items[0].ID != "link" || nets.Items[0].Shares != 2 || nets.Items[0].Clicks != 1 {
		t.Errorf("analytics per network: %+v, want the link channel with 2 shares and 1 click", nets.Items)
	}

	if res := employee.do("POST", "/api/v1/content/"+postID+"/link", map[string]any{"text": "x"}); res.status != http.StatusBadRequest {
		t.Errorf("a body with fields: %d, want 400", res.status)
	}
	if res := employee.do("POST", "/api/v1/content/aaaaaaaaaaaaaaaaaaaaaaaaaa/link", nil); res.status != http.StatusNotFound {
		t.Errorf("an unknown content: %d, want 404", res.status)
	}
}
