package x_test

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/networktest"
	"github.com/chorushq/chorus/social/x"
	"github.com/chorushq/chorus/social/x/xtest"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

func newNetwork(t *testing.T, fake *xtest.Server, mod func(*x.Options)) *x.Network {
	t.Helper()
	return networktest.NewConnector(t, x.New, x.Options{ClientID: fake.ClientID(), ClientSecret: social.Secret(fake.ClientSecret()),
		AuthBaseURL: fake.URL, APIBaseURL: fake.URL, UserAgent: "Chorus-test"}, mod)
}

const redirect = "http://127.0.0.1:1/api/v1/connections/x/callback"

// connect runs the OAuth flow against the fake as a browser and the social
// service would (PKCE S256), and returns the token.
func connect(t *testing.T, n *x.Network) *oauth2.Token {
	t.Helper()
	o := n.OAuth("", social.App{})
	tok := networktest.Login(t, o.Config(redirect), o.PKCE)
	if tok.ExpiresIn != int64(xtest.TokenLifetime.Seconds()) || tok.RefreshToken == "" {
		t.Errorf("token expires in %d s with refresh %t; want 2 h with a refresh token", tok.ExpiresIn, tok.RefreshToken != "")
	}
	return tok
}

// account is the connected account as the social service hands it to
// the connector: with the ID and handle Profile read at connect time.
func account(tok *oauth2.Token) social.Account {
	return social.Account{AccessToken: social.Secret(tok.AccessToken), RemoteID: "2244994945", Handle: "@alice"}
}

// connectedAt starts a fake and a connector on a clock standing at start,
// and connects the fake's account.
func connectedAt(t *testing.T, start time.Time) (*tenanttest.Clock, *xtest.Server, *x.Network, social.Account) {
	t.Helper()
	c := tenanttest.NewClock(start)
	fake := xtest.New(t, xtest.Options{Now: c.Now})
	n := newNetwork(t, fake, func(o *x.Options) { o.Now = c.Now })
	return c, fake, n, account(connect(t, n))
}

func TestOAuth(t *testing.T) {
	n, err := x.New(x.Options{ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	o := n.OAuth("", social.App{})
	want := oauth2.Endpoint{AuthURL: "https://x.com/i/oauth2/authorize", TokenURL: "https://api.x.com/2/oauth2/token",
		AuthStyle: oauth2.AuthStyleInHeader}
	if diff := cmp.Diff(o.Endpoint, want); diff != "" {
		t.Errorf("endpoint (-got +want):\n%s", diff)
	}
	if !o.PKCE || o.ClientID != "id" || o.ClientSecret.Reveal() != "secret" {
		t.Errorf("OAuth = %+v; want PKCE and the configured app", o)
	}
	if diff := cmp.Diff(o.Scopes, []string{"tweet.read", "tweet.write", "users.read", "offline.access"}); diff != "" {
		t.Errorf("scopes (-got +want):\n%s", diff)
	}
	if _, err := x.New(x.Options{ClientID: "id"}); err == nil {
		t.Error("New without a secret succeeded")
	}
}

func TestConnectPublishDelete(t *testing.T) {
	fake := xtest.New(t, xtest.Options{Username: "alice", Name: "Alice A.", Followers: 1234})
	n := newNetwork(t, fake, nil)
	a := account(connect(t, n))
	ctx := t.Context()

	prof, err := n.Profile(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	want := social.Profile{RemoteID: fake.UserID(), Handle: "@alice", DisplayName: "Alice A.", URL: "https://x.com/alice", Followers: 1234}
	if diff := cmp.Diff(prof, want); diff != "" {
		t.Errorf("profile (-got +want):\n%s", diff)
	}

	pub, err := n.Publish(ctx, a, social.Post{Text: "Worth a read", Link: "https://news.example/a", IdempotencyKey: "share-1"})
	if err != nil {
		t.Fatal(err)
	}
	if pub.RemoteID == "" || pub.URL != "https://x.com/alice/status/"+pub.RemoteID || pub.At.IsZero() {
		t.Errorf("Published = %+v", pub)
	}
	if diff := cmp.Diff(fake.Tweets(), []xtest.Tweet{{ID: pub.RemoteID, Text: "Worth a read\n\nhttps://news.example/a"}},
		cmpopts.IgnoreFields(xtest.Tweet{}, "CreatedAt")); diff != "" {
		t.Errorf("tweets (-got +want):\n%s", diff)
	}
	// A link already in the text is not repeated.
	if _, err := n.Publish(ctx, a, social.Post{Text: "See https://news.example/b now", Link: "https://news.example/b"}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Tweets()[1].Text; got != "See https://news.example/b now" {
		t.Errorf("second tweet = %q", got)
	}

	networktest.CheckLongestText(t, n, a, social.X, "https://chorus.example/r/longest", 0)

	networktest.CheckDeleteAndRevoke(t, n, a, pub.RemoteID, func() bool { return fake.Tweets()[0].Deleted },
		func() bool { return fake.Revoked(a.AccessToken.Reveal()) })
}

// TestRefreshRotates refreshes as the social service does (a TokenSource
// from the connector's OAuth config): each refresh rotates the refresh
// token, and the spent one is a reconnect.
func TestRefreshRotates(t *testing.T) {
	c := tenanttest.NewClock(time.Now())
	fake := xtest.New(t, xtest.Options{Now: c.Now})
	n := newNetwork(t, fake, func(o *x.Options) { o.Now = c.Now })
	first := connect(t, n)
	cfg := n.OAuth("", social.App{}).Config(redirect)
	ctx := t.Context()

	c.Add(xtest.TokenLifetime + time.Minute)
	if _, err := n.Profile(ctx, account(first)); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("profile with an expired token: %v, want ErrReconnect", err)
	}
	second, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken {
		t.Errorf("refresh returned refresh token %q; want a new one", second.RefreshToken)
	}
	if _, err := n.Profile(ctx, account(second)); err != nil {
		t.Errorf("profile with the refreshed token: %v", err)
	}
	_, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: first.RefreshToken}).Token()
	if err == nil {
		t.Fatal("the spent refresh token was accepted again")
	}
	var e *social.Error
	if got := n.TokenError(err); !errors.Is(got, social.ErrReconnect) || !errors.As(got, &e) || e.Status != 400 {
		t.Errorf("TokenError(%v) = %v, want ErrReconnect (HTTP 400)", err, got)
	}
	if n := fake.Calls("POST /2/oauth2/token refresh_token"); n != 2 {
		t.Errorf("%d refresh calls, want 2", n)
	}
}

func TestTokenErrorWithoutBasicAuth(t *testing.T) {
	fake := xtest.New(t, xtest.Options{})
	n := newNetwork(t, fake, nil)
	o := n.OAuth("", social.App{})
	o.Endpoint.AuthStyle = oauth2.AuthStyleInParams // not what X wants
	_, err := o.Config(redirect).Exchange(t.Context(), "code")
	var e *social.Error
	if got := n.TokenError(err); !errors.Is(got, social.ErrPermanent) || !errors.As(got, &e) || e.Status != 401 ||
		e.Message != "Missing valid authorization header" {
		t.Errorf("TokenError(%v) = %v, want permanent 401", err, got)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	c, fake, n, a := connectedAt(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	ctx := t.Context()
	if _, err := n.Publish(ctx, a, social.Post{Text: "first"}); err != nil {
		t.Fatal(err)
	}
	epoch := func(d time.Duration) string { return strconv.FormatInt(c.Now().Add(d).Unix(), 10) }
	networktest.CheckPublishFailures(t, n, a, "", []networktest.PublishFailure{
		{Name: "duplicate", Text: "first", Class: social.ErrPermanent, Status: 403,
			Message: "already posted: You are not allowed to create a Tweet with duplicate content."},
		{Name: "too long", Text: strings.Repeat("x", xtest.MaxChars+1), Class: social.ErrPermanent, Status: 400, Message: "too long"},
		{Name: "15-minute window", Setup: func() {
			fake.RateLimit(1, http.Header{"X-Rate-Limit-Limit": {"200"}, "X-Rate-Limit-Remaining": {"0"}, "X-Rate-Limit-Reset": {epoch(7 * time.Minute)}})
		}, Class: social.ErrRetryLater, Status: 429, RetryAfter: 7 * time.Minute, Message: "Too Many Requests"},
		{Name: "24-hour user cap", Setup: func() {
			fake.RateLimit(1, http.Header{"X-Rate-Limit-Remaining": {"150"}, "X-Rate-Limit-Reset": {epoch(9 * time.Minute)},
				"X-User-Limit-24hour-Limit": {"17"}, "X-User-Limit-24hour-Remaining": {"0"}, "X-User-Limit-24hour-Reset": {epoch(5 * time.Hour)}})
		}, Class: social.ErrRetryLater, Status: 429, RetryAfter: 5 * time.Hour},
		{Name: "retry after", Setup: func() {
			fake.RateLimit(1, http.Header{"Retry-After": {"42"}, "X-Rate-Limit-Remaining": {"0"}, "X-Rate-Limit-Reset": {epoch(time.Hour)}})
		}, Class: social.ErrRetryLater, Status: 429, RetryAfter: 42 * time.Second},
		{Name: "overloaded", Setup: func() { fake.FailNext(http.StatusServiceUnavailable) }, Class: social.ErrRetryLater, Status: 503},
		{Name: "invalid token", Account: &social.Account{AccessToken: "forged"}, Class: social.ErrReconnect, Status: 401, Message: "Unauthorized"},
		{Name: "X down", Network: newNetwork(t, fake, func(o *x.Options) { o.APIBaseURL = "http://127.0.0.1:1" }), Class: social.ErrRetryLater},
	})
	if got := len(fake.Tweets()); got != 1 {
		t.Errorf("%d tweets exist, want only the first", got)
	}
}

// TestCosts: X bills per use (xtest follows its pricing page). A publish
// is one request — the post with its URL — and reads no user; FindPost
// reads at most DefaultFindReads posts and no user. An account without
// the ID and handle read at connect time still works: FindPost asks X,
// the post's URL is X's handle-less form.
func TestCosts(t *testing.T) {
	c, fake, n, a := connectedAt(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	ctx := t.Context()
	before := fake.Cost()
	pub, err := n.Publish(ctx, a, social.Post{Text: "costly", Link: "https://chorus.example/r/c1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.Cost() - before; got != xtest.PostCreateURL {
		t.Errorf("a publish cost %d µ$, want %d (the post with a URL, no user read): usage %v", got, xtest.PostCreateURL, fake.Usage())
	}
	if pub.URL != "https://x.com/alice/status/"+pub.RemoteID {
		t.Errorf("URL = %q", pub.URL)
	}
	since := c.Now().Add(-time.Minute)
	for i := range 3 * x.DefaultFindReads {
		c.Add(time.Second)
		fake.AddTweet(fmt.Sprint("chatter ", i), c.Now())
	}
	before = fake.Cost()
	if _, found, err := n.FindPost(ctx, a, social.Post{Link: "https://chorus.example/r/c1"}, since); err == nil || found {
		t.Errorf("FindPost past its bound: %t, %v; want an error (cannot tell)", found, err)
	}
	if got := fake.Cost() - before; got > x.DefaultFindReads*xtest.PostRead {
		t.Errorf("FindPost cost %d µ$, want at most %d posts read (%d µ$)", got, x.DefaultFindReads, x.DefaultFindReads*xtest.PostRead)
	}
	if got := fake.Calls("GET /2/users/me"); got != 0 {
		t.Errorf("%d user reads, want none", got)
	}

	bare := social.Account{AccessToken: a.AccessToken}
	pub, err = n.Publish(ctx, bare, social.Post{Text: "bare", Link: "https://chorus.example/r/c2"})
	if err != nil || pub.URL != "https://x.com/i/status/"+pub.RemoteID {
		t.Errorf("Publish without a handle = %+v, %v; want the x.com/i/status URL", pub, err)
	}
	if got, found, err := n.FindPost(ctx, bare, social.Post{Link: "https://chorus.example/r/c2"}, since); err != nil || !found || got.URL != pub.URL[:len("https://x.com/")]+"alice/status/"+pub.RemoteID {
		t.Errorf("FindPost without an ID = %+v, %t, %v; want the post, the user read from X", got, found, err)
	}
}

// TestUsageCap: X's 429 usage-capped is the operator's (the app's credits
// or spending limit), not a rate limit: its x-rate-limit-reset is not a
// time to retry.
func TestUsageCap(t *testing.T) {
	_, fake, n, a := connectedAt(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	fake.CapUsage(true)
	networktest.CheckPublishFailures(t, n, a, "https://chorus.example/r/u", []networktest.PublishFailure{
		{Name: "usage capped", Class: social.ErrOperator, Status: 429, Message: "usage cap"},
	})
	if _, _, err := n.FindPost(t.Context(), a, social.Post{Link: "https://chorus.example/r/u"}, time.Now().Add(-time.Hour)); !errors.Is(err, social.ErrOperator) {
		t.Errorf("FindPost when capped: %v, want ErrOperator", err)
	}
	fake.CapUsage(false)
	if _, err := n.Publish(t.Context(), a, social.Post{Text: "after", Link: "https://chorus.example/r/u"}); err != nil {
		t.Errorf("publish once credits are back: %v", err)
	}
	small := xtest.New(t, xtest.Options{Credits: xtest.UserRead + xtest.PostCreateURL})
	sn := newNetwork(t, small, nil)
	sa := account(connect(t, sn))
	if _, err := sn.Publish(t.Context(), sa, social.Post{Text: "one", Link: "https://chorus.example/r/1"}); err != nil {
		t.Fatalf("the post the credits pay for: %v", err)
	}
	if _, err := sn.Publish(t.Context(), sa, social.Post{Text: "two", Link: "https://chorus.example/r/2"}); !errors.Is(err, social.ErrOperator) {
		t.Errorf("a post past the credits: %v, want ErrOperator", err)
	}
}

func TestAmbiguousWhenPostStalls(t *testing.T) {
	fake := xtest.New(t, xtest.Options{})
	a := account(connect(t, newNetwork(t, fake, nil)))
	// X records the post, then the answer never comes.
	fake.Stall(1)
	short := newNetwork(t, fake, func(o *x.Options) { o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	networktest.CheckStalledPublish(t, short, a, social.Post{Text: "hi"}, func() int { return len(fake.Tweets()) })
}

// Metrics read public_metrics as X's post lookup answers them, and
// classify what X answers when they cannot be read.
func TestMetrics(t *testing.T) {
	c, fake, n, a := connectedAt(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	ctx := t.Context()
	pub, err := n.Publish(ctx, a, social.Post{Text: "read me", Link: "https://example.com/a"})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := n.Metrics(ctx, a, pub.RemoteID); err != nil || e != (social.Engagement{}) {
		t.Errorf("Metrics of a fresh post = %+v, %v; want zeros", e, err)
	}
	fake.SetMetrics(pub.RemoteID, xtest.Metrics{Likes: 12, Replies: 3, Retweets: 4, Quotes: 2, Bookmarks: 9, Impressions: 800})
	e, err := n.Metrics(ctx, a, pub.RemoteID)
	if want := (social.Engagement{Reactions: 12, Comments: 3, Reposts: 6}); err != nil || e != want {
		t.Errorf("Metrics = %+v, %v; want %+v (reposts = retweets + quotes)", e, err, want)
	}

	reset := strconv.FormatInt(c.Now().Add(11*time.Minute).Unix(), 10)
	fake.RateLimitLookups(1, http.Header{"X-Rate-Limit-Limit": {"900"}, "X-Rate-Limit-Remaining": {"0"}, "X-Rate-Limit-Reset": {reset}})
	_, err = n.Metrics(ctx, a, pub.RemoteID)
	var se *social.Error
	if !errors.Is(err, social.ErrRetryLater) || !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != 11*time.Minute {
		t.Errorf("Metrics when rate limited = %v; want ErrRetryLater after 11m", err)
	}

	fake.DenyLookups(true)
	if _, err := n.Metrics(ctx, a, pub.RemoteID); !errors.Is(err, social.ErrNoMetrics) || errors.Is(err, social.ErrReconnect) {
		t.Errorf("Metrics for an app without lookups = %v; want ErrNoMetrics", err)
	}
	fake.DenyLookups(false)

	if err := n.Delete(ctx, a, pub.RemoteID); err != nil {
		t.Fatal(err)
	}
	_, err = n.Metrics(ctx, a, pub.RemoteID)
	if !errors.Is(err, social.ErrPermanent) || !errors.As(err, &se) || !strings.Contains(se.Message, "Could not find tweet") {
		t.Errorf("Metrics of a deleted post = %v; want ErrPermanent saying X could not find it", err)
	}

	if err := n.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Metrics(ctx, a, pub.RemoteID); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("Metrics with a revoked token = %v; want ErrReconnect", err)
	}
	if got := fake.Calls("GET /2/tweets/" + pub.RemoteID); got != 6 {
		t.Errorf("%d lookups, want 6", got)
	}
}

// FindPost lists the account's timeline back to since and matches the
// tracked link as X gives it back: in entities.urls[].expanded_url, the
// text holding only t.co links.
func TestFindPost(t *testing.T) {
	c, fake, _, a := connectedAt(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	// Four pages of 100 rather than the default's one of 20, to follow
	// the paging.
	n := newNetwork(t, fake, func(o *x.Options) { o.Now = c.Now; o.FindReads = 400 })
	ctx := t.Context()
	attempt := c.Now()
	link := func(i int) string { return fmt.Sprintf("https://chorus.example/r/code%03d", i) }
	// Older posts, before the attempt, that must not be read as covering
	// it.
	for i := range 3 {
		fake.AddTweet("old "+link(900+i), attempt.Add(-time.Duration(i+1)*time.Hour))
	}
	var wanted social.Published
	for i := range 250 { // three pages of 100
		c.Add(time.Second)
		pub, err := n.Publish(ctx, a, social.Post{Text: fmt.Sprint("post ", i), Link: link(i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 7 {
			wanted = pub
		}
	}
	if wanted.URL != "https://x.com/alice/status/"+wanted.RemoteID {
		t.Errorf("URL = %q", wanted.URL)
	}
	since := attempt.Add(-5 * time.Minute)
	timelinePages := func() int { return fake.Calls("GET /2/users/" + fake.UserID() + "/tweets") }
	networktest.CheckFindPost(t, n, a, timelinePages, []networktest.Lookup{
		{Name: "an early post, three pages back", Link: link(7), Since: since, Found: true, Pages: 3,
			Want: &social.Published{RemoteID: wanted.RemoteID, URL: wanted.URL, At: wanted.At.Truncate(time.Second)}},
		{Name: "the newest post", Link: link(249), Since: since, Found: true, Pages: 1},
		{Name: "a link never posted", Link: "https://chorus.example/r/nevernever", Since: since, Pages: 3},
		{Name: "a post from before since is not looked at", Link: link(900), Since: since, Pages: 3},
		{Name: "a link never posted, only newer posts listed", Link: "https://chorus.example/r/nevernever", Since: c.Now().Add(time.Minute), Pages: 1},
	})

	// More posts since the attempt than FindPost reads: not absent but
	// unknown.
	for i := range 300 {
		c.Add(time.Second)
		fake.AddTweet(fmt.Sprint("chatter ", i), c.Now())
	}
	if _, found, err := n.FindPost(ctx, a, social.Post{Link: "https://chorus.example/r/nevernever"}, since); err == nil || found {
		t.Errorf("more posts than read: found %t, %v; want an error (cannot tell)", found, err)
	}
	if got := fake.Calls("GET /2/users/me"); got != 0 {
		t.Errorf("%d user reads, want none: the account carries its ID and handle", got)
	}
	// The post is still found when it is within the pages read.
	if pub, found, err := n.FindPost(ctx, a, social.Post{Link: link(249)}, since); err != nil || !found || pub.RemoteID == "" {
		t.Errorf("FindPost of a post four pages back = %+v, %t, %v; want found", pub, found, err)
	}

	reset := strconv.FormatInt(c.Now().Add(9*time.Minute).Unix(), 10)
	fake.RateLimitTimeline(1, http.Header{"X-Rate-Limit-Limit": {"900"}, "X-Rate-Limit-Remaining": {"0"}, "X-Rate-Limit-Reset": {reset}})
	_, found, err := n.FindPost(ctx, a, social.Post{Link: link(7)}, since)
	var se *social.Error
	if found || !errors.Is(err, social.ErrRetryLater) || !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != 9*time.Minute {
		t.Errorf("FindPost when rate limited = %t, %v; want ErrRetryLater after 9m", found, err)
	}

	fake.DenyTimeline(true)
	_, found, err = n.FindPost(ctx, a, social.Post{Link: link(7)}, since)
	if found || err == nil || errors.Is(err, social.ErrReconnect) || !errors.As(err, &se) || se.Status != http.StatusForbidden {
		t.Errorf("FindPost for an app without timeline access = %t, %v; want a 403 error that is not ErrReconnect", found, err)
	}
	fake.DenyTimeline(false)

	if err := n.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, found, err := n.FindPost(ctx, a, social.Post{Link: link(7)}, since); found || !errors.Is(err, social.ErrReconnect) {
		t.Errorf("FindPost with a revoked token = %t, %v; want ErrReconnect", found, err)
	}
}
