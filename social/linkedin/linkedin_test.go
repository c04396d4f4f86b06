package linkedin_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/linkedin"
	"github.com/chorushq/chorus/social/linkedin/linkedintest"
)

func newNetwork(t *testing.T, fake *linkedintest.Server, mod func(*linkedin.Options)) *linkedin.Network {
	t.Helper()
	opts := linkedin.Options{ClientID: fake.ClientID(), ClientSecret: social.Secret(fake.ClientSecret()),
		AuthBaseURL: fake.URL, APIBaseURL: fake.URL, UserAgent: "Chorus-test"}
	if mod != nil {
		mod(&opts)
	}
	n, err := linkedin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// connect runs the OAuth flow against the fake as a browser and the
// social service would, and returns a connected account.
func connect(t *testing.T, n *linkedin.Network) social.Account {
	t.Helper()
	ctx := t.Context()
	redirect := "http://127.0.0.1:1/api/v1/connections/linkedin/callback"
	o := n.OAuth("", social.App{})
	cfg := o.Config(redirect)
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(cfg.AuthCodeURL("st"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Query().Get("state") != "st" || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %d, redirect %q; want a code and the state", res.StatusCode, loc)
	}
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	// 60 days, no refresh token: the service stores expires_at from
	// expires_in and the member reconnects after it.
	if tok.ExpiresIn != int64(linkedintest.TokenLifetime.Seconds()) || tok.RefreshToken != "" {
		t.Errorf("token expires in %d s with refresh %t; want 60 days without refresh", tok.ExpiresIn, tok.RefreshToken != "")
	}
	return social.Account{AccessToken: social.Secret(tok.AccessToken)}
}

func TestOAuth(t *testing.T) {
	n, err := linkedin.New(linkedin.Options{ClientID: "id", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	o := n.OAuth("", social.App{})
	want := oauth2.Endpoint{AuthURL: "https://www.linkedin.com/oauth/v2/authorization",
		TokenURL: "https://www.linkedin.com/oauth/v2/accessToken", AuthStyle: oauth2.AuthStyleInParams}
	if diff := cmp.Diff(o.Endpoint, want); diff != "" {
		t.Errorf("endpoint (-got +want):\n%s", diff)
	}
	if o.PKCE || o.ClientID != "id" || o.ClientSecret.Reveal() != "secret" {
		t.Errorf("OAuth = %+v; want no PKCE and the configured app", o)
	}
	if diff := cmp.Diff(o.Scopes, []string{"openid", "profile", "email", "w_member_social"}); diff != "" {
		t.Errorf("scopes (-got +want):\n%s", diff)
	}
	if n.Version() != linkedin.DefaultVersion {
		t.Errorf("version = %q, want the default %q", n.Version(), linkedin.DefaultVersion)
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts linkedin.Options
		ok   bool
	}{
		{"defaults", linkedin.Options{ClientID: "id", ClientSecret: "s"}, true},
		{"version", linkedin.Options{ClientID: "id", ClientSecret: "s", Version: "202611"}, true},
		{"patch version", linkedin.Options{ClientID: "id", ClientSecret: "s", Version: "202611.01"}, true},
		{"no secret", linkedin.Options{ClientID: "id"}, false},
		{"date", linkedin.Options{ClientID: "id", ClientSecret: "s", Version: "2026-11"}, false},
		{"month 13", linkedin.Options{ClientID: "id", ClientSecret: "s", Version: "202613"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := linkedin.New(tc.opts)
			if (err == nil) != tc.ok {
				t.Errorf("New error = %v, want ok %t", err, tc.ok)
			}
		})
	}
}

func TestConnectPublishDelete(t *testing.T) {
	fake := linkedintest.New(t, linkedintest.Options{Name: "Alice Martin"})
	n := newNetwork(t, fake, func(o *linkedin.Options) { o.Version = "202607" })
	a := connect(t, n)
	ctx := t.Context()

	prof, err := n.Profile(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(prof, social.Profile{RemoteID: fake.MemberID(), Handle: "Alice Martin", DisplayName: "Alice Martin"}); diff != "" {
		t.Errorf("profile (-got +want):\n%s", diff)
	}

	text := "Q3 results (final) are in: *record* growth_rate @ 12% ~ see #growth and C# notes [1] <draft> {x} | a\\b"
	pub, err := n.Publish(ctx, a, social.Post{Text: text, Link: "https://news.example/a/b?x=1", IdempotencyKey: "share-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pub.RemoteID, "urn:li:share:") || pub.URL != "https://www.linkedin.com/feed/update/"+pub.RemoteID || pub.At.IsZero() {
		t.Errorf("Published = %+v", pub)
	}
	posts := fake.Posts()
	if len(posts) != 1 {
		t.Fatalf("posts = %+v, want one", posts)
	}
	want := linkedintest.Post{URN: pub.RemoteID, Author: "urn:li:person:" + fake.MemberID(), Commentary: posts[0].Commentary,
		Rendered: text, ArticleSource: "https://news.example/a/b?x=1", ArticleTitle: "news.example/a/b?x=1",
		Visibility: "PUBLIC", LifecycleState: "PUBLISHED", Version: "202607"}
	if diff := cmp.Diff(posts[0], want); diff != "" {
		t.Errorf("post (-got +want):\n%s", diff)
	}

	if err := n.Delete(ctx, a, pub.RemoteID); err != nil {
		t.Fatal(err)
	}
	if !fake.Posts()[0].Deleted {
		t.Error("post not deleted")
	}
	if err := n.Delete(ctx, a, pub.RemoteID); err != nil {
		t.Errorf("deleting a deleted post: %v, want nil", err)
	}

	if err := n.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if !fake.Revoked(a.AccessToken.Reveal()) {
		t.Error("token not revoked")
	}
	if _, err := n.Profile(ctx, a); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("profile with a revoked token: %v, want ErrReconnect", err)
	}
}

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, nothing to do.", "plain text, nothing to do."},
		{"(a) [b] {c} <d>", `\(a\) \[b\] \{c\} \<d\>`},
		{"#golang and #2026 but C# and # alone", `#golang and #2026 but C\# and \# alone`},
		{`a\b|c*d_e~f@g`, `a\\b\|c\*d\_e\~f\@g`},
		{"https://ex.com/a_b#frag", `https://ex.com/a\_b\#frag`},
	} {
		got := linkedin.Escape(tc.in)
		if got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if r := linkedintest.Render(got); r != tc.in {
			t.Errorf("LinkedIn renders Escape(%q) as %q", tc.in, r)
		}
	}
}

func TestErrorsAreClassified(t *testing.T) {
	fake := linkedintest.New(t, linkedintest.Options{})
	now := time.Date(2026, 11, 23, 21, 30, 0, 0, time.UTC)
	n := newNetwork(t, fake, func(o *linkedin.Options) { o.Now = func() time.Time { return now } })
	a := connect(t, n)
	ctx := t.Context()
	if _, err := n.Publish(ctx, a, social.Post{Text: "first", Link: "https://news.example/dup"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		setup      func()
		acct       *social.Account
		net        *linkedin.Network
		text       string
		class      error
		status     int
		retryAfter time.Duration
		message    string // a substring
	}{
		{name: "duplicate", text: "first", class: social.ErrPermanent, status: 422, message: "already posted"},
		{name: "too long", text: strings.Repeat("x", linkedintest.MaxCommentary+1), class: social.ErrPermanent, status: 422,
			message: "exceeds maximum of 3000"},
		{name: "daily limit", setup: func() { fake.RateLimit(1, nil) }, class: social.ErrRetryLater, status: 429,
			retryAfter: 150 * time.Minute, message: "DAY limit"},
		{name: "retry after", setup: func() { fake.RateLimit(1, http.Header{"Retry-After": {"120"}}) }, class: social.ErrRetryLater,
			status: 429, retryAfter: 2 * time.Minute},
		{name: "invalid token", acct: &social.Account{AccessToken: "forged"}, class: social.ErrReconnect, status: 401,
			message: "Invalid access token"},
		{name: "inactive version", net: newNetwork(t, fake, func(o *linkedin.Options) { o.Version = "202312" }), class: social.ErrPermanent,
			status: 426, message: "configure a newer one"},
		{name: "LinkedIn down", net: newNetwork(t, fake, func(o *linkedin.Options) { o.APIBaseURL = "http://127.0.0.1:1" }),
			class: social.ErrRetryLater},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			acct, net, text := a, n, tc.text
			if tc.acct != nil {
				acct = *tc.acct
			}
			if tc.net != nil {
				net = tc.net
			}
			if text == "" {
				text = "hello " + tc.name
			}
			_, err := net.Publish(ctx, acct, social.Post{Text: text, Link: "https://news.example/dup"})
			var e *social.Error
			if !errors.As(err, &e) {
				t.Fatalf("Publish error = %v, want *social.Error", err)
			}
			if !errors.Is(err, tc.class) || e.Status != tc.status || e.RetryAfter != tc.retryAfter || !strings.Contains(e.Message, tc.message) {
				t.Errorf("Publish error = %+v, want class %v, status %d, retry after %v, message with %q", e, tc.class, tc.status, tc.retryAfter, tc.message)
			}
		})
	}
	if got := len(fake.Posts()); got != 1 {
		t.Errorf("%d posts exist, want only the first", got)
	}
}

func TestServerErrorIsRetryLater(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/userinfo" {
			w.Write([]byte(`{"sub":"abc","name":"A"}`))
			return
		}
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"message":"Service Unavailable","status":503}`))
	}))
	t.Cleanup(srv.Close)
	n, _ := linkedin.New(linkedin.Options{ClientID: "id", ClientSecret: "s", APIBaseURL: srv.URL})
	_, err := n.Publish(t.Context(), social.Account{AccessToken: "t"}, social.Post{Text: "hi"})
	var e *social.Error
	if !errors.As(err, &e) || !errors.Is(err, social.ErrRetryLater) || e.RetryAfter != 30*time.Second {
		t.Errorf("Publish error = %v, want retry later after 30s", err)
	}
}

func TestAmbiguousWhenPostStalls(t *testing.T) {
	fake := linkedintest.New(t, linkedintest.Options{})
	n := newNetwork(t, fake, nil)
	a := connect(t, n)
	// LinkedIn records the post, then the answer never comes.
	fake.Stall(1)
	short := newNetwork(t, fake, func(o *linkedin.Options) { o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	_, err := short.Publish(t.Context(), a, social.Post{Text: "hi", Link: "https://news.example/x"})
	if !errors.Is(err, social.ErrAmbiguous) {
		t.Errorf("Publish error = %v, want ErrAmbiguous", err)
	}
	if got := len(fake.Posts()); got != 1 {
		t.Errorf("%d posts exist, want the one LinkedIn accepted", got)
	}
}

// Metrics read socialMetadata as LinkedIn's Community Management API
// answers it, with r_member_social granted.
func TestMetrics(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	fake := linkedintest.New(t, linkedintest.Options{})
	n := newNetwork(t, fake, func(o *linkedin.Options) { o.ReadEngagement = true; o.Now = func() time.Time { return now } })
	if diff := cmp.Diff(n.OAuth("", social.App{}).Scopes, []string{"openid", "profile", "email", "w_member_social", "r_member_social"}); diff != "" {
		t.Errorf("scopes with ReadEngagement (-got +want):\n%s", diff)
	}
	a := connect(t, n)
	ctx := t.Context()
	pub, err := n.Publish(ctx, a, social.Post{Text: "engage", Link: "https://news.example/e"})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := n.Metrics(ctx, a, pub.RemoteID); err != nil || e != (social.Engagement{}) {
		t.Errorf("Metrics of a fresh post = %+v, %v; want zeros", e, err)
	}
	fake.SetSocial(pub.RemoteID, map[string]int64{"LIKE": 5, "PRAISE": 2, "EMPATHY": 1}, 4, 3)
	e, err := n.Metrics(ctx, a, pub.RemoteID)
	if want := (social.Engagement{Reactions: 8, Comments: 3}); err != nil || e != want {
		t.Errorf("Metrics = %+v, %v; want %+v (all reaction types, top-level comments, no reposts)", e, err, want)
	}

	fake.RateLimitReads(1, nil)
	_, err = n.Metrics(ctx, a, pub.RemoteID)
	var se *social.Error
	if !errors.Is(err, social.ErrRetryLater) || !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != 14*time.Hour {
		t.Errorf("Metrics when throttled = %v; want ErrRetryLater until midnight UTC (14h)", err)
	}

	if err := n.Delete(ctx, a, pub.RemoteID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Metrics(ctx, a, pub.RemoteID); !errors.Is(err, social.ErrPermanent) || !errors.As(err, &se) || se.Status != 404 {
		t.Errorf("Metrics of a deleted post = %v; want ErrPermanent (404)", err)
	}

	if err := n.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Metrics(ctx, a, pub.RemoteID); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("Metrics with a revoked token = %v; want ErrReconnect", err)
	}
	if got := fake.Calls("GET /rest/socialMetadata/" + pub.RemoteID); got != 5 {
		t.Errorf("%d socialMetadata calls, want 5", got)
	}
}

// Without r_member_social LinkedIn refuses socialMetadata: the connector
// does not ask when the app lacks the permission, and a token granted
// without it is ErrNoMetrics, not a reason to reconnect.
func TestMetricsWithoutPermission(t *testing.T) {
	fake := linkedintest.New(t, linkedintest.Options{})
	plain := newNetwork(t, fake, nil)
	a := connect(t, plain)
	ctx := t.Context()
	pub, err := plain.Publish(ctx, a, social.Post{Text: "no metrics"})
	if err != nil {
		t.Fatal(err)
	}
	fake.SetSocial(pub.RemoteID, map[string]int64{"LIKE": 1}, 0, 0)
	if _, err := plain.Metrics(ctx, a, pub.RemoteID); !errors.Is(err, social.ErrNoMetrics) {
		t.Errorf("Metrics without ReadEngagement = %v; want ErrNoMetrics", err)
	}
	if got := fake.Calls("GET /rest/socialMetadata/" + pub.RemoteID); got != 0 {
		t.Errorf("%d socialMetadata calls without ReadEngagement, want none", got)
	}
	// The app gained the permission after this member connected.
	reading := newNetwork(t, fake, func(o *linkedin.Options) { o.ReadEngagement = true })
	_, err = reading.Metrics(ctx, a, pub.RemoteID)
	if !errors.Is(err, social.ErrNoMetrics) || errors.Is(err, social.ErrReconnect) || !strings.Contains(err.Error(), "r_member_social") {
		t.Errorf("Metrics with a token lacking r_member_social = %v; want ErrNoMetrics naming the permission", err)
	}
	if got := fake.Calls("GET /rest/socialMetadata/" + pub.RemoteID); got != 1 {
		t.Errorf("%d socialMetadata calls, want 1", got)
	}
}
