package main

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/jobs/task"
)

// testPages is a web server on loopback whose pages content links to, and
// a real preview fetcher allowed to reach exactly that server.
type testPages struct {
	srv     *httptest.Server
	fetcher *preview.Fetcher
	mu      sync.Mutex
	hits    int
}

func newTestPages(t *testing.T) *testPages {
	t.Helper()
	p := &testPages{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.hits++
		p.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<html><head><title>t</title><meta property="og:title" content="%s">
<meta property="og:description" content="About %s"><meta property="og:image" content="/img.png"></head></html>`,
			html.EscapeString("Story "+r.URL.Path), html.EscapeString(r.URL.Path))
	}))
	t.Cleanup(p.srv.Close)
	addr := netip.MustParseAddrPort(p.srv.Listener.Addr().String())
	p.fetcher = preview.New(preview.Config{
		Ports:         []int{int(addr.Port())},
		AllowPrefixes: []netip.Prefix{netip.PrefixFrom(addr.Addr(), 32)},
	})
	return p
}

func (p *testPages) url(path string) string { return p.srv.URL + path }

// roles signs in an admin, a curator and an employee of one domain.
func (a *testApp) roles(t *testing.T, domain string) (admin, curator, employee *client) {
	t.Helper()
	admin = a.client(t)
	admin.signIn("admin@" + domain)
	curator = a.client(t)
	cm := curator.signIn("curator@" + domain)
	// Role changes by API come with the admin console; set it directly.
	sc, err := a.store.Open(t.Context(), cm.Instance.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.SetRole(t.Context(), cm.Member.ID, "curator"); err != nil {
		t.Fatal(err)
	}
	employee = a.client(t)
	employee.signIn("employee@" + domain)
	return admin, curator, employee
}

type postDoc struct {
	ID         string            `json:"id"`
	State      string            `json:"state"`
	URL        string            `json:"url"`
	Title      string            `json:"title"`
	Commentary string            `json:"commentary"`
	ShareTexts map[string]string `json:"share_texts"`
	Topics     []string          `json:"topics"`
	Reason     string            `json:"reason"`
	PublishAt  time.Time         `json:"publish_at"`
	ExpiresAt  *time.Time        `json:"expires_at"`
	Preview    struct {
		Title    string `json:"title"`
		ImageURL string `json:"image_url"`
		Status   string `json:"status"`
	} `json:"preview"`
}

func TestContentLifecycle(t *testing.T) {
	a := newTestApp(t, nil)
	admin, curator, employee := a.roles(t, "acme.example")

	if res := admin.do("POST", "/api/v1/topics", map[string]string{"name": "Product News"}); res.status != http.StatusCreated {
		t.Fatalf("create topic: %d %s", res.status, res.body)
	}
	if res := curator.do("POST", "/api/v1/topics", map[string]string{"name": "Other"}); res.status != http.StatusForbidden {
		t.Errorf("curator creating a topic: %d, want 403", res.status)
	}
	res := curator.do("POST", "/api/v1/content", map[string]any{
		"url": a.pages.url("/launch"), "title": "Launch", "commentary": "Big day",
		"share_texts": map[string]string{"x": "We launched!", "linkedin": "Proud of the team"},
		"topics":      []string{"product-news"},
	})
	if res.status != http.StatusCreated {
		t.Fatalf("create content: %d %s", res.status, res.body)
	}
	var p postDoc
	res.json(t, &p)
	if p.State != "published" || p.Preview.Status != "ok" || p.Preview.Title != "Story /launch" || p.Preview.ImageURL != a.pages.url("/img.png") {
		t.Errorf("created = %+v", p)
	}

	if res := employee.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/x")}); res.status != http.StatusForbidden {
		t.Errorf("employee creating curated content: %d, want 403", res.status)
	}
	var feed struct {
		Items []postDoc `json:"items"`
	}
	employee.do("GET", "/api/v1/content?topic=product-news", nil).json(t, &feed)
	if len(feed.Items) != 1 || feed.Items[0].ID != p.ID {
		t.Errorf("employee feed = %+v", feed.Items)
	}
	if res := employee.do("GET", "/api/v1/content?state=draft", nil); res.status != http.StatusForbidden {
		t.Errorf("employee asking for drafts: %d, want 403", res.status)
	}
	// Following topics filters the feed.
	employee.do("GET", "/api/v1/content?followed=1", nil).json(t, &feed)
	if len(feed.Items) != 0 {
		t.Errorf("followed feed without followed topics = %d items", len(feed.Items))
	}
	if res := employee.do("PATCH", "/api/v1/members/me", map[string]any{"topics": []string{"product-news"}}); res.status != http.StatusOK {
		t.Fatalf("follow: %d %s", res.status, res.body)
	}
	employee.do("GET", "/api/v1/content?followed=1", nil).json(t, &feed)
	if len(feed.Items) != 1 {
		t.Errorf("followed feed = %d items, want 1", len(feed.Items))
	}
	if res := employee.do("PATCH", "/api/v1/members/me", map[string]any{"topics": []string{"nonsense"}}); res.status != http.StatusBadRequest {
		t.Errorf("following an unknown topic: %d, want 400", res.status)
	}

	// Suggest → reject with a reason the suggester sees → suggest → approve.
	res = employee.do("POST", "/api/v1/suggestions", map[string]any{"url": a.pages.url("/idea"), "commentary": "worth sharing"})
	var s postDoc
	res.json(t, &s)
	if res.status != http.StatusCreated || s.State != "pending" {
		t.Fatalf("suggest: %d %s", res.status, res.body)
	}
	if res := curator.do("POST", "/api/v1/content/"+s.ID+"/reject", map[string]string{"reason": "off topic"}); res.status != http.StatusOK {
		t.Fatalf("reject: %d %s", res.status, res.body)
	}
	if res := curator.do("POST", "/api/v1/content/"+s.ID+"/approve", nil); res.status != http.StatusConflict || res.problem(t).Code != "wrong_state" {
		t.Errorf("approving a rejected suggestion: %d %s, want 409", res.status, res.body)
	}
	var mine struct {
		Items []postDoc `json:"items"`
	}
	employee.do("GET", "/api/v1/suggestions", nil).json(t, &mine)
	if len(mine.Items) != 1 || mine.Items[0].State != "rejected" || mine.Items[0].Reason != "off topic" {
		t.Errorf("my suggestions = %+v", mine.Items)
	}
	employee.do("POST", "/api/v1/suggestions", map[string]any{"url": a.pages.url("/idea2")}).json(t, &s)
	res = curator.do("POST", "/api/v1/content/"+s.ID+"/approve", map[string]any{"title": "Edited on approval"})
	var approved postDoc
	res.json(t, &approved)
	if res.status != http.StatusOK || approved.State != "published" || approved.Title != "Edited on approval" {
		t.Errorf("approve with edit: %d %s", res.status, res.body)
	}

	// Where suggestions need no approval, they publish at once.
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"suggestions_need_approval": false}); res.status != http.StatusOK {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	employee.do("POST", "/api/v1/suggestions", map[string]any{"url": a.pages.url("/direct")}).json(t, &s)
	if s.State != "published" {
		t.Errorf("suggestion without approval: state %s, want published", s.State)
	}

	// Archive hides it; archiving twice is a conflict.
	if res := curator.do("DELETE", "/api/v1/content/"+p.ID, nil); res.status != http.StatusNoContent {
		t.Errorf("archive: %d %s", res.status, res.body)
	}
	if res := curator.do("DELETE", "/api/v1/content/"+p.ID, nil); res.status != http.StatusConflict {
		t.Errorf("archive twice: %d, want 409", res.status)
	}
	if res := employee.do("GET", "/api/v1/content/"+p.ID, nil); res.status != http.StatusNotFound {
		t.Errorf("employee GET archived: %d, want 404", res.status)
	}
}

func TestContentValidation(t *testing.T) {
	a := newTestApp(t, nil)
	_, curator, _ := a.roles(t, "acme.example")
	tests := []struct {
		name      string
		body      map[string]any
		wantField string
	}{
		{"javascript URL", map[string]any{"url": "javascript:alert(1)"}, "url"},
		{"credentials in URL", map[string]any{"url": "https://u:p@news.example/"}, "url"},
		{"long URL", map[string]any{"url": "https://news.example/" + strings.Repeat("a", 2100)}, "url"},
		{"missing URL", map[string]any{"title": "x"}, "url"},
		{"X text too long", map[string]any{"url": "https://news.example/", "share_texts": map[string]string{"x": strings.Repeat("a", 270)}}, "share_texts.x"},
		{"unknown network", map[string]any{"url": "https://news.example/", "share_texts": map[string]string{"myspace": "hi"}}, "share_texts.myspace"},
		{"unknown topic", map[string]any{"url": "https://news.example/", "topics": []string{"nope"}}, "topics"},
		{"bad time", map[string]any{"url": "https://news.example/", "publish_at": "tomorrow"}, "publish_at"},
		{"expiry before publish", map[string]any{"url": "https://news.example/", "expires_at": "2000-01-01T00:00:00Z"}, "expires_at"},
		{"mongo operator", map[string]any{"url": map[string]string{"$ne": ""}}, "url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := curator.sendingMalformed().do("POST", "/api/v1/content", tt.body)
			p := res.problem(t)
			if res.status != http.StatusBadRequest || len(p.Errors) == 0 || p.Errors[0].Field != tt.wantField {
				t.Errorf("got %d %+v, want 400 naming %s", res.status, p, tt.wantField)
			}
		})
	}
}

func TestContentStoresXSSVerbatim(t *testing.T) {
	a := newTestApp(t, nil)
	_, curator, employee := a.roles(t, "acme.example")
	payloads := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`, `{{constructor.constructor('alert(1)')()}}`}
	for _, x := range payloads {
		res := curator.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/xss"), "title": x, "commentary": x,
			"share_texts": map[string]string{"linkedin": x}})
		var p postDoc
		res.json(t, &p)
		if res.status != http.StatusCreated || p.Title != x || p.Commentary != x || p.ShareTexts["linkedin"] != x {
			t.Errorf("payload %q came back as %+v", x, p)
		}
		got := employee.do("GET", "/api/v1/content/"+p.ID, nil)
		if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("served as %q", ct)
		}
		if strings.Contains(string(got.body), "<script>") {
			t.Errorf("raw HTML in the JSON body: %s", got.body)
		}
	}
}

func TestContentPreviewRefusesPrivateAddresses(t *testing.T) {
	a := newTestApp(t, nil)
	_, curator, _ := a.roles(t, "acme.example")
	// Another loopback server: the fetcher must never reach it.
	secret := newTestPages(t)
	before := secret.hits
	res := curator.do("POST", "/api/v1/content", map[string]any{"url": secret.url("/admin")})
	var p postDoc
	res.json(t, &p)
	if res.status != http.StatusCreated || p.Preview.Status != "failed" {
		t.Fatalf("create with a private URL: %d %s (a failed preview must not fail the create)", res.status, res.body)
	}
	if secret.hits != before {
		t.Errorf("the private server was contacted %d times", secret.hits-before)
	}
	// The retry was queued, carrying only IDs.
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	tasks, err := insp.ListPendingTasks(task.QueueLow)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || tasks[0].Type != task.TypePreview || !strings.Contains(string(tasks[0].Payload), p.ID) ||
		strings.Contains(string(tasks[0].Payload), "/admin") {
		t.Errorf("queued tasks = %+v", tasks)
	}
}

func TestApproveRaceOverHTTP(t *testing.T) {
	a := newTestApp(t, nil)
	admin, curator, employee := a.roles(t, "acme.example")
	var s postDoc
	employee.do("POST", "/api/v1/suggestions", map[string]any{"url": a.pages.url("/race")}).json(t, &s)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, c := range []*client{admin, curator} {
		wg.Go(func() { codes[i] = c.do("POST", "/api/v1/content/"+s.ID+"/approve", nil).status })
	}
	wg.Wait()
	if !(codes[0] == 200 && codes[1] == 409 || codes[0] == 409 && codes[1] == 200) {
		t.Errorf("two approvals answered %v, want one 200 and one 409", codes)
	}
}
