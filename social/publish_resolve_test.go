package social_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/facebook"
	"github.com/chorushq/chorus/social/facebook/facebooktest"
	"github.com/chorushq/chorus/social/linkedin"
	"github.com/chorushq/chorus/social/linkedin/linkedintest"
	"github.com/chorushq/chorus/social/mastodon"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/social/x"
	"github.com/chorushq/chorus/social/x/xtest"
	"github.com/chorushq/chorus/tenant"
)

// The reconciler against the X, Facebook and LinkedIn contract fakes:
// unconfirmed shares whose post is there become published with its URL;
// those whose post is not there go back to queued after the grace
// period; a network that cannot tell (missing permission, a rate limit,
// a revoked token) leaves the share unconfirmed with the reason on the
// share, a rate limit stops the questions to that network only, and a
// revoked token marks the connection needs_reconnect with one mail.
func TestResolveUnconfirmedAtXFacebookAndLinkedIn(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	h.verify("acme.example")
	ctx, sc := t.Context(), h.scope(admin)
	me, err := sc.Member(ctx, admin.member)
	if err != nil {
		t.Fatal(err)
	}

	xf := xtest.New(t, xtest.Options{Username: "alice", Now: h.clock.Now})
	ff := facebooktest.New(t, facebooktest.Options{Now: h.clock.Now})
	lf := linkedintest.New(t, linkedintest.Options{Now: h.clock.Now})
	xn, err := x.New(x.Options{ClientID: xf.ClientID(), ClientSecret: social.Secret(xf.ClientSecret()),
		AuthBaseURL: xf.URL, APIBaseURL: xf.URL, UserAgent: "Chorus-test", Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	fn, err := facebook.New(facebook.Options{AppID: ff.AppID(), AppSecret: social.Secret(ff.AppSecret()),
		DialogBaseURL: ff.URL, GraphBaseURL: ff.URL, UserAgent: "Chorus-test", Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	linkedinOpts := linkedin.Options{ClientID: lf.ClientID(), ClientSecret: social.Secret(lf.ClientSecret()),
		AuthBaseURL: lf.URL, APIBaseURL: lf.URL, UserAgent: "Chorus-test", Now: h.clock.Now, ReadEngagement: true}
	ln, err := linkedin.New(linkedinOpts)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := social.NewRegistry(xn, fn, ln)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var mails []string
	cfg := h.cfg
	cfg.Networks = reg
	cfg.Notify = func(_ context.Context, _ tenant.Scope, memberID, subject, _ string) error {
		mu.Lock()
		defer mu.Unlock()
		mails = append(mails, memberID+": "+subject)
		return nil
	}
	svc := social.NewService(cfg)

	conns := map[string]string{}
	for _, network := range []string{social.X, social.Facebook, social.LinkedIn} {
		conns[network] = connectOAuth(t, svc, sc, me, network).ID
	}

	post := content.Post{ID: "post-launch", State: content.StatePublished, URL: "https://news.example/launch", Title: "Launch"}
	text := "We launched"
	shares := sc.Collection(social.ShareKind)
	// share makes a share left unconfirmed by an attempt now; posted says
	// whether the post reached the network (then postID is its ID), as a
	// worker that died after sending would leave it.
	share := func(network string, posted bool) (id, postID string) {
		t.Helper()
		out, err := svc.CreateShares(ctx, sc, me, post, social.ShareRequest{Connections: []string{conns[network]}, Text: &text})
		if err != nil {
			t.Fatalf("share to %s: %v", network, err)
		}
		sh := out[0]
		if posted {
			pub, err := svc.Publish(ctx, sc, sh.ConnectionID, social.Post{Text: sh.Text, Link: sh.TrackedURL, IdempotencyKey: sh.ID})
			if err != nil {
				t.Fatalf("post to %s: %v", network, err)
			}
			// The post's ID as its URL shows it (Facebook's Page_post ID
			// and LinkedIn's URN carry a prefix).
			postID = pub.RemoteID[strings.LastIndexAny(pub.RemoteID, "_:")+1:]
		}
		now := h.clock.Now().UTC()
		if ok, err := shares.Update(ctx, bson.D{{Key: "_id", Value: sh.ID}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: social.ShareUnconfirmed}, {Key: "attempted_at", Value: now}, {Key: "updated_at", Value: now},
			{Key: "error", Value: "the network may have received this post but did not confirm it; it is not posted again"}}}}); err != nil || !ok {
			t.Fatalf("share %s not made unconfirmed: %v", sh.ID, err)
		}
		return sh.ID, postID
	}
	view := func(id string) (v struct {
		State   string `json:"state"`
		PostURL string `json:"post_url"`
		Error   string `json:"error"`
	}) {
		t.Helper()
		res := admin.do("GET", "/api/v1/shares/"+id, nil)
		if res.status != http.StatusOK {
			t.Fatalf("GET share %s: %d %s", id, res.status, res.body)
		}
		res.json(t, &v)
		return v
	}
	resolve := func(svc *social.Service, wantPublished, wantRequeued int) {
		t.Helper()
		p, r, err := svc.ResolveUnconfirmed(ctx, sc)
		if err != nil || p != wantPublished || r != wantRequeued {
			t.Fatalf("ResolveUnconfirmed = %d published, %d requeued, %v; want %d, %d", p, r, err, wantPublished, wantRequeued)
		}
	}
	networks := []string{social.X, social.Facebook, social.LinkedIn}

	// Found → published with the post's URL; absent → unconfirmed within
	// the grace period, queued after it.
	found, absent, urls := map[string]string{}, map[string]string{}, map[string]string{}
	for _, n := range networks {
		found[n], urls[n] = share(n, true)
		absent[n], _ = share(n, false)
	}
	h.clock.Add(time.Minute)
	resolve(svc, 3, 0)
	for _, n := range networks {
		if v := view(found[n]); v.State != "published" || urls[n] == "" || !strings.Contains(v.PostURL, urls[n]) || v.Error != "" {
			t.Errorf("%s share whose post is there: %+v, want published with the URL of post %s", n, v, urls[n])
		}
		if v := view(absent[n]); v.State != "unconfirmed" || !strings.Contains(v.Error, "not posted again") {
			t.Errorf("%s share whose post is not there, within the grace period: %+v, want unconfirmed as it was", n, v)
		}
	}
	h.clock.Add(10 * time.Minute)
	resolve(svc, 0, 3)
	for _, n := range networks {
		if v := view(absent[n]); v.State != "queued" {
			t.Errorf("%s share whose post is not there, after the grace period: %+v, want queued", n, v)
		}
	}
	if _, err := shares.Update(ctx, bson.D{{Key: "state", Value: social.ShareQueued}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: social.ShareCancelled}}}}); err != nil {
		t.Fatal(err)
	}

	// X rate limits its timeline: X's other share is not asked in this
	// run, Facebook and LinkedIn are; the next run asks X again.
	xLimited, xLimitedURL := share(social.X, true)
	xOther, _ := share(social.X, false)
	fbFound, _ := share(social.Facebook, true)
	liFound, _ := share(social.LinkedIn, true)
	timeline := "GET /2/users/" + xf.UserID() + "/tweets"
	before := xf.Calls(timeline)
	xf.RateLimitTimeline(1, http.Header{"Retry-After": {"60"}})
	h.clock.Add(time.Minute)
	resolve(svc, 2, 0)
	if n := xf.Calls(timeline) - before; n != 1 {
		t.Errorf("X's timeline asked %d times after a 429 in one run, want 1", n)
	}
	for _, id := range []string{xLimited, xOther} {
		if v := view(id); v.State != "unconfirmed" || v.Error != "We could not check with X whether the post went out: the network asked us to wait; Chorus checks again later" {
			t.Errorf("X share while X rate limits: %+v, want unconfirmed saying X asked to wait", v)
		}
	}
	for _, id := range []string{fbFound, liFound} {
		if v := view(id); v.State != "published" {
			t.Errorf("share of another network in the run X rate limited: %+v, want published", v)
		}
	}
	h.clock.Add(time.Minute)
	resolve(svc, 1, 0)
	if v := view(xLimited); v.State != "published" || !strings.HasSuffix(v.PostURL, "/"+xLimitedURL) {
		t.Errorf("X share after the rate limit: %+v, want published", v)
	}
	if v := view(xOther); v.State != "unconfirmed" || !strings.Contains(v.Error, "not posted again") {
		t.Errorf("X share not there yet once X answers: %+v, want unconfirmed without the stale reason", v)
	}
	if _, err := shares.Update(ctx, bson.D{{Key: "_id", Value: xOther}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: social.ShareCancelled}}}}); err != nil {
		t.Fatal(err)
	}

	// Missing permission: an X app whose access level excludes the
	// timeline, and a LinkedIn app configured without r_member_social.
	// The shares stay unconfirmed, saying so, however often they are
	// checked.
	xf.DenyTimeline(true)
	noRead := linkedinOpts
	noRead.ReadEngagement = false
	lnNoRead, err := linkedin.New(noRead)
	if err != nil {
		t.Fatal(err)
	}
	regNoRead, err := social.NewRegistry(xn, fn, lnNoRead)
	if err != nil {
		t.Fatal(err)
	}
	cfgNoRead := cfg
	cfgNoRead.Networks = regNoRead
	logged := &countingHandler{msg: "unconfirmed share not checked"}
	cfgNoRead.Log = slog.New(logged)
	svcNoRead := social.NewService(cfgNoRead)
	xDenied, _ := share(social.X, true)
	liDenied, _ := share(social.LinkedIn, true)
	for range 2 {
		h.clock.Add(11 * time.Minute)
		resolve(svcNoRead, 0, 0)
		for n, id := range map[string]string{"X": xDenied, "LinkedIn": liDenied} {
			want := "We could not check with " + n + " whether the post went out: Chorus lacks the permission to read your posts"
			if v := view(id); v.State != "unconfirmed" || v.Error != want {
				t.Errorf("%s share without the permission to read posts: %+v, want unconfirmed with %q", n, v, want)
			}
		}
	}
	if n := logged.count(); n != 2 {
		t.Errorf("%d lines at info or above for two shares checked twice each, want 2: one per share while the reason stays", n)
	}
	xf.DenyTimeline(false)
	for _, id := range []string{xDenied, liDenied} {
		if _, err := shares.Update(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: social.ShareCancelled}}}}); err != nil {
			t.Fatal(err)
		}
	}

	// The member revoked Chorus at X: the connection needs reconnecting
	// (one mail), the share stays unconfirmed and says why.
	xRevoked, _ := share(social.X, true)
	n, acct, err := svc.Account(ctx, sc, conns[social.X])
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Revoke(ctx, acct); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		h.clock.Add(11 * time.Minute)
		resolve(svc, 0, 0)
		want := "We could not check with X whether the post went out: reconnect your account, and Chorus checks again"
		if v := view(xRevoked); v.State != "unconfirmed" || v.Error != want {
			t.Errorf("X share after the token was revoked: %+v, want unconfirmed with %q", v, want)
		}
	}
	c, err := svc.Connection(ctx, sc, me, conns[social.X])
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != social.StatusNeedsReconnect {
		t.Errorf("X connection after a revoked token: %s, want needs_reconnect", c.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(mails) != 1 || !strings.Contains(mails[0], "Reconnect your X account") {
		t.Errorf("mails: %q, want one telling the member to reconnect X", mails)
	}
}

// countingHandler counts the records with message msg at info or above.
type countingHandler struct {
	msg string
	mu  sync.Mutex
	n   int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg && r.Level >= slog.LevelInfo {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Mastodon keeps a status's Idempotency-Key for an hour
// (social.KeyedPublisher): an interrupted attempt whose post the account
// does not show is queued again at once, not after the grace period, and
// a first request that arrives after all makes no second status.
func TestResolveUnconfirmedPostsAgainAtOnceWhereKeysDedupe(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin, sc, me := h.admin()
	h.allowMastodon(admin, nil)
	conn := h.connect(admin)
	ctx := t.Context()
	post := content.Post{ID: "post-launch", State: content.StatePublished, URL: "https://news.example/launch", Title: "Launch"}
	text := "We launched"
	shares := sc.Collection(social.ShareKind)
	// interrupted makes a share that a worker died publishing 3 minutes
	// ago; sent says whether its request reached the network.
	interrupted := func(sent bool) social.Share {
		t.Helper()
		out, err := h.svc.CreateShares(ctx, sc, me, post, social.ShareRequest{Connections: []string{conn}, Text: &text})
		if err != nil {
			t.Fatal(err)
		}
		sh := out[0]
		if sent {
			if _, err := h.svc.Publish(ctx, sc, conn, social.Post{Text: sh.Text, Link: sh.TrackedURL, IdempotencyKey: sh.ID}); err != nil {
				t.Fatal(err)
			}
		}
		at := h.clock.Now().UTC().Add(-3 * time.Minute)
		if ok, err := shares.Update(ctx, bson.D{{Key: "_id", Value: sh.ID}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: social.ShareUnconfirmed}, {Key: "attempted_at", Value: at}, {Key: "updated_at", Value: h.clock.Now().UTC()},
			{Key: "error", Value: "publishing was interrupted; the post may exist at the network and is not posted again"}}}}); err != nil || !ok {
			t.Fatalf("share %s not made unconfirmed: %v", sh.ID, err)
		}
		return sh
	}
	state := func(id string) social.Share {
		t.Helper()
		var sh social.Share
		if err := shares.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &sh); err != nil {
			t.Fatal(err)
		}
		return sh
	}
	statuses := func(sh social.Share) int {
		n := 0
		for _, st := range h.fake.Statuses() {
			if strings.Contains(st.Text, sh.TrackedURL) {
				n++
			}
		}
		return n
	}

	arrived, lost, late := interrupted(true), interrupted(false), interrupted(false)
	if p, r, err := h.svc.ResolveUnconfirmed(ctx, sc); err != nil || p != 1 || r != 2 {
		t.Fatalf("ResolveUnconfirmed 3 minutes after the attempts = %d published, %d requeued, %v; want 1, 2", p, r, err)
	}
	if got := state(arrived.ID); got.State != social.SharePublished || got.PostURL == "" {
		t.Errorf("the share whose post is there: %s %q, want published with its URL", got.State, got.PostURL)
	}
	for _, sh := range []social.Share{lost, late} {
		if got := state(sh.ID).State; got != social.ShareQueued {
			t.Errorf("share %s whose post is not there: %s, want queued at once", sh.ID, got)
		}
	}
	// The late share's first request reaches the network now, before the
	// repeat.
	if _, err := h.svc.Publish(ctx, sc, conn, social.Post{Text: late.Text, Link: late.TrackedURL, IdempotencyKey: late.ID}); err != nil {
		t.Fatal(err)
	}
	for _, sh := range []social.Share{lost, late} {
		if err := h.svc.PublishShare(ctx, sc, sh.ID); err != nil {
			t.Fatalf("publishing %s again: %v", sh.ID, err)
		}
		if got := state(sh.ID).State; got != social.SharePublished {
			t.Errorf("share %s posted again: %s, want published", sh.ID, got)
		}
	}
	for _, sh := range []social.Share{arrived, lost, late} {
		if n := statuses(sh); n != 1 {
			t.Errorf("share %s is at the network %d times, want once", sh.ID, n)
		}
	}

	// Past half the key's window the repeat is not certain to be
	// deduplicated: then only the grace period decides.
	if got := social.KeyedRepeatable(mastodon.New(mastodon.Options{}), h.clock.Now().Add(-31*time.Minute), h.clock.Now()); got {
		t.Error("a repeat 31 minutes after the attempt counted as deduplicated by Mastodon's one-hour key")
	}
}
