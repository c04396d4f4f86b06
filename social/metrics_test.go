package social_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/social/x"
	"github.com/chorushq/chorus/social/x/xtest"
	"github.com/chorushq/chorus/tenant"
)

// PostMetrics reads a share's engagement through the share's connection:
// counts as the connector reads them, ErrNoMetrics leaving the
// connection active, and a revoked token marking it needs_reconnect. X
// stands for the connectors whose metrics need the member's token.
func TestPostMetricsThroughTheConnection(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	h.verify("acme.example")
	ctx, sc := t.Context(), h.scope(admin)
	me, err := sc.Member(ctx, admin.member)
	if err != nil {
		t.Fatal(err)
	}

	fake := xtest.New(t, xtest.Options{Username: "alice", Followers: 50})
	xn, err := x.New(x.Options{ClientID: fake.ClientID(), ClientSecret: social.Secret(fake.ClientSecret()),
		AuthBaseURL: fake.URL, APIBaseURL: fake.URL, UserAgent: "Chorus-test"})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := social.NewRegistry(xn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := h.cfg
	cfg.Networks = reg
	svc := social.NewService(cfg)
	if _, err := svc.Allow(ctx, sc, me, social.X, nil); err != nil {
		t.Fatal(err)
	}
	authorize, err := svc.Start(ctx, sc, me, social.X, "", "")
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := svc.Callback(ctx, sc, me, social.X, social.CallbackParams{Code: loc.Query().Get("code"), State: loc.Query().Get("state")})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := svc.Publish(ctx, sc, conn.ID, social.Post{Text: "measured", Link: "https://news.example/m"})
	if err != nil {
		t.Fatal(err)
	}
	sh := social.Share{ID: "share-1", MemberID: admin.member, ConnectionID: conn.ID, Network: social.X,
		State: social.SharePublished, RemoteID: pub.RemoteID}

	fake.SetMetrics(pub.RemoteID, xtest.Metrics{Likes: 7, Replies: 2, Retweets: 1, Quotes: 1})
	e, err := svc.PostMetrics(ctx, sc, sh)
	if want := (social.Engagement{Reactions: 7, Comments: 2, Reposts: 2}); err != nil || e != want {
		t.Errorf("PostMetrics = %+v, %v; want %+v", e, err, want)
	}

	status := func() social.Status {
		t.Helper()
		c, err := svc.Connection(ctx, sc, me, conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.Status
	}
	fake.DenyLookups(true)
	if _, err := svc.PostMetrics(ctx, sc, sh); !errors.Is(err, social.ErrNoMetrics) {
		t.Errorf("PostMetrics for an app without lookups = %v; want ErrNoMetrics", err)
	}
	if s := status(); s != social.StatusActive {
		t.Errorf("connection %s after ErrNoMetrics, want active: it still posts", s)
	}
	fake.DenyLookups(false)

	n, acct, err := svc.Account(ctx, sc, conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Revoke(ctx, acct); err != nil { // the member revoked Chorus at X
		t.Fatal(err)
	}
	if _, err := svc.PostMetrics(ctx, sc, sh); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("PostMetrics with a revoked token = %v; want ErrReconnect", err)
	}
	if s := status(); s != social.StatusNeedsReconnect {
		t.Errorf("connection %s after a revoked token, want needs_reconnect", s)
	}
}
