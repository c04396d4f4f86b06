package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant"
)

// digestFixture: Acme (verified) with an admin who curates, Alice and
// Carol; Globex (verified) with Bob; Initech (pending) with Dave.
type digestFixture struct {
	a                 *testApp
	box               *tenant.DevMailbox
	mailer            tenant.Mailer
	base              *url.URL
	admin, alice, bob *client
	aliceID           string
	carol             *client
	globexAdmin       *client
}

func newDigestFixture(t *testing.T) *digestFixture {
	t.Helper()
	f := &digestFixture{}
	f.a = newTestAppEdit(t, nil, nil, func(d *appDeps) {
		f.box, f.mailer, f.base = d.devBox, d.mailer, d.baseURL
	})
	f.admin, _ = verifiedAdmin(t, f.a, "admin@acme.example")
	f.alice = f.a.client(t)
	f.aliceID = f.alice.signIn("alice@acme.example").Member.ID
	f.carol = f.a.client(t)
	f.carol.signIn("carol@acme.example")
	f.globexAdmin, _ = verifiedAdmin(t, f.a, "bob@globex.example")
	f.bob = f.globexAdmin
	dave := f.a.client(t)
	dave.signIn("dave@initech.example")
	// Content comes after everyone joined.
	f.a.clock.Add(time.Minute)
	return f
}

// post publishes content as c and returns its ID.
func (f *digestFixture) post(t *testing.T, c *client, title string) string {
	t.Helper()
	res := c.do("POST", "/api/v1/content", map[string]any{"url": f.a.pages.url("/" + title), "title": title})
	if res.status != http.StatusCreated {
		t.Fatalf("post %s: %d %s", title, res.status, res.body)
	}
	var p struct{ ID string }
	res.json(t, &p)
	f.a.clock.Add(time.Second)
	return p.ID
}

// run runs one content:send_digests task with mailer (nil: the app's).
func (f *digestFixture) run(t *testing.T, ctx context.Context, mailer tenant.Mailer) error {
	t.Helper()
	if mailer == nil {
		mailer = f.mailer
	}
	w, err := jobs.NewWorker(jobs.Config{Store: f.a.store, Content: f.a.content, Mailer: mailer, BaseURL: f.base, Now: f.a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	err = w.Handler().ProcessTask(ctx, task.SendDigests())
	f.a.clock.Add(time.Second)
	return err
}

// digests returns the digest mails to an address, newest first.
func (f *digestFixture) digests(to string) []tenant.DevMail {
	var out []tenant.DevMail
	for _, m := range f.box.List(to) {
		if strings.HasSuffix(m.Subject, "to share on Chorus") {
			out = append(out, m)
		}
	}
	return out
}

func TestDigestMail(t *testing.T) {
	f := newDigestFixture(t)
	must := func(res response, want int) {
		t.Helper()
		if res.status != want {
			t.Fatalf("%d %s, want %d", res.status, res.body, want)
		}
	}
	one := f.post(t, f.admin, "acme-news-one")
	two := f.post(t, f.admin, "acme-news-two")
	secret := f.post(t, f.globexAdmin, "globex-news")
	must(f.carol.do("PUT", "/api/v1/me/consents/digest_mail", map[string]any{"granted": false}), http.StatusOK)

	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	got := f.digests("alice@acme.example")
	if len(got) != 1 {
		t.Fatalf("alice got %d digests, want 1", len(got))
	}
	d := got[0]
	if d.Subject != "2 new posts to share on Chorus" {
		t.Errorf("subject = %q", d.Subject)
	}
	for _, want := range []string{
		"acme-news-one", f.base.JoinPath("share", one).String(),
		"acme-news-two", f.base.JoinPath("share", two).String(),
		f.base.JoinPath("profile").String(), "Send me the digest mail",
	} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("alice's digest lacks %q:\n%s", want, d.Text)
		}
	}
	if strings.Index(d.Text, "acme-news-two") > strings.Index(d.Text, "acme-news-one") {
		t.Errorf("digest not newest first:\n%s", d.Text)
	}
	for _, not := range []string{"globex-news", secret, "/r/", "<img"} {
		if strings.Contains(d.Text, not) {
			t.Errorf("alice's digest holds %q:\n%s", not, d.Text)
		}
	}
	if got := f.digests("carol@acme.example"); len(got) != 0 {
		t.Errorf("carol withdrew the consent and got %d digests", len(got))
	}
	if got := f.digests("dave@initech.example"); len(got) != 0 {
		t.Errorf("a member of a pending instance got %d digests", len(got))
	}
	bob := f.digests("bob@globex.example")
	if len(bob) != 1 || !strings.Contains(bob[0].Text, "globex-news") || strings.Contains(bob[0].Text, "acme-news") {
		t.Errorf("bob's digests: %+v", bob)
	}

	// The same week again, even with new content: nothing twice.
	f.post(t, f.admin, "acme-news-three")
	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := f.digests("alice@acme.example"); len(got) != 1 {
		t.Errorf("alice has %d digests after a re-run of the same week, want 1", len(got))
	}

	// The digest is in Alice's export.
	var ex struct {
		Manifest []string `json:"manifest"`
		Data     struct {
			Digests []struct {
				Week    string   `json:"week"`
				State   string   `json:"state"`
				PostIDs []string `json:"post_ids"`
			} `json:"digests"`
		} `json:"data"`
	}
	f.alice.do("GET", "/api/v1/me/export", nil).json(t, &ex)
	if !strings.Contains(strings.Join(ex.Manifest, ","), "digests") {
		t.Errorf("manifest %v lacks digests", ex.Manifest)
	}
	if len(ex.Data.Digests) != 1 || ex.Data.Digests[0].State != "sent" || strings.Join(ex.Data.Digests[0].PostIDs, ",") != two+","+one {
		t.Errorf("export's digests = %+v, want the sent one of %s,%s", ex.Data.Digests, two, one)
	}

	// Next week: only what is new since the last digest.
	f.a.clock.Add(7 * 24 * time.Hour)
	four := f.post(t, f.admin, "acme-news-four")
	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	got = f.digests("alice@acme.example")
	if len(got) != 2 {
		t.Fatalf("alice got %d digests after a week, want 2", len(got))
	}
	if d := got[0].Text; !strings.Contains(d, "acme-news-three") || !strings.Contains(d, four) || strings.Contains(d, "acme-news-one") {
		t.Errorf("second digest:\n%s", d)
	}

	// Erased: no digest, and no record of the old ones.
	if !strings.Contains(digestRecords(t, f.a), f.aliceID) {
		t.Fatalf("no digest record of alice before her erasure")
	}
	must(f.alice.do("DELETE", "/api/v1/me", nil), http.StatusNoContent)
	if strings.Contains(digestRecords(t, f.a), f.aliceID) {
		t.Errorf("alice's digest records survived her erasure")
	}
	f.a.clock.Add(7 * 24 * time.Hour)
	f.admin.signIn("admin@acme.example") // the session expired meanwhile
	f.post(t, f.admin, "acme-news-five")
	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := f.digests("alice@acme.example"); len(got) != 2 {
		t.Errorf("erased alice has %d digests, want the 2 from before", len(got))
	}
	if got := f.digests("admin@acme.example"); len(got) != 3 {
		t.Errorf("the admin has %d digests after three weeks, want 3", len(got))
	}
	if got := f.digests("carol@acme.example"); len(got) != 0 {
		t.Errorf("carol has %d digests, want none", len(got))
	}
}

// digestRecords returns the digests collections' documents as text.
func digestRecords(t *testing.T, a *testApp) string {
	t.Helper()
	var b strings.Builder
	for line := range strings.Lines(scanAll(t, a)) {
		if name, _, _ := strings.Cut(line, ":"); strings.HasSuffix(name, "_digests") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func TestDigestSetting(t *testing.T) {
	f := newDigestFixture(t)
	for _, tt := range []struct {
		value  any
		status int
	}{
		{"daily", http.StatusBadRequest},
		{"", http.StatusBadRequest},
		{7, http.StatusBadRequest},
		{"weekly", http.StatusOK},
		{"off", http.StatusOK},
	} {
		admin := f.admin
		if tt.status == http.StatusBadRequest {
			admin = admin.sendingMalformed()
		}
		res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"digest": tt.value})
		if res.status != tt.status {
			t.Errorf("digest %v: %d %s, want %d", tt.value, res.status, res.body, tt.status)
		}
		if tt.status == http.StatusBadRequest && res.status == tt.status && tt.value != 7 {
			if p := res.problem(t); len(p.Errors) != 1 || p.Errors[0].Field != "digest" {
				t.Errorf("digest %v: problem %+v, want the field digest named", tt.value, p)
			}
		}
	}
	if res := f.alice.do("PATCH", "/api/v1/instance/settings", map[string]any{"digest": "weekly"}); res.status != http.StatusForbidden {
		t.Errorf("an employee changed the digest setting: %d", res.status)
	}
	var inst struct{ Settings struct{ Digest string } }
	f.alice.do("GET", "/api/v1/instance", nil).json(t, &inst)
	if inst.Settings.Digest != "off" {
		t.Errorf("settings.digest = %q, want off", inst.Settings.Digest)
	}
	f.post(t, f.admin, "acme-news")
	f.post(t, f.globexAdmin, "globex-news")
	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if got := f.digests("alice@acme.example"); len(got) != 0 {
		t.Errorf("digests off, alice got %d", len(got))
	}
	if got := f.digests("bob@globex.example"); len(got) != 1 {
		t.Errorf("another instance's digest off stopped bob's: %d", len(got))
	}
}

// failingMailer refuses mail to one address and cancels the run after
// the first mail it hands over, like a worker that stops mid-run.
type failingMailer struct {
	inner  tenant.Mailer
	refuse string
	cancel context.CancelFunc
	mu     sync.Mutex
	sent   int
}

func (m *failingMailer) Send(ctx context.Context, mail tenant.Mail) error {
	if mail.To == m.refuse {
		return errors.New("mail server said no")
	}
	if err := m.inner.Send(ctx, mail); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sent++; m.sent == 1 && m.cancel != nil {
		m.cancel()
	}
	return nil
}

// A run that stopped half-way, or whose mailer refused some mails, is
// resumed by the next run: everyone gets the week's digest once.
func TestDigestRunResumesWithoutDuplicates(t *testing.T) {
	f := newDigestFixture(t)
	f.post(t, f.admin, "acme-news")
	members := []string{"admin@acme.example", "alice@acme.example", "carol@acme.example"}

	ctx, cancel := context.WithCancel(t.Context())
	m := &failingMailer{inner: f.mailer, refuse: "carol@acme.example", cancel: cancel}
	if err := f.run(t, ctx, m); err == nil {
		t.Fatal("the interrupted run reported no error")
	}
	total := 0
	for _, to := range members {
		total += len(f.digests(to))
	}
	if total != 1 {
		t.Fatalf("%d digests after the interrupted run, want 1", total)
	}
	m = &failingMailer{inner: f.mailer, refuse: "carol@acme.example"}
	if err := f.run(t, t.Context(), m); err == nil || !strings.Contains(err.Error(), "mail server said no") {
		t.Errorf("refused mail: err = %v", err)
	}
	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	for _, to := range members {
		if got := f.digests(to); len(got) != 1 {
			t.Errorf("%s got %d digests, want 1", to, len(got))
		}
	}
}

// The digest job runs on the worker through the real queue.
func TestDigestTaskOnRealRedis(t *testing.T) {
	f := newDigestFixture(t)
	f.post(t, f.admin, "acme-news")
	w, err := jobs.NewWorker(jobs.Config{Redis: f.a.queue, Store: f.a.store, Content: f.a.content, Mailer: f.mailer,
		BaseURL: f.base, Now: f.a.clock.Now, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	}()
	q := asynq.NewClient(f.a.queue)
	defer q.Close()
	if _, err := q.Enqueue(task.SendDigests(), asynq.Queue(task.QueueLow)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(f.digests("alice@acme.example")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no digest for alice within 20 s of enqueueing the task")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := f.digests("alice@acme.example"); len(got) != 1 || !strings.Contains(got[0].Text, "acme-news") {
		t.Errorf("alice's digests: %+v", got)
	}
}
