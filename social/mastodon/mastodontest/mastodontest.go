// Package mastodontest is a contract fake of a Mastodon server on
// 127.0.0.1 for tests. It follows Mastodon's documented API and errors for
// what Chorus uses: POST /api/v1/apps, /oauth/authorize (approving at once,
// as if the member clicked Authorize), /oauth/token, /oauth/revoke,
// GET /api/v1/accounts/verify_credentials, POST, GET and DELETE
// /api/v1/statuses, GET /api/v1/accounts/:id/statuses and GET
// /api/v2/instance. Like Mastodon it answers 401 {"error":"The access token
// is invalid"}, 422 {"error":"Validation failed: …"}, 429 with
// X-RateLimit-* headers, 418 to a request without User-Agent, and issues
// tokens that never expire (unless Options.ExpiringTokens says otherwise).
//
// Scopes are enforced per endpoint as Mastodon's controllers declare them
// (docs.joinmastodon.org/api/oauth-scopes/ and, in mastodon/mastodon,
// app/controllers/api/v1/statuses_controller.rb and
// app/controllers/api/v1/accounts/statuses_controller.rb): a token
// outside the endpoint's scopes is 403 {"error":"This action is outside
// the authorized scopes"}; "read" and "write" cover their read:… and
// write:… children. verify_credentials needs read:accounts (or profile);
// posting and deleting statuses need write:statuses; reading a status or
// an account's statuses needs read:statuses when a token is sent
// (authorize_if_got_token!) and no token for public statuses — unless the
// server runs with DISALLOW_UNAUTHENTICATED_API_ACCESS
// (Options.DisallowUnauthenticated), which answers 401 {"error":"This API
// requires an authenticated user"}. A code is granted only scopes the app
// registered (invalid_scope otherwise).
//
// The status length limit is the server's own: MaxCharacters, reported as
// configuration.statuses.max_characters by GET /api/v2/instance
// (docs.joinmastodon.org/entities/Instance/), every URL counting
// characters_reserved_per_url (23) whatever its length.
package mastodontest

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chorushq/chorus/social/networktest"
)

// MaxChars is a server's status length limit unless its administrator
// changed it (Options.MaxCharacters).
const MaxChars = 500

// URLChars is what any URL in a status counts.
const URLChars = 23

// Options configure the fake.
type Options struct {
	// Username and Followers describe the account that authorises Chorus.
	Username  string
	Followers int64
	// ExpiringTokens, when positive, issues access tokens that expire after
	// it with a refresh token, and accepts grant_type=refresh_token once per
	// refresh token (a used one is invalid_grant), rotating both. Mastodon
	// itself does not expire tokens; this exercises Chorus's generic
	// refresh path.
	ExpiringTokens time.Duration
	// Now is the fake's clock for token expiry; default time.Now.
	Now func() time.Time
	// MaxCharacters is the server's status limit; default MaxChars.
	MaxCharacters int
	// DisallowUnauthenticated refuses every API call without a token, as
	// a server with DISALLOW_UNAUTHENTICATED_API_ACCESS does.
	DisallowUnauthenticated bool
}

// Server is a fake Mastodon server. Calls counts the requests by method
// and path; for /oauth/token the key ends in the grant type ("POST
// /oauth/token refresh_token").
type Server struct {
	*networktest.Server
	opts Options

	mu        sync.Mutex
	apps      map[string]app
	codes     map[string]grant
	tokens    map[string]*token
	refreshes map[string]*refresh
	statuses  map[string]Status
	idem      map[string]keyed // access token + key → the status made with it
	posts     map[string]int   // Idempotency-Key → POST /api/v1/statuses requests
	nextID    int
	limited   int // the next limited POST /api/v1/statuses get 429
	limitAt   time.Time
	retryHdr  bool
	deny      bool
	delay     time.Duration
	public    int // status reads without a token
}

type app struct{ secret, redirect, scopes string }

type grant struct {
	clientID, redirect, challenge, method, scopes string
	expires                                       time.Time
}

type token struct {
	clientID string
	scopes   string
	expires  time.Time
	revoked  bool
}

type refresh struct {
	clientID, scopes string
	used             bool
}

// Status is a status posted to the fake.
type Status struct {
	ID             string
	Text           string
	Visibility     string
	IdempotencyKey string
	Deleted        bool
	// Favourites, Replies and Reblogs are what GET /api/v1/statuses/:id
	// counts (SetCounts).
	Favourites, Replies, Reblogs int64
	CreatedAt                    time.Time
}

// IdempotencyWindow is how long Mastodon keeps an Idempotency-Key of POST
// /api/v1/statuses: a repeat within it gets the first status, a later one
// makes a new status.
const IdempotencyWindow = time.Hour

// keyed is the status an Idempotency-Key made, kept until until.
type keyed struct {
	status string
	until  time.Time
}

// New starts a fake on 127.0.0.1, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	opts.Username = cmp.Or(opts.Username, "alice")
	opts.MaxCharacters = cmp.Or(opts.MaxCharacters, MaxChars)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, apps: map[string]app{}, codes: map[string]grant{}, tokens: map[string]*token{},
		refreshes: map[string]*refresh{}, statuses: map[string]Status{}, idem: map[string]keyed{}, posts: map[string]int{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/apps", s.postApp)
	mux.HandleFunc("GET /oauth/authorize", s.authorize)
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("POST /oauth/revoke", s.revoke)
	mux.HandleFunc("GET /api/v1/accounts/verify_credentials", s.verifyCredentials)
	mux.HandleFunc("POST /api/v1/statuses", s.postStatus)
	mux.HandleFunc("DELETE /api/v1/statuses/{id}", s.deleteStatus)
	mux.HandleFunc("GET /api/v1/statuses/{id}", s.getStatus)
	mux.HandleFunc("GET /api/v1/accounts/{id}/statuses", s.accountStatuses)
	mux.HandleFunc("GET /api/v2/instance", s.instance)
	s.Server = networktest.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.UserAgent() == "" {
			writeError(w, http.StatusTeapot, "This server requires a User-Agent")
			return
		}
		mux.ServeHTTP(w, r)
	}), "/oauth/token")
	return s
}

// PostRequests counts the status posts received with an Idempotency-Key,
// whether they created a status or replayed one: more than one for a key
// means the client sent the same post again.
func (s *Server) PostRequests(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts[key]
}

// Statuses returns every status posted, deleted ones flagged.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.statuses))
	for i := 1; i <= s.nextID; i++ {
		if st, ok := s.statuses[strconv.Itoa(i)]; ok {
			out = append(out, st)
		}
	}
	return out
}

// RateLimit makes the next n status posts fail with 429, their
// X-RateLimit-Reset at reset; withRetryAfter adds a Retry-After header.
func (s *Server) RateLimit(n int, reset time.Time, withRetryAfter bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited, s.limitAt, s.retryHdr = n, reset, withRetryAfter
}

// DelayAnswers holds the answer to each status post for d after the
// status was created: the window in which a client that gives up (or
// dies) leaves a post it cannot know about.
func (s *Server) DelayAnswers(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Deny makes the authorisation page answer as if the member declined.
func (s *Server) Deny(deny bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deny = deny
}

// Revoked reports whether the access token was revoked.
func (s *Server) Revoked(access string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[access]
	return t != nil && t.revoked
}

// RevokeAll invalidates every access token, as a member revoking Chorus
// in their settings would.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.revoked = true
	}
}

// PublicReads counts the status reads (a status, an account's statuses)
// made without a token: what a client falls back to when its token lacks
// read:statuses.
func (s *Server) PublicReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.public
}

// AccountID is the fake account's ID.
func (s *Server) AccountID() string { return "10942" }

// api labels Mastodon's JSON answers; its OAuth errors are Doorkeeper's.
const api networktest.JSON = "application/json; charset=utf-8"

func writeError(w http.ResponseWriter, status int, msg string) {
	api.Write(w, status, map[string]string{"error": msg})
}

// params reads a form or JSON body, as Mastodon accepts both.
func params(r *http.Request) url.Values {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		v := url.Values{}
		for k, x := range m {
			v.Set(k, fmt.Sprint(x))
		}
		return v
	}
	r.ParseForm()
	return r.PostForm
}

func (s *Server) postApp(w http.ResponseWriter, r *http.Request) {
	p := params(r)
	if p.Get("client_name") == "" {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: Application name can't be blank")
		return
	}
	redirect := p.Get("redirect_uris")
	if _, err := url.ParseRequestURI(redirect); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: Redirect URI must be an absolute URI.")
		return
	}
	scopes := p.Get("scopes")
	if scopes == "" {
		scopes = "read"
	}
	id, secret := networktest.Random(), networktest.Random()
	s.mu.Lock()
	s.apps[id] = app{secret: secret, redirect: redirect, scopes: scopes}
	s.nextID++
	n := s.nextID
	s.mu.Unlock()
	api.Write(w, http.StatusOK, map[string]any{
		"id": strconv.Itoa(n), "name": p.Get("client_name"), "website": p.Get("website"), "scopes": strings.Fields(scopes),
		"redirect_uri": redirect, "redirect_uris": []string{redirect}, "client_id": id, "client_secret": secret,
		"client_secret_expires_at": 0, "vapid_key": "",
	})
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	a, ok := s.apps[q.Get("client_id")]
	deny := s.deny
	s.mu.Unlock()
	if !ok || q.Get("redirect_uri") != a.redirect || q.Get("response_type") != "code" {
		http.Error(w, "The client is unknown or the redirect URI does not match.", http.StatusBadRequest)
		return
	}
	if m := q.Get("code_challenge_method"); q.Get("code_challenge") != "" && m != "S256" {
		http.Error(w, "Only S256 code challenges are supported.", http.StatusBadRequest)
		return
	}
	u, _ := url.Parse(a.redirect)
	if deny {
		networktest.Redirect(w, r, u, url.Values{"state": {q.Get("state")}, "error": {"access_denied"},
			"error_description": {"The resource owner or authorization server denied the request."}})
		return
	}
	scopes := cmp.Or(q.Get("scope"), "read")
	for _, sc := range strings.Fields(scopes) {
		if !slices.Contains(strings.Fields(a.scopes), sc) {
			networktest.Redirect(w, r, u, url.Values{"state": {q.Get("state")}, "error": {"invalid_scope"},
				"error_description": {"The requested scope is invalid, unknown, or malformed."}})
			return
		}
	}
	code := networktest.Random()
	s.mu.Lock()
	s.codes[code] = grant{clientID: q.Get("client_id"), redirect: a.redirect, challenge: q.Get("code_challenge"),
		method: q.Get("code_challenge_method"), scopes: scopes, expires: time.Now().Add(10 * time.Minute)}
	s.mu.Unlock()
	networktest.Redirect(w, r, u, url.Values{"code": {code}, "state": {q.Get("state")}})
}

// client reports whether the body authenticates a registered app. Chorus
// sends the client credentials in the form body (AuthStyleInParams); the
// fake insists, so a change of style shows. The caller holds s.mu.
func (s *Server) client(p url.Values) bool {
	a, ok := s.apps[p.Get("client_id")]
	return ok && p.Get("client_secret") == a.secret
}

const invalidGrant = "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	p := params(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.client(p) {
		api.OAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.")
		return
	}
	var scopes string
	switch p.Get("grant_type") {
	case "authorization_code":
		g, ok := s.codes[p.Get("code")]
		delete(s.codes, p.Get("code"))
		if !ok || g.clientID != p.Get("client_id") || g.redirect != p.Get("redirect_uri") || time.Now().After(g.expires) {
			api.OAuthError(w, http.StatusBadRequest, "invalid_grant", invalidGrant)
			return
		}
		if g.challenge != "" {
			sum := sha256.Sum256([]byte(p.Get("code_verifier")))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
				api.OAuthError(w, http.StatusBadRequest, "invalid_grant", invalidGrant)
				return
			}
		}
		scopes = g.scopes
	case "refresh_token":
		rt, ok := s.refreshes[p.Get("refresh_token")]
		if s.opts.ExpiringTokens <= 0 || !ok || rt.used || rt.clientID != p.Get("client_id") {
			api.OAuthError(w, http.StatusBadRequest, "invalid_grant", invalidGrant)
			return
		}
		rt.used = true
		scopes = rt.scopes
	case "client_credentials":
		scopes = "read"
	default:
		api.OAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server.")
		return
	}
	access := networktest.Random()
	t := &token{clientID: p.Get("client_id"), scopes: scopes}
	out := map[string]any{"access_token": access, "token_type": "Bearer", "scope": scopes, "created_at": time.Now().Unix()}
	if s.opts.ExpiringTokens > 0 {
		t.expires = s.opts.Now().Add(s.opts.ExpiringTokens)
		rt := networktest.Random()
		s.refreshes[rt] = &refresh{clientID: t.clientID, scopes: scopes}
		out["refresh_token"] = rt
		out["expires_in"] = int(s.opts.ExpiringTokens.Seconds())
	}
	s.tokens[access] = t
	api.Write(w, http.StatusOK, out)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	p := params(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.client(p) {
		api.OAuthError(w, http.StatusForbidden, "unauthorized_client", "You are not authorized to revoke this token")
		return
	}
	if t := s.tokens[p.Get("token")]; t != nil && t.clientID == p.Get("client_id") {
		t.revoked = true
	}
	api.Write(w, http.StatusOK, map[string]any{})
}

// authed returns the request's valid token, or answers 401, or 403 when
// the token holds none of scopes: the endpoint's scope, its parent
// ("read" for "read:statuses") and any alternative.
func (s *Server) authed(w http.ResponseWriter, r *http.Request, scopes ...string) (string, bool) {
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	t := s.tokens[access]
	valid := ok && t != nil && !t.revoked && (t.expires.IsZero() || s.opts.Now().Before(t.expires))
	var granted string
	if valid {
		granted = t.scopes
	}
	s.mu.Unlock()
	if !valid {
		writeError(w, http.StatusUnauthorized, "The access token is invalid")
		return "", false
	}
	if !allows(granted, scopes) {
		writeError(w, http.StatusForbidden, "This action is outside the authorized scopes")
		return "", false
	}
	return access, true
}

// allows reports whether granted (space-separated) holds one of scopes or
// the parent of one; no scopes is any token.
func allows(granted string, scopes []string) bool {
	if len(scopes) == 0 {
		return true
	}
	have := strings.Fields(granted)
	for _, sc := range scopes {
		parent, _, _ := strings.Cut(sc, ":")
		if slices.Contains(have, sc) || slices.Contains(have, parent) {
			return true
		}
	}
	return false
}

// optionalAuth is Mastodon's authorize_if_got_token!: a request with a
// token must hold one of scopes; one without is served public data,
// unless the server disallows unauthenticated access (401).
func (s *Server) optionalAuth(w http.ResponseWriter, r *http.Request, scopes ...string) bool {
	if r.Header.Get("Authorization") != "" {
		_, ok := s.authed(w, r, scopes...)
		return ok
	}
	if len(scopes) > 0 {
		s.mu.Lock()
		s.public++
		s.mu.Unlock()
	}
	if s.opts.DisallowUnauthenticated {
		writeError(w, http.StatusUnauthorized, "This API requires an authenticated user")
		return false
	}
	return true
}

// instance is GET /api/v2/instance, public: the server's configuration,
// of which Chorus reads the status limit.
func (s *Server) instance(w http.ResponseWriter, r *http.Request) {
	if !s.optionalAuth(w, r) {
		return
	}
	api.Write(w, http.StatusOK, map[string]any{
		"domain": r.Host, "title": "Fake Mastodon", "version": "4.3.0", "source_url": "https://github.com/mastodon/mastodon",
		"configuration": map[string]any{
			"urls":     map[string]any{"streaming": "ws://" + r.Host},
			"accounts": map[string]any{"max_featured_tags": 10, "max_pinned_statuses": 5},
			"statuses": map[string]any{"max_characters": s.opts.MaxCharacters, "max_media_attachments": 4,
				"characters_reserved_per_url": URLChars},
		},
	})
}

func (s *Server) verifyCredentials(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authed(w, r, "read:accounts", "profile"); !ok {
		return
	}
	host := r.Host
	s.mu.Lock()
	followers := s.opts.Followers
	s.mu.Unlock()
	api.Write(w, http.StatusOK, map[string]any{
		"id": s.AccountID(), "username": s.opts.Username, "acct": s.opts.Username,
		"display_name": strings.ToUpper(s.opts.Username[:1]) + s.opts.Username[1:],
		"url":          "http://" + host + "/@" + s.opts.Username, "followers_count": followers,
		"following_count": 12, "statuses_count": 3, "locked": false, "bot": false,
		"created_at": "2022-11-07T00:00:00.000Z", "note": "", "avatar": "", "header": "",
		"source": map[string]any{"privacy": "public", "sensitive": false, "language": "", "note": "", "fields": []any{}},
	})
}

func (s *Server) statusJSON(r *http.Request, st Status) map[string]any {
	u := "http://" + r.Host + "/@" + s.opts.Username + "/" + st.ID
	return map[string]any{"id": st.ID, "uri": "http://" + r.Host + "/users/" + s.opts.Username + "/statuses/" + st.ID,
		"url": u, "created_at": st.CreatedAt.UTC().Format("2006-01-02T15:04:05.000Z"), "content": "<p>" + st.Text + "</p>",
		"visibility": st.Visibility, "account": map[string]any{"id": s.AccountID(), "username": s.opts.Username}}
}

func (s *Server) postStatus(w http.ResponseWriter, r *http.Request) {
	access, ok := s.authed(w, r, "write:statuses")
	if !ok {
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		if err := r.ParseForm(); err != nil {
			// Half a request (the client died sending it) was not received.
			writeError(w, http.StatusBadRequest, "Bad request")
			return
		}
	}
	p := params(r)
	s.mu.Lock()
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		s.posts[k]++
	}
	if s.limited > 0 {
		s.limited--
		reset := s.limitAt
		retry := s.retryHdr
		s.mu.Unlock()
		w.Header().Set("X-RateLimit-Limit", "300")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", reset.UTC().Format("2006-01-02T15:04:05.000000Z"))
		if retry {
			w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(reset).Seconds()+0.5)))
		}
		writeError(w, http.StatusTooManyRequests, "Too many requests")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if k, ok := s.idem[access+"\x00"+key]; ok && key != "" && s.opts.Now().Before(k.until) {
		st := s.statuses[k.status]
		s.mu.Unlock()
		api.Write(w, http.StatusOK, s.statusJSON(r, st))
		return
	}
	s.mu.Unlock()
	text := p.Get("status")
	switch {
	case strings.TrimSpace(text) == "":
		writeError(w, http.StatusUnprocessableEntity, "Validation failed: Text can't be blank")
		return
	case length(text) > s.opts.MaxCharacters:
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Validation failed: Text character limit of %d exceeded", s.opts.MaxCharacters))
		return
	}
	vis := p.Get("visibility")
	if vis == "" {
		vis = "public"
	}
	s.mu.Lock()
	s.nextID++
	st := Status{ID: strconv.Itoa(s.nextID), Text: text, Visibility: vis, IdempotencyKey: key, CreatedAt: time.Now()}
	s.statuses[st.ID] = st
	if key != "" {
		s.idem[access+"\x00"+key] = keyed{status: st.ID, until: s.opts.Now().Add(IdempotencyWindow)}
	}
	d := s.delay
	s.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return // the client gave up; the status stands
		}
	}
	api.Write(w, http.StatusOK, s.statusJSON(r, st))
}

// urlPattern finds the URLs Mastodon counts as URLChars.
var urlPattern = regexp.MustCompile(`https?://[^\s]+`)

// length counts a status as Mastodon does: characters, any URL URLChars.
func length(text string) int {
	return utf8.RuneCountInString(urlPattern.ReplaceAllString(text, "")) + URLChars*len(urlPattern.FindAllString(text, -1))
}

// getStatus is GET /api/v1/statuses/:id: a public status needs no token;
// a token needs read:statuses (or read).
func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	if !s.optionalAuth(w, r, "read:statuses") {
		return
	}
	s.mu.Lock()
	st, ok := s.statuses[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || st.Deleted || st.Visibility != "public" {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	out := s.statusJSON(r, st)
	out["favourites_count"], out["replies_count"], out["reblogs_count"] = st.Favourites, st.Replies, st.Reblogs
	api.Write(w, http.StatusOK, out)
}

// SetFollowers changes the account's follower count.
func (s *Server) SetFollowers(n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Followers = n
}

// SetCounts sets a status's favourites, replies and reblogs.
func (s *Server) SetCounts(id string, favourites, replies, reblogs int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.statuses[id]
	st.Favourites, st.Replies, st.Reblogs = favourites, replies, reblogs
	s.statuses[id] = st
}

// accountStatuses lists the account's statuses newest first, as Mastodon
// does: ?limit= (default 20, at most 40) and ?max_id= (older than).
// Without a token it lists public statuses only; with one it needs
// read:statuses.
func (s *Server) accountStatuses(w http.ResponseWriter, r *http.Request) {
	if !s.optionalAuth(w, r, "read:statuses") {
		return
	}
	public := r.Header.Get("Authorization") == ""
	if r.PathValue("id") != s.AccountID() {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 20
	}
	limit = min(limit, 40)
	maxID, err := strconv.Atoi(q.Get("max_id"))
	s.mu.Lock()
	if err != nil {
		maxID = s.nextID + 1
	}
	var page []Status
	for i := maxID - 1; i >= 1 && len(page) < limit; i-- {
		if st, ok := s.statuses[strconv.Itoa(i)]; ok && !st.Deleted && (!public || st.Visibility == "public") {
			page = append(page, st)
		}
	}
	s.mu.Unlock()
	out := make([]map[string]any, len(page))
	for i, st := range page {
		out[i] = s.statusJSON(r, st)
	}
	api.Write(w, http.StatusOK, out)
}

func (s *Server) deleteStatus(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authed(w, r, "write:statuses"); !ok {
		return
	}
	s.mu.Lock()
	st, ok := s.statuses[r.PathValue("id")]
	gone := !ok || st.Deleted
	if !gone {
		st.Deleted = true
		s.statuses[st.ID] = st
	}
	s.mu.Unlock()
	if gone {
		writeError(w, http.StatusNotFound, "Record not found")
		return
	}
	out := s.statusJSON(r, st)
	out["text"] = st.Text
	api.Write(w, http.StatusOK, out)
}

// InvalidateRefreshTokens makes every refresh token issued so far invalid
// (invalid_grant), as a server does after the member revokes access.
func (s *Server) InvalidateRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.refreshes {
		r.used = true
	}
}

// IssuedTokens returns every access and refresh token the server issued,
// for tests that look for them where they must not be.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t := range s.tokens {
		out = append(out, t)
	}
	for t := range s.refreshes {
		out = append(out, t)
	}
	return out
}
