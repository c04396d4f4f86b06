package main

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social/bluesky"
	"github.com/chorushq/chorus/social/bluesky/pdstest"
)

// newTestAppWithPDS is newTestApp whose social networks may also reach a
// real test PDS, which it starts (the test skips without one).
func newTestAppWithPDS(t *testing.T) (*testApp, *pdstest.PDS) {
	t.Helper()
	pds := pdstest.Start(t)
	addr := netip.MustParseAddrPort(strings.TrimPrefix(pds.URL, "http://"))
	return newTestAppPorts(t, nil, []int{int(addr.Port())}), pds
}

func TestBlueskyConnectAndShare(t *testing.T) {
	a, pds := newTestAppWithPDS(t)
	const accountPassword = "carol-account-password"
	did := pds.CreateAccount(t, "carol.test", accountPassword)
	appPassword := pds.AppPassword(t, "carol.test", accountPassword, "chorus")

	admin, _ := verifiedAdmin(t, a, "admin@acme.example")
	employee := a.client(t)
	employee.signIn("carol@acme.example")
	body := map[string]string{"instance_url": pds.URL, "identifier": "carol.test", "app_password": appPassword}
	if res := employee.do("POST", "/api/v1/connections/bluesky/password", body); res.status != http.StatusForbidden || res.problem(t).Code != "network_not_allowed" {
		t.Fatalf("connect before whitelisting: %d %s, want 403 network_not_allowed", res.status, res.body)
	}
	if res := admin.do("PUT", "/api/v1/networks/bluesky", nil); res.status != http.StatusOK {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	if res := employee.do("POST", "/api/v1/connections/bluesky/start", nil); res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "/password") {
		t.Errorf("OAuth start on Bluesky: %d %s, want 400 pointing to /password", res.status, res.body)
	}
	for name, bad := range map[string]map[string]string{
		"wrong password": {"instance_url": pds.URL, "identifier": "carol.test", "app_password": "wron-gpas-swor-dxxx"},
		"unknown handle": {"instance_url": pds.URL, "identifier": "nobody.test", "app_password": appPassword},
	} {
		if res := employee.do("POST", "/api/v1/connections/bluesky/password", bad); res.status != http.StatusBadRequest || res.problem(t).Code != "invalid_credentials" {
			t.Errorf("%s: %d %s, want 400 invalid_credentials", name, res.status, res.body)
		}
	}
	if res := employee.sendingMalformed().do("POST", "/api/v1/connections/bluesky/password", map[string]string{"identifier": "carol.test", "app_password": appPassword, "password": "x"}); res.status != http.StatusBadRequest {
		t.Errorf("an unknown field: %d %s, want 400", res.status, res.body)
	}

	res := employee.do("POST", "/api/v1/connections/bluesky/password", body)
	var conn struct {
		ID, Network, Handle, Status string
		InstanceURL                 string `json:"instance_url"`
	}
	res.json(t, &conn)
	if res.status != http.StatusCreated || conn.Status != "active" || conn.Handle != "@carol.test" || conn.Network != "bluesky" || conn.InstanceURL != pds.URL {
		t.Fatalf("connect: %d %s", res.status, res.body)
	}
	if strings.Contains(string(res.body), appPassword) || strings.Contains(strings.ToLower(string(res.body)), "token") {
		t.Errorf("the connection shows a secret: %s", res.body)
	}

	var p struct{ ID string }
	admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/launch"), "title": "Launch",
		"share_texts": map[string]string{"bluesky": "We launched!"}}).json(t, &p)
	res = employee.do("POST", "/api/v1/content/"+p.ID+"/shares", map[string]any{"connections": []string{conn.ID}}, "Idempotency-Key", "b1")
	var shares struct{ Items []shareDoc }
	res.json(t, &shares)
	if res.status != http.StatusAccepted || len(shares.Items) != 1 {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	if n := runPublishTasks(t, a); n != 1 {
		t.Fatalf("%d tasks queued, want 1", n)
	}
	// A duplicate delivery of the task posts nothing more.
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), shares.Items[0].ID)); err != nil {
		t.Fatal(err)
	}
	records := pds.ListRecords(t, did, bluesky.Collection)
	if len(records) != 1 {
		t.Fatalf("%d posts on the PDS, want exactly 1", len(records))
	}
	if v := string(records[0].Value); !strings.Contains(v, "We launched!") || !strings.Contains(v, shares.Items[0].TrackedURL) {
		t.Errorf("posted %s: want the curators' text and the tracked link", v)
	}
	if _, ok := pds.GetRecord(t, did, bluesky.Collection, bluesky.RecordKey(shares.Items[0].ID)); !ok {
		t.Error("the post is not under the share's record key")
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+shares.Items[0].ID, nil).json(t, &sh)
	if sh.State != "published" || !strings.HasPrefix(sh.PostURL, bluesky.AppURL+"/profile/carol.test/post/") {
		t.Errorf("share after publishing: %+v", sh)
	}

	// Two hours later the access token has expired: the next share renews
	// the session with the refresh token first.
	a.clock.Add(2 * time.Hour)
	var p2 struct{ ID string }
	admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/launch-2"), "title": "Launch 2",
		"share_texts": map[string]string{"bluesky": "And again!"}}).json(t, &p2)
	res = employee.do("POST", "/api/v1/content/"+p2.ID+"/shares", map[string]any{"connections": []string{conn.ID}}, "Idempotency-Key", "b2")
	var second struct{ Items []shareDoc }
	res.json(t, &second)
	if res.status != http.StatusAccepted || len(second.Items) != 1 {
		t.Fatalf("second share: %d %s", res.status, res.body)
	}
	// Queued on the test's clock, two hours ahead of Redis's: run it as
	// the worker will then.
	later, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := later.Handler().ProcessTask(t.Context(), task.Publish(a.mustInstance(t, employee), second.Items[0].ID)); err != nil {
		t.Fatal(err)
	}
	employee.do("GET", "/api/v1/shares/"+second.Items[0].ID, nil).json(t, &sh)
	if n := len(pds.ListRecords(t, did, bluesky.Collection)); n != 2 || sh.State != "published" {
		t.Fatalf("%d posts on the PDS after the renewal, want 2; share %+v", n, sh)
	}

	if strings.Contains(scanAll(t, a), appPassword) {
		t.Error("the app password is stored")
	}
	if strings.Contains(a.logs.String(), appPassword) {
		t.Error("the app password is logged")
	}

	if res := employee.do("DELETE", "/api/v1/connections/"+conn.ID, nil); res.status != http.StatusNoContent {
		t.Fatalf("disconnect: %d %s", res.status, res.body)
	}
	if strings.Contains(a.logs.String(), "not revoked") {
		t.Errorf("the session was not ended at the PDS: %s", a.logs.String())
	}
	var conns struct{ Items []struct{ ID string } }
	employee.do("GET", "/api/v1/connections", nil).json(t, &conns)
	if len(conns.Items) != 0 {
		t.Errorf("connections after disconnecting: %+v", conns.Items)
	}
}
