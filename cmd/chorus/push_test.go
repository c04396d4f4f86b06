package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
)

// testPushConfig turns push notifications on with a fresh VAPID key,
// http endpoints on loopback allowed.
func testPushConfig(t testing.TB) content.PushConfig {
	t.Helper()
	keys, err := content.GenerateVAPIDKeys("mailto:ops@chorus.example")
	if err != nil {
		t.Fatal(err)
	}
	return content.PushConfig{Keys: keys, Client: &http.Client{Timeout: 30 * time.Second}, AllowHTTPLoopback: true}
}

// testDevice is a subscription body for endpoint with valid keys, as a
// browser would post it (nothing is sent to it).
func testDevice(t testing.TB, endpoint string) map[string]any {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return map[string]any{"endpoint": endpoint, "expirationTime": nil, "keys": map[string]string{
		"p256dh": base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()), "auth": base64.RawURLEncoding.EncodeToString(auth)}}
}

// pushFixture: the app with push on (a fresh VAPID key, http endpoints on
// loopback allowed) and the local Web Push endpoint.
type pushFixture struct {
	a    *testApp
	ep   *pushEndpoint
	keys content.VAPIDKeys
}

func newPushFixture(t *testing.T, env map[string]string) *pushFixture {
	t.Helper()
	f := &pushFixture{ep: startPushEndpoint(t)}
	pc := testPushConfig(t)
	f.keys = pc.Keys
	f.a = newTestAppEdit(t, env, nil, func(d *appDeps) { d.push = pc })
	return f
}

// device grants c the push consent, subscribes a new device of the local
// endpoint with the key GET /me/push gives and registers it.
func (f *pushFixture) device(t *testing.T, c *client) pushDevice {
	t.Helper()
	var settings struct {
		PublicKey string `json:"public_key"`
	}
	res := c.do("GET", "/api/v1/me/push", nil)
	if res.status != http.StatusOK {
		t.Fatalf("GET /me/push: %d %s", res.status, res.body)
	}
	res.json(t, &settings)
	if settings.PublicKey != f.keys.Public {
		t.Fatalf("public_key = %q, want the VAPID key %q", settings.PublicKey, f.keys.Public)
	}
	if res := c.do("PUT", "/api/v1/me/consents/push", map[string]any{"granted": true}); res.status != http.StatusOK {
		t.Fatalf("grant push: %d %s", res.status, res.body)
	}
	d := f.ep.subscribe(t, settings.PublicKey)
	if res := c.do("POST", "/api/v1/me/push/subscriptions", d.json()); res.status != http.StatusCreated {
		t.Fatalf("POST /me/push/subscriptions: %d %s", res.status, res.body)
	}
	return d
}

// post publishes content as c with topics and returns its ID.
func (f *pushFixture) post(t *testing.T, c *client, title string, topics ...string) string {
	t.Helper()
	if topics == nil {
		topics = []string{}
	}
	res := c.do("POST", "/api/v1/content", map[string]any{"url": f.a.pages.url("/" + title), "title": title, "topics": topics})
	if res.status != http.StatusCreated {
		t.Fatalf("post %s: %d %s", title, res.status, res.body)
	}
	var p struct{ ID string }
	res.json(t, &p)
	return p.ID
}

// runNotifications runs, as the worker does, every content:notify task
// waiting in the queue, and deletes them; it returns how many ran.
func (f *pushFixture) runNotifications(t *testing.T) int {
	t.Helper()
	ins := asynq.NewInspector(f.a.queue)
	defer ins.Close()
	w, err := jobs.NewWorker(jobs.Config{Store: f.a.store, Content: f.a.content, Now: f.a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	var infos []*asynq.TaskInfo
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){ins.ListPendingTasks, ins.ListScheduledTasks} {
		got, err := list(task.QueueDefault)
		if err != nil && !strings.Contains(err.Error(), "not found") {
			t.Fatal(err)
		}
		infos = append(infos, got...)
	}
	n := 0
	for _, info := range infos {
		if info.Type != task.TypeNotify {
			continue
		}
		if err := w.Handler().ProcessTask(t.Context(), asynq.NewTask(info.Type, info.Payload)); err != nil {
			t.Fatalf("%s %s: %v", info.Type, info.ID, err)
		}
		if err := ins.DeleteTask(info.Queue, info.ID); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// notified returns the post IDs the device's decrypted messages name,
// checking each message's shape.
func (f *pushFixture) notified(t *testing.T, d pushDevice) []string {
	t.Helper()
	var ids []string
	for _, raw := range f.ep.messages(t, d) {
		var m content.PushMessage
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("message %q: %v", raw, err)
		}
		if m.URL != "/share/"+m.PostID || m.Title == "" {
			t.Errorf("message %+v: want a title and the composer's URL", m)
		}
		ids = append(ids, m.PostID)
	}
	return ids
}

func TestPushNotifications(t *testing.T) {
	f := newPushFixture(t, nil)
	a := f.a
	admin, acme := verifiedAdmin(t, a, "admin@acme.example")
	clients := map[string]*client{}
	for _, name := range []string{"alice", "carol", "dan", "erin", "frank"} {
		clients[name] = a.client(t)
		clients[name].signIn(name + "@acme.example")
	}
	bob, _ := verifiedAdmin(t, a, "bob@globex.example")

	// Before the consent: refused, saying why.
	alice := clients["alice"]
	pre := f.ep.subscribe(t, f.keys.Public)
	if res := alice.do("POST", "/api/v1/me/push/subscriptions", pre.json()); res.status != http.StatusConflict || !strings.Contains(string(res.body), "push_consent_required") {
		t.Fatalf("subscribe without consent: %d %s, want 409 push_consent_required", res.status, res.body)
	}

	devices := map[string]pushDevice{}
	for _, name := range []string{"alice", "carol", "dan", "erin", "frank"} {
		devices[name] = f.device(t, clients[name])
	}
	devices["bob"] = f.device(t, bob)

	// Dan follows a topic; Erin is in her quiet hours; Frank withdraws.
	var topic content.Topic
	res := admin.do("POST", "/api/v1/topics", map[string]any{"name": "Engineering"})
	if res.status != http.StatusCreated {
		t.Fatalf("topic: %d %s", res.status, res.body)
	}
	res.json(t, &topic)
	if res := clients["dan"].do("PATCH", "/api/v1/members/me", map[string]any{"topics": []string{topic.ID}}); res.status != http.StatusOK {
		t.Fatalf("follow: %d %s", res.status, res.body)
	}
	now := a.clock.Now().UTC()
	quiet := map[string]any{"time_zone": "UTC", "quiet_hours": map[string]string{
		"start": now.Add(-time.Hour).Format("15:04"), "end": now.Add(time.Hour).Format("15:04")}}
	if res := clients["erin"].do("PUT", "/api/v1/me/push", quiet); res.status != http.StatusOK {
		t.Fatalf("quiet hours: %d %s", res.status, res.body)
	}
	if res := clients["frank"].do("PUT", "/api/v1/me/consents/push", map[string]any{"granted": false}); res.status != http.StatusOK {
		t.Fatalf("withdraw: %d %s", res.status, res.body)
	}
	var frank content.PushSettings
	clients["frank"].do("GET", "/api/v1/me/push", nil).json(t, &frank)
	if frank.Consented || len(frank.Devices) != 0 {
		t.Fatalf("after the withdrawal: %+v, want no consent and no device", frank)
	}

	// Post 1, no topic: everyone in Acme who may get it, once.
	p1 := f.post(t, admin, "acme-news")
	if n := f.runNotifications(t); n != 1 {
		t.Fatalf("%d notification tasks ran, want 1 (one per published post)", n)
	}
	want := map[string][]string{"alice": {p1}, "carol": {p1}}
	check := func(step string) {
		t.Helper()
		for _, name := range []string{"alice", "carol", "dan", "erin", "frank", "bob"} {
			if got := f.notified(t, devices[name]); !slices.Equal(got, want[name]) {
				t.Errorf("%s: %s notified of %v, want %v", step, name, got, want[name])
			}
		}
	}
	check("post without topics")

	// The same task again (a retry, a second worker): nobody twice.
	sc, err := a.store.Open(t.Context(), acme.Instance.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.content.NotifyPublished(t.Context(), sc, p1); err != nil {
		t.Fatal(err)
	}
	check("notified again")

	// Post 2, Dan's topic, with a cap of 2 a day.
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"push_daily_cap": 2}); res.status != http.StatusOK {
		t.Fatalf("cap: %d %s", res.status, res.body)
	}
	p2 := f.post(t, admin, "acme-engineering", topic.ID)
	f.runNotifications(t)
	want["alice"], want["carol"], want["dan"] = []string{p1, p2}, []string{p1, p2}, []string{p2}
	check("post with a topic")

	// Post 3: Alice and Carol reached the cap; Dan's device is gone (410)
	// and is deleted.
	f.ep.expire(t, devices["dan"])
	p3 := f.post(t, admin, "acme-engineering-2", topic.ID)
	f.runNotifications(t)
	check("over the cap, a device gone")
	var dan content.PushSettings
	clients["dan"].do("GET", "/api/v1/me/push", nil).json(t, &dan)
	if len(dan.Devices) != 0 {
		t.Errorf("dan's devices after a 410: %+v, want none", dan.Devices)
	}

	// Globex's post reaches Bob only.
	g1 := f.post(t, bob, "globex-news")
	f.runNotifications(t)
	want["bob"] = []string{g1}
	check("another instance's post")
	_ = p3

	// The export lists the device; erasure deletes it.
	var export struct {
		Data struct {
			Subs []struct {
				Endpoint string `json:"endpoint"`
			} `json:"push_subscriptions"`
			Sent []struct {
				PostID string `json:"post_id"`
			} `json:"push_notifications"`
		} `json:"data"`
	}
	res = alice.do("GET", "/api/v1/me/export", nil)
	if res.status != http.StatusOK {
		t.Fatalf("export: %d %s", res.status, res.body)
	}
	res.json(t, &export)
	if len(export.Data.Subs) != 1 || export.Data.Subs[0].Endpoint != devices["alice"].Endpoint || len(export.Data.Sent) != 3 {
		t.Errorf("export: %+v, want alice's device and her 3 notification records", export.Data)
	}
}

func TestPushSubscriptionValidation(t *testing.T) {
	f := newPushFixture(t, nil)
	c := f.a.client(t)
	c.signIn("alice@acme.example")
	good := f.device(t, c)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"http not on loopback", map[string]any{"endpoint": "http://push.example/x", "keys": good.json()["keys"]}, "endpoint"},
		{"ftp", map[string]any{"endpoint": "ftp://push.example/x", "keys": good.json()["keys"]}, "endpoint"},
		{"too long", map[string]any{"endpoint": "https://push.example/" + strings.Repeat("a", 2100), "keys": good.json()["keys"]}, "endpoint"},
		{"short p256dh", map[string]any{"endpoint": "https://push.example/x", "keys": map[string]string{"p256dh": "AAAA", "auth": good.Keys.Auth}}, "keys.p256dh"},
		{"p256dh off the curve", map[string]any{"endpoint": "https://push.example/x", "keys": map[string]string{"p256dh": "BA" + strings.Repeat("A", 85), "auth": good.Keys.Auth}}, "keys.p256dh"},
		{"auth of 8 bytes", map[string]any{"endpoint": "https://push.example/x", "keys": map[string]string{"p256dh": good.Keys.P256DH, "auth": "AAAAAAAAAAA"}}, "keys.auth"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.sendingMalformed().do("POST", "/api/v1/me/push/subscriptions", tc.body)
			if res.status != http.StatusBadRequest && res.status != http.StatusUnprocessableEntity {
				t.Fatalf("%d %s, want a validation problem", res.status, res.body)
			}
			if !strings.Contains(string(res.body), `"field":"`+tc.field+`"`) {
				t.Errorf("%s does not name the field %s", res.body, tc.field)
			}
		})
	}
	if res := c.sendingMalformed().do("POST", "/api/v1/me/push/subscriptions", map[string]any{"endpoint": "https://push.example/x", "extra": 1}); res.status != http.StatusBadRequest {
		t.Errorf("unknown field: %d %s, want 400", res.status, res.body)
	}
	for _, body := range []map[string]any{
		{"quiet_hours": map[string]string{"start": "25:00", "end": "07:00"}},
		{"quiet_hours": map[string]string{"start": "22:00", "end": "22:00"}},
		{"time_zone": "Mars/Olympus"},
	} {
		if res := c.sendingMalformed().do("PUT", "/api/v1/me/push", body); res.status != http.StatusBadRequest && res.status != http.StatusUnprocessableEntity {
			t.Errorf("PUT /me/push %v: %d %s, want a validation problem", body, res.status, res.body)
		}
	}
	// Another member cannot remove the device; its owner can.
	var s content.PushSettings
	c.do("GET", "/api/v1/me/push", nil).json(t, &s)
	other := f.a.client(t)
	other.signIn("carol@acme.example")
	if res := other.do("DELETE", "/api/v1/me/push/subscriptions/"+s.Devices[0].ID, nil); res.status != http.StatusNotFound {
		t.Errorf("carol deletes alice's device: %d, want 404", res.status)
	}
	if res := c.do("DELETE", "/api/v1/me/push/subscriptions/"+s.Devices[0].ID, nil); res.status != http.StatusNoContent {
		t.Errorf("alice deletes her device: %d %s", res.status, res.body)
	}
}

// TestPushMarksSwept: the daily retention sweep deletes the push marks
// older than 30 days, and a post whose marks went is not notified again
// when its publish time moves; another instance's recent marks stay.
func TestPushMarksSwept(t *testing.T) {
	f := newPushFixture(t, nil)
	a := f.a
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	alice := a.client(t)
	alice.signIn("alice@acme.example")
	device := f.device(t, alice)
	bob, _ := verifiedAdmin(t, a, "bob@globex.example")
	bobDevice := f.device(t, bob)

	p1 := f.post(t, admin, "acme-old-news")
	f.runNotifications(t)
	a.clock.Add(31 * 24 * time.Hour)
	// Sessions last 14 days: sign in again.
	admin.signIn("admin@acme.example")
	bob.signIn("bob@globex.example")
	g1 := f.post(t, bob, "globex-news")
	f.runNotifications(t)
	if got := f.notified(t, device); !slices.Equal(got, []string{p1}) {
		t.Fatalf("alice notified of %v, want [%s]", got, p1)
	}

	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Content: a.content, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.SweepRetention()); err != nil {
		t.Fatal(err)
	}
	c, db := rawMongo(t, a)
	colls, err := c.Database(db).ListCollectionNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var marks []string
	for _, coll := range colls {
		if !strings.HasSuffix(coll, "_push_sent") {
			continue
		}
		cur, err := c.Database(db).Collection(coll).Find(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct {
			PostID string `bson:"post_id"`
		}
		if err := cur.All(t.Context(), &docs); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			marks = append(marks, d.PostID)
		}
	}
	if !slices.Equal(marks, []string{g1}) {
		t.Errorf("marks after the sweep: %v, want only globex's recent one %s", marks, g1)
	}

	// The old post published again now: nobody is notified twice.
	res := admin.do("PATCH", "/api/v1/content/"+p1, map[string]any{"publish_at": a.clock.Now().UTC().Format(time.RFC3339)})
	if res.status != http.StatusOK {
		t.Fatalf("move publish time: %d %s", res.status, res.body)
	}
	if n := f.runNotifications(t); n != 1 {
		t.Fatalf("%d notification tasks ran, want 1 for the new publish time", n)
	}
	if got := f.notified(t, device); !slices.Equal(got, []string{p1}) {
		t.Errorf("alice notified of %v after the sweep and a new publish time, want [%s] once", got, p1)
	}
	if got := f.notified(t, bobDevice); !slices.Equal(got, []string{g1}) {
		t.Errorf("bob notified of %v, want [%s]", got, g1)
	}
}
