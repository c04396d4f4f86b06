package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chorushq/chorus/tenant"
)

// isoFixture is three instances, each with a member of every role, and
// canary strings in instance A's data that must never show elsewhere.
type isoFixture struct {
	app     *testApp
	members map[string]map[tenant.Role]*isoMember // instance letter → role
	canary  []string
	// A's objects by kind.
	posts       []string
	topics      []string
	invitations []string
	domain      string
	grant       string
	export      string
	connection  string
	share       string
	source      string
	device      string
	group       string
	campaign    string
}

type isoMember struct {
	c  *client
	id string
}

func newIsoFixture(t *testing.T) *isoFixture {
	t.Helper()
	a := newTestAppEdit(t, nil, nil, func(d *appDeps) { d.push = testPushConfig(t) })
	f := &isoFixture{app: a, members: map[string]map[tenant.Role]*isoMember{}}
	for _, inst := range []string{"A", "B", "C"} {
		domain := strings.ToLower(inst) + "-corp.example"
		f.members[inst] = map[tenant.Role]*isoMember{}
		var instanceID string
		for _, role := range []tenant.Role{tenant.RoleAdmin, tenant.RoleEmployee, tenant.RoleCurator, tenant.RoleAnalyst} {
			c := a.client(t)
			m := c.signIn(string(role) + "@" + domain)
			instanceID = m.Instance.ID
			f.members[inst][role] = &isoMember{c: c, id: m.Member.ID}
		}
		sc, err := a.store.Open(t.Context(), instanceID)
		if err != nil {
			t.Fatal(err)
		}
		for role, m := range f.members[inst] {
			if _, err := sc.SetRole(t.Context(), m.id, role); err != nil {
				t.Fatal(err)
			}
			if inst == "A" {
				name := fmt.Sprintf("canary-%s-%s", role, m.id[:6])
				f.canary = append(f.canary, name, m.id, string(role)+"@"+domain)
				if res := m.c.do("PATCH", "/api/v1/members/me", map[string]string{"name": name, "title": "canary title"}); res.status != 200 {
					t.Fatalf("set canary name: %d %s", res.status, res.body)
				}
			}
		}
		if inst == "A" {
			res := f.members["A"][tenant.RoleAdmin].c.do("PATCH", "/api/v1/instance/settings", map[string]string{"name": "canary-instance-A"})
			if res.status != 200 {
				t.Fatalf("set canary instance name: %d %s", res.status, res.body)
			}
			f.canary = append(f.canary, "canary-instance-A", instanceID)
		}
	}
	f.seedA(t)
	return f
}

// seedA gives instance A content of every state and a topic, all canaries.
func (f *isoFixture) seedA(t *testing.T) {
	t.Helper()
	admin, curator, employee := f.members["A"][tenant.RoleAdmin].c, f.members["A"][tenant.RoleCurator].c, f.members["A"][tenant.RoleEmployee].c
	f.domain = "a-corp.example"
	if _, err := tenant.NewService(tenant.Config{Store: f.app.store}).ForceVerify(t.Context(), f.domain, "fixture"); err != nil {
		t.Fatal(err)
	}
	var invs struct{ Items []struct{ ID string } }
	if res := admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"canary-invitee@a-corp.example"}}); res.status != 201 {
		t.Fatalf("invite: %d %s", res.status, res.body)
	} else {
		res.json(t, &invs)
	}
	f.invitations = append(f.invitations, invs.Items[0].ID)
	var g struct{ ID string }
	if res := admin.do("POST", "/api/v1/instance/support-grants", map[string]any{"hours": 1, "reason": "canary-grant-reason"}); res.status != 201 {
		t.Fatalf("grant: %d %s", res.status, res.body)
	} else {
		res.json(t, &g)
	}
	f.grant = g.ID
	var ex struct{ ID string }
	if res := employee.do("POST", "/api/v1/me/exports", nil); res.status != 202 {
		t.Fatalf("export: %d %s", res.status, res.body)
	} else {
		res.json(t, &ex)
	}
	f.export = ex.ID
	if res := admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != 200 {
		t.Fatalf("whitelist: %d %s", res.status, res.body)
	}
	f.connection = f.app.connectMastodon(t, employee)
	f.canary = append(f.canary, f.connection)
	f.canary = append(f.canary, "canary-grant-reason", g.ID)
	f.canary = append(f.canary, "canary-invitee", invs.Items[0].ID)
	var topic struct{ ID string }
	if res := admin.do("POST", "/api/v1/topics", map[string]string{"name": "canary topic A"}); res.status != 201 {
		t.Fatalf("topic: %d %s", res.status, res.body)
	} else {
		res.json(t, &topic)
	}
	f.topics = append(f.topics, topic.ID)
	f.canary = append(f.canary, "canary-topic-a")
	for i, body := range []map[string]any{
		{"url": f.app.pages.url("/canary-published"), "title": "canary-post-published", "topics": []string{topic.ID}},
		{"url": f.app.pages.url("/canary-draft"), "title": "canary-post-draft", "draft": true},
		{"url": f.app.pages.url("/canary-scheduled"), "title": "canary-post-scheduled", "publish_at": "2099-01-01T00:00:00Z"},
	} {
		res := curator.do("POST", "/api/v1/content", body)
		if res.status != 201 {
			t.Fatalf("post %d: %d %s", i, res.status, res.body)
		}
		var p struct{ ID string }
		res.json(t, &p)
		f.posts = append(f.posts, p.ID)
		f.canary = append(f.canary, p.ID, body["title"].(string))
	}
	var src struct{ ID string }
	if res := curator.do("POST", "/api/v1/sources", map[string]any{"url": f.app.pages.url("/canary-feed.xml"), "title": "canary-source-title",
		"topics": []string{topic.ID}}); res.status != 201 {
		t.Fatalf("source: %d %s", res.status, res.body)
	} else {
		res.json(t, &src)
	}
	f.source = src.ID
	f.canary = append(f.canary, src.ID, "canary-source-title", "canary-feed.xml")
	var camp struct{ ID string }
	if res := curator.do("POST", "/api/v1/campaigns", map[string]any{"name": "canary-campaign-name", "description": "canary-campaign-description",
		"start": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "end": time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"goal": map[string]any{"metric": "shares", "target": 5}}); res.status != 201 {
		t.Fatalf("campaign: %d %s", res.status, res.body)
	} else {
		res.json(t, &camp)
	}
	f.campaign = camp.ID
	f.canary = append(f.canary, camp.ID, "canary-campaign-name", "canary-campaign-description")
	if res := curator.do("PATCH", "/api/v1/content/"+f.posts[0], map[string]any{"campaign_id": camp.ID}); res.status != 200 {
		t.Fatalf("post into campaign: %d %s", res.status, res.body)
	}
	res := employee.do("POST", "/api/v1/suggestions", map[string]any{"url": f.app.pages.url("/canary-suggestion"), "commentary": "canary-suggestion"})
	if res.status != 201 {
		t.Fatalf("suggestion: %d %s", res.status, res.body)
	}
	var p struct{ ID string }
	res.json(t, &p)
	f.posts = append(f.posts, p.ID)
	f.canary = append(f.canary, p.ID, "canary-suggestion")
	var shares struct {
		Items []struct{ ID, TrackedURL string }
	}
	if res := employee.do("POST", "/api/v1/content/"+f.posts[0]+"/shares", map[string]any{"connections": []string{f.connection},
		"text": "canary-share-text", "publish_at": "2099-01-01T00:00:00Z"}); res.status != 202 {
		t.Fatalf("share: %d %s", res.status, res.body)
	} else {
		res.json(t, &shares)
	}
	f.share = shares.Items[0].ID
	f.canary = append(f.canary, f.share, "canary-share-text")
	if res := employee.do("PUT", "/api/v1/me/consents/push", map[string]any{"granted": true}); res.status != 200 {
		t.Fatalf("grant push: %d %s", res.status, res.body)
	}
	var dev struct{ ID string }
	if res := employee.do("POST", "/api/v1/me/push/subscriptions", testDevice(t, "https://push.example/canary-push-endpoint")); res.status != 201 {
		t.Fatalf("push subscription: %d %s", res.status, res.body)
	} else {
		res.json(t, &dev)
	}
	f.device = dev.ID
	f.canary = append(f.canary, dev.ID, "canary-push-endpoint")

	// Audiences: a group with a rule, a member in it by hand and by an
	// attribute, and a post aimed at it.
	var grp struct{ ID string }
	if res := admin.do("POST", "/api/v1/groups", map[string]any{"name": "canary-group-name",
		"rules": []map[string]any{{"attribute": "department", "values": []string{"canary-department"}}}}); res.status != 201 {
		t.Fatalf("group: %d %s", res.status, res.body)
	} else {
		res.json(t, &grp)
	}
	f.group = grp.ID
	employeeID := f.members["A"][tenant.RoleEmployee].id
	if res := admin.do("PUT", "/api/v1/members/"+employeeID+"/attributes", map[string]any{"attributes": map[string]string{"department": "canary-department"}}); res.status != 200 {
		t.Fatalf("attributes: %d %s", res.status, res.body)
	}
	if res := admin.do("PUT", "/api/v1/groups/"+grp.ID+"/members/"+f.members["A"][tenant.RoleAnalyst].id, nil); res.status != 204 {
		t.Fatalf("group member: %d %s", res.status, res.body)
	}
	res = curator.do("POST", "/api/v1/content", map[string]any{"url": f.app.pages.url("/canary-aimed"), "title": "canary-post-aimed", "audience": []string{grp.ID}})
	if res.status != 201 {
		t.Fatalf("aimed post: %d %s", res.status, res.body)
	}
	res.json(t, &p)
	f.posts = append(f.posts, p.ID)
	f.canary = append(f.canary, grp.ID, "canary-group-name", "canary-department", p.ID, "canary-post-aimed")
}

func (f *isoFixture) groupIDs() []map[string]string {
	return []map[string]string{{"id": f.group}}
}

func (f *isoFixture) groupMemberIDs() []map[string]string {
	var out []map[string]string
	for _, m := range f.members["A"] {
		out = append(out, map[string]string{"id": f.group, "member": m.id})
	}
	return out
}

func (f *isoFixture) memberIDs() []map[string]string {
	var out []map[string]string
	for _, m := range f.members["A"] {
		out = append(out, map[string]string{"id": m.id})
	}
	return out
}

func (f *isoFixture) shareIDs() []map[string]string {
	return []map[string]string{{"id": f.share}}
}

func (f *isoFixture) exportIDs() []map[string]string {
	return []map[string]string{{"id": f.export}}
}

func (f *isoFixture) invitationIDs() []map[string]string {
	return []map[string]string{{"id": f.invitations[0]}}
}

func (f *isoFixture) sourceIDs() []map[string]string {
	return []map[string]string{{"id": f.source}}
}

func (f *isoFixture) campaignIDs() []map[string]string {
	return []map[string]string{{"id": f.campaign}}
}

func (f *isoFixture) postIDs() []map[string]string {
	var out []map[string]string
	for _, id := range f.posts {
		out = append(out, map[string]string{"id": id})
	}
	return out
}

// isoDays is an analytics period around today.
var isoDays = "?from=" + time.Now().AddDate(0, 0, -7).Format(time.DateOnly) + "&to=" + time.Now().AddDate(0, 0, 7).Format(time.DateOnly)

// isoRoute says which of instance A's IDs to put into a route's path
// parameters, and which roles may use the route at all (nil: every role).
type isoRoute struct {
	ids   func(f *isoFixture) []map[string]string
	roles []tenant.Role
}

// isolationMatrix covers every route with a path parameter. A new route
// with a parameter fails TestIsolationMatrix until it is added here (or to
// publicRoutes, for routes that carry no instance data).
var isolationMatrix = map[string]isoRoute{
	"GET /api/v1/members/:id":             {ids: (*isoFixture).memberIDs},
	"GET /api/v1/content/:id":             {ids: (*isoFixture).postIDs},
	"PATCH /api/v1/content/:id":           {ids: (*isoFixture).postIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"DELETE /api/v1/content/:id":          {ids: (*isoFixture).postIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"POST /api/v1/content/:id/approve":    {ids: (*isoFixture).postIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"POST /api/v1/content/:id/reject":     {ids: (*isoFixture).postIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"PATCH /api/v1/members/:id":           {ids: (*isoFixture).memberIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"POST /api/v1/members/:id/identities": {ids: (*isoFixture).memberIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"DELETE /api/v1/members/:id":          {ids: (*isoFixture).memberIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"POST /api/v1/instance/domains/:domain/verify": {ids: func(f *isoFixture) []map[string]string {
		return []map[string]string{{"domain": f.domain}}
	}, roles: []tenant.Role{tenant.RoleAdmin}},
	"DELETE /api/v1/invitations/:id":  {ids: (*isoFixture).invitationIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"GET /api/v1/me/exports/:id":      {ids: (*isoFixture).exportIDs},
	"POST /api/v1/content/:id/shares": {ids: (*isoFixture).postIDs},
	"POST /api/v1/content/:id/link":   {ids: (*isoFixture).postIDs},
	"GET /api/v1/shares/:id":          {ids: (*isoFixture).shareIDs},
	"POST /api/v1/shares/:id/cancel":  {ids: (*isoFixture).shareIDs},
	"DELETE /api/v1/connections/:id": {ids: func(f *isoFixture) []map[string]string {
		return []map[string]string{{"id": f.connection}}
	}},
	"GET /api/v1/me/exports/:id/download": {ids: (*isoFixture).exportIDs},
	"DELETE /api/v1/instance/support-grants/:id": {ids: func(f *isoFixture) []map[string]string {
		return []map[string]string{{"id": f.grant}}
	}, roles: []tenant.Role{tenant.RoleAdmin}},
	"POST /api/v1/invitations/:id/resend": {ids: (*isoFixture).invitationIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"GET /api/v1/sources/:id":             {ids: (*isoFixture).sourceIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"PATCH /api/v1/sources/:id":           {ids: (*isoFixture).sourceIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"DELETE /api/v1/sources/:id":          {ids: (*isoFixture).sourceIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"DELETE /api/v1/me/push/subscriptions/:id": {ids: func(f *isoFixture) []map[string]string {
		return []map[string]string{{"id": f.device}}
	}},
	"GET /api/v1/groups/:id":                    {ids: (*isoFixture).groupIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAnalyst, tenant.RoleAdmin}},
	"PATCH /api/v1/groups/:id":                  {ids: (*isoFixture).groupIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"DELETE /api/v1/groups/:id":                 {ids: (*isoFixture).groupIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"GET /api/v1/groups/:id/members":            {ids: (*isoFixture).groupIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"PUT /api/v1/groups/:id/members/:member":    {ids: (*isoFixture).groupMemberIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"DELETE /api/v1/groups/:id/members/:member": {ids: (*isoFixture).groupMemberIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"GET /api/v1/members/:id/audience":          {ids: (*isoFixture).memberIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"PUT /api/v1/members/:id/attributes":        {ids: (*isoFixture).memberIDs, roles: []tenant.Role{tenant.RoleAdmin}},
	"GET /api/v1/campaigns/:id":                 {ids: (*isoFixture).campaignIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAnalyst, tenant.RoleAdmin}},
	"PATCH /api/v1/campaigns/:id":               {ids: (*isoFixture).campaignIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"DELETE /api/v1/campaigns/:id":              {ids: (*isoFixture).campaignIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}},
	"GET /api/v1/campaigns/:id/progress":        {ids: (*isoFixture).campaignIDs, roles: []tenant.Role{tenant.RoleCurator, tenant.RoleAnalyst, tenant.RoleAdmin}},
	"DELETE /api/v1/topics/:id": {ids: func(f *isoFixture) []map[string]string {
		return []map[string]string{{"id": f.topics[0]}}
	}, roles: []tenant.Role{tenant.RoleAdmin}},
}

// publicRoutes have path parameters that name no instance's object.
var publicRoutes = []string{
	"GET /assets/*file",                // the web app's static files
	"PUT /api/v1/me/consents/:purpose", // a purpose name; the member's own record
	// Operator API: the operator token and a live grant of that instance.
	"GET /ops/v1/instances/:id/members",
	// The queues console's pages and API (operator token only).
	"GET /ops/queues/*path",
	// A network's name: the caller's own instance's whitelist and
	// connections (their answers are checked for canaries below).
	"PUT /api/v1/networks/:network",
	"DELETE /api/v1/networks/:network",
	"POST /api/v1/connections/:network/start",
	"POST /api/v1/connections/:network/password",
	"GET /api/v1/connections/:network/callback",
	// Tracked links: public by design; the code is the capability.
	"GET /r/:code",
	"HEAD /r/:code",
}

func TestIsolationMatrix(t *testing.T) {
	f := newIsoFixture(t)
	for _, r := range f.app.engine.Routes() {
		key := r.Method + " " + r.Path
		if !strings.ContainsAny(r.Path, ":*") || slices.Contains(publicRoutes, key) {
			continue
		}
		spec, ok := isolationMatrix[key]
		if !ok {
			t.Errorf("route %s has path parameters but is not in the isolation matrix", key)
			continue
		}
		t.Run(key, func(t *testing.T) {
			for _, ids := range spec.ids(f) {
				path := r.Path
				for name, v := range ids {
					path = strings.ReplaceAll(path, ":"+name, v)
				}
				for _, inst := range []string{"B", "C"} {
					for role, m := range f.members[inst] {
						var body any
						if r.Method != http.MethodGet && r.Method != http.MethodDelete {
							body = map[string]any{}
						}
						// {} stands for any body: the answer must be 404
						// whatever it holds.
						res := m.c.sendingMalformed().do(r.Method, path, body)
						allowed := spec.roles == nil || slices.Contains(spec.roles, role)
						if res.status != http.StatusNotFound && (allowed || res.status != http.StatusForbidden) {
							t.Errorf("%s of %s: %s %s = %d, want 404", role, inst, r.Method, path, res.status)
						}
						for _, c := range f.canary {
							if strings.Contains(string(res.body), c) {
								t.Errorf("%s of %s: %s %s leaks %q: %s", role, inst, r.Method, path, c, res.body)
							}
						}
					}
				}
			}
		})
	}
	// The list routes show no canary to the other instances either.
	for _, inst := range []string{"B", "C"} {
		for role, m := range f.members[inst] {
			for _, path := range []string{"/api/v1/members?limit=100", "/api/v1/me", "/api/v1/instance",
				"/api/v1/content?limit=100", "/api/v1/topics", "/api/v1/suggestions", "/api/v1/sources",
				"/api/v1/instance/domains", "/api/v1/invitations", "/api/v1/audit?limit=100",
				"/api/v1/instance/support-grants", "/api/v1/me/export", "/api/v1/me/consents",
				"/api/v1/networks", "/api/v1/connections", "/api/v1/shares", "/api/v1/shares?all=1", "/api/v1/identities/pending",
				"/api/v1/campaigns", "/api/v1/campaigns?archived=1", "/api/v1/campaigns/active",
				// Reach: A's rollups must not show anywhere else.
				"/api/v1/analytics/summary" + isoDays, "/api/v1/analytics/timeseries" + isoDays, "/api/v1/analytics/content" + isoDays,
				"/api/v1/analytics/members" + isoDays, "/api/v1/analytics/networks" + isoDays, "/api/v1/analytics/members?format=csv&" + isoDays[1:],
				"/api/v1/analytics/me", "/api/v1/groups", "/api/v1/analytics/groups" + isoDays} {
				res := m.c.do("GET", path, nil)
				for _, c := range f.canary {
					if strings.Contains(string(res.body), c) {
						t.Errorf("%s of %s: GET %s leaks %q", role, inst, path, c)
					}
				}
			}
		}
	}
	// Curators of B and C asking for every state see none of A's content.
	for _, inst := range []string{"B", "C"} {
		for _, st := range []string{"draft", "scheduled", "pending", "archived"} {
			res := f.members[inst][tenant.RoleCurator].c.do("GET", "/api/v1/content?state="+st, nil)
			for _, c := range f.canary {
				if strings.Contains(string(res.body), c) {
					t.Errorf("curator of %s: GET content?state=%s leaks %q", inst, st, c)
				}
			}
		}
	}
	// A's campaign is no campaign elsewhere: not for a post, not as a
	// feed filter.
	for _, inst := range []string{"B", "C"} {
		cur := f.members[inst][tenant.RoleCurator].c
		res := cur.do("POST", "/api/v1/content", map[string]any{"url": f.app.pages.url("/b-post"), "campaign_id": f.campaign})
		if res.status != http.StatusNotFound {
			t.Errorf("curator of %s: post into A's campaign = %d %s, want 404", inst, res.status, res.body)
		}
		res = cur.do("GET", "/api/v1/content?campaign="+f.campaign, nil)
		for _, c := range f.canary {
			if strings.Contains(string(res.body), c) {
				t.Errorf("curator of %s: feed of A's campaign leaks %q", inst, c)
			}
		}
	}
	// And A's own members do see them: the canaries are real.
	res := f.members["A"][tenant.RoleEmployee].c.do("GET", "/api/v1/members?limit=100", nil)
	if !strings.Contains(string(res.body), "canary-admin") {
		t.Errorf("A's employee does not see A's canaries: %s", res.body)
	}
	res = f.members["A"][tenant.RoleCurator].c.do("GET", "/api/v1/content?state=pending", nil)
	if !strings.Contains(string(res.body), "canary-suggestion") {
		t.Errorf("A's curator does not see A's suggestion: %s", res.body)
	}
}
