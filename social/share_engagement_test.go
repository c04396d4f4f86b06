package social_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/social/x"
	"github.com/chorushq/chorus/social/x/xtest"
)

// PostMetrics reads a share's engagement through the share's connection:
// counts as the connector reads them, ErrNoMetrics leaving the
// connection active, and a revoked token marking it needs_reconnect. X
// stands for the connectors whose metrics need the member's token.
func TestPostMetricsThroughTheConnection(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin, sc, me := h.admin()
	ctx := t.Context()

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
	pauses := &memPauses{now: h.clock.Now, until: map[string]time.Time{}, reason: map[string]string{}}
	cfg.Pauses = pauses
	svc := social.NewService(cfg)
	conn := connectOAuth(t, svc, sc, me, social.X)
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

	// X's usage cap is the operator's: the network is paused, the next
	// read is not even sent, the connection stays active.
	fake.CapUsage(true)
	if _, err := svc.PostMetrics(ctx, sc, sh); !errors.Is(err, social.ErrOperator) {
		t.Errorf("PostMetrics when X's usage cap is spent = %v; want ErrOperator", err)
	}
	lookups := fake.Calls("GET /2/tweets/" + pub.RemoteID)
	if _, err := svc.PostMetrics(ctx, sc, sh); !errors.Is(err, social.ErrRetryLater) || fake.Calls("GET /2/tweets/"+pub.RemoteID) != lookups {
		t.Errorf("PostMetrics while X is paused = %v after %d lookups; want ErrRetryLater without asking X", err, fake.Calls("GET /2/tweets/"+pub.RemoteID)-lookups)
	}
	if s := status(); s != social.StatusActive {
		t.Errorf("connection %s after the usage cap, want active", s)
	}
	fake.CapUsage(false)
	h.clock.Add(social.OperatorPause + time.Second)

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
