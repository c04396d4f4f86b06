package mastodon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/mastodon"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/social/networktest"
)

func TestServer(t *testing.T) {
	strict := mastodon.New(mastodon.Options{})
	loose := mastodon.New(mastodon.Options{AllowHTTP: true})
	for _, tc := range []struct {
		n    *mastodon.Network
		in   string
		want string // "" means an error
	}{
		{strict, "mastodon.social", "https://mastodon.social"},
		{strict, "https://Mastodon.Social/", "https://mastodon.social"},
		{strict, "https://fosstodon.org:8443", "https://fosstodon.org:8443"},
		{strict, "http://mastodon.social", ""},
		{loose, "http://127.0.0.1:4000", "http://127.0.0.1:4000"},
		{strict, "https://user:pw@mastodon.social", ""},
		{strict, "https://mastodon.social/@alice", ""},
		{strict, "https://mastodon.social/?x=1", ""},
		{strict, "ftp://mastodon.social", ""},
		{strict, "", ""},
	} {
		got, err := tc.n.Server(tc.in)
		if tc.want == "" && err == nil {
			t.Errorf("Server(%q) = %q, want an error", tc.in, got)
		}
		if tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("Server(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// connect runs the OAuth flow against the fake as a browser would and
// returns a connected account.
func connect(t *testing.T, n *mastodon.Network, fake *mastodontest.Server) social.Account {
	t.Helper()
	return connectWith(t, n, fake, nil)
}

// legacyScopes are those Chorus asked for before it asked for
// read:statuses; connections made then hold tokens limited to them.
var legacyScopes = []string{"read:accounts", "write:statuses"}

// connectWith is connect with scopes asked for at authorisation instead
// of the connector's (nil: the connector's).
func connectWith(t *testing.T, n *mastodon.Network, fake *mastodontest.Server, scopes []string) social.Account {
	t.Helper()
	ctx := t.Context()
	redirect := "http://127.0.0.1:1/api/v1/connections/mastodon/callback"
	app, err := n.RegisterApp(ctx, fake.URL, redirect)
	if err != nil {
		t.Fatal(err)
	}
	o := n.OAuth(fake.URL, app)
	if o.Endpoint.AuthStyle != oauth2.AuthStyleInParams || !o.PKCE {
		t.Errorf("OAuth = %+v, want credentials in params and PKCE", o)
	}
	cfg := o.Config(redirect)
	if scopes != nil {
		cfg.Scopes = scopes
	}
	tok := networktest.Login(t, cfg, o.PKCE)
	if !tok.Expiry.IsZero() || tok.RefreshToken != "" {
		t.Errorf("token expires %v with refresh %t; Mastodon tokens do not expire", tok.Expiry, tok.RefreshToken != "")
	}
	return social.Account{Server: fake.URL, AccessToken: social.Secret(tok.AccessToken), App: app}
}

func TestConnectPublishDelete(t *testing.T) {
	fake := mastodontest.New(t, mastodontest.Options{Username: "alice", Followers: 321, MaxCharacters: 1000})
	n := mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test"})
	a := connect(t, n, fake)
	ctx := t.Context()
	prof, err := n.Profile(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(fake.URL, "http://")
	if prof.Handle != "@alice@"+host || prof.Followers != 321 || prof.RemoteID != fake.AccountID() || prof.MaxChars != 1000 {
		t.Errorf("Profile = %+v, want the server's limit of 1000 too", prof)
	}
	post := social.Post{Text: "Worth a read", Link: "https://news.example/a", IdempotencyKey: "share-1"}
	pub, err := n.Publish(ctx, a, post)
	if err != nil {
		t.Fatal(err)
	}
	again, err := n.Publish(ctx, a, post)
	if err != nil {
		t.Fatal(err)
	}
	if again.RemoteID != pub.RemoteID || pub.URL == "" {
		t.Errorf("retried publish = %+v, first %+v; want the same post", again, pub)
	}
	sts := fake.Statuses()
	if len(sts) != 1 || sts[0].Text != "Worth a read\n\nhttps://news.example/a" || sts[0].IdempotencyKey != "share-1" {
		t.Errorf("statuses = %+v, want one with text and link", sts)
	}
	networktest.CheckLongestText(t, n, a, social.Mastodon, "https://chorus.example/r/longest", prof.MaxChars)
	networktest.CheckDeleteAndRevoke(t, n, a, pub.RemoteID, func() bool { return fake.Statuses()[0].Deleted },
		func() bool { return fake.Revoked(a.AccessToken.Reveal()) })
}

func TestErrorsAreClassified(t *testing.T) {
	fake := mastodontest.New(t, mastodontest.Options{})
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	n := mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test", Now: func() time.Time { return now }})
	a := connect(t, n, fake)
	ctx := t.Context()
	for _, tc := range []struct {
		name       string
		setup      func()
		acct       social.Account
		net        *mastodon.Network
		text       string
		class      error
		status     int
		retryAfter time.Duration
		message    string
	}{
		{name: "too long", text: strings.Repeat("x", mastodontest.MaxChars+1), class: social.ErrPermanent, status: 422,
			message: "Validation failed: Text character limit of 500 exceeded"},
		{name: "rate limited", setup: func() { fake.RateLimit(1, now.Add(90*time.Second), false) }, class: social.ErrRetryLater, status: 429, retryAfter: 90 * time.Second},
		{name: "invalid token", acct: social.Account{Server: fake.URL, AccessToken: "forged"}, class: social.ErrReconnect, status: 401,
			message: "The access token is invalid"},
		{name: "no user agent", net: mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: " "}), class: social.ErrPermanent, status: 418},
		{name: "server down", acct: social.Account{Server: "http://127.0.0.1:1", AccessToken: "x"}, class: social.ErrRetryLater},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			acct, net, text := a, n, tc.text
			if tc.acct.Server != "" {
				acct = tc.acct
			}
			if tc.net != nil {
				net = tc.net
			}
			if text == "" {
				text = "hello"
			}
			_, err := net.Publish(ctx, acct, social.Post{Text: text})
			var e *social.Error
			if !errors.As(err, &e) {
				t.Fatalf("Publish error = %v, want *social.Error", err)
			}
			if !errors.Is(err, tc.class) || e.Status != tc.status || e.RetryAfter != tc.retryAfter ||
				(tc.message != "" && e.Message != tc.message) {
				t.Errorf("Publish error = %+v, want class %v, status %d, retry after %v, message %q", e, tc.class, tc.status, tc.retryAfter, tc.message)
			}
		})
	}
}

func TestRetryAfterHeaderWins(t *testing.T) {
	fake := mastodontest.New(t, mastodontest.Options{})
	n := mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test"})
	a := connect(t, n, fake)
	fake.RateLimit(1, time.Now().Add(30*time.Second), true)
	_, err := n.Publish(t.Context(), a, social.Post{Text: "hi"})
	var e *social.Error
	if !errors.As(err, &e) || !errors.Is(err, social.ErrRetryLater) || e.RetryAfter < 29*time.Second || e.RetryAfter > 31*time.Second {
		t.Errorf("Publish error = %v, want retry later after about 30s", err)
	}
}

func TestAmbiguousWhenSentWithoutAnswer(t *testing.T) {
	// A server that reads the request and hangs up: the post may exist.
	srv := newHangingServer(t)
	n := mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test"})
	_, err := n.Publish(context.Background(), social.Account{Server: srv, AccessToken: "t"}, social.Post{Text: "hi"})
	if !errors.Is(err, social.ErrAmbiguous) {
		t.Errorf("Publish error = %v, want ErrAmbiguous", err)
	}
}

// TestDefaultLimit: a server that does not report its limit leaves the
// network's default, and the longest text the check accepts is posted.
func TestDefaultLimit(t *testing.T) {
	fake := mastodontest.New(t, mastodontest.Options{})
	n := mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test"})
	a := connect(t, n, fake)
	networktest.CheckLongestText(t, n, a, social.Mastodon, "https://chorus.example/r/a-rather-long-tracked-link-0123456789", 0)
}

// Metrics read a status's counts with the member's token (read:statuses);
// a deleted status is a permanent failure. A connection made with the
// scopes Chorus asked for before falls back to reading without a token;
// on a server that refuses that, there are no metrics — never a
// reconnect of a connection that posts fine.
func TestMetrics(t *testing.T) {
	fake := mastodontest.New(t, mastodontest.Options{})
	n := mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test"})
	a := connect(t, n, fake)
	legacy := connectWith(t, n, fake, legacyScopes)
	ctx := t.Context()
	pub, err := n.Publish(ctx, a, social.Post{Text: "hi", IdempotencyKey: "m1"})
	if err != nil {
		t.Fatal(err)
	}
	fake.SetCounts(pub.RemoteID, 7, 2, 3)
	e, err := n.Metrics(ctx, a, pub.RemoteID)
	if err != nil || e != (social.Engagement{Reactions: 7, Comments: 2, Reposts: 3}) {
		t.Errorf("Metrics = %+v, %v", e, err)
	}
	if calls := fake.Calls("GET /api/v1/statuses/" + pub.RemoteID); calls != 1 {
		t.Errorf("%d metric reads, want 1", calls)
	}
	req, _ := http.NewRequest("GET", fake.URL+"/api/v1/statuses/"+pub.RemoteID, nil)
	req.Header.Set("Authorization", "Bearer "+legacy.AccessToken.Reveal())
	req.Header.Set("User-Agent", "test")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("a token without read:statuses: %v %v, want 403", res.StatusCode, err)
	}
	if e, err := n.Metrics(ctx, legacy, pub.RemoteID); err != nil || e.Reactions != 7 {
		t.Errorf("Metrics with a token without read:statuses = %+v, %v; want the public counts", e, err)
	}
	closed := mastodontest.New(t, mastodontest.Options{DisallowUnauthenticated: true})
	old := connectWith(t, n, closed, legacyScopes)
	cpub, err := n.Publish(ctx, old, social.Post{Text: "hi", IdempotencyKey: "m2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Metrics(ctx, old, cpub.RemoteID); !errors.Is(err, social.ErrNoMetrics) || errors.Is(err, social.ErrReconnect) {
		t.Errorf("Metrics of an old connection on a closed server: %v, want ErrNoMetrics, not ErrReconnect", err)
	}
	n.Delete(ctx, a, pub.RemoteID)
	if _, err := n.Metrics(ctx, a, pub.RemoteID); !errors.Is(err, social.ErrPermanent) {
		t.Errorf("metrics of a deleted status: %v, want ErrPermanent", err)
	}
}

// TestFindPostBehindManyNewerStatuses: an account that posted hundreds
// of statuses since the attempt (an account several members share through
// Chorus, as in the soak) still has its post found, or found absent, as
// long as the listing reaches back to the attempt within FindPost's bound.
func TestFindPostBehindManyNewerStatuses(t *testing.T) {
	fake := mastodontest.New(t, mastodontest.Options{})
	n := mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test"})
	a := connect(t, n, fake)
	start := time.Now().Add(-time.Minute)
	wanted, err := n.Publish(t.Context(), a, social.Post{Text: "post", Link: "https://chorus.example/r/wanted", IdempotencyKey: "wanted"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 { // seven and a half pages of 40 after it
		if _, err := n.Publish(t.Context(), a, social.Post{Text: "post", Link: fmt.Sprintf("https://chorus.example/r/later%03d", i), IdempotencyKey: fmt.Sprint("later", i)}); err != nil {
			t.Fatal(err)
		}
	}
	pub, found, err := n.FindPost(t.Context(), a, social.Post{Link: "https://chorus.example/r/wanted"}, start)
	if err != nil || !found || pub.RemoteID != wanted.RemoteID {
		t.Errorf("FindPost of a post 300 statuses back = %+v, %t, %v; want %+v", pub, found, err, wanted)
	}
	if _, found, err := n.FindPost(t.Context(), a, social.Post{Link: "https://chorus.example/r/nevernever"}, start); err != nil || found {
		t.Errorf("FindPost of a link never posted, 301 statuses since = %t, %v; want not found", found, err)
	}
}

func TestFindPost(t *testing.T) {
	fake := mastodontest.New(t, mastodontest.Options{})
	n := mastodon.New(mastodon.Options{AllowHTTP: true, UserAgent: "Chorus-test"})
	a := connect(t, n, fake)
	start := time.Now().Add(-time.Minute)
	link := func(i int) string { return fmt.Sprintf("https://chorus.example/r/code%03d", i) }
	var wanted social.Published
	for i := range 90 { // more than two pages of 40
		pub, err := n.Publish(t.Context(), a, social.Post{Text: "post", Link: link(i), IdempotencyKey: fmt.Sprint("share", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 3 {
			wanted = pub
		}
	}
	for _, tc := range []struct {
		name  string
		link  string
		since time.Time
		found bool
	}{
		{"an early post, three pages back", link(3), start, true},
		{"the newest post", link(89), start, true},
		{"a link never posted", "https://chorus.example/r/nevernever", start, false},
		{"a link never posted, only newer posts listed", "https://chorus.example/r/nevernever", time.Now().Add(time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, found, err := n.FindPost(t.Context(), a, social.Post{Link: tc.link}, tc.since)
			if err != nil || found != tc.found {
				t.Fatalf("FindPost = %+v, %t, %v; want found %t", pub, found, err, tc.found)
			}
			if tc.link == link(3) && (pub.RemoteID != wanted.RemoteID || pub.URL != wanted.URL) {
				t.Errorf("found %+v, want %+v", pub, wanted)
			}
		})
	}
	// Posts are listed back to since: further back than the pages read is
	// not "absent" but unknown.
	if _, found, err := n.FindPost(t.Context(), a, social.Post{Link: "https://chorus.example/r/nevernever"}, start.Add(-time.Hour)); err != nil || found {
		t.Errorf("a short history listed in full: found %t, %v; want not found", found, err)
	}
	// A connection made with the old scopes reads the public listing.
	legacy := connectWith(t, n, fake, legacyScopes)
	if pub, found, err := n.FindPost(t.Context(), legacy, social.Post{Link: link(3)}, start); err != nil || !found || pub.RemoteID != wanted.RemoteID {
		t.Errorf("FindPost with a token without read:statuses = %+v, %t, %v; want the post", pub, found, err)
	}
	closed := mastodontest.New(t, mastodontest.Options{DisallowUnauthenticated: true})
	old := connectWith(t, n, closed, legacyScopes)
	if _, err := n.Publish(t.Context(), old, social.Post{Text: "x", Link: link(1)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.FindPost(t.Context(), old, social.Post{Link: link(1)}, start); !errors.Is(err, social.ErrPermanent) || !strings.Contains(err.Error(), "read:statuses") {
		t.Errorf("FindPost of an old connection on a closed server: %v, want ErrPermanent asking for read:statuses", err)
	}
	fake.RevokeAll()
	if _, _, err := n.FindPost(t.Context(), a, social.Post{Link: link(3)}, start); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("with a revoked token: %v, want ErrReconnect", err)
	}
}
