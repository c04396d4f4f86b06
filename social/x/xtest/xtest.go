// Package xtest is a contract fake of X (x.com's authorisation page and
// api.x.com) on 127.0.0.1 for tests. It follows the X API v2 documentation
// for what Chorus uses:
//
//   - GET /i/oauth2/authorize approves at once (as if the member clicked
//     Authorize app) and redirects with code and state; PKCE is required
//     (S256 or plain).
//   - POST /2/oauth2/token authenticates a confidential client by HTTP
//     Basic auth only (401 unauthorized_client "Missing valid authorization
//     header" otherwise), checks the PKCE verifier, issues two-hour access
//     tokens and, with offline.access, rotating refresh tokens: a refresh
//     returns a new refresh token and spends the old one, after which X
//     answers 400 {"error":"invalid_request","error_description":"Value
//     passed for the token was invalid."}.
//   - POST /2/oauth2/revoke.
//   - GET /2/users/me with user.fields=public_metrics.
//   - POST /2/tweets {text} → 201 {data: {id, text, edit_history_tweet_ids}};
//     403 "You are not allowed to create a Tweet with duplicate content.";
//     400 invalid-request for text over 280 characters (links count 23);
//     429 with x-rate-limit-* and x-user-limit-24hour-* headers.
//   - DELETE /2/tweets/:id → {data: {deleted: true}}, 404 when unknown.
//   - GET /2/tweets/:id?tweet.fields=public_metrics → {data: {id, text,
//     edit_history_tweet_ids, public_metrics: {retweet_count, reply_count,
//     like_count, quote_count, bookmark_count, impression_count}}}. A
//     deleted or unknown post is 200 with only an errors array
//     (resource-not-found), as X answers lookups; 429 with x-rate-limit-*
//     headers (RateLimitLookups); 403 client-forbidden
//     ("client-not-enrolled") for an app whose access level has no post
//     lookups (DenyLookups).
//   - GET /2/users/:id/tweets (the account's timeline) with max_results
//     (5–100, default 10), start_time (RFC 3339, inclusive),
//     pagination_token and tweet.fields=created_at,entities → {data: [posts
//     newest first], meta: {result_count, newest_id, oldest_id,
//     next_token}}; data is absent when nothing matches. As on X, the text
//     holds each link as its t.co form and entities.urls[] gives the link
//     as posted (expanded_url), and only the newest TimelineDepth posts
//     can be listed. 400 invalid-request for a bad max_results, start_time
//     or pagination_token; 403 for another user's ID (this fake knows one
//     account) and client-forbidden ("client-not-enrolled") for an app
//     without timeline access (DenyTimeline); 429 with x-rate-limit-*
//     headers (RateLimitTimeline).
//
// Errors are X's problem bodies: {"title", "detail", "type", "status"},
// 401 {"title":"Unauthorized", …} for an invalid, expired or revoked token.
//
// Usage is billed as X's pay-per-usage pricing page lists it
// (docs.x.com/x-api/getting-started/pricing; usage and billing:
// docs.x.com/x-api/fundamentals/post-cap): reads per resource returned —
// a post $0.005, a user $0.010 — each resource counted once per UTC day;
// writes per request — a post $0.015, a post with a URL $0.200, a delete
// (Content: Manage, as the fake reads the table) $0.005; only successful
// answers are billed. Cost and Usage report what a test's requests cost.
// With Options.Credits, a request whose cost the credits left cannot
// cover — or any request after CapUsage — is refused as X refuses a spent
// usage cap: 429 {"title":"UsageCapExceeded","type":
// ".../problems/usage-capped","period","scope",…} while the
// x-rate-limit-* headers of the endpoint's window, which do not apply,
// still come along (docs.x.com/x-api/fundamentals/response-codes-and-errors:
// "429 Rate limit or usage cap exceeded").
package xtest

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chorushq/chorus/social/networktest"
)

// MaxChars is X's post length limit; a link counts as LinkChars.
const (
	MaxChars  = 280
	LinkChars = 23
)

// TokenLifetime is how long X's access tokens live.
const TokenLifetime = 2 * time.Hour

// Options configure the fake.
type Options struct {
	// ClientID and ClientSecret of the confidential client the fake knows.
	ClientID, ClientSecret string
	// Username, Name and Followers describe the account that authorises
	// Chorus.
	Username, Name string
	Followers      int64
	// Now is the fake's clock for token expiry; default time.Now.
	Now func() time.Time
	// Credits, when positive, is what the app may spend, in millionths
	// of a dollar; a request it cannot pay for is usage-capped.
	Credits int64
}

// Prices of X's pay-per-usage plan, in millionths of a dollar.
const (
	PostRead      = 5000
	UserRead      = 10000
	PostCreate    = 15000
	PostCreateURL = 200000
	PostDelete    = 5000
)

// Server is a fake X. Calls counts the requests by method and path; for
// the token endpoint the key ends in the grant type ("POST /2/oauth2/token
// refresh_token").
type Server struct {
	*networktest.Server
	opts Options

	limit, stall       networktest.Switch
	lookups, timelines readAccess

	mu       sync.Mutex
	codes    map[string]grant
	tokens   map[string]*token
	refresh  map[string]*refresh
	tweets   *networktest.Log[Tweet]
	failWith int
	capped   bool
	spent    int64
	usage    map[string]int             // billed units by kind (post_read…)
	billed   map[string]map[string]bool // UTC day → resources read
}

// readAccess is what a test may switch on a read endpoint.
type readAccess struct {
	denied atomic.Bool        // the app's access level lacks the endpoint
	limit  networktest.Switch // rate limited
}

// refused answers 403 client-forbidden if the endpoint is denied, 429 if
// it is rate limited, and reports whether it did.
func (a *readAccess) refused(w http.ResponseWriter) bool {
	switch {
	case a.denied.Load():
		clientForbidden(w)
	case a.limit.Take(w):
		tooManyRequests(w)
	default:
		return false
	}
	return true
}

type grant struct{ redirect, challenge, method, scopes string }

type token struct {
	scopes  string
	expires time.Time
	revoked bool
}

type refresh struct {
	scopes string
	used   bool
}

// Tweet is a post made to the fake.
type Tweet struct {
	ID        string
	Text      string
	CreatedAt time.Time
	Deleted   bool
	Metrics   Metrics
}

// TimelineDepth is how many of an account's newest posts X's timeline
// endpoint can list.
const TimelineDepth = 3200

// Metrics are a post's public counts (public_metrics).
type Metrics struct {
	Likes, Replies, Retweets, Quotes, Bookmarks, Impressions int64
}

// New starts a fake on 127.0.0.1, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	opts.ClientID = cmp.Or(opts.ClientID, "M1M5R3BMVy13QmpScXkzTUt5OE46MTpjaQ")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "zP-5u1s3cr3t_Zm9vYmFy-LongConfidentialClientSecret")
	opts.Username = cmp.Or(opts.Username, "alice")
	opts.Name = cmp.Or(opts.Name, "Alice")
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, codes: map[string]grant{}, tokens: map[string]*token{}, refresh: map[string]*refresh{},
		tweets: networktest.NewLog[Tweet](1445880548472328190), usage: map[string]int{}, billed: map[string]map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /i/oauth2/authorize", s.authorize)
	mux.HandleFunc("POST /2/oauth2/token", s.token)
	mux.HandleFunc("POST /2/oauth2/revoke", s.revoke)
	mux.HandleFunc("GET /2/users/me", s.me)
	mux.HandleFunc("POST /2/tweets", s.createTweet)
	mux.HandleFunc("DELETE /2/tweets/{id}", s.deleteTweet)
	mux.HandleFunc("GET /2/tweets/{id}", s.lookupTweet)
	mux.HandleFunc("GET /2/users/{id}/tweets", s.timeline)
	s.Server = networktest.Start(t, mux, "/2/oauth2/token")
	return s
}

// ClientID is the confidential client's ID.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the client's secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// UserID is the account's ID.
func (s *Server) UserID() string { return "2244994945" }

// Tweets returns every post made, deleted ones flagged.
func (s *Server) Tweets() []Tweet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tweets.Copies()
}

// Cost is what the requests so far cost, in millionths of a dollar.
func (s *Server) Cost() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.spent
}

// Usage counts the billed units by kind: post_read, user_read,
// post_create, post_create_url, post_delete.
func (s *Server) Usage() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.usage)
}

// CapUsage makes every billed request answer 429 usage-capped (capped)
// or not, as when the app's usage cap is spent.
func (s *Server) CapUsage(capped bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capped = capped
}

// charge is one billed item: its kind, price and, for reads, the resource
// (billed once per UTC day).
type charge struct {
	kind     string
	price    int64
	resource string
}

// affordable reports whether the app may still pay for items, or answers
// 429 usage-capped; the caller bills them with bill once it succeeds.
func (s *Server) affordable(w http.ResponseWriter, items ...charge) bool {
	s.mu.Lock()
	var cost int64
	day := s.opts.Now().UTC().Format(time.DateOnly)
	for _, c := range items {
		if c.resource == "" || !s.billed[day][c.resource] {
			cost += c.price
		}
	}
	capped := s.capped || (s.opts.Credits > 0 && s.spent+cost > s.opts.Credits)
	s.mu.Unlock()
	if !capped {
		return true
	}
	w.Header().Set("X-Rate-Limit-Limit", "900")
	w.Header().Set("X-Rate-Limit-Remaining", "899")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(s.opts.Now().Add(15*time.Minute).Unix(), 10))
	api.Write(w, http.StatusTooManyRequests, map[string]any{"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
		"type": "https://api.x.com/2/problems/usage-capped", "period": "Monthly", "scope": "Product", "status": http.StatusTooManyRequests})
	return false
}

// bill records items as paid.
func (s *Server) bill(items ...charge) {
	s.mu.Lock()
	defer s.mu.Unlock()
	day := s.opts.Now().UTC().Format(time.DateOnly)
	if s.billed[day] == nil {
		s.billed[day] = map[string]bool{}
	}
	for _, c := range items {
		if c.resource != "" {
			if s.billed[day][c.resource] {
				continue
			}
			s.billed[day][c.resource] = true
		}
		s.spent += c.price
		s.usage[c.kind]++
	}
}

// RateLimit makes the next n posts fail with 429 and headers h (X's
// x-rate-limit-* or x-user-limit-24hour-*).
func (s *Server) RateLimit(n int, h http.Header) { s.limit.Set(n, h) }

// SetMetrics sets the public counts of the post id, as if people reacted
// to it; false if there is no such post.
func (s *Server) SetMetrics(id string, m Metrics) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tweets.Get(id)
	if t == nil {
		return false
	}
	t.Metrics = m
	return true
}

// RateLimitLookups makes the next n post lookups (GET /2/tweets/:id)
// fail with 429 and headers h.
func (s *Server) RateLimitLookups(n int, h http.Header) { s.lookups.limit.Set(n, h) }

// DenyLookups makes post lookups answer 403 client-forbidden, as X does
// for an app whose access level does not include the endpoint.
func (s *Server) DenyLookups(deny bool) { s.lookups.denied.Store(deny) }

// AddTweet records a post the account made at at, as if posted outside
// Chorus, and returns its ID.
func (s *Server) AddTweet(text string, at time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.post(text, at).ID
}

// post records a post made at at; the caller holds s.mu.
func (s *Server) post(text string, at time.Time) *Tweet {
	t := &Tweet{ID: strconv.FormatInt(s.tweets.Next(), 10), Text: text, CreatedAt: at.UTC().Truncate(time.Second)}
	s.tweets.Add(t.ID, t)
	return t
}

// RateLimitTimeline makes the next n timeline requests (GET
// /2/users/:id/tweets) fail with 429 and headers h.
func (s *Server) RateLimitTimeline(n int, h http.Header) { s.timelines.limit.Set(n, h) }

// DenyTimeline makes timeline requests answer 403 client-forbidden, as X
// does for an app whose access level does not include the endpoint.
func (s *Server) DenyTimeline(deny bool) { s.timelines.denied.Store(deny) }

// Stall makes the next n posts record the post and then never answer, as
// when the connection stalls after X acted.
func (s *Server) Stall(n int) { s.stall.Set(n, nil) }

// FailNext makes the next post answer status (a 5xx) without posting.
func (s *Server) FailNext(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = status
}

// Revoked reports whether the access token was revoked.
func (s *Server) Revoked(access string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[access]
	return t != nil && t.revoked
}

// api labels X's JSON answers.
const api networktest.JSON = "application/json; charset=utf-8"

// writeProblem writes X's problem body.
func writeProblem(w http.ResponseWriter, status int, title, detail, typ string) {
	api.Write(w, status, map[string]any{"title": title, "detail": detail, "type": typ, "status": status})
}

// tooManyRequests is X's 429 body; the rate-limit switch has added its
// x-rate-limit-* headers.
func tooManyRequests(w http.ResponseWriter) {
	writeProblem(w, http.StatusTooManyRequests, "Too Many Requests", "Too Many Requests", "about:blank")
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m := q.Get("code_challenge_method")
	switch {
	case q.Get("client_id") != s.opts.ClientID || q.Get("response_type") != "code":
		http.Error(w, "Something went wrong: You weren't able to give access to the App.", http.StatusBadRequest)
		return
	case q.Get("code_challenge") == "" || (m != "S256" && m != "plain"):
		http.Error(w, "Something went wrong: code_challenge is required.", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() {
		http.Error(w, "Something went wrong: invalid redirect_uri.", http.StatusBadRequest)
		return
	}
	code := networktest.Random()
	s.mu.Lock()
	s.codes[code] = grant{redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), method: m, scopes: q.Get("scope")}
	s.mu.Unlock()
	networktest.Redirect(w, r, redirect, url.Values{"code": {code}, "state": {q.Get("state")}})
}

// client checks the Basic auth of a confidential client.
func (s *Server) client(w http.ResponseWriter, r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || id != s.opts.ClientID || secret != s.opts.ClientSecret {
		api.OAuthError(w, http.StatusUnauthorized, "unauthorized_client", "Missing valid authorization header")
		return false
	}
	return true
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if !s.client(w, r) {
		return
	}
	p := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	var scopes string
	switch p.Get("grant_type") {
	case "authorization_code":
		g, ok := s.codes[p.Get("code")]
		delete(s.codes, p.Get("code"))
		verifier := p.Get("code_verifier")
		if g.method == "S256" {
			sum := sha256.Sum256([]byte(verifier))
			verifier = base64.RawURLEncoding.EncodeToString(sum[:])
		}
		if !ok || g.redirect != p.Get("redirect_uri") || verifier != g.challenge {
			api.OAuthError(w, http.StatusBadRequest, "invalid_request", "Value passed for the authorization code was invalid.")
			return
		}
		scopes = g.scopes
	case "refresh_token":
		rt, ok := s.refresh[p.Get("refresh_token")]
		if !ok || rt.used {
			api.OAuthError(w, http.StatusBadRequest, "invalid_request", "Value passed for the token was invalid.")
			return
		}
		rt.used = true // rotation: the old refresh token is spent
		scopes = rt.scopes
	default:
		api.OAuthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter [grant_type].")
		return
	}
	access := networktest.Random()
	s.tokens[access] = &token{scopes: scopes, expires: s.opts.Now().Add(TokenLifetime)}
	out := map[string]any{"token_type": "bearer", "expires_in": int(TokenLifetime.Seconds()), "access_token": access, "scope": scopes}
	if strings.Contains(" "+scopes+" ", " offline.access ") {
		rt := networktest.Random()
		s.refresh[rt] = &refresh{scopes: scopes}
		out["refresh_token"] = rt
	}
	api.Write(w, http.StatusOK, out)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if !s.client(w, r) {
		return
	}
	r.ParseForm()
	tok := r.PostForm.Get("token")
	s.mu.Lock()
	if t := s.tokens[tok]; t != nil {
		t.revoked = true
	}
	if rt := s.refresh[tok]; rt != nil {
		rt.used = true
	}
	s.mu.Unlock()
	api.Write(w, http.StatusOK, map[string]bool{"revoked": true})
}

// authed checks the bearer token and its scopes, or answers 401/403.
func (s *Server) authed(w http.ResponseWriter, r *http.Request, scopes ...string) bool {
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	t := s.tokens[access]
	valid := ok && t != nil && !t.revoked && s.opts.Now().Before(t.expires)
	s.mu.Unlock()
	if !valid {
		writeProblem(w, http.StatusUnauthorized, "Unauthorized", "Unauthorized", "about:blank")
		return false
	}
	for _, sc := range scopes {
		if !strings.Contains(" "+t.scopes+" ", " "+sc+" ") {
			api.Write(w, http.StatusForbidden, map[string]any{"title": "Forbidden", "type": "about:blank", "status": 403,
				"detail": "You are not permitted to perform this action."})
			return false
		}
	}
	return true
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "tweet.read", "users.read") {
		return
	}
	read := charge{"user_read", UserRead, "user:" + s.UserID()}
	if !s.affordable(w, read) {
		return
	}
	defer s.bill(read)
	u := map[string]any{"id": s.UserID(), "name": s.opts.Name, "username": s.opts.Username}
	for _, f := range strings.Split(r.URL.Query().Get("user.fields"), ",") {
		if f == "public_metrics" {
			u["public_metrics"] = map[string]int64{"followers_count": s.opts.Followers, "following_count": 42,
				"tweet_count": 1337, "listed_count": 3, "like_count": 99}
		}
	}
	api.Write(w, http.StatusOK, map[string]any{"data": u})
}

var link = regexp.MustCompile(`https?://[^\s]+`)

// weight counts text as X does, simplified: a link is LinkChars.
func weight(text string) int {
	return utf8.RuneCountInString(link.ReplaceAllString(text, "")) + LinkChars*len(link.FindAllString(text, -1))
}

func (s *Server) createTweet(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "tweet.read", "tweet.write", "users.read") {
		return
	}
	var body struct {
		Text *string `json:"text"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Text == nil {
		api.Write(w, http.StatusBadRequest, map[string]any{"errors": []any{map[string]any{"message": "$.text: is missing but it is required"}},
			"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
			"type": "https://api.twitter.com/2/problems/invalid-request"})
		return
	}
	text := *body.Text
	if n := weight(text); n > MaxChars {
		api.Write(w, http.StatusBadRequest, map[string]any{"errors": []any{map[string]any{"parameters": map[string]any{"text": []string{text}},
			"message": fmt.Sprintf("Tweet text is too long: %d characters, the limit is %d.", n, MaxChars)}},
			"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
			"type": "https://api.twitter.com/2/problems/invalid-request"})
		return
	}
	if s.limit.Take(w) {
		tooManyRequests(w)
		return
	}
	create := charge{"post_create", PostCreate, ""}
	if link.MatchString(text) {
		create = charge{"post_create_url", PostCreateURL, ""}
	}
	if !s.affordable(w, create) {
		return
	}
	s.mu.Lock()
	if st := s.failWith; st != 0 {
		s.failWith = 0
		s.mu.Unlock()
		writeProblem(w, st, http.StatusText(st), http.StatusText(st), "about:blank")
		return
	}
	for t := range s.tweets.All() {
		if !t.Deleted && t.Text == text {
			s.mu.Unlock()
			writeProblem(w, http.StatusForbidden, "Forbidden", "You are not allowed to create a Tweet with duplicate content.", "about:blank")
			return
		}
	}
	t := s.post(text, s.opts.Now())
	s.mu.Unlock()
	s.bill(create)
	if s.stall.Take(w) {
		s.Hang(r)
		return
	}
	w.Header().Set("X-Rate-Limit-Limit", "200")
	w.Header().Set("X-Rate-Limit-Remaining", "199")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(s.opts.Now().Add(15*time.Minute).Unix(), 10))
	api.Write(w, http.StatusCreated, map[string]any{"data": map[string]any{"id": t.ID, "text": t.Text, "edit_history_tweet_ids": []string{t.ID}}})
}

func (s *Server) deleteTweet(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "tweet.read", "tweet.write", "users.read") {
		return
	}
	id := r.PathValue("id")
	del := charge{"post_delete", PostDelete, ""}
	if !s.affordable(w, del) {
		return
	}
	s.mu.Lock()
	t := s.tweets.Get(id)
	gone := t == nil || t.Deleted
	if !gone {
		t.Deleted = true
	}
	s.mu.Unlock()
	if !gone {
		s.bill(del)
	}
	if gone {
		api.Write(w, http.StatusNotFound, map[string]any{"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found",
			"detail": "Could not find tweet with id: [" + id + "].", "status": 404})
		return
	}
	api.Write(w, http.StatusOK, map[string]any{"data": map[string]bool{"deleted": true}})
}

func (s *Server) lookupTweet(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "tweet.read", "users.read") {
		return
	}
	id := r.PathValue("id")
	if s.lookups.refused(w) {
		return
	}
	read := charge{"post_read", PostRead, "post:" + id}
	if !s.affordable(w, read) {
		return
	}
	s.mu.Lock()
	var t Tweet
	found := false
	if p := s.tweets.Get(id); p != nil && !p.Deleted {
		t, found = *p, true
	}
	s.mu.Unlock()
	if !found {
		// X answers a lookup of a missing post with 200 and errors only.
		api.Write(w, http.StatusOK, map[string]any{"errors": []any{map[string]any{"value": id, "detail": "Could not find tweet with id: [" + id + "].",
			"title": "Not Found Error", "resource_type": "tweet", "parameter": "id", "resource_id": id,
			"type": "https://api.twitter.com/2/problems/resource-not-found"}}})
		return
	}
	data := map[string]any{"id": t.ID, "text": t.Text, "edit_history_tweet_ids": []string{t.ID}}
	for _, f := range strings.Split(r.URL.Query().Get("tweet.fields"), ",") {
		if f == "public_metrics" {
			m := t.Metrics
			data["public_metrics"] = map[string]int64{"retweet_count": m.Retweets, "reply_count": m.Replies, "like_count": m.Likes,
				"quote_count": m.Quotes, "bookmark_count": m.Bookmarks, "impression_count": m.Impressions}
		}
	}
	s.bill(read)
	w.Header().Set("X-Rate-Limit-Limit", "900")
	w.Header().Set("X-Rate-Limit-Remaining", "899")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(s.opts.Now().Add(15*time.Minute).Unix(), 10))
	api.Write(w, http.StatusOK, map[string]any{"data": data})
}

func invalidRequest(w http.ResponseWriter, msg string) {
	api.Write(w, http.StatusBadRequest, map[string]any{"errors": []any{map[string]any{"message": msg}},
		"title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
		"type": "https://api.twitter.com/2/problems/invalid-request"})
}

func clientForbidden(w http.ResponseWriter) {
	api.Write(w, http.StatusForbidden, map[string]any{"client_id": "29577474", "required_enrollment": "Appropriate Level of API Access",
		"registration_url": "https://developer.x.com/en/portal/product", "title": "Client Forbidden",
		"detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project. You can create a project via the developer portal.",
		"reason": "client-not-enrolled", "type": "https://api.twitter.com/2/problems/client-forbidden"})
}

// tco is the t.co form X gives a link in a post's text.
func tco(i int) string { return fmt.Sprintf("https://t.co/fake%06d", i) }

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "tweet.read", "users.read") {
		return
	}
	q := r.URL.Query()
	if r.PathValue("id") != s.UserID() {
		writeProblem(w, http.StatusForbidden, "Forbidden", "Sorry, you are not authorized to see the user with id: ["+r.PathValue("id")+"].", "about:blank")
		return
	}
	size := 10
	if v := q.Get("max_results"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 100 {
			invalidRequest(w, "The `max_results` query parameter value ["+v+"] is not between 5 and 100")
			return
		}
		size = n
	}
	var start time.Time
	if v := q.Get("start_time"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			invalidRequest(w, "Invalid 'start_time':'"+v+"'. 'start_time' must be a valid RFC 3339 date.")
			return
		}
		start = t
	}
	offset := 0
	if v := q.Get("pagination_token"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "7140dibdnow9c7btw"))
		if !strings.HasPrefix(v, "7140dibdnow9c7btw") || err != nil || n <= 0 {
			invalidRequest(w, "The `pagination_token` query parameter value ["+v+"] is not valid")
			return
		}
		offset = n
	}
	fields := map[string]bool{}
	for _, f := range strings.Split(q.Get("tweet.fields"), ",") {
		fields[f] = true
	}
	if s.timelines.refused(w) {
		return
	}
	s.mu.Lock()
	// Newest first, at most TimelineDepth back, then since start_time.
	var all []Tweet
	for t := range s.tweets.All() {
		if !t.Deleted {
			all = append(all, *t)
		}
	}
	s.mu.Unlock()
	slices.Reverse(all)
	// Posts added with AddTweet may be out of order: sort by time, newest
	// first (IDs grow with time on X).
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && all[j].CreatedAt.After(all[j-1].CreatedAt); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	if len(all) > TimelineDepth {
		all = all[:TimelineDepth]
	}
	var listed []Tweet
	for _, t := range all {
		if !start.IsZero() && t.CreatedAt.Before(start) {
			break
		}
		listed = append(listed, t)
	}
	meta := map[string]any{"result_count": 0}
	var data []any
	var reads []charge
	if offset < len(listed) {
		for _, t := range listed[offset:min(offset+size, len(listed))] {
			reads = append(reads, charge{"post_read", PostRead, "post:" + t.ID})
		}
	}
	if !s.affordable(w, reads...) {
		return
	}
	s.bill(reads...)
	if offset < len(listed) {
		end := min(offset+size, len(listed))
		for i, t := range listed[offset:end] {
			text := t.Text
			var urls []any
			for j, l := range link.FindAllStringIndex(t.Text, -1) {
				short := tco(offset*1000 + i*10 + j)
				orig := t.Text[l[0]:l[1]]
				text = strings.Replace(text, orig, short, 1)
				urls = append(urls, map[string]any{"url": short, "expanded_url": orig, "display_url": strings.TrimPrefix(strings.TrimPrefix(orig, "https://"), "http://")})
			}
			// start/end are in characters of the t.co text.
			pos := 0
			for _, u := range urls {
				m := u.(map[string]any)
				k := strings.Index(text[pos:], m["url"].(string)) + pos
				m["start"] = utf8.RuneCountInString(text[:k])
				m["end"] = m["start"].(int) + utf8.RuneCountInString(m["url"].(string))
				pos = k + len(m["url"].(string))
			}
			d := map[string]any{"id": t.ID, "text": text, "edit_history_tweet_ids": []string{t.ID}}
			if fields["created_at"] {
				d["created_at"] = t.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z")
			}
			if fields["entities"] && len(urls) > 0 {
				d["entities"] = map[string]any{"urls": urls}
			}
			data = append(data, d)
		}
		meta = map[string]any{"result_count": end - offset, "newest_id": listed[offset].ID, "oldest_id": listed[end-1].ID}
		if end < len(listed) {
			meta["next_token"] = "7140dibdnow9c7btw" + strconv.Itoa(end)
		}
	}
	w.Header().Set("X-Rate-Limit-Limit", "900")
	w.Header().Set("X-Rate-Limit-Remaining", "899")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(s.opts.Now().Add(15*time.Minute).Unix(), 10))
	out := map[string]any{"meta": meta}
	if data != nil {
		out["data"] = data
	}
	api.Write(w, http.StatusOK, out)
}
