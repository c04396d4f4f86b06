package main

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// regionApp is an app whose home database and region us are on the shared
// test server and region eu on a second server.
func regionApp(t *testing.T) (a *testApp, env map[string]string, euDir, homeDir string) {
	t.Helper()
	homeURI, _ := tenanttest.Mongo(t)
	euURI, euDir := tenanttest.SecondMongo(t)
	env = map[string]string{"CHORUS_MONGO_URI": homeURI, "CHORUS_REGIONS": "eu=" + euURI + "\nus=" + homeURI, "CHORUS_DEFAULT_REGION": "us"}
	a = newTestApp(t, env)
	homeDir, _ = tenanttest.StoreDir(t)
	_, db := a.mongo()
	env["CHORUS_MONGO_DATABASE"] = db
	return a, env, euDir, homeDir
}

type regionView struct {
	ID       string   `json:"id"`
	Verified bool     `json:"verified"`
	Region   string   `json:"region"`
	Regions  []string `json:"regions"`
}

// TestRegionIsolation is TestIsolationMatrix's sibling across regions: a
// pending instance's admin moves it to eu, its people fill it with
// canaries, and neither the other region's server's files nor another
// instance's answers ever hold one.
func TestRegionIsolation(t *testing.T) {
	a, _, euDir, homeDir := regionApp(t)
	admin := a.client(t)
	admin.signIn("admin@eu-corp.example")
	var inst regionView
	admin.do("GET", "/api/v1/instance", nil).json(t, &inst)
	if inst.Region != "us" || !slices.Equal(inst.Regions, []string{"eu", "us"}) || inst.Verified {
		t.Fatalf("a new instance: %+v, want pending in the default region us of [eu us]", inst)
	}
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"region": "mars"}); res.status != http.StatusBadRequest ||
		res.problem(t).Code != "validation_failed" || !strings.Contains(string(res.body), "eu, us") {
		t.Fatalf("an unknown region: %d %s", res.status, res.body)
	}
	res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"region": "eu"})
	if res.status != http.StatusOK {
		t.Fatalf("pick eu: %d %s", res.status, res.body)
	}
	res.json(t, &inst)
	if inst.Region != "eu" {
		t.Fatalf("after the pick: %+v", inst)
	}
	if _, err := tenant.NewService(tenant.Config{Store: a.store}).ForceVerify(t.Context(), "eu-corp.example", "fixture"); err != nil {
		t.Fatal(err)
	}
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"region": "us"}); res.status != http.StatusConflict || res.problem(t).Code != "region_fixed" {
		t.Errorf("a verified instance's admin moves it: %d %s", res.status, res.body)
	}

	// Canaries in every kind of the eu instance's data.
	canary := []string{"canary-eu-name", "canary-eu-title", "canary-eu-post", "canary-eu-commentary", "canary-eu-share-text", "canary-eu-path"}
	employee := a.client(t)
	employee.signIn("employee@eu-corp.example")
	if res := employee.do("PATCH", "/api/v1/members/me", map[string]string{"name": "canary-eu-name", "title": "canary-eu-title"}); res.status != 200 {
		t.Fatalf("name: %d %s", res.status, res.body)
	}
	res = admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/canary-eu-path"), "title": "canary-eu-post", "commentary": "canary-eu-commentary"})
	if res.status != http.StatusCreated {
		t.Fatalf("post: %d %s", res.status, res.body)
	}
	var post struct{ ID string }
	res.json(t, &post)
	if res := admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != 200 {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	conn := a.connectMastodon(t, employee)
	if res := employee.do("POST", "/api/v1/content/"+post.ID+"/shares", map[string]any{"connections": []string{conn},
		"text": "canary-eu-share-text", "publish_at": "2099-01-01T00:00:00Z"}); res.status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	// What the eu people see says where their data is.
	var export struct {
		Instance struct{ Region string } `json:"instance"`
		StoredIn string                  `json:"stored_in"`
	}
	employee.do("GET", "/api/v1/me/export", nil).json(t, &export)
	if export.Instance.Region != "eu" || !strings.Contains(export.StoredIn, "eu") {
		t.Errorf("the export says %+v", export)
	}

	// Another region's instance sees none of it.
	other := a.client(t)
	other.signIn("admin@us-corp.example")
	var usInst regionView
	other.do("GET", "/api/v1/instance", nil).json(t, &usInst)
	if usInst.Region != "us" {
		t.Errorf("us instance: %+v", usInst)
	}
	for _, path := range []string{"/api/v1/content", "/api/v1/members", "/api/v1/shares?all=1", "/api/v1/audit", "/api/v1/me/export", "/api/v1/content/" + post.ID} {
		res := other.do("GET", path, nil)
		for _, c := range canary {
			if strings.Contains(string(res.body), c) {
				t.Errorf("GET %s of a us instance shows %s: %s", path, c, res.body)
			}
		}
	}
	if homeDir == "" {
		t.Log("the home server is not embedded (CHORUS_TEST_MONGO_URI): its files are not searched")
		return
	}
	for _, c := range canary {
		if found := tenanttest.FilesContaining(t, homeDir, c); len(found) > 0 {
			t.Errorf("%s of the eu instance is in the home server's files: %v", c, found)
		}
	}
	if found := tenanttest.FilesContaining(t, euDir, "canary-eu-share-text"); len(found) == 0 {
		t.Error("the share's canary is not in eu's files either: the search proves nothing")
	}
}

// TestRegionMoveCommand moves an instance with chorus instance move while
// its people use it: writes answer 503 instance_moving during the copy,
// reads work, and afterwards everything is in the new region.
func TestRegionMoveCommand(t *testing.T) {
	a, env, _, _ := regionApp(t)
	admin := a.client(t)
	m := admin.signIn("admin@acme.example")
	if _, err := tenant.NewService(tenant.Config{Store: a.store}).ForceVerify(t.Context(), "acme.example", "fixture"); err != nil {
		t.Fatal(err)
	}
	if res := admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/moved"), "title": "moved post"}); res.status != http.StatusCreated {
		t.Fatalf("post: %d %s", res.status, res.body)
	}
	// During the copy (the hook runs after a collection was copied).
	checked := false
	rep, err := a.store.MoveInstance(t.Context(), m.Instance.ID, "eu", tenant.MoveOptions{Copied: func(kind string) error {
		if checked {
			return nil
		}
		checked = true
		res := admin.do("PATCH", "/api/v1/members/me", map[string]string{"name": "during the move"})
		if res.status != http.StatusServiceUnavailable || res.problem(t).Code != "instance_moving" || res.header.Get("Retry-After") == "" {
			t.Errorf("a write during the move: %d %v %s", res.status, res.header, res.body)
		}
		if res := admin.do("GET", "/api/v1/content", nil); res.status != http.StatusOK || !strings.Contains(string(res.body), "moved post") {
			t.Errorf("a read during the move: %d %s", res.status, res.body)
		}
		return nil
	}})
	if err != nil || !rep.Switched {
		t.Fatalf("move: %+v, %v", rep, err)
	}
	var inst regionView
	admin.do("GET", "/api/v1/instance", nil).json(t, &inst)
	if inst.Region != "eu" {
		t.Errorf("after the move: %+v", inst)
	}
	if res := admin.do("GET", "/api/v1/content", nil); !strings.Contains(string(res.body), "moved post") {
		t.Errorf("the feed after the move: %s", res.body)
	}
	if res := admin.do("PATCH", "/api/v1/members/me", map[string]string{"name": "after the move"}); res.status != http.StatusOK {
		t.Errorf("a write after the move: %d %s", res.status, res.body)
	}

	// And back, by the operator's command.
	var out strings.Builder
	if err := run(t.Context(), []string{"instance", "move", m.Instance.ID, "--region", "us"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("chorus instance move: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "is in region us (was eu)") || !strings.Contains(out.String(), "SHA-256 equal") {
		t.Errorf("chorus instance move says:\n%s", out.String())
	}
	if err := run(t.Context(), []string{"instance", "move", m.Instance.ID, "--region", "mars"}, func(k string) string { return env[k] }, &out); err == nil || !strings.Contains(err.Error(), "mars") {
		t.Errorf("a move to an unknown region: %v", err)
	}
	var ops strings.Builder
	// Production problems (no SMTP …) make it fail here; only the regions'
	// line matters.
	_ = run(t.Context(), []string{"config", "check"}, func(k string) string {
		if k == "CHORUS_REGIONS" {
			return "eu=mongodb://u:secret@eu/ us=mongodb://u:secret@us/"
		}
		return env[k]
	}, &ops)
	if strings.Contains(ops.String(), "secret") || !strings.Contains(ops.String(), "CHORUS_REGIONS=eu=") {
		t.Errorf("config check shows:\n%s", ops.String())
	}
}

func TestRegionConfig(t *testing.T) {
	home := "mongodb://home.example/"
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string // "" is no problem with the regions
	}{
		{"one region, named", map[string]string{"CHORUS_MONGO_URI": home, "CHORUS_DEFAULT_REGION": "eu"}, ""},
		{"two regions", map[string]string{"CHORUS_MONGO_URI": home, "CHORUS_REGIONS": "eu=mongodb://u:p,a;ss@eu-a,eu-b/ us=" + home, "CHORUS_DEFAULT_REGION": "eu"}, ""},
		{"the embedded store", map[string]string{"CHORUS_REGIONS": "eu=mongodb://eu/"}, "CHORUS_REGIONS: needs CHORUS_MONGO_URI"},
		{"no default", map[string]string{"CHORUS_MONGO_URI": home, "CHORUS_REGIONS": "eu=mongodb://eu/ us=mongodb://us/"}, "CHORUS_DEFAULT_REGION: must name where new instances go, one of eu, us"},
		{"a default elsewhere", map[string]string{"CHORUS_MONGO_URI": home, "CHORUS_REGIONS": "eu=mongodb://eu/", "CHORUS_DEFAULT_REGION": "us"}, "CHORUS_DEFAULT_REGION: us is not in CHORUS_REGIONS (eu)"},
		{"a bad default", map[string]string{"CHORUS_MONGO_URI": home, "CHORUS_DEFAULT_REGION": "EU"}, "CHORUS_DEFAULT_REGION: \"EU\" is not a region name"},
		{"a bad entry", map[string]string{"CHORUS_MONGO_URI": home, "CHORUS_REGIONS": "eu:mongodb://u:secret@eu/"}, "CHORUS_REGIONS: \"eu:…\" is not name=mongodb://…"},
		{"one URI twice", map[string]string{"CHORUS_MONGO_URI": home, "CHORUS_REGIONS": "eu=mongodb://x/ us=mongodb://x/", "CHORUS_DEFAULT_REGION": "eu"}, "CHORUS_REGIONS: eu and us name the same MongoDB URI"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("operator", nil, func(k string) string { return tt.env[k] }, io.Discard)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("problems: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want one with %q", err, tt.want)
			case err != nil && (strings.Contains(err.Error(), "secret") || strings.Count(err.Error(), "\n") > 0):
				t.Errorf("the problem shows a password or takes more than one line: %v", err)
			}
		})
	}
}
