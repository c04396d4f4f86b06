package facebook_test

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
	"github.com/chorushq/chorus/social/facebook"
	"github.com/chorushq/chorus/social/facebook/facebooktest"
	"github.com/chorushq/chorus/social/networktest"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

func newNetwork(t *testing.T, fake *facebooktest.Server, mod func(*facebook.Options)) *facebook.Network {
	t.Helper()
	return networktest.NewConnector(t, facebook.New, facebook.Options{AppID: fake.AppID(), AppSecret: social.Secret(fake.AppSecret()),
		DialogBaseURL: fake.URL, GraphBaseURL: fake.URL, UserAgent: "Chorus-test"}, mod)
}

// exchange runs Facebook Login against the fake as a browser and the
// social service would, and returns the short-lived user token. scopes,
// if given, are what the member grants instead of all Chorus asks for.
func exchange(t *testing.T, n *facebook.Network, scopes ...string) *oauth2.Token {
	t.Helper()
	o := n.OAuth("", social.App{})
	cfg := o.Config("http://127.0.0.1:1/api/v1/connections/facebook/callback")
	if scopes != nil {
		cfg.Scopes = scopes
	}
	tok := networktest.Login(t, cfg, o.PKCE)
	if tok.ExpiresIn != int64(facebooktest.ShortLived.Seconds()) || tok.RefreshToken != "" {
		t.Errorf("code exchange: token expires in %d s with refresh %t; want short-lived without refresh", tok.ExpiresIn, tok.RefreshToken != "")
	}
	return tok
}

// connect is exchange followed by the upgrade to a long-lived token.
func connect(t *testing.T, n *facebook.Network) social.Account {
	t.Helper()
	long, err := n.UpgradeToken(t.Context(), exchange(t, n))
	if err != nil {
		t.Fatal(err)
	}
	if long.ExpiresIn != int64(facebooktest.LongLived.Seconds()) || long.Expiry.IsZero() {
		t.Errorf("upgraded token expires in %d s at %v; want about 60 days", long.ExpiresIn, long.Expiry)
	}
	return social.Account{AccessToken: social.Secret(long.AccessToken)}
}

func TestOAuth(t *testing.T) {
	n, err := facebook.New(facebook.Options{AppID: "id", AppSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	o := n.OAuth("", social.App{})
	want := oauth2.Endpoint{AuthURL: "https://www.facebook.com/" + facebook.DefaultGraphVersion + "/dialog/oauth",
		TokenURL: "https://graph.facebook.com/" + facebook.DefaultGraphVersion + "/oauth/access_token", AuthStyle: oauth2.AuthStyleInParams}
	if diff := cmp.Diff(o.Endpoint, want); diff != "" {
		t.Errorf("endpoint (-got +want):\n%s", diff)
	}
	if o.PKCE || o.ClientID != "id" || o.ClientSecret.Reveal() != "secret" {
		t.Errorf("OAuth = %+v; want no PKCE and the configured app", o)
	}
	if diff := cmp.Diff(o.Scopes, []string{"pages_show_list", "pages_manage_posts", "pages_read_engagement"}); diff != "" {
		t.Errorf("scopes (-got +want):\n%s", diff)
	}
	v21, err := facebook.New(facebook.Options{AppID: "id", AppSecret: "secret", GraphVersion: "v21.0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := v21.OAuth("", social.App{}).Endpoint; got.AuthURL != "https://www.facebook.com/v21.0/dialog/oauth" ||
		got.TokenURL != "https://graph.facebook.com/v21.0/oauth/access_token" {
		t.Errorf("v21.0 endpoint = %+v", got)
	}
	for _, bad := range []facebook.Options{{AppID: "id"}, {AppID: "id", AppSecret: "s", GraphVersion: "21.0"}, {AppID: "id", AppSecret: "s", GraphVersion: "v21"}} {
		if _, err := facebook.New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}

func TestConnectPublishDelete(t *testing.T) {
	fake := facebooktest.New(t, facebooktest.Options{})
	n := newNetwork(t, fake, func(o *facebook.Options) { o.GraphVersion = "v21.0" })
	a := connect(t, n)
	ctx := t.Context()

	prof, err := n.Profile(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	want := social.Profile{RemoteID: "101234567890123", Handle: "@acmewidgets", DisplayName: "Acme Widgets",
		URL: "https://www.facebook.com/acmewidgets", Followers: 4321}
	if diff := cmp.Diff(prof, want); diff != "" {
		t.Errorf("profile (-got +want):\n%s", diff)
	}

	pub, err := n.Publish(ctx, a, social.Post{Text: "Worth a read", Link: "https://news.example/a", IdempotencyKey: "share-1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pub.RemoteID, "101234567890123_") || pub.URL != "https://www.facebook.com/"+pub.RemoteID || pub.At.IsZero() {
		t.Errorf("Published = %+v", pub)
	}
	wantPosts := []facebooktest.Post{{ID: pub.RemoteID, PageID: "101234567890123", Message: "Worth a read", Link: "https://news.example/a", Version: "v21.0"}}
	if diff := cmp.Diff(fake.Posts(), wantPosts, cmpopts.IgnoreFields(facebooktest.Post{}, "CreatedAt")); diff != "" {
		t.Errorf("posts (-got +want):\n%s", diff)
	}

	// Revoking removes the app's permissions (the member removed the app).
	networktest.CheckDeleteAndRevoke(t, n, a, pub.RemoteID, func() bool { return fake.Posts()[0].Deleted }, fake.AppRemoved)
}

// TestTokenLifetimes shows why the code's token must be upgraded before it
// is stored: the short-lived one (and the Page tokens read with it) dies
// within hours, the long-lived one's Page tokens do not.
func TestTokenLifetimes(t *testing.T) {
	c := tenanttest.NewClock(time.Now())
	fake := facebooktest.New(t, facebooktest.Options{Now: c.Now})
	n := newNetwork(t, fake, func(o *facebook.Options) { o.Now = c.Now })
	short := social.Account{AccessToken: social.Secret(exchange(t, n).AccessToken)}
	long := connect(t, n)
	ctx := t.Context()
	for _, a := range []social.Account{short, long} {
		if _, err := n.Profile(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	c.Add(facebooktest.ShortLived + time.Minute)
	if _, err := n.Publish(ctx, short, social.Post{Text: "late"}); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("publish with an expired short-lived token: %v, want ErrReconnect", err)
	}
	if _, err := n.UpgradeToken(ctx, &oauth2.Token{AccessToken: short.AccessToken.Reveal()}); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("upgrading an expired token: %v, want ErrReconnect", err)
	}
	if _, err := n.Publish(ctx, long, social.Post{Text: "still fine"}); err != nil {
		t.Errorf("publish with the long-lived token: %v", err)
	}
	c.Add(facebooktest.LongLived)
	if _, err := n.Publish(ctx, long, social.Post{Text: "60 days on"}); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("publish after 60 days: %v, want ErrReconnect", err)
	}
}

func TestPageChoice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pages   []facebooktest.Page
		want    string // Page ID, "" for an error
		message string
	}{
		{name: "first postable", want: "2", pages: []facebooktest.Page{
			{ID: "1", Name: "Analyst only", Tasks: []string{"ANALYZE"}},
			{ID: "2", Name: "Second", Username: "second"},
			{ID: "3", Name: "Third"},
		}},
		{name: "no page", pages: []facebooktest.Page{}, message: "manages no Page"},
		{name: "no postable page", pages: []facebooktest.Page{{ID: "1", Name: "Analyst only", Tasks: []string{"ANALYZE"}}}, message: "manages no Page"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := facebooktest.New(t, facebooktest.Options{Pages: tc.pages})
			n := newNetwork(t, fake, nil)
			a := connect(t, n)
			prof, err := n.Profile(t.Context(), a)
			pub, perr := n.Publish(t.Context(), a, social.Post{Text: "hi"})
			if tc.want == "" {
				var e *social.Error
				for _, err := range []error{err, perr} {
					if !errors.Is(err, social.ErrPermanent) || !errors.As(err, &e) || !strings.Contains(e.Message, tc.message) {
						t.Errorf("error = %v, want permanent with %q", err, tc.message)
					}
				}
				return
			}
			if err != nil || perr != nil {
				t.Fatal(err, perr)
			}
			if prof.RemoteID != tc.want || !strings.HasPrefix(pub.RemoteID, tc.want+"_") {
				t.Errorf("profile %+v, post %+v; want Page %s", prof, pub, tc.want)
			}
		})
	}
}

func TestErrorsAreClassified(t *testing.T) {
	fake := facebooktest.New(t, facebooktest.Options{})
	n := newNetwork(t, fake, nil)
	a := connect(t, n)
	ctx := t.Context()
	if _, err := n.Publish(ctx, a, social.Post{Text: "first", Link: "https://news.example/a"}); err != nil {
		t.Fatal(err)
	}
	networktest.CheckPublishFailures(t, n, a, "https://news.example/a", []networktest.PublishFailure{
		{Name: "duplicate", Text: "first", Class: social.ErrPermanent, Status: 400, Message: "already posted: This status update is identical"},
		{Name: "too long", Text: strings.Repeat("x", facebooktest.MaxMessage+1), Class: social.ErrPermanent, Status: 400, Message: "too long"},
		{Name: "page rate limit", Setup: func() {
			fake.RateLimit(1, http.Header{"X-Business-Use-Case-Usage": {`{"101234567890123":[{"type":"pages","call_count":100,"total_cputime":40,"total_time":30,"estimated_time_to_regain_access":7}]}`}})
		}, Class: social.ErrRetryLater, Status: 400, RetryAfter: 7 * time.Minute, Message: "Page request limit reached"},
		{Name: "retry after", Setup: func() { fake.RateLimit(1, http.Header{"Retry-After": {"90"}}) }, Class: social.ErrRetryLater,
			Status: 400, RetryAfter: 90 * time.Second},
		{Name: "rate limit without a delay", Setup: func() { fake.RateLimit(1, nil) }, Class: social.ErrRetryLater, Status: 400},
		{Name: "invalid token", Account: &social.Account{AccessToken: "forged"}, Class: social.ErrReconnect, Status: 400, Message: "Invalid OAuth access token"},
		{Name: "wrong app secret", Network: newNetwork(t, fake, func(o *facebook.Options) { o.AppSecret = "not-it" }), Class: social.ErrPermanent,
			Status: 400, Message: "appsecret_proof"},
		{Name: "Facebook down", Network: newNetwork(t, fake, func(o *facebook.Options) { o.GraphBaseURL = "http://127.0.0.1:1" }), Class: social.ErrRetryLater},
		// Graph's error handling page: the throttling codes wait; 341
		// and 368 wait too (368 is a block of hours at least); a
		// permission not granted or removed (10, 200–299) asks the
		// member again; 102 and 190 are a dead session or token.
		refusal(fake, 4, social.ErrRetryLater, 400, 0, "Application request limit reached"),
		refusal(fake, 17, social.ErrRetryLater, 400, 0, "User request limit reached"),
		refusal(fake, 613, social.ErrRetryLater, 400, 0, "exceeded the rate limit"),
		refusal(fake, 80001, social.ErrRetryLater, 400, 0, "too many calls to this Page"),
		refusal(fake, 341, social.ErrRetryLater, 400, 0, "Application limit reached"),
		refusal(fake, 368, social.ErrRetryLater, 400, facebook.BlockedWait, "deemed abusive"),
		refusal(fake, 10, social.ErrReconnect, 403, 0, "does not have permission"),
		refusal(fake, 200, social.ErrReconnect, 403, 0, "Permissions error"),
		refusal(fake, 230, social.ErrReconnect, 403, 0, "pages_manage_posts"),
		refusal(fake, 102, social.ErrReconnect, 400, 0, "Session key invalid"),
		refusal(fake, 190, social.ErrReconnect, 400, 0, "not authorized application"),
	})
	if got := len(fake.Posts()); got != 1 {
		t.Errorf("%d posts exist, want only the first", got)
	}
}

// refusal is the publish failure of Graph's error code, which the fake
// answers once.
func refusal(fake *facebooktest.Server, code int, class error, status int, wait time.Duration, msg string) networktest.PublishFailure {
	return networktest.PublishFailure{Name: fmt.Sprint("graph error ", code), Setup: func() { fake.Refuse(1, code, nil) },
		Class: class, Status: status, RetryAfter: wait, Message: msg}
}

// TestEveryRefusalClassified: every Graph error the fake knows is tested
// above, so a code added to the fake is classified on purpose.
func TestEveryRefusalClassified(t *testing.T) {
	if got := fmt.Sprint(facebooktest.RefusalCodes()); got != "[4 10 17 32 102 190 200 230 341 368 613 80001]" {
		t.Errorf("the fake refuses with %s; classify the new codes in TestErrorsAreClassified", got)
	}
}

// TestLongLivedExchangeIsGET: the token exchange uses the method Meta
// documents, and a failure does not carry the app secret (which a GET
// puts in the URL) into the error.
func TestLongLivedExchangeIsGET(t *testing.T) {
	fake := facebooktest.New(t, facebooktest.Options{})
	n := newNetwork(t, fake, nil)
	connect(t, n)
	if got := fake.Calls("GET /" + facebook.DefaultGraphVersion + "/oauth/access_token fb_exchange_token"); got != 1 {
		t.Errorf("%d GET exchanges, want 1 (POST: %d)", got, fake.Calls("POST /"+facebook.DefaultGraphVersion+"/oauth/access_token fb_exchange_token"))
	}
	down := newNetwork(t, fake, func(o *facebook.Options) { o.GraphBaseURL = "http://127.0.0.1:1" })
	_, err := down.UpgradeToken(t.Context(), &oauth2.Token{AccessToken: "short"})
	if err == nil || strings.Contains(err.Error(), fake.AppSecret()) || strings.Contains(err.Error(), "short") {
		t.Errorf("UpgradeToken error = %v, want one without the secret or the token", err)
	}
}

// TestBusinessPages: a Page owned by a business portfolio is listed only
// with business_management, which Chorus asks for when told to.
func TestBusinessPages(t *testing.T) {
	pages := []facebooktest.Page{{ID: "7", Name: "Acme Corp", Business: true}}
	fake := facebooktest.New(t, facebooktest.Options{Pages: pages})
	plain := newNetwork(t, fake, nil)
	if _, err := plain.Profile(t.Context(), connect(t, plain)); !errors.Is(err, social.ErrPermanent) || !strings.Contains(err.Error(), "business_management") {
		t.Errorf("a business Page without business_management: %v, want a permanent error naming business_management", err)
	}
	biz := newNetwork(t, fake, func(o *facebook.Options) { o.BusinessPages = true })
	if prof, err := biz.Profile(t.Context(), connect(t, biz)); err != nil || prof.RemoteID != "7" {
		t.Errorf("with business_management: %+v, %v; want Page 7", prof, err)
	}
}

func TestTransientGraphErrorIsRetryLater(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/me/accounts") {
			w.Write([]byte(`{"data":[{"id":"1","name":"P","access_token":"pt","tasks":["CREATE_CONTENT"]}]}`))
			return
		}
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"x"}}`))
	}))
	t.Cleanup(srv.Close)
	n, _ := facebook.New(facebook.Options{AppID: "id", AppSecret: "s", GraphBaseURL: srv.URL})
	_, err := n.Publish(t.Context(), social.Account{AccessToken: "t"}, social.Post{Text: "hi"})
	var e *social.Error
	if !errors.As(err, &e) || !errors.Is(err, social.ErrRetryLater) || e.Status != 500 {
		t.Errorf("Publish error = %v, want retry later (HTTP 500)", err)
	}
}

func TestAmbiguousWhenPostStalls(t *testing.T) {
	fake := facebooktest.New(t, facebooktest.Options{})
	a := connect(t, newNetwork(t, fake, nil))
	// Facebook records the post, then the answer never comes.
	fake.Stall(1)
	short := newNetwork(t, fake, func(o *facebook.Options) { o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
	networktest.CheckStalledPublish(t, short, a, social.Post{Text: "hi"}, func() int { return len(fake.Posts()) })
}

// Metrics read a Page post's reaction, comment and share totals as Graph
// answers them, and classify Graph's errors.
func TestMetrics(t *testing.T) {
	fake := facebooktest.New(t, facebooktest.Options{})
	n := newNetwork(t, fake, nil)
	a := connect(t, n)
	ctx := t.Context()
	pub, err := n.Publish(ctx, a, social.Post{Text: "engage", Link: "https://news.example/e"})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := n.Metrics(ctx, a, pub.RemoteID); err != nil || e != (social.Engagement{}) {
		t.Errorf("Metrics of a fresh post = %+v, %v; want zeros", e, err)
	}
	fake.SetEngagement(pub.RemoteID, 21, 5, 3)
	e, err := n.Metrics(ctx, a, pub.RemoteID)
	if want := (social.Engagement{Reactions: 21, Comments: 5, Reposts: 3}); err != nil || e != want {
		t.Errorf("Metrics = %+v, %v; want %+v", e, err, want)
	}

	var se *social.Error
	for _, tc := range []struct {
		code       int
		h          http.Header
		retryAfter time.Duration
	}{
		{32, http.Header{"X-Business-Use-Case-Usage": {`{"101234567890123":[{"type":"pages","call_count":100,"total_cputime":12,"total_time":20,"estimated_time_to_regain_access":12}]}`}}, 12 * time.Minute},
		{4, http.Header{"X-App-Usage": {`{"call_count":100,"total_cputime":10,"total_time":10}`}}, 0},
		{17, nil, 0},
		{613, http.Header{"Retry-After": {"30"}}, 30 * time.Second},
	} {
		fake.RateLimitReads(1, tc.code, tc.h)
		_, err := n.Metrics(ctx, a, pub.RemoteID)
		if !errors.Is(err, social.ErrRetryLater) || !errors.As(err, &se) || se.RetryAfter != tc.retryAfter {
			t.Errorf("Metrics when throttled with code %d = %v; want ErrRetryLater after %v", tc.code, err, tc.retryAfter)
		}
	}

	if err := n.Delete(ctx, a, pub.RemoteID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Metrics(ctx, a, pub.RemoteID); !errors.Is(err, social.ErrPermanent) || !errors.As(err, &se) || !strings.Contains(se.Message, "does not exist") {
		t.Errorf("Metrics of a deleted post = %v; want ErrPermanent (code 100/33)", err)
	}
	if _, err := n.Metrics(ctx, a, "no-page-prefix"); !errors.Is(err, social.ErrPermanent) {
		t.Errorf("Metrics of a malformed ID = %v; want ErrPermanent", err)
	}

	if err := n.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Metrics(ctx, a, pub.RemoteID); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("Metrics after the member removed the app = %v; want ErrReconnect", err)
	}
	if got := fake.Calls("GET /" + facebook.DefaultGraphVersion + "/" + pub.RemoteID); got != 7 {
		t.Errorf("%d reads of the post, want 7", got)
	}
}

// A token without pages_read_engagement (unticked in the login dialog)
// cannot read engagement: ErrNoMetrics, not a reason to reconnect.
func TestMetricsWithoutPermission(t *testing.T) {
	fake := facebooktest.New(t, facebooktest.Options{})
	n := newNetwork(t, fake, nil)
	pub, err := n.Publish(t.Context(), connect(t, n), social.Post{Text: "posted", Link: "https://news.example/p"})
	if err != nil {
		t.Fatal(err)
	}
	long, err := n.UpgradeToken(t.Context(), exchange(t, n, "pages_show_list", "pages_manage_posts"))
	if err != nil {
		t.Fatal(err)
	}
	a := social.Account{AccessToken: social.Secret(long.AccessToken)}
	_, err = n.Metrics(t.Context(), a, pub.RemoteID)
	if !errors.Is(err, social.ErrNoMetrics) || errors.Is(err, social.ErrReconnect) || !strings.Contains(err.Error(), "pages_read_engagement") {
		t.Errorf("Metrics without pages_read_engagement = %v; want ErrNoMetrics naming the permission", err)
	}
}

// FindPost lists the Page's published posts back to since, following
// Graph's paging, and matches the tracked link in the post's link
// attachment (behind Facebook's shim) or its message.
func TestFindPost(t *testing.T) {
	c := tenanttest.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	fake := facebooktest.New(t, facebooktest.Options{Now: c.Now})
	n := newNetwork(t, fake, func(o *facebook.Options) { o.Now = c.Now })
	a := connect(t, n)
	ctx := t.Context()
	const pageID = "101234567890123"
	listings := func() int {
		return fake.Calls("GET /" + facebook.DefaultGraphVersion + "/" + pageID + "/published_posts")
	}
	attempt := c.Now()
	link := func(i int) string { return fmt.Sprintf("https://chorus.example/r/code%03d", i) }
	for i := range 3 { // before the attempt
		fake.AddPost(pageID, "old", link(900+i), attempt.Add(-time.Duration(i+1)*time.Hour))
	}
	var wanted social.Published
	for i := range 250 { // three pages of 100
		c.Add(time.Second)
		text := fmt.Sprint("post ", i)
		if i == 11 {
			text = "read this " + link(i) // the link in the message only
		}
		pub, err := n.Publish(ctx, a, social.Post{Text: text, Link: link(i)})
		if err != nil {
			t.Fatal(err)
		}
		if i == 7 {
			wanted = pub
		}
	}
	since := attempt.Add(-5 * time.Minute)
	_, num, _ := strings.Cut(wanted.RemoteID, "_")
	networktest.CheckFindPost(t, n, a, listings, []networktest.Lookup{
		{Name: "an early post, three pages back", Link: link(7), Since: since, Found: true, Pages: 3,
			Want: &social.Published{RemoteID: wanted.RemoteID, URL: "https://www.facebook.com/" + pageID + "/posts/" + num, At: wanted.At}},
		{Name: "the newest post", Link: link(249), Since: since, Found: true, Pages: 1},
		{Name: "a link in the message", Link: link(11), Since: since, Found: true, Pages: 3},
		{Name: "a link never posted", Link: "https://chorus.example/r/nevernever", Since: since, Pages: 3},
		{Name: "a post from before since is not looked at", Link: link(900), Since: since, Pages: 3},
		{Name: "a link never posted, only newer posts listed", Link: "https://chorus.example/r/nevernever", Since: c.Now().Add(time.Minute), Pages: 1},
	})

	// More posts since the attempt than FindPost reads: unknown, not
	// absent.
	for i := range 300 {
		c.Add(time.Second)
		fake.AddPost(pageID, fmt.Sprint("chatter ", i), "", c.Now())
	}
	if _, found, err := n.FindPost(ctx, a, social.Post{Link: "https://chorus.example/r/nevernever"}, since); err == nil || found {
		t.Errorf("more posts than read: found %t, %v; want an error (cannot tell)", found, err)
	}

	var se *social.Error
	fake.RateLimitReads(1, 32, http.Header{"X-Business-Use-Case-Usage": {`{"101234567890123":[{"type":"pages","call_count":100,"total_cputime":12,"total_time":20,"estimated_time_to_regain_access":7}]}`}})
	_, found, err := n.FindPost(ctx, a, social.Post{Link: link(249)}, since)
	if found || !errors.Is(err, social.ErrRetryLater) || !errors.As(err, &se) || se.RetryAfter != 7*time.Minute {
		t.Errorf("FindPost when the Page is throttled = %t, %v; want ErrRetryLater after 7m", found, err)
	}

	// A token without pages_read_engagement cannot tell.
	long, err := n.UpgradeToken(ctx, exchange(t, n, "pages_show_list", "pages_manage_posts"))
	if err != nil {
		t.Fatal(err)
	}
	_, found, err = n.FindPost(ctx, social.Account{AccessToken: social.Secret(long.AccessToken)}, social.Post{Link: link(249)}, since)
	if found || err == nil || errors.Is(err, social.ErrReconnect) || !strings.Contains(err.Error(), "pages_read_engagement") {
		t.Errorf("FindPost without pages_read_engagement = %t, %v; want an error naming the permission, not ErrReconnect", found, err)
	}

	if err := n.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, found, err := n.FindPost(ctx, a, social.Post{Link: link(7)}, since); found || !errors.Is(err, social.ErrReconnect) {
		t.Errorf("FindPost after the member removed the app = %t, %v; want ErrReconnect", found, err)
	}
}
