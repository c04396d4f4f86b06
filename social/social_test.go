package social_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/tenant"
)

func TestWhitelist(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	employee := h.signIn("emp@acme.example", tenant.RoleEmployee)
	pending := h.signIn("admin@pending.example", tenant.RoleAdmin)
	h.verify("acme.example")

	for _, tc := range []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		status int
		code   string
	}{
		{"pending instance's admin", pending, "PUT", "/api/v1/networks/mastodon", nil, 403, "domain_unverified"},
		{"employee", employee, "PUT", "/api/v1/networks/mastodon", nil, 403, "forbidden"},
		{"employee un-whitelisting", employee, "DELETE", "/api/v1/networks/mastodon", nil, 403, "forbidden"},
		{"unknown network", admin, "PUT", "/api/v1/networks/myspace", nil, 404, "not_found"},
		{"unserved network", admin, "PUT", "/api/v1/networks/linkedin", nil, 409, "network_not_configured"},
		{"unknown field", admin, "PUT", "/api/v1/networks/mastodon", map[string]any{"allowed": true}, 400, "validation_failed"},
		{"bad host", admin, "PUT", "/api/v1/networks/mastodon", map[string]any{"config": map[string]any{"allowed_instances": []string{"https://x.example/path"}}}, 400, "validation_failed"},
		{"verified admin", admin, "PUT", "/api/v1/networks/mastodon", map[string]any{"config": map[string]any{"allowed_instances": []string{"https://Mastodon.Social/", "fosstodon.org"}}}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.c.do(tc.method, tc.path, tc.body)
			if res.status != tc.status || res.code(t) != tc.code {
				t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, res.status, res.body, tc.status, tc.code)
			}
		})
	}

	var got struct{ Items []social.NetworkState }
	employee.do("GET", "/api/v1/networks", nil).json(t, &got)
	want := []social.NetworkState{{Name: "mastodon", State: social.NetAllowed, Allowed: true, Federated: true,
		Config: social.NetworkConfig{AllowedInstances: []string{"fosstodon.org", "mastodon.social"}}}}
	// Every other network Chorus supports is listed, not served here.
	for _, name := range social.Names[1:] {
		want = append(want, social.NetworkState{Name: name, State: social.NotConfigured, Config: social.NetworkConfig{AllowedInstances: []string{}}})
	}
	if diff := cmp.Diff(want, got.Items); diff != "" {
		t.Errorf("GET /networks (-want +got):\n%s", diff)
	}
	var other struct{ Items []social.NetworkState }
	pending.do("GET", "/api/v1/networks", nil).json(t, &other)
	if len(other.Items) != len(social.Names) || other.Items[0].Allowed || other.Items[0].State != social.NetNotAllowed {
		t.Errorf("another instance sees %+v, want mastodon not allowed", other.Items)
	}
	log, err := h.scope(admin).AuditLog(t.Context(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(log, func(e tenant.AuditEntry) bool {
		return e.Action == "network.allowed" && e.Target == "mastodon" && e.Actor.ID == admin.member
	}) {
		t.Errorf("audit log lacks network.allowed: %+v", log)
	}
}

func TestStartNeedsWhitelist(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	emp := h.signIn("emp@acme.example", tenant.RoleEmployee)
	h.verify("acme.example")
	start := func(body any) response {
		return emp.do("POST", "/api/v1/connections/mastodon/start", body)
	}
	if res := start(map[string]string{"instance_url": h.fake.URL}); res.status != 403 || res.code(t) != "network_not_allowed" {
		t.Errorf("start before whitelisting = %d %s, want 403 network_not_allowed", res.status, res.body)
	}
	h.allowMastodon(admin, map[string]any{"allowed_instances": []string{"mastodon.social"}})
	if res := start(map[string]string{"instance_url": h.fake.URL}); res.status != 403 || res.code(t) != "instance_not_allowed" {
		t.Errorf("start on an unlisted server = %d %s, want 403 instance_not_allowed", res.status, res.body)
	}
	h.allowMastodon(admin, map[string]any{"allowed_instances": []string{}}) // every server
	if res := start(map[string]string{}); res.status != 400 || res.code(t) != "validation_failed" {
		t.Errorf("start without instance_url = %d %s, want 400", res.status, res.body)
	}
	if res := start(map[string]string{"instance_url": h.fake.URL}); res.status != 200 {
		t.Errorf("start = %d %s, want 200", res.status, res.body)
	}
	if got := h.fake.Calls("POST /api/v1/apps"); got != 1 {
		t.Errorf("app registered %d times, want 1", got)
	}
	start(map[string]string{"instance_url": h.fake.URL})
	if got := h.fake.Calls("POST /api/v1/apps"); got != 1 {
		t.Errorf("app registered %d times after a second start, want 1 (cached)", got)
	}
}

func TestConnectPublishDisconnect(t *testing.T) {
	h := newHarness(t, mastodontest.Options{Username: "alice", Followers: 1234})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	h.verify("acme.example")
	h.allowMastodon(admin, nil)
	id := h.connect(admin)

	res := admin.do("GET", "/api/v1/connections", nil)
	for _, leak := range []string{"access", "refresh", "key_id", "token"} {
		if strings.Contains(string(res.body), leak) {
			t.Errorf("GET /connections mentions %q: %s", leak, res.body)
		}
	}
	host := strings.TrimPrefix(h.fake.URL, "http://")
	want := []connView{{ID: id, Network: "mastodon", Handle: "@alice@" + host, Status: "active", Followers: 1234, MaxChars: mastodontest.MaxChars}}
	if diff := cmp.Diff(want, h.connections(admin)); diff != "" {
		t.Errorf("connections (-want +got):\n%s", diff)
	}
	// Connecting the same account again updates the connection.
	if again := h.connect(admin); again != id {
		t.Errorf("reconnecting made connection %s, want %s", again, id)
	}

	ctx, sc := t.Context(), h.scope(admin)
	post := social.Post{Text: "Worth a read", Link: "https://news.example/a", IdempotencyKey: "share-1"}
	pub, err := h.svc.Publish(ctx, sc, id, post)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := h.svc.Publish(ctx, sc, id, post); err != nil || again.RemoteID != pub.RemoteID {
		t.Errorf("retried publish = %+v, %v; want the same post %s", again, err, pub.RemoteID)
	}
	if err := h.svc.DeletePost(ctx, sc, id, pub.RemoteID); err != nil {
		t.Fatal(err)
	}
	if sts := h.fake.Statuses(); len(sts) != 1 || !sts[0].Deleted {
		t.Errorf("statuses = %+v, want one, deleted", sts)
	}

	if res := admin.do("DELETE", "/api/v1/connections/"+id, nil); res.status != http.StatusNoContent {
		t.Fatalf("disconnect: %d %s", res.status, res.body)
	}
	if got := h.fake.Calls("POST /oauth/revoke"); got != 1 {
		t.Errorf("revoke calls = %d, want 1", got)
	}
	if got := h.connections(admin); len(got) != 0 {
		t.Errorf("connections after disconnect = %+v", got)
	}
	if res := admin.do("DELETE", "/api/v1/connections/"+id, nil); res.status != http.StatusNotFound {
		t.Errorf("second disconnect = %d, want 404", res.status)
	}
}

func TestStateIsSingleUseAndBound(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	colleague := h.signIn("bob@acme.example", tenant.RoleEmployee)
	h.verify("acme.example")
	h.allowMastodon(admin, nil)

	stolen := h.authorize(admin)
	if res := colleague.do("GET", stolen, nil); res.status != 400 || res.code(t) != "invalid_state" {
		t.Errorf("another member's state = %d %s, want 400 invalid_state", res.status, res.body)
	}
	forged := strings.Replace(stolen, "state=", "state=x", 1)
	if res := admin.do("GET", forged, nil); res.status != 400 || res.code(t) != "invalid_state" {
		t.Errorf("forged state = %d %s, want 400 invalid_state", res.status, res.body)
	}
	if res := admin.do("GET", "/api/v1/connections/mastodon/callback?code=abc", nil); res.status != 400 || res.code(t) != "invalid_state" {
		t.Errorf("no state = %d %s, want 400 invalid_state", res.status, res.body)
	}
	// The colleague's attempt did not burn the state.
	if res := admin.do("GET", stolen, nil); res.status != http.StatusSeeOther {
		t.Fatalf("callback = %d %s, want 303", res.status, res.body)
	}
	if res := admin.do("GET", stolen, nil); res.status != 400 || res.code(t) != "invalid_state" {
		t.Errorf("replayed state = %d %s, want 400 invalid_state", res.status, res.body)
	}
	expired := h.authorize(admin)
	h.clock.Add(social.StateTTL + time.Second)
	if res := admin.do("GET", expired, nil); res.status != 400 || res.code(t) != "invalid_state" {
		t.Errorf("expired state = %d %s, want 400 invalid_state", res.status, res.body)
	}
	h.fake.Deny(true)
	if res := admin.do("GET", h.authorize(admin), nil); res.status != http.StatusSeeOther || !strings.Contains(res.header.Get("Location"), "connect_error=declined") {
		t.Errorf("declined = %d %s, want 303 back to the app with connect_error", res.status, res.header.Get("Location"))
	}
	if got := len(h.connections(admin)); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

func TestSwappedCiphertextIsBroken(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	bob := h.signIn("bob@acme.example", tenant.RoleEmployee)
	h.verify("acme.example")
	h.allowMastodon(admin, nil)
	idA, idB := h.connect(admin), h.connect(bob)
	ctx, sc := t.Context(), h.scope(admin)
	coll := sc.Collection(social.ConnectionKind)
	var a, b social.Connection
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: idA}}, &a); err != nil {
		t.Fatal(err)
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: idB}}, &b); err != nil {
		t.Fatal(err)
	}
	// Bob copies his token's ciphertext onto the admin's connection.
	if _, err := coll.Update(ctx, bson.D{{Key: "_id", Value: idA}}, bson.D{{Key: "$set", Value: bson.D{{Key: "access", Value: b.Access}}}}); err != nil {
		t.Fatal(err)
	}
	_, err := h.svc.Publish(ctx, sc, idA, social.Post{Text: "hi"})
	if !errors.Is(err, social.ErrBroken) {
		t.Errorf("publish with a swapped ciphertext: %v, want ErrBroken", err)
	}
	if got := h.fake.Calls("POST /api/v1/statuses"); got != 0 {
		t.Errorf("%d calls to the network, want none", got)
	}
	if got := h.connections(admin); len(got) != 1 || got[0].Status != "broken" {
		t.Errorf("connections = %+v, want the connection broken", got)
	}
	// Bob's own connection is untouched.
	if _, err := h.svc.Publish(ctx, sc, idB, social.Post{Text: "hi"}); err != nil {
		t.Errorf("bob's publish: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	bob := h.signIn("bob@acme.example", tenant.RoleEmployee)
	h.verify("acme.example")
	h.allowMastodon(admin, nil)
	ids := []string{h.connect(admin), h.connect(bob)}
	ctx, sc := t.Context(), h.scope(admin)

	if _, _, err := h.withKeys(key2).Account(ctx, sc, ids[0]); !errors.Is(err, social.ErrBroken) {
		t.Fatalf("new key alone before rotation: %v, want ErrBroken", err)
	}
	// That marked it broken; repair the status for the rotation test.
	if _, err := sc.Collection(social.ConnectionKind).Update(ctx, bson.D{{Key: "_id", Value: ids[0]}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: social.StatusActive}}}}); err != nil {
		t.Fatal(err)
	}
	rotating := h.withKeys(key2 + "," + key1)
	got, err := rotating.RotateAll(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(social.RotateReport{Rotated: 2}, got); diff != "" {
		t.Errorf("RotateAll (-want +got):\n%s", diff)
	}
	if got, _ := rotating.RotateAll(ctx, sc); got != (social.RotateReport{Current: 2}) {
		t.Errorf("second RotateAll = %+v, want all current", got)
	}
	onlyNew := h.withKeys(key2)
	for _, id := range ids {
		if _, err := onlyNew.Publish(ctx, sc, id, social.Post{Text: "after rotation " + id}); err != nil {
			t.Errorf("publish %s with only the new key: %v", id, err)
		}
	}
	// The app secret was rotated too: starting again registers no new app.
	if _, err := onlyNew.Start(ctx, sc, tenant.Member{ID: bob.member}, "mastodon", h.fake.URL, ""); err != nil {
		t.Errorf("start after rotation: %v", err)
	}
	if got := h.fake.Calls("POST /api/v1/apps"); got != 1 {
		t.Errorf("%d app registrations, want 1", got)
	}
}

func TestOtherInstancesAndMembersGet404(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	colleague := h.signIn("bob@acme.example", tenant.RoleAdmin)
	outsider := h.signIn("admin@globex.example", tenant.RoleAdmin)
	h.verify("acme.example")
	h.allowMastodon(admin, nil)
	id := h.connect(admin)
	for _, c := range []*client{colleague, outsider} {
		if res := c.do("DELETE", "/api/v1/connections/"+id, nil); res.status != http.StatusNotFound {
			t.Errorf("DELETE another's connection = %d %s, want 404", res.status, res.body)
		}
		if got := h.connections(c); len(got) != 0 {
			t.Errorf("another member lists %+v", got)
		}
	}
	if _, _, err := h.svc.Account(t.Context(), h.scope(outsider), id); !errors.Is(err, social.ErrNotFound) {
		t.Errorf("Account from another instance: %v, want ErrNotFound", err)
	}
	if got := h.connections(admin); len(got) != 1 || got[0].Status != "active" {
		t.Errorf("owner's connections = %+v, want it intact", got)
	}
	if got := h.fake.Calls("POST /oauth/revoke"); got != 0 {
		t.Errorf("revoked %d times, want 0", got)
	}
}

func TestUnwhitelistingDisablesConnections(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	h.verify("acme.example")
	h.allowMastodon(admin, nil)
	id := h.connect(admin)
	if res := admin.do("DELETE", "/api/v1/networks/mastodon", nil); res.status != http.StatusNoContent {
		t.Fatalf("un-whitelist: %d %s", res.status, res.body)
	}
	if got := h.connections(admin); len(got) != 1 || got[0].Status != "disabled" {
		t.Errorf("connections = %+v, want disabled", got)
	}
	if diff := cmp.Diff([]string{"mastodon"}, h.hooked); diff != "" {
		t.Errorf("pending-share hook (-want +got):\n%s", diff)
	}
	if _, err := h.svc.Publish(t.Context(), h.scope(admin), id, social.Post{Text: "hi"}); !errors.Is(err, social.ErrDisabled) {
		t.Errorf("publish through a disabled connection: %v, want ErrDisabled", err)
	}
	if res := admin.do("POST", "/api/v1/connections/mastodon/start", map[string]string{"instance_url": h.fake.URL}); res.code(t) != "network_not_allowed" {
		t.Errorf("start after un-whitelisting = %d %s", res.status, res.body)
	}
	log, _ := h.scope(admin).AuditLog(t.Context(), 0, 10)
	if len(log) == 0 || log[0].Action != "network.disallowed" || log[0].Details["connections_disabled"] != "1" {
		t.Errorf("newest audit entry = %+v, want network.disallowed of 1 connection", log)
	}
	h.allowMastodon(admin, nil)
	if got := h.connections(admin); len(got) != 1 || got[0].Status != "active" {
		t.Errorf("connections after allowing again = %+v, want active", got)
	}
}

func TestRefreshIsSerialised(t *testing.T) {
	h := newHarness(t, mastodontest.Options{ExpiringTokens: time.Hour})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	h.verify("acme.example")
	h.allowMastodon(admin, nil)
	id := h.connect(admin)
	ctx, sc := t.Context(), h.scope(admin)
	h.clock.Add(2 * time.Hour)

	// Two services on one store stand for two processes.
	procs := []*social.Service{h.svc, h.withKeys(key1)}
	const n = 50
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, acct, err := procs[i%2].Account(ctx, sc, id)
			tokens[i], errs[i] = acct.AccessToken.Reveal(), err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
	}
	if got := h.fake.Calls("POST /oauth/token refresh_token"); got != 1 {
		t.Errorf("%d refresh calls, want exactly 1", got)
	}
	slices.Sort(tokens)
	if distinct := slices.Compact(tokens); len(distinct) != 1 {
		t.Errorf("callers got %d different tokens, want 1", len(distinct))
	}
	if _, err := h.svc.Publish(ctx, sc, id, social.Post{Text: "fresh"}); err != nil {
		t.Errorf("publish with the refreshed token: %v", err)
	}

	// The network forgets the refresh token: the member must reconnect.
	h.fake.InvalidateRefreshTokens()
	h.clock.Add(2 * time.Hour)
	if _, _, err := h.svc.Account(ctx, sc, id); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("refresh with a dead refresh token: %v, want ErrReconnect", err)
	}
	if got := h.connections(admin); len(got) != 1 || got[0].Status != "needs_reconnect" {
		t.Errorf("connections = %+v, want needs_reconnect", got)
	}
	var c social.Connection
	if err := sc.Collection(social.ConnectionKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &c); err != nil {
		t.Fatal(err)
	}
	if c.Refresh == nil || len(c.Refresh.Data) == 0 || c.RefreshLease != nil {
		t.Errorf("stored refresh token %v, lease %v; want the token kept and no lease", c.Refresh, c.RefreshLease)
	}
}

// PUT without a config keeps the stored one: no body, an empty object or
// a null config allow the network as it is; a null body is refused.
func TestAllowKeepsTheConfigWithoutOne(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	h.verify("acme.example")
	h.allowMastodon(admin, map[string]any{"allowed_instances": []string{"mastodon.social"}})
	want := []string{"mastodon.social"}
	for _, tc := range []struct {
		name string
		body any
	}{
		{"no body", nil},
		{"empty object", map[string]any{}},
		{"null config", map[string]any{"config": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := admin.do("PUT", "/api/v1/networks/mastodon", tc.body)
			var got social.NetworkState
			res.json(t, &got)
			if res.status != http.StatusOK || !slices.Equal(got.Config.AllowedInstances, want) {
				t.Errorf("PUT: %d %s, want 200 with allowed_instances %v", res.status, res.body, want)
			}
			var list struct{ Items []social.NetworkState }
			admin.do("GET", "/api/v1/networks", nil).json(t, &list)
			if len(list.Items) != len(social.Names) || !slices.Equal(list.Items[0].Config.AllowedInstances, want) {
				t.Errorf("GET /networks after PUT: %+v, want allowed_instances %v", list.Items, want)
			}
		})
	}
	if res := admin.do("PUT", "/api/v1/networks/mastodon", json.RawMessage("null")); res.status != http.StatusBadRequest {
		t.Errorf("PUT with a null body: %d %s, want 400", res.status, res.body)
	}
}

// TestServerLimitFollowsTheConnection: a Mastodon server's own status
// limit, read when the account is connected, is shown with the
// connection (the composer counts against it) and is the limit a share's
// text is checked against.
func TestServerLimitFollowsTheConnection(t *testing.T) {
	h := newHarness(t, mastodontest.Options{MaxCharacters: 1000})
	admin, sc, me := h.admin()
	h.allowMastodon(admin, nil)
	id := h.connect(admin)
	if got := h.connections(admin); len(got) != 1 || got[0].MaxChars != 1000 {
		t.Fatalf("connections = %+v, want max_chars 1000", got)
	}
	post := content.Post{ID: "long", State: content.StatePublished, URL: "https://news.example/long", Title: "Long"}
	for _, tc := range []struct {
		n  int
		ok bool
	}{{975, true}, {976, false}} { // with the link: a blank line and 23
		text := strings.Repeat("a", tc.n)
		_, err := h.svc.CreateShares(t.Context(), sc, me, post, social.ShareRequest{Connections: []string{id}, Text: &text})
		if (err == nil) != tc.ok {
			t.Errorf("a text of %d on a server of 1000: %v, want accepted %t", tc.n, err, tc.ok)
		}
	}
}
