package main

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/bluesky"
)

func TestAcceptedThenTimedOutIsUnconfirmedNotReposted(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	// The server creates the status, then does not answer in time.
	a.mastodon.DelayAnswers(5 * time.Second)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	id := out.Items[0].ID
	inst := a.mustInstance(t, employee)
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second) // the task's deadline
	err = w.Handler().ProcessTask(ctx, task.Publish(inst, id))
	cancel()
	if err != nil {
		t.Fatalf("the task: %v", err)
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
	if sh.State != "unconfirmed" || !strings.Contains(sh.Error, "not posted again") {
		t.Fatalf("share after the timeout: %+v, want unconfirmed saying it is not posted again", sh)
	}
	if got := metricValue(t, a, `chorus_publish_outcomes_total{network="mastodon",outcome="unconfirmed"}`); got != "1" {
		t.Errorf("unconfirmed outcomes counted %q, want 1", got)
	}
	a.mastodon.DelayAnswers(0)
	// Asynq delivers the task again, and cancelling is refused: nothing
	// is sent again.
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(inst, id)); err != nil {
		t.Fatal(err)
	}
	if res := employee.do("POST", "/api/v1/shares/"+id+"/cancel", nil); res.status != http.StatusConflict {
		t.Errorf("cancelling an unconfirmed share: %d, want 409", res.status)
	}
	if n := a.mastodon.PostRequests(id); n != 1 {
		t.Fatalf("the post was sent %d times, want 1", n)
	}
	// The reconciler asks Mastodon, finds the post by its tracked link
	// and records it — with the member's token, whose scopes (those Chorus
	// asks for) include read:statuses, not through the public fallback.
	a.clock.Add(time.Minute)
	if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
		t.Fatal(err)
	}
	if n := a.mastodon.PublicReads(); n != 0 {
		t.Errorf("%d status reads without a token, want none: the token must hold read:statuses", n)
	}
	sh = shareDoc{}
	employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
	statuses := a.mastodon.Statuses()
	if len(statuses) != 1 || sh.State != "published" || !strings.HasSuffix(sh.PostURL, "/"+statuses[0].ID) || sh.Error != "" {
		t.Errorf("after reconciling: share %+v, %d statuses; want published with the status's URL", sh, len(statuses))
	}
	if n := a.mastodon.PostRequests(id); n != 1 {
		t.Errorf("the post was sent %d times, want 1", n)
	}
}

func TestPublishingLimitMakesTheShareWait(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	rdb := a.queue.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	limits := jobs.NewRateLimiter(rdb, map[string]social.Limits{social.Mastodon: {PerConnection: social.Rate{N: 1, Per: time.Hour}}})
	fake := netip.MustParseAddrPort(a.mastodon.Listener.Addr().String())
	keys, err := social.ParseKeyring("test:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(a.srv.URL)
	limited, err := newSocialService(base, keys, slog.New(slog.DiscardHandler), a.clock.Now, networkOptions{
		allow: []netip.Prefix{netip.PrefixFrom(fake.Addr(), 32)}, ports: []int{int(fake.Port())}, allowHTTP: true, limits: limits,
	}, a.content, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: limited})
	if err != nil {
		t.Fatal(err)
	}
	inst := a.mustInstance(t, employee)
	var ids []string
	for range 2 {
		var out struct{ Items []shareDoc }
		employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
		ids = append(ids, out.Items[0].ID)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(inst, ids[0])); err != nil {
		t.Fatal(err)
	}
	err = w.Handler().ProcessTask(t.Context(), task.Publish(inst, ids[1]))
	var re *social.RetryError
	if !errors.As(err, &re) || !errors.Is(err, social.ErrRateLimited) || re.Delay < 50*time.Minute || re.Delay > time.Hour {
		t.Fatalf("the second share in the hour: %v, want a RetryError of about an hour for the limit", err)
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+ids[1], nil).json(t, &sh)
	if sh.State != "queued" || len(a.mastodon.Statuses()) != 1 {
		t.Errorf("the held share is %s with %d posts at the network; want queued and 1", sh.State, len(a.mastodon.Statuses()))
	}
}

func TestScheduledShareNeverStartsEarly(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	at := a.clock.Now().Add(90 * time.Second).Truncate(time.Second).Add(700 * time.Millisecond)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": at.Format(time.RFC3339Nano)}).json(t, &out)
	if len(out.Items) != 1 || out.Items[0].State != "scheduled" {
		t.Fatalf("share: %+v", out.Items)
	}
	id := out.Items[0].ID
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	// Asynq kept the whole second before publish_at and runs the task
	// then: the handler refuses and asks for the rest.
	a.clock.Add(at.Truncate(time.Second).Sub(a.clock.Now()))
	err = w.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), id))
	var re *social.RetryError
	if !errors.As(err, &re) || re.Delay != 700*time.Millisecond {
		t.Fatalf("a task 700 ms early: %v, want a RetryError of 700ms", err)
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
	if sh.State != "scheduled" || len(a.mastodon.Statuses()) != 0 {
		t.Fatalf("after the early run: %s with %d posts, want scheduled and none", sh.State, len(a.mastodon.Statuses()))
	}
	a.clock.Add(700 * time.Millisecond)
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), id)); err != nil {
		t.Fatal(err)
	}
	employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
	if sh.State != "published" || len(a.mastodon.Statuses()) != 1 {
		t.Errorf("on time: %s with %d posts, want published once", sh.State, len(a.mastodon.Statuses()))
	}
}

func TestBlueskyUnconfirmedIsResolvedAtThePDS(t *testing.T) {
	a, pds := newTestAppWithPDS(t)
	did := pds.CreateAccount(t, "erin.test", "erin-account-password")
	appPassword := pds.AppPassword(t, "erin.test", "erin-account-password", "chorus")
	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	if res := admin.do("PUT", "/api/v1/networks/bluesky", nil); res.status != http.StatusOK {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	employee := a.client(t)
	employee.signIn("erin@acme.example")
	var conn struct{ ID string }
	employee.do("POST", "/api/v1/connections/bluesky/password", map[string]string{"instance_url": pds.URL, "identifier": "erin.test", "app_password": appPassword}).json(t, &conn)
	var p struct{ ID string }
	admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/launch"), "title": "Launch",
		"share_texts": map[string]string{"bluesky": "We launched!"}}).json(t, &p)
	share := func() string {
		var out struct{ Items []shareDoc }
		res := employee.do("POST", "/api/v1/content/"+p.ID+"/shares", map[string]any{"connections": []string{conn.ID}})
		res.json(t, &out)
		if res.status != http.StatusAccepted {
			t.Fatalf("share: %d %s", res.status, res.body)
		}
		return out.Items[0].ID
	}
	inst := a.mustInstance(t, employee)
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	// Two workers died mid-publish: one after its post reached the PDS,
	// one before it sent anything. Both shares stay publishing.
	posted, lost := share(), share()
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(inst, posted)); err != nil {
		t.Fatal(err)
	}
	uri, db := a.mongo()
	raw, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	shares := raw.Database(db).Collection("t_" + inst + "_shares")
	now := a.clock.Now()
	for _, id := range []string{posted, lost} {
		if _, err := shares.UpdateOne(t.Context(), bson.D{{Key: "_id", Value: id}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "state", Value: "publishing"}, {Key: "attempt_id", Value: "dead"},
				{Key: "attempted_at", Value: now}, {Key: "lease_until", Value: now.Add(2 * time.Minute)}}},
			{Key: "$unset", Value: bson.D{{Key: "post_url", Value: ""}, {Key: "remote_id", Value: ""}}}}); err != nil {
			t.Fatal(err)
		}
	}
	state := func(id string) shareDoc {
		var sh shareDoc
		employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
		return sh
	}
	reconcile := func() {
		t.Helper()
		if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
			t.Fatal(err)
		}
	}
	a.clock.Add(3 * time.Minute) // the leases run out
	reconcile()
	if got := state(posted); got.State != "published" || !strings.Contains(got.PostURL, "/profile/erin.test/post/") {
		t.Errorf("the share whose post is at the PDS: %+v, want published with its URL", got)
	}
	if got := state(lost).State; got != "unconfirmed" {
		t.Errorf("the share that never reached the PDS, within the grace period: %s, want unconfirmed", got)
	}
	a.clock.Add(10 * time.Minute)
	reconcile()
	if got := state(lost).State; got != "queued" {
		t.Fatalf("the share that never reached the PDS, after the grace period: %s, want queued", got)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(inst, lost)); err != nil {
		t.Fatal(err)
	}
	if got := state(lost); got.State != "published" || got.Error != "" {
		t.Errorf("the share queued again: %+v, want published", got)
	}
	if n := len(pds.ListRecords(t, did, bluesky.Collection)); n != 2 {
		t.Errorf("%d posts on the PDS, want 2: one per share", n)
	}
}

func TestUnsettledUnconfirmedSharesDoNotStarveOthers(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	inst := a.mustInstance(t, employee)
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 51 { // one more than a reconcile run asks about
		var out struct{ Items []shareDoc }
		employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
		ids = append(ids, out.Items[0].ID)
	}
	// The last one reached Mastodon; the 50 before it never did, and
	// their attempts are within the grace period.
	found := ids[50]
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(inst, found)); err != nil {
		t.Fatal(err)
	}
	uri, db := a.mongo()
	raw, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	now := a.clock.Now()
	for i, id := range ids {
		if _, err := raw.Database(db).Collection("t_"+inst+"_shares").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: id}}, bson.D{
			{Key: "$set", Value: bson.D{{Key: "state", Value: "unconfirmed"}, {Key: "attempted_at", Value: now},
				{Key: "updated_at", Value: now.Add(time.Duration(i) * time.Millisecond)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		a.clock.Add(time.Minute)
		if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
			t.Fatal(err)
		}
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+found, nil).json(t, &sh)
	if sh.State != "published" {
		t.Errorf("the share whose post exists, behind 50 that cannot be settled yet: %s after two reconcile runs, want published", sh.State)
	}
}
