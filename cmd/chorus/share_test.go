package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social"
)

type shareDoc struct {
	ID, State, Network, Error string
	ContentTitle              string `json:"content_title"`
	TrackedURL                string `json:"tracked_url"`
	PostURL                   string `json:"post_url"`
}

// shareSetup: a verified instance with Mastodon allowed, an employee with
// a connection, a published post.
func shareSetup(t *testing.T) (a *testApp, employee *client, connID, postID string) {
	t.Helper()
	return shareSetupEnv(t, nil)
}

// shareSetupEnv is shareSetup with the app configured by env.
func shareSetupEnv(t *testing.T, env map[string]string) (a *testApp, employee *client, connID, postID string) {
	t.Helper()
	a = newTestApp(t, env)
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	if res := admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusOK {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	employee = a.client(t)
	employee.signIn("carol@acme.example")
	connID = a.connectMastodon(t, employee)
	var p struct{ ID string }
	admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/launch?ref=site"), "title": "Launch",
		"share_texts": map[string]string{"mastodon": "We launched!"}}).json(t, &p)
	return a, employee, connID, p.ID
}

// metricValue is the value /metrics shows for the sample named
// name{labels}, or "" when it shows none.
func metricValue(t *testing.T, a *testApp, sample string) string {
	t.Helper()
	res, err := http.Get(a.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, sample+" "); ok {
			return v
		}
	}
	return ""
}

// runPublishTasks runs the queued share:publish tasks as the worker would.
func runPublishTasks(t *testing.T, a *testApp) int {
	t.Helper()
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	tasks, err := insp.ListPendingTasks(task.QueueCritical)
	if err != nil {
		t.Fatal(err)
	}
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tasks {
		if err := w.Handler().ProcessTask(context.Background(), asynq.NewTask(tk.Type, tk.Payload)); err != nil {
			t.Fatalf("publish task: %v", err)
		}
	}
	return len(tasks)
}

func TestShareToMastodonAndTrackedLink(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}, "Idempotency-Key", "k1")
	var out struct{ Items []shareDoc }
	res.json(t, &out)
	if res.status != http.StatusAccepted || len(out.Items) != 1 || out.Items[0].State != "queued" || !strings.Contains(out.Items[0].TrackedURL, "/r/") {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	if out.Items[0].ContentTitle != "Launch" {
		t.Errorf("the share's content_title = %q, want the content's title Launch", out.Items[0].ContentTitle)
	}
	// The same request with the same key: the same share, not a second one.
	var again struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}, "Idempotency-Key", "k1").json(t, &again)
	if len(again.Items) != 1 || again.Items[0].ID != out.Items[0].ID {
		t.Errorf("a repeated request made another share: %+v", again.Items)
	}
	if res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "text": "other"}, "Idempotency-Key", "k1"); res.status != http.StatusUnprocessableEntity {
		t.Errorf("the key with another body: %d, want 422", res.status)
	}
	if n := runPublishTasks(t, a); n != 1 {
		t.Fatalf("%d tasks queued, want 1", n)
	}
	// A duplicate delivery of the task posts nothing more.
	w, _ := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), out.Items[0].ID)); err != nil {
		t.Fatal(err)
	}
	if n := len(a.mastodon.Statuses()); n != 1 {
		t.Fatalf("%d posts at the network, want exactly 1", n)
	}
	if st := a.mastodon.Statuses()[0]; !strings.Contains(st.Text, out.Items[0].TrackedURL) || !strings.Contains(st.Text, "We launched!") {
		t.Errorf("posted %q: want the curators' text and the tracked link", st.Text)
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+out.Items[0].ID, nil).json(t, &sh)
	if sh.State != "published" || sh.PostURL == "" {
		t.Errorf("share after publishing: %+v", sh)
	}
	// One call to the network, counted once: the duplicate never called it.
	if got := metricValue(t, a, `chorus_publish_outcomes_total{network="mastodon",outcome="published"}`); got != "1" {
		t.Errorf("published outcomes counted %q, want 1", got)
	}
	var feed struct {
		Items []struct {
			ID       string   `json:"id"`
			SharedTo []string `json:"shared_to"`
		}
	}
	employee.do("GET", "/api/v1/content", nil).json(t, &feed)
	if len(feed.Items) != 1 || len(feed.Items[0].SharedTo) != 1 || feed.Items[0].SharedTo[0] != "mastodon" {
		t.Errorf("the feed does not say where I shared: %+v", feed.Items)
	}
	if res := employee.do("POST", "/api/v1/shares/"+sh.ID+"/cancel", nil); res.status != http.StatusConflict {
		t.Errorf("cancelling a published share: %d, want 409", res.status)
	}

	// The tracked link: 302 to the stored destination with UTM added, the
	// destination's own parameters kept; nothing from the request counts.
	u, _ := url.Parse(sh.TrackedURL)
	visitor := a.client(t)
	for _, path := range []string{u.Path, u.Path + "?url=https://evil.example", u.Path + "?next=//evil.example"} {
		// No proxy is trusted here: a forwarded-for header is not the visitor.
		res := visitor.do("GET", path, nil, "User-Agent", "Mozilla/5.0", "X-Forwarded-For", "9.9.9.9")
		loc, _ := url.Parse(res.header.Get("Location"))
		if res.status != http.StatusFound || loc.Host != strings.TrimPrefix(a.pages.srv.URL, "http://") ||
			loc.Query().Get("ref") != "site" || loc.Query().Get("utm_source") != "mastodon" ||
			loc.Query().Get("utm_medium") != "employee_advocacy" || loc.Query().Get("utm_campaign") != postID {
			t.Errorf("GET %s: %d Location %q", path, res.status, res.header.Get("Location"))
		}
		if res.header.Get("Set-Cookie") != "" {
			t.Errorf("the redirect set a cookie")
		}
		// Redirects take a lean path: still the security headers.
		if res.header.Get("X-Content-Type-Options") != "nosniff" || res.header.Get("Referrer-Policy") == "" {
			t.Errorf("GET %s: security headers missing: %v", path, res.header)
		}
	}
	// Link unfurlers ask with HEAD: the same redirect, and no click.
	if res := visitor.do("HEAD", u.Path, nil, "User-Agent", "Mozilla/5.0"); res.status != http.StatusFound ||
		!strings.Contains(res.header.Get("Location"), "utm_source=mastodon") {
		t.Errorf("HEAD %s: %d Location %q, want 302 to the destination", u.Path, res.status, res.header.Get("Location"))
	}
	if res := visitor.do("GET", "/metrics", nil); !strings.Contains(string(res.body), `route="/r/:code",status="302"`) {
		t.Errorf("redirects are not counted in /metrics")
	}
	visitor.do("GET", u.Path, nil, "User-Agent", "LinkedInBot/1.0")
	for _, bad := range []string{"/r/AAAAAAAAAAAAAAAA", "/r/javascript:alert(1)", "/r/%0d%0aSet-Cookie:x=1", "/r/" + strings.Repeat("a", 100)} {
		if res := visitor.do("GET", bad, nil); res.status != http.StatusNotFound || res.header.Get("Location") != "" ||
			res.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %q %q, want a 404 problem", bad, res.status, res.header.Get("Location"), res.header.Get("Content-Type"))
		}
	}
	if err := a.redirector.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := a.redirector.Stored(); got != 3 {
		t.Errorf("clicks stored = %d, want 3 (the bot not counted)", got)
	}
	all := scanAll(t, a)
	if strings.Contains(all, `"127.0.0.1"`) || !strings.Contains(all, `127.0.0.0/24`) {
		t.Error("click IPs are not truncated to /24")
	}
	if strings.Contains(all, `9.9.9.`) {
		t.Error("an untrusted X-Forwarded-For was taken for the visitor's address")
	}
}

func TestShareRefusals(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	other := a.client(t)
	other.signIn("dave@acme.example")
	if res := other.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}); res.status != http.StatusBadRequest {
		t.Errorf("sharing through someone else's connection: %d, want 400", res.status)
	}
	long := strings.Repeat("x", 600)
	if res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "text": long}); res.status != http.StatusBadRequest {
		t.Errorf("too long for Mastodon: %d, want 400", res.status)
	}
	// Scheduled, then cancelled: the task later does nothing.
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &out)
	if len(out.Items) != 1 || out.Items[0].State != "scheduled" {
		t.Fatalf("scheduled share: %+v", out.Items)
	}
	if res := employee.do("POST", "/api/v1/shares/"+out.Items[0].ID+"/cancel", nil); res.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	// Un-whitelisting between share and publish: nothing is posted.
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	var scheduled struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &scheduled)
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	if res := admin.do("DELETE", "/api/v1/networks/mastodon", nil); res.status != http.StatusNoContent {
		t.Fatalf("un-whitelist: %d", res.status)
	}
	var sched shareDoc
	employee.do("GET", "/api/v1/shares/"+scheduled.Items[0].ID, nil).json(t, &sched)
	if sched.State != "cancelled" || sched.Error == "" {
		t.Errorf("a scheduled share after un-whitelisting: %+v, want cancelled at once with a reason", sched)
	}
	w, _ := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), out.Items[0].ID)); err != nil {
		t.Fatal(err)
	}
	if n := len(a.mastodon.Statuses()); n != 0 {
		t.Errorf("%d posts after un-whitelisting, want 0", n)
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+out.Items[0].ID, nil).json(t, &sh)
	if sh.State != "cancelled" || sh.Error == "" {
		t.Errorf("share after un-whitelisting: %+v", sh)
	}
	// Another instance's task payload naming this share: refused, no effect.
	bob := a.client(t).signIn("bob@globex.example")
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(bob.Instance.ID, out.Items[0].ID)); err == nil || !strings.Contains(err.Error(), "not in instance") {
		t.Errorf("cross-instance payload: %v", err)
	}
}

// mustInstance returns c's instance ID.
func (a *testApp) mustInstance(t *testing.T, c *client) string {
	t.Helper()
	var m me
	c.do("GET", "/api/v1/me", nil).json(t, &m)
	return m.Instance.ID
}

func TestShareWaitsWhenTheNetworkSaysSo(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	a.mastodon.RateLimit(1, time.Now().Add(90*time.Second), true)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	w, _ := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	err := w.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), out.Items[0].ID))
	var re *social.RetryError
	if !errors.As(err, &re) || re.Delay < 30*time.Second {
		t.Fatalf("429: err = %v, want a RetryError of about the Retry-After", err)
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+out.Items[0].ID, nil).json(t, &sh)
	if sh.State != "queued" {
		t.Errorf("after a 429 the share is %s, want queued (not failed)", sh.State)
	}
	// The retry goes through, once.
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), out.Items[0].ID)); err != nil {
		t.Fatal(err)
	}
	employee.do("GET", "/api/v1/shares/"+out.Items[0].ID, nil).json(t, &sh)
	if sh.State != "published" || len(a.mastodon.Statuses()) != 1 {
		t.Errorf("after the retry: %s, %d posts", sh.State, len(a.mastodon.Statuses()))
	}
}

func TestCancelRacesPublish(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	w, _ := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	inst := a.mustInstance(t, employee)
	for range 5 {
		var out struct{ Items []shareDoc }
		employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
		id := out.Items[0].ID
		var cancelStatus int
		var wg sync.WaitGroup
		wg.Go(func() { cancelStatus = employee.do("POST", "/api/v1/shares/"+id+"/cancel", nil).status })
		wg.Go(func() { w.Handler().ProcessTask(context.Background(), task.Publish(inst, id)) })
		wg.Wait()
		var sh shareDoc
		employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
		switch {
		case cancelStatus == http.StatusOK && sh.State == "cancelled":
		case cancelStatus == http.StatusConflict && sh.State == "published":
		default:
			t.Errorf("cancel answered %d and the share is %s: exactly one must win", cancelStatus, sh.State)
		}
	}
	published := 0
	var mine struct{ Items []shareDoc }
	employee.do("GET", "/api/v1/shares?limit=100", nil).json(t, &mine)
	for _, sh := range mine.Items {
		if sh.State == "published" {
			published++
		}
	}
	if published != len(a.mastodon.Statuses()) {
		t.Errorf("%d shares published but %d posts at the network", published, len(a.mastodon.Statuses()))
	}
}

func TestClickRetention(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	u, _ := url.Parse(out.Items[0].TrackedURL)
	a.client(t).do("GET", u.Path, nil)
	if err := a.redirector.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	sc, err := a.store.Open(t.Context(), a.mustInstance(t, employee))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := social.SweepClicks(t.Context(), sc, time.Now()); err != nil || n != 0 {
		t.Errorf("sweep within retention deleted %d (%v), want 0", n, err)
	}
	if n, err := social.SweepClicks(t.Context(), sc, time.Now().AddDate(0, 0, 396)); err != nil || n != 1 {
		t.Errorf("sweep past the default 395 days deleted %d (%v), want 1", n, err)
	}
}

func TestErasureCanDeletePublishedPosts(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}})
	runPublishTasks(t, a)
	if n := len(a.mastodon.Statuses()); n != 1 {
		t.Fatalf("%d posts before erasure", n)
	}
	if res := employee.do("DELETE", "/api/v1/me", map[string]any{"delete_published_posts": true}); res.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", res.status, res.body)
	}
	for _, st := range a.mastodon.Statuses() {
		if !st.Deleted {
			t.Errorf("post %s is still up at the network after erasure with delete_published_posts", st.ID)
		}
	}
	if n := a.mastodon.Calls("POST /oauth/revoke"); n != 1 {
		t.Errorf("token revocations = %d, want 1 (after the deletion)", n)
	}
}

func TestRedisLossIsReconciled(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	id := out.Items[0].ID
	rdb := a.queue.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	// The task as Asynq stores it. (After a flush the client does not
	// register the queue name again, so the inspector cannot list it; the
	// worker, which polls its configured queues, still runs it.)
	taskKey := "asynq:{" + task.QueueCritical + "}:t:" + id
	queued := func() bool { return rdb.Exists(t.Context(), taskKey).Val() == 1 }
	if !queued() {
		t.Fatal("the share's task is not in Redis")
	}
	if err := rdb.FlushDB(t.Context()).Err(); err != nil { // Redis restarted without its data
		t.Fatal(err)
	}
	w, _ := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	// The reconciler runs every minute and queues again what waited a
	// whole interval: at the first run after the flush the share is too
	// fresh, at the second it is back.
	a.clock.Add(30 * time.Second)
	if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
		t.Fatal(err)
	}
	if queued() {
		t.Error("re-queued before it was stale")
	}
	a.clock.Add(time.Minute)
	if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
		t.Fatal(err)
	}
	if !queued() {
		t.Fatal("the share's task is not back at the second reconcile run after the flush")
	}
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), id)); err != nil {
		t.Fatal(err)
	}
	if n := len(a.mastodon.Statuses()); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

func TestRevokedTokenFailsTheShareAndTellsTheMember(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	a.mastodon.RevokeAll() // the member revoked Chorus at their server
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	runPublishTasks(t, a)
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+out.Items[0].ID, nil).json(t, &sh)
	if sh.State != "failed" || !strings.Contains(sh.Error, "needs_reconnect") {
		t.Errorf("share = %+v, want failed with needs_reconnect", sh)
	}
	if res := employee.do("GET", "/api/v1/connections", nil); !strings.Contains(string(res.body), `"needs_reconnect"`) {
		t.Errorf("connection state: %s", res.body)
	}
	var box struct {
		Items []struct{ Subject, Text string }
	}
	employee.do("GET", "/api/v1/dev/mail?to=carol@acme.example", nil).json(t, &box)
	told := 0
	for _, m := range box.Items {
		if strings.Contains(m.Subject, "Reconnect your Mastodon account") {
			told++
		}
	}
	if told != 1 {
		t.Errorf("reconnect mails = %d, want 1: %+v", told, box.Items)
	}
}

func TestExpiringConnectionWarnsAndBlocksLateShares(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	// Make it a connection like LinkedIn's: no refresh token, 3 days left.
	uri, db := a.mongo()
	raw, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	inst := a.mustInstance(t, employee)
	expires := a.clock.Now().Add(72 * time.Hour).UTC().Truncate(time.Millisecond)
	if _, err := raw.Database(db).Collection("t_"+inst+"_connections").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: connID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: expires}}}, {Key: "$unset", Value: bson.D{{Key: "refresh", Value: ""}}}}); err != nil {
		t.Fatal(err)
	}
	late := expires.Add(time.Hour).Format(time.RFC3339)
	res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": late})
	if p := res.problem(t); res.status != http.StatusBadRequest || len(p.Errors) == 0 || p.Errors[0].Field != "publish_at" {
		t.Errorf("a share after the token's expiry: %d %s, want 400 on publish_at", res.status, res.body)
	}
	w, _ := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	for range 2 { // the second run must not mail again
		if err := w.Handler().ProcessTask(t.Context(), task.WarnExpiring()); err != nil {
			t.Fatal(err)
		}
	}
	var box struct{ Items []struct{ Subject string } }
	employee.do("GET", "/api/v1/dev/mail?to=carol@acme.example", nil).json(t, &box)
	warned := 0
	for _, m := range box.Items {
		if strings.Contains(m.Subject, "connection in Chorus expires on") {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("expiry warnings = %d, want 1", warned)
	}
}

// Requests racing with one Idempotency-Key make one share set: the first
// makes it, the others are told the key is in use (409) or replay it.
func TestConcurrentIdempotentSharesMakeOneSet(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	body := map[string]any{"connections": []string{connID}}
	var wg sync.WaitGroup
	results := make([]response, 5)
	for i := range results {
		wg.Go(func() {
			results[i] = employee.do("POST", "/api/v1/content/"+postID+"/shares", body, "Idempotency-Key", "race")
		})
	}
	wg.Wait()
	made := map[string]bool{}
	for _, res := range results {
		switch res.status {
		case http.StatusAccepted:
			var out struct{ Items []shareDoc }
			res.json(t, &out)
			for _, sh := range out.Items {
				made[sh.ID] = true
			}
		case http.StatusConflict:
			if p := res.problem(t); p.Code != "idempotency_key_in_use" {
				t.Errorf("a racing request: 409 %s, want idempotency_key_in_use", res.body)
			}
		default:
			t.Errorf("a racing request: %d %s", res.status, res.body)
		}
	}
	if len(made) != 1 {
		t.Errorf("the racing requests answered %d shares, want 1", len(made))
	}
	var list struct{ Items []shareDoc }
	employee.do("GET", "/api/v1/shares", nil).json(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d shares stored, want 1", len(list.Items))
	}
	// Once the first finished, the key replays its answer.
	var again struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", body, "Idempotency-Key", "race").json(t, &again)
	if len(again.Items) != 1 || again.Items[0].ID != list.Items[0].ID {
		t.Errorf("replay: %+v, want the share %s", again.Items, list.Items[0].ID)
	}
	if res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "text": "other"},
		"Idempotency-Key", "race"); res.status != http.StatusUnprocessableEntity {
		t.Errorf("the key with another body: %d, want 422", res.status)
	}
	runPublishTasks(t, a)
	if n := len(a.mastodon.Statuses()); n != 1 {
		t.Errorf("%d posts at the network, want 1", n)
	}
}

// A connection listed twice is refused, named by its index as sent.
func TestShareConnectionListedTwice(t *testing.T) {
	_, employee, connID, postID := shareSetup(t)
	res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID, connID}})
	if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "connections[1]") || !strings.Contains(string(res.body), "listed twice") {
		t.Errorf("a connection listed twice: %d %s, want 400 naming connections[1]", res.status, res.body)
	}
	var list struct{ Items []shareDoc }
	employee.do("GET", "/api/v1/shares", nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("a refused request made shares: %+v", list.Items)
	}
}

// Offboarding deletes an instance's tracked links: every process stops
// redirecting them once its cached copy runs out (a minute).
func TestDeletedLinksStopRedirecting(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	if len(out.Items) != 1 {
		t.Fatalf("share: %+v", out.Items)
	}
	u, _ := url.Parse(out.Items[0].TrackedURL)
	visitor := a.client(t)
	if res := visitor.do("GET", u.Path, nil); res.status != http.StatusFound {
		t.Fatalf("GET %s: %d", u.Path, res.status)
	}
	admin := a.client(t)
	me := admin.signIn("admin@acme.example")
	if res := admin.do("DELETE", "/api/v1/instance", map[string]string{"confirm": me.Instance.ID}); res.status != http.StatusNoContent {
		t.Fatalf("offboard: %d %s", res.status, res.body)
	}
	a.clock.Add(time.Minute + time.Second)
	if res := visitor.do("GET", u.Path, nil); res.status != http.StatusNotFound {
		t.Errorf("GET %s a minute after offboarding: %d %s, want 404", u.Path, res.status, res.header.Get("Location"))
	}
}

// Narrowing the allowed Mastodon servers disables the connections on the
// others, as un-whitelisting the network does: their waiting shares are
// cancelled (tasks deleted), the member is told, and nothing more is
// shared or posted through them until the server is allowed again.
func TestNarrowingServersDisablesConnections(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var now, later struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &now)
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &later)
	if len(now.Items) != 1 || len(later.Items) != 1 {
		t.Fatalf("shares: %+v %+v", now.Items, later.Items)
	}
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	narrow := map[string]any{"config": map[string]any{"allowed_instances": []string{"mastodon.social"}}}
	if res := admin.do("PUT", "/api/v1/networks/mastodon", narrow); res.status != http.StatusOK {
		t.Fatalf("narrow: %d %s", res.status, res.body)
	}
	if res := employee.do("GET", "/api/v1/connections", nil); !strings.Contains(string(res.body), `"disabled"`) {
		t.Errorf("connection after narrowing: %s, want disabled", res.body)
	}
	for _, id := range []string{now.Items[0].ID, later.Items[0].ID} {
		var sh shareDoc
		employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
		if sh.State != "cancelled" || sh.Error == "" {
			t.Errorf("share %s after narrowing: %+v, want cancelled with a reason", id, sh)
		}
	}
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	if tasks, _ := insp.ListScheduledTasks(task.QueueCritical); len(tasks) != 0 {
		t.Errorf("%d scheduled tasks left, want 0", len(tasks))
	}
	if res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}); res.status < 400 {
		t.Errorf("sharing through a connection on a server no longer allowed: %d %s", res.status, res.body)
	}
	runPublishTasks(t, a)
	if n := len(a.mastodon.Statuses()); n != 0 {
		t.Errorf("%d posts after narrowing, want 0", n)
	}
	var box struct {
		Items []struct{ Subject, Text string }
	}
	employee.do("GET", "/api/v1/dev/mail?to=carol@acme.example", nil).json(t, &box)
	if !slices.ContainsFunc(box.Items, func(m struct{ Subject, Text string }) bool {
		return strings.Contains(m.Subject, "Mastodon") && strings.Contains(m.Text, "server")
	}) {
		t.Errorf("the member was not told: %+v", box.Items)
	}
	// Allowing the server again makes the connection active again.
	if res := admin.do("PUT", "/api/v1/networks/mastodon", map[string]any{"config": map[string]any{"allowed_instances": []string{}}}); res.status != http.StatusOK {
		t.Fatalf("widen: %d %s", res.status, res.body)
	}
	if res := employee.do("GET", "/api/v1/connections", nil); !strings.Contains(string(res.body), `"active"`) {
		t.Errorf("connection after allowing every server: %s, want active", res.body)
	}
}

// GET /api/v1/shares pages with limit and cursor, newest first, each share
// once; a cursor the list did not hand out is a 400.
func TestSharesPaging(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var made []string
	for range 5 {
		var out struct{ Items []shareDoc }
		employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &out)
		if len(out.Items) != 1 {
			t.Fatalf("share: %+v", out.Items)
		}
		made = append([]string{out.Items[0].ID}, made...)
		a.clock.Add(time.Millisecond)
	}
	var got []string
	path := "/api/v1/shares?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatal("more than 3 pages of 2 for 5 shares")
		}
		var page struct {
			Items      []shareDoc
			NextCursor *string `json:"next_cursor"`
		}
		res := employee.do("GET", path, nil)
		res.json(t, &page)
		if res.status != http.StatusOK || len(page.Items) > 2 {
			t.Fatalf("GET %s: %d %s", path, res.status, res.body)
		}
		for _, sh := range page.Items {
			got = append(got, sh.ID)
		}
		path = ""
		if page.NextCursor != nil {
			path = "/api/v1/shares?limit=2&cursor=" + url.QueryEscape(*page.NextCursor)
		}
	}
	if !slices.Equal(got, made) {
		t.Errorf("paged shares %v, want newest first %v", got, made)
	}
	for _, bad := range []string{"zzz", "eyJ0IjoiMjAyNi0wMS0wMVQwMDowMDowMFoiLCJpZCI6IngifQ"} {
		if res := employee.do("GET", "/api/v1/shares?cursor="+bad, nil); res.status != http.StatusBadRequest {
			t.Errorf("cursor %q: %d, want 400", bad, res.status)
		}
	}
}

// The commentary is the curators' note to colleagues: a share without a
// text of its own never carries it. It gets the network's suggested text,
// else the title, else the page's title.
func TestShareDefaultTextIsNeverTheCommentary(t *testing.T) {
	a, employee, connID, _ := shareSetup(t)
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	const note = "If you share one thing this week, make it this one."
	for _, tc := range []struct {
		name, title string
		texts       map[string]string
		want        string
	}{
		{"the network's suggested text", "Launch", map[string]string{"mastodon": "We launched!"}, "We launched!"},
		{"another network's text only: the title", "Launch", map[string]string{"x": "On X"}, "Launch"},
		{"no title: the page's title", "", map[string]string{}, "Story /untitled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p struct{ ID string }
			res := admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/untitled"), "title": tc.title,
				"commentary": note, "share_texts": tc.texts})
			if res.status != http.StatusCreated {
				t.Fatalf("create: %d %s", res.status, res.body)
			}
			res.json(t, &p)
			var out struct{ Items []struct{ ID, Text string } }
			res = employee.do("POST", "/api/v1/content/"+p.ID+"/shares", map[string]any{"connections": []string{connID}})
			if res.status != http.StatusAccepted {
				t.Fatalf("share: %d %s", res.status, res.body)
			}
			res.json(t, &out)
			if len(out.Items) != 1 || out.Items[0].Text != tc.want {
				t.Errorf("share text = %+v, want %q", out.Items, tc.want)
			}
		})
	}
	runPublishTasks(t, a)
	for _, st := range a.mastodon.Statuses() {
		if strings.Contains(st.Text, note) {
			t.Errorf("posted the note to colleagues: %q", st.Text)
		}
	}
	if n := len(a.mastodon.Statuses()); n != 3 {
		t.Errorf("%d posts at the network, want 3", n)
	}
}
