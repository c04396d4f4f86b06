package linkedin_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/linkedin"
	"github.com/chorushq/chorus/social/linkedin/linkedintest"
	"github.com/chorushq/chorus/social/networktest"
)

func newNetwork(t *testing.T, fake *linkedintest.Server, mod func(*linkedin.Options)) *linkedin.Network {
	t.Helper()
	return networktest.NewConnector(t, linkedin.New, linkedin.Options{ClientID: fake.ClientID(), ClientSecret: social.Secret(fake.ClientSecret()),
		AuthBaseURL: fake.URL, APIBaseURL: fake.URL, UserAgent: "Chorus-test"}, mod)
}

// connect runs the OAuth flow against the fake as a browser and the
// social service would, and returns a connected account.
func connect(t *testing.T, n *linkedin.Network) social.Account {
	t.Helper()
	o := n.OAuth("", social.App{})
	tok := networktest.Login(t, o.Config("http://127.0.0.1:1/api/v1/connections/linkedin/callback"), o.PKCE)
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
	n := newNetwork(t, fake, func(o *linkedin.Options) { o.Version = "202602" })
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
		Visibility: "PUBLIC", LifecycleState: "PUBLISHED", Version: "202602"}
	if diff := cmp.Diff(posts[0], want, cmpopts.IgnoreFields(linkedintest.Post{}, "CreatedAt", "LastModifiedAt")); diff != "" {
		t.Errorf("post (-got +want):\n%s", diff)
	}

	networktest.CheckDeleteAndRevoke(t, n, a, pub.RemoteID, func() bool { return fake.Posts()[0].Deleted },
		func() bool { return fake.Revoked(a.AccessToken.Reveal()) })
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
	networktest.CheckPublishFailures(t, n, a, "https://news.example/dup", []networktest.PublishFailure{
		{Name: "duplicate", Text: "first", Class: social.ErrPermanent, Status: 422, Message: "already posted"},
		{Name: "too long", Text: strings.Repeat("x", linkedintest.MaxCommentary+1), Class: social.ErrPermanent, Status: 422,
			Message: "exceeds maximum of 3000"},
		{Name: "daily limit", Setup: func() { fake.RateLimit(1, nil) }, Class: social.ErrRetryLater, Status: 429,
			RetryAfter: 150 * time.Minute, Message: "DAY limit"},
		{Name: "retry after", Setup: func() { fake.RateLimit(1, http.Header{"Retry-After": {"120"}}) }, Class: social.ErrRetryLater,
			Status: 429, RetryAfter: 2 * time.Minute},
		{Name: "invalid token", Account: &social.Account{AccessToken: "forged"}, Class: social.ErrReconnect, Status: 401,
			Message: "Invalid access token"},
		// LinkedIn's versioning: a sunset version and one not released
		// yet are both refused with 426, an operator's problem.
		{Name: "sunset version", Network: newNetwork(t, fake, func(o *linkedin.Options) { o.Version = "202312" }), Class: social.ErrOperator,
			Status: 426, Message: "set CHORUS_LINKEDIN_VERSION"},
		{Name: "unreleased version", Network: newNetwork(t, fake, func(o *linkedin.Options) { o.Version = "209912" }), Class: social.ErrOperator,
			Status: 426, Message: "not released yet"},
		{Name: "LinkedIn down", Network: newNetwork(t, fake, func(o *linkedin.Options) { o.APIBaseURL = "http://127.0.0.1:1" }),
			Class: social.ErrRetryLater},
	})
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
	networktest.CheckStalledPublish(t, short, a, social.Post{Text: "hi", Link: "https://news.example/x"}, func() int { return len(fake.Posts()) })
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

// FindPost lists the member's posts by last modification, newest first,
// back past since, and matches the tracked link in the article source or
// the commentary.
func TestFindPost(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	fake := linkedintest.New(t, linkedintest.Options{Now: func() time.Time { return now }})
	n := newNetwork(t, fake, func(o *linkedin.Options) { o.ReadEngagement = true; o.Now = clock })
	a := connect(t, n)
	ctx := t.Context()
	listings := func() int { return fake.Calls("GET /rest/posts") }
	attempt := now
	link := func(i int) string { return fmt.Sprintf("https://chorus.example/r/code_%03d", i) }
	var old []string
	for i := range 3 { // before the attempt
		old = append(old, fake.AddPost("old", link(900+i), attempt.Add(-time.Duration(i+1)*time.Hour)))
	}
	var wanted social.Published
	for i := range 120 { // three pages of 50
		now = now.Add(time.Second)
		p := social.Post{Text: fmt.Sprint("post ", i), Link: link(i)}
		if i == 11 { // the link in the commentary only, escaped as little text
			p = social.Post{Text: "read this " + link(i)}
		}
		pub, err := n.Publish(ctx, a, p)
		if err != nil {
			t.Fatal(err)
		}
		if i == 7 {
			wanted = pub
		}
	}
	since := attempt.Add(-5 * time.Minute)
	networktest.CheckFindPost(t, n, a, listings, []networktest.Lookup{
		{Name: "an early post, three pages back", Link: link(7), Since: since, Found: true, Pages: 3,
			Want: &social.Published{RemoteID: wanted.RemoteID, URL: wanted.URL, At: wanted.At}},
		{Name: "the newest post", Link: link(119), Since: since, Found: true, Pages: 1},
		{Name: "a link in the commentary", Link: link(11), Since: since, Found: true, Pages: 3},
		// The third page reaches a post modified before since.
		{Name: "a link never posted", Link: "https://chorus.example/r/nevernever", Since: since, Pages: 3},
		// A tracked link is the share's own: a post carrying it is the
		// share's post even when listed from before since (as Mastodon's
		// FindPost matches whatever the pages read hold).
		{Name: "a post from before since on a page read", Link: link(901), Since: since, Found: true, Pages: 3},
		{Name: "only newer posts listed", Link: "https://chorus.example/r/nevernever", Since: now.Add(time.Minute), Pages: 1},
	})

	// An old post edited since the attempt is listed among the recent
	// ones, and found (a post's link cannot be edited, but the listing is
	// by modification).
	fake.Edit(old[0], now)
	if pub, found, err := n.FindPost(ctx, a, social.Post{Link: link(900)}, since); err != nil || !found || pub.RemoteID != old[0] {
		t.Errorf("FindPost of an edited post = %+v, %t, %v; want found %s", pub, found, err, old[0])
	}

	// Fewer posts than a page, none before since: the empty next page
	// ends the listing.
	small := linkedintest.New(t, linkedintest.Options{Now: func() time.Time { return now }})
	sn := newNetwork(t, small, func(o *linkedin.Options) { o.ReadEngagement = true; o.Now = clock })
	sa := connect(t, sn)
	small.AddPost("only one", link(500), now)
	if _, found, err := sn.FindPost(ctx, sa, social.Post{Link: link(7)}, since); err != nil || found || small.Calls("GET /rest/posts") != 2 {
		t.Errorf("a short history: found %t, %v after %d pages; want absent after 2", found, err, small.Calls("GET /rest/posts"))
	}

	// More posts since the attempt than FindPost reads: unknown.
	for i := range 200 {
		now = now.Add(time.Second)
		fake.AddPost(fmt.Sprint("chatter ", i), "", now)
	}
	if _, found, err := n.FindPost(ctx, a, social.Post{Link: "https://chorus.example/r/nevernever"}, since); err == nil || found {
		t.Errorf("more posts than read: found %t, %v; want an error (cannot tell)", found, err)
	}

	fake.RateLimitReads(1, nil)
	_, found, err := n.FindPost(ctx, a, social.Post{Link: link(119)}, since)
	var se *social.Error
	if found || !errors.Is(err, social.ErrRetryLater) || !errors.As(err, &se) || se.Status != 429 || se.RetryAfter != time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).Sub(now) {
		t.Errorf("FindPost when throttled = %t, %v; want ErrRetryLater until midnight UTC", found, err)
	}

	if err := n.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, found, err := n.FindPost(ctx, a, social.Post{Link: link(7)}, since); found || !errors.Is(err, social.ErrReconnect) {
		t.Errorf("FindPost with a revoked token = %t, %v; want ErrReconnect", found, err)
	}
}

// Listing a member's posts takes r_member_social: without
// ReadEngagement FindPost cannot tell and does not ask LinkedIn; with it
// but a token granted before, LinkedIn's 403 is an error that is not
// ErrReconnect. Either way the share stays unconfirmed.
func TestFindPostWithoutPermission(t *testing.T) {
	fake := linkedintest.New(t, linkedintest.Options{})
	plain := newNetwork(t, fake, nil)
	a := connect(t, plain)
	ctx := t.Context()
	if _, err := plain.Publish(ctx, a, social.Post{Text: "shared", Link: "https://chorus.example/r/abc"}); err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Hour)
	_, found, err := plain.FindPost(ctx, a, social.Post{Link: "https://chorus.example/r/abc"}, since)
	if found || err == nil || errors.Is(err, social.ErrReconnect) || !strings.Contains(err.Error(), "r_member_social") {
		t.Errorf("FindPost without ReadEngagement = %t, %v; want an error naming r_member_social", found, err)
	}
	if got := fake.Calls("GET /rest/posts"); got != 0 {
		t.Errorf("%d listings without ReadEngagement, want none", got)
	}
	reading := newNetwork(t, fake, func(o *linkedin.Options) { o.ReadEngagement = true })
	_, found, err = reading.FindPost(ctx, a, social.Post{Link: "https://chorus.example/r/abc"}, since)
	var se *social.Error
	if found || errors.Is(err, social.ErrReconnect) || !errors.As(err, &se) || se.Status != http.StatusForbidden || !strings.Contains(se.Message, "r_member_social") {
		t.Errorf("FindPost with a token lacking r_member_social = %t, %v; want a 403 error naming the permission", found, err)
	}
	if got := fake.Calls("GET /rest/posts"); got != 1 {
		t.Errorf("%d listings, want 1", got)
	}
}
