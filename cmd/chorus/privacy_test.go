package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant"
)

// privacyFixture: Alice (the subject) with canaries in every kind of data
// she has, Carol (a colleague) and Bob (another instance) with their own.
type privacyFixture struct {
	a                   *testApp
	admin, alice, carol *client
	aliceID, instanceID string
	aliceCanary         []string
	otherCanary         []string
	// What Alice created for the company.
	aliceCampaign, aliceSource struct{ ID, Name, Title string }
}

func newPrivacyFixture(t *testing.T) *privacyFixture {
	t.Helper()
	a := newTestApp(t, nil)
	f := &privacyFixture{a: a}
	var admin me
	f.admin, admin = verifiedAdmin(t, a, "admin@acme.example")
	f.alice = a.client(t)
	alice := f.alice.signIn("alice@acme.example")
	f.aliceID = alice.Member.ID
	f.carol = a.client(t)
	f.carol.signIn("carol@acme.example")
	bob := a.client(t)
	bob.signIn("bob@globex.example")

	must := func(res response, want int) {
		t.Helper()
		if res.status != want {
			t.Fatalf("%d %s, want %d", res.status, res.body, want)
		}
	}
	must(f.alice.do("PATCH", "/api/v1/members/me", map[string]string{"name": "canary-alice-name", "title": "canary-alice-title"}), 200)
	must(f.alice.do("PUT", "/api/v1/me/consents/tracking", map[string]any{"granted": true, "text_version": "canary-consent-v1"}), 200)
	// With an Idempotency-Key: the stored answer holds her data too.
	must(f.alice.do("POST", "/api/v1/suggestions", map[string]any{"url": a.pages.url("/canary-alice-link"), "commentary": "canary-alice-suggestion"},
		"Idempotency-Key", "alice-suggestion-1"), 201)
	must(f.admin.do("PATCH", "/api/v1/members/"+alice.Member.ID, map[string]string{"role": "curator"}), 200)
	// A campaign and a source Alice made as a curator: the company's, kept
	// on erasure without the link to her.
	now := time.Now().UTC()
	res := f.alice.do("POST", "/api/v1/campaigns", map[string]any{"name": "alice-campaign", "start": rfc(now), "end": rfc(now.Add(72 * time.Hour)),
		"goal": map[string]any{"metric": "shares", "target": 10}})
	must(res, 201)
	res.json(t, &f.aliceCampaign)
	res = f.alice.do("POST", "/api/v1/sources", map[string]any{"url": a.pages.url("/alice-feed.xml"), "title": "alice-source"})
	must(res, 201)
	res.json(t, &f.aliceSource)
	var post struct{ ID string }
	res = f.alice.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/canary-alice-post"), "title": "canary-alice-post"})
	must(res, 201)
	res.json(t, &post)
	// Alice shares it, with a key, through her own Mastodon account.
	must(f.admin.do("PUT", "/api/v1/networks/mastodon", nil), 200)
	conn := a.connectMastodon(t, f.alice)
	must(f.alice.do("POST", "/api/v1/content/"+post.ID+"/shares", map[string]any{"connections": []string{conn}, "publish_at": "2099-01-01T00:00:00Z"},
		"Idempotency-Key", "alice-share-1"), 202)
	// The post Alice published as a curator is the company's and stays
	// (de-identified); it is not among her canaries.
	f.aliceCanary = []string{"canary-alice-name", "canary-alice-title", "canary-consent-v1", "canary-alice-suggestion", "alice@acme.example"}

	must(f.carol.do("PATCH", "/api/v1/members/me", map[string]string{"name": "canary-carol-name"}), 200)
	must(f.carol.do("POST", "/api/v1/suggestions", map[string]any{"url": a.pages.url("/carol"), "commentary": "canary-carol-suggestion"}), 201)
	must(bob.do("PATCH", "/api/v1/members/me", map[string]string{"name": "canary-bob-name"}), 200)
	f.otherCanary = []string{"canary-carol-name", "canary-carol-suggestion", "canary-bob-name", "carol@acme.example", "bob@globex.example"}
	f.instanceID = admin.Instance.ID
	// Alice as the founder whose address the instance record still holds:
	// instances made before the record forgot it at the founder's first
	// sign-in keep it.
	c, db := rawMongo(t, a)
	if _, err := c.Database(db).Collection("instances").UpdateOne(t.Context(), bson.D{{Key: "_id", Value: f.instanceID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "founder_email", Value: "alice@acme.example"}}}}); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestExportHoldsEverythingAndNothingElse(t *testing.T) {
	f := newPrivacyFixture(t)
	res := f.alice.do("GET", "/api/v1/me/export", nil)
	if res.status != http.StatusOK || !strings.Contains(res.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", res.status, res.header)
	}
	for _, c := range f.aliceCanary {
		if !strings.Contains(string(res.body), c) {
			t.Errorf("the export lacks %q", c)
		}
	}
	for _, c := range f.otherCanary {
		if strings.Contains(string(res.body), c) {
			t.Errorf("the export holds someone else's %q", c)
		}
	}
	var ex struct {
		Manifest []string       `json:"manifest"`
		Data     map[string]any `json:"data"`
	}
	res.json(t, &ex)
	for _, kind := range []string{"members", "consents", "invitations", "audit", "sessions", "posts"} {
		if !strings.Contains(strings.Join(ex.Manifest, ","), kind) {
			t.Errorf("manifest %v lacks %s", ex.Manifest, kind)
		}
	}
	// Every collection that holds anything of Alice's is one the export
	// searched: a new kind of data cannot be left out of it unnoticed.
	for _, line := range strings.Split(scan(t, f.a, false), "\n") {
		coll, docs, ok := strings.Cut(line, ": ")
		if !ok || !strings.Contains(docs, f.aliceID) && !strings.Contains(docs, "alice@acme.example") {
			continue
		}
		kind := coll[strings.LastIndex(coll, "_")+1:]
		if strings.HasPrefix(coll, "t_") {
			kind = strings.TrimPrefix(coll, "t_"+f.instanceID+"_")
		}
		if !slices.Contains(ex.Manifest, kind) && !slices.Contains(ex.Manifest, coll) {
			t.Errorf("collection %s holds Alice's data but is not in the export's manifest %v", coll, ex.Manifest)
		}
	}
	// Admins get the same document for a person on request; audited.
	res = f.admin.do("GET", "/api/v1/privacy/subjects?email="+url.QueryEscape("Alice@acme.example"), nil)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), "canary-alice-suggestion") {
		t.Errorf("admin subject lookup: %d %.300s", res.status, res.body)
	}
	if res := f.alice.do("GET", "/api/v1/privacy/subjects?email=carol@acme.example", nil); res.status != http.StatusForbidden {
		t.Errorf("non-admin subject lookup: %d, want 403", res.status)
	}
	if res := f.admin.do("GET", "/api/v1/privacy/subjects?email=bob@globex.example", nil); res.status != http.StatusNotFound {
		t.Errorf("another instance's person: %d, want 404", res.status)
	}
}

// scanAll returns every collection's documents of the test database as
// JSON text, and of its erasure ledger.
func scanAll(t *testing.T, a *testApp) string { return scan(t, a, false) }

// scan is scanAll, optionally without the audit logs and the erasure
// ledger: those keep a member's opaque ID by design (the hash-chained log
// cannot change; the ledger is how a restore is cleaned again).
func scan(t *testing.T, a *testApp, skipKept bool) string {
	t.Helper()
	c, db := rawMongo(t, a)
	var b strings.Builder
	for _, name := range []string{db, db + "_ledger"} {
		if skipKept && name != db {
			continue
		}
		colls, err := c.Database(name).ListCollectionNames(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for _, coll := range colls {
			if skipKept && strings.HasSuffix(coll, "_audit") {
				continue
			}
			cur, err := c.Database(name).Collection(coll).Find(t.Context(), bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			var docs []bson.M
			if err := cur.All(t.Context(), &docs); err != nil {
				t.Fatal(err)
			}
			j, _ := json.Marshal(docs)
			b.WriteString(coll + ": ")
			b.Write(j)
			b.WriteString("\n")
		}
	}
	return b.String()
}

func TestErasureLeavesNothing(t *testing.T) {
	f := newPrivacyFixture(t)
	before := scanAll(t, f.a)
	for _, c := range f.aliceCanary {
		if !strings.Contains(before, c) {
			t.Fatalf("canary %q not stored before erasure: the test would prove nothing", c)
		}
	}
	if res := f.alice.do("DELETE", "/api/v1/me", nil); res.status != http.StatusNoContent {
		t.Fatalf("erase me: %d %s", res.status, res.body)
	}
	after := scanAll(t, f.a)
	for _, c := range f.aliceCanary {
		if strings.Contains(after, c) {
			t.Errorf("%q is still stored after erasure", c)
		}
	}
	if strings.Contains(scan(t, f.a, true), f.aliceID) {
		t.Errorf("Alice's member ID is still stored outside the audit log and the ledger")
	}
	for _, c := range f.otherCanary {
		if !strings.Contains(after, c) {
			t.Errorf("someone else's %q went with the erasure", c)
		}
	}
	if res := f.alice.do("GET", "/api/v1/me", nil); res.status != http.StatusUnauthorized {
		t.Errorf("erased member's session: %d, want 401", res.status)
	}
	// Nor in Redis (task payloads carry IDs only) or in the logs. The
	// address is left out of the log check: the development mailbox logs
	// recipients, which production (SMTP) does not.
	redisText := scanRedis(t, f.a)
	logText := f.a.logs.String()
	for _, c := range f.aliceCanary {
		if strings.Contains(redisText, c) {
			t.Errorf("%q is in Redis", c)
		}
		if c != "alice@acme.example" && strings.Contains(logText, c) {
			t.Errorf("%q is in the logs", c)
		}
	}
	// The published post stays, de-identified.
	if !strings.Contains(after, "canary-alice-post") {
		t.Error("the published post went too; it belongs to the company")
	}
}

func TestErasureSurvivesBackupRestore(t *testing.T) {
	f := newPrivacyFixture(t)
	uri, db := f.a.mongo()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect(context.Background())
	copyDB := func(from, to string) {
		t.Helper()
		if err := c.Database(to).Drop(t.Context()); err != nil {
			t.Fatal(err)
		}
		colls, err := c.Database(from).ListCollectionNames(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		for _, coll := range colls {
			cur, err := c.Database(from).Collection(coll).Find(t.Context(), bson.D{})
			if err != nil {
				t.Fatal(err)
			}
			var docs []any
			if err := cur.All(t.Context(), &docs); err != nil {
				t.Fatal(err)
			}
			if len(docs) > 0 {
				if _, err := c.Database(to).Collection(coll).InsertMany(t.Context(), docs); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	backup := db + "_backup"
	t.Cleanup(func() { c.Database(backup).Drop(context.Background()) })
	copyDB(db, backup) // the nightly dump, taken before the erasure

	if res := f.admin.do("POST", "/api/v1/privacy/subjects/erase", map[string]string{"email": "alice@acme.example"}); res.status != http.StatusNoContent {
		t.Fatalf("admin erase: %d %s", res.status, res.body)
	}
	copyDB(backup, db) // disaster: restore the dump
	if !strings.Contains(scanAll(t, f.a), "canary-alice-name") {
		t.Fatal("the restore did not bring Alice back: the test would prove nothing")
	}
	// The data dir holds the embedded Redis the replay checks for tasks.
	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db, "CHORUS_DATA_DIR": t.TempDir()}
	var out strings.Builder
	if err := run(t.Context(), []string{"privacy", "replay-erasures"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("replay-erasures: %v", err)
	}
	after := scanAll(t, f.a)
	for _, canary := range f.aliceCanary {
		if strings.Contains(after, canary) {
			t.Errorf("%q is back after restore + replay (%s)", canary, out.String())
		}
	}
}

func TestConsentsAndLastAdmin(t *testing.T) {
	f := newPrivacyFixture(t)
	if res := f.carol.sendingMalformed().do("PUT", "/api/v1/me/consents/mind_reading", map[string]any{"granted": true}); res.status != http.StatusNotFound {
		t.Errorf("unknown purpose: %d, want 404", res.status)
	}
	if res := f.carol.sendingMalformed().do("PUT", "/api/v1/me/consents/tracking", map[string]any{}); res.status != http.StatusBadRequest {
		t.Errorf("consent without granted: %d, want 400", res.status)
	}
	f.carol.do("PUT", "/api/v1/me/consents/tracking", map[string]any{"granted": true, "text_version": "v1"})
	f.carol.do("PUT", "/api/v1/me/consents/tracking", map[string]any{"granted": false, "text_version": "v1"})
	var got struct {
		Current map[string]bool `json:"current"`
		Ledger  []struct {
			Purpose string `json:"purpose"`
			Granted bool   `json:"granted"`
		} `json:"ledger"`
	}
	f.carol.do("GET", "/api/v1/me/consents", nil).json(t, &got)
	if got.Current["tracking"] || !got.Current["analytics_attribution"] || len(got.Ledger) != 2 {
		t.Errorf("consents = %+v: want tracking withdrawn, attribution on by default, a ledger of 2", got)
	}
	if res := f.admin.do("DELETE", "/api/v1/me", nil); res.status != http.StatusConflict {
		t.Errorf("the last admin erasing themselves: %d, want 409", res.status)
	}
	_ = tenant.RoleAdmin
}

func TestOperatorReadsNeedAGrant(t *testing.T) {
	a := newTestApp(t, map[string]string{"CHORUS_OPERATOR_TOKEN": "op-token"})
	admin := a.client(t)
	alice := admin.signIn("alice@acme.example")
	op := a.client(t)
	path := "/ops/v1/instances/" + alice.Instance.ID + "/members"
	bearer := []string{"Authorization", "Bearer op-token"}

	if res := op.sendingMalformed().do("GET", path, nil, bearer...); res.status != http.StatusForbidden || res.problem(t).Code != "support_grant_required" {
		t.Fatalf("operator read without a grant: %d %s, want 403", res.status, res.body)
	}
	res := admin.sendingMalformed().do("POST", "/api/v1/instance/support-grants", map[string]any{"hours": 100, "reason": "x"})
	if res.status != http.StatusBadRequest {
		t.Errorf("a 100-hour grant: %d, want 400", res.status)
	}
	var g struct{ ID string }
	res = admin.do("POST", "/api/v1/instance/support-grants", map[string]any{"hours": 2, "reason": "ticket 7: sign-in trouble"})
	res.json(t, &g)
	if res.status != http.StatusCreated {
		t.Fatalf("grant: %d %s", res.status, res.body)
	}
	withGrant := append(bearer, "X-Support-Grant", g.ID)
	if res := op.do("GET", path, nil, "X-Support-Grant", g.ID); res.status != http.StatusUnauthorized {
		t.Errorf("grant without the operator token: %d, want 401", res.status)
	}
	res = op.do("GET", path, nil, withGrant...)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), "alice@acme.example") {
		t.Fatalf("operator read with a grant: %d %s", res.status, res.body)
	}
	// The grant opens only its own instance.
	bob := a.client(t).signIn("bob@globex.example")
	if res := op.do("GET", "/ops/v1/instances/"+bob.Instance.ID+"/members", nil, withGrant...); res.status != http.StatusForbidden {
		t.Errorf("acme's grant on globex: %d, want 403", res.status)
	}
	audit := admin.do("GET", "/api/v1/audit", nil)
	if !strings.Contains(string(audit.body), "support.read") || !strings.Contains(string(audit.body), "ticket 7") {
		t.Errorf("the operator's read is not in the audit log: %s", audit.body)
	}
	// Expired and revoked grants open nothing.
	a.clock.Add(3 * time.Hour)
	if res := op.do("GET", path, nil, withGrant...); res.status != http.StatusForbidden {
		t.Errorf("expired grant: %d, want 403", res.status)
	}
	a.clock.Add(-3 * time.Hour)
	if res := admin.do("DELETE", "/api/v1/instance/support-grants/"+g.ID, nil); res.status != http.StatusNoContent {
		t.Fatalf("revoke: %d", res.status)
	}
	if res := op.do("GET", path, nil, withGrant...); res.status != http.StatusForbidden {
		t.Errorf("revoked grant: %d, want 403", res.status)
	}
}

func TestOffboarding(t *testing.T) {
	a := newTestApp(t, nil)
	admin := a.client(t)
	alice := admin.signIn("alice@acme.example")
	admin.do("PATCH", "/api/v1/members/me", map[string]string{"name": "canary-offboard"})
	bobc := a.client(t)
	bobc.signIn("bob@globex.example")
	if res := admin.do("DELETE", "/api/v1/instance", map[string]string{"confirm": "yes"}); res.status != http.StatusBadRequest {
		t.Errorf("offboarding without repeating the ID: %d, want 400", res.status)
	}
	if res := admin.do("DELETE", "/api/v1/instance", map[string]string{"confirm": alice.Instance.ID}); res.status != http.StatusNoContent {
		t.Fatalf("offboard: %d %s", res.status, res.body)
	}
	all := scanAll(t, a)
	for _, gone := range []string{"canary-offboard", "acme.example", "t_" + alice.Instance.ID} {
		if strings.Contains(all, gone) {
			t.Errorf("%q survives offboarding", gone)
		}
	}
	if !strings.Contains(all, alice.Instance.ID) {
		t.Error("no ledger entry for the offboarded instance")
	}
	if res := bobc.do("GET", "/api/v1/me", nil); res.status != http.StatusOK {
		t.Errorf("another instance after offboarding: %d", res.status)
	}
	// The domain is free again: a new first user starts a new instance.
	again := a.client(t).signIn("alice@acme.example")
	if again.Instance.ID == alice.Instance.ID {
		t.Error("the deleted instance came back")
	}
	// The operator command does the same (with a Redis of its own on the
	// data dir, for the waiting tasks of the members it erases first).
	uri, db := a.mongo()
	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db, "CHORUS_DATA_DIR": t.TempDir()}
	var out strings.Builder
	if err := run(t.Context(), []string{"instance", "delete", again.Instance.ID, "--reason", "contract ended"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("chorus instance delete: %v", err)
	}
	if err := run(t.Context(), []string{"audit", "verify", again.Instance.ID}, func(k string) string { return env[k] }, &out); err == nil {
		t.Error("the deleted instance's audit log still verifies")
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	a := newTestApp(t, nil)
	admin := a.client(t)
	alice := admin.signIn("alice@acme.example")
	carol := a.client(t).signIn("carol@acme.example")
	admin.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]string{"role": "curator"})
	uri, db := a.mongo()
	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db}
	var out strings.Builder
	if err := run(t.Context(), []string{"audit", "verify", alice.Instance.ID}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("chorus audit verify: %v", err)
	}
	if !strings.Contains(out.String(), "1 entries") {
		t.Errorf("output %q", out.String())
	}

	// Past the retention period, the sweeper purges the entries; the
	// chain still verifies from its anchor, and tampering still shows.
	a.clock.Add(time.Duration(tenant.DefaultRetentionDays+1) * 24 * time.Hour)
	admin = a.client(t) // the old session expired long ago
	admin.signIn("alice@acme.example")
	admin.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]string{"role": "analyst"})
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.SweepRetention()); err != nil {
		t.Fatalf("retention sweep: %v", err)
	}
	var log struct{ Items []auditDoc }
	admin.do("GET", "/api/v1/audit", nil).json(t, &log)
	if len(log.Items) != 2 || log.Items[0].Action != "audit.purged" || log.Items[1].Details["to"] != "analyst" {
		t.Fatalf("log after the sweep: %+v, want the recent change and the purge", log.Items)
	}
	out.Reset()
	if err := run(t.Context(), []string{"audit", "verify", alice.Instance.ID}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("chorus audit verify after the purge: %v", err)
	}
	if !strings.Contains(out.String(), "2 entries") || !strings.Contains(out.String(), "entries 1 to 1 were purged") {
		t.Errorf("output %q", out.String())
	}
	sc, err := a.store.Open(t.Context(), alice.Instance.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	coll := raw.Database(db).Collection("t_" + alice.Instance.ID + "_audit")
	if _, err := coll.UpdateOne(t.Context(), bson.D{{Key: "action", Value: "member.role_changed"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "details.to", Value: "admin"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.VerifyAudit(t.Context()); !errors.Is(err, tenant.ErrAuditTampered) {
		t.Errorf("VerifyAudit after tampering: %v, want ErrAuditTampered", err)
	}
	if err := run(t.Context(), []string{"audit", "verify", alice.Instance.ID}, func(k string) string { return env[k] }, &out); err == nil {
		t.Error("chorus audit verify accepts a tampered chain")
	}
}

func TestExportJob(t *testing.T) {
	f := newPrivacyFixture(t)
	var job struct{ ID, State string }
	res := f.alice.do("POST", "/api/v1/me/exports", nil)
	res.json(t, &job)
	if res.status != http.StatusAccepted || job.State != "pending" {
		t.Fatalf("request export: %d %s", res.status, res.body)
	}
	if res := f.alice.do("GET", "/api/v1/me/exports/"+job.ID+"/download", nil); res.status != http.StatusConflict {
		t.Errorf("download before ready: %d, want 409", res.status)
	}
	if res := f.carol.do("GET", "/api/v1/me/exports/"+job.ID, nil); res.status != http.StatusNotFound {
		t.Errorf("carol reading alice's export: %d, want 404", res.status)
	}
	// Run the queued job as the worker would: only IDs in the payload.
	insp := asynq.NewInspector(f.a.queue)
	defer insp.Close()
	tasks, err := insp.ListPendingTasks(task.QueueDefault)
	if err != nil || len(tasks) != 1 || tasks[0].Type != task.TypeExport {
		t.Fatalf("queued: %+v, %v", tasks, err)
	}
	if strings.Contains(string(tasks[0].Payload), "alice") {
		t.Errorf("the payload carries personal data: %s", tasks[0].Payload)
	}
	w, err := jobs.NewWorker(jobs.Config{Store: f.a.store, Privacy: f.a.services.privacy})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), asynq.NewTask(tasks[0].Type, tasks[0].Payload)); err != nil {
		t.Fatalf("export job: %v", err)
	}
	f.alice.do("GET", "/api/v1/me/exports/"+job.ID, nil).json(t, &job)
	if job.State != "ready" {
		t.Fatalf("state after the job: %s", job.State)
	}
	res = f.alice.do("GET", "/api/v1/me/exports/"+job.ID+"/download", nil)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), "canary-alice-suggestion") {
		t.Errorf("download: %d %.200s", res.status, res.body)
	}
	if res := f.alice.do("GET", "/api/v1/me/exports/"+job.ID+"/download", nil); res.status != http.StatusConflict {
		t.Errorf("second download: %d, want 409 (once only)", res.status)
	}
}

// Asking again while an export is prepared answers the same job; the
// request takes no body but an empty object.
func TestExportRequestedTwice(t *testing.T) {
	f := newPrivacyFixture(t)
	var first, again struct{ ID, State string }
	f.alice.do("POST", "/api/v1/me/exports", nil).json(t, &first)
	for _, body := range []any{nil, map[string]any{}} {
		res := f.alice.do("POST", "/api/v1/me/exports", body)
		res.json(t, &again)
		if res.status != http.StatusAccepted || again.ID != first.ID {
			t.Errorf("asking again (body %v): %d %s, want 202 with job %s", body, res.status, res.body, first.ID)
		}
	}
	for _, body := range []any{map[string]any{"junk": 1}, "not json", "[]"} {
		if res := f.alice.sendingMalformed().do("POST", "/api/v1/me/exports", body); res.status != http.StatusBadRequest {
			t.Errorf("body %v: %d %s, want 400", body, res.status, res.body)
		}
	}
	insp := asynq.NewInspector(f.a.queue)
	defer insp.Close()
	if tasks, err := insp.ListPendingTasks(task.QueueDefault); err != nil || len(tasks) != 1 {
		t.Errorf("queued: %d tasks, %v; want 1", len(tasks), err)
	}
}

// scanRedis returns every key and value of the test's Redis database.
func scanRedis(t *testing.T, a *testApp) string {
	t.Helper()
	rdb := a.queue.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	keys, err := rdb.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\n")
		switch typ, _ := rdb.Type(t.Context(), k).Result(); typ {
		case "string":
			v, _ := rdb.Get(t.Context(), k).Result()
			b.WriteString(v)
		case "hash":
			for f, v := range rdb.HGetAll(t.Context(), k).Val() {
				b.WriteString(f + "=" + v + "\n")
			}
		case "list":
			b.WriteString(strings.Join(rdb.LRange(t.Context(), k, 0, -1).Val(), "\n"))
		case "zset":
			b.WriteString(strings.Join(rdb.ZRange(t.Context(), k, 0, -1).Val(), "\n"))
		case "set":
			b.WriteString(strings.Join(rdb.SMembers(t.Context(), k).Val(), "\n"))
		}
	}
	if len(keys) == 0 {
		t.Log("Redis holds no keys")
	}
	return b.String()
}

// TestCampaignsAndSourcesOfASubject: the export names the campaigns and
// sources the person created (ID, name, creation time); erasure keeps
// them, the company's, with a pseudonym as their creator, and leaves
// another curator's as they were.
func TestCampaignsAndSourcesOfASubject(t *testing.T) {
	f := newPrivacyFixture(t)
	now := time.Now().UTC()
	res := f.admin.do("POST", "/api/v1/campaigns", map[string]any{"name": "admin-campaign", "start": rfc(now), "end": rfc(now.Add(time.Hour)),
		"goal": map[string]any{"metric": "shares", "target": 10}})
	if res.status != http.StatusCreated {
		t.Fatalf("admin campaign: %d %s", res.status, res.body)
	}
	var adminCampaign struct {
		ID        string `json:"id"`
		CreatedBy string `json:"created_by"`
	}
	res.json(t, &adminCampaign)

	type created struct {
		ID        string    `json:"id"`
		Name      string    `json:"name"`
		CreatedAt time.Time `json:"created_at"`
	}
	var ex struct {
		Data struct {
			Campaigns []created `json:"campaigns_created"`
			Sources   []created `json:"sources_created"`
		} `json:"data"`
	}
	res = f.alice.do("GET", "/api/v1/me/export", nil)
	if res.status != http.StatusOK {
		t.Fatalf("export: %d %s", res.status, res.body)
	}
	res.json(t, &ex)
	if c := ex.Data.Campaigns; len(c) != 1 || c[0].ID != f.aliceCampaign.ID || c[0].Name != "alice-campaign" || c[0].CreatedAt.IsZero() {
		t.Errorf("exported campaigns: %+v, want only %s alice-campaign with its creation time", c, f.aliceCampaign.ID)
	}
	if s := ex.Data.Sources; len(s) != 1 || s[0].ID != f.aliceSource.ID || s[0].Name != "alice-source" || s[0].CreatedAt.IsZero() {
		t.Errorf("exported sources: %+v, want only %s alice-source with its creation time", s, f.aliceSource.ID)
	}
	// The admin's own export holds their campaign, not Alice's.
	res = f.admin.do("GET", "/api/v1/me/export", nil)
	if !strings.Contains(string(res.body), adminCampaign.ID) || strings.Contains(string(res.body), f.aliceCampaign.ID) {
		t.Errorf("the admin's export: %.400s", res.body)
	}

	if res := f.alice.do("DELETE", "/api/v1/me", nil); res.status != http.StatusNoContent {
		t.Fatalf("erase me: %d %s", res.status, res.body)
	}
	var after struct {
		Name      string `json:"name"`
		Title     string `json:"title"`
		CreatedBy string `json:"created_by"`
	}
	for _, path := range []string{"/api/v1/campaigns/" + f.aliceCampaign.ID, "/api/v1/sources/" + f.aliceSource.ID} {
		res := f.admin.do("GET", path, nil)
		if res.status != http.StatusOK {
			t.Fatalf("%s after erasure: %d %s, want it kept", path, res.status, res.body)
		}
		res.json(t, &after)
		if !strings.HasPrefix(after.CreatedBy, "erased-") {
			t.Errorf("%s created_by %q after erasure, want the pseudonym", path, after.CreatedBy)
		}
	}
	res = f.admin.do("GET", "/api/v1/campaigns/"+adminCampaign.ID, nil)
	res.json(t, &after)
	if after.CreatedBy != adminCampaign.CreatedBy || after.CreatedBy == "" {
		t.Errorf("the admin's campaign created_by %q after Alice's erasure, want %q", after.CreatedBy, adminCampaign.CreatedBy)
	}
}
