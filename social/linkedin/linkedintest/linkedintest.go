// Package linkedintest is a contract fake of LinkedIn on 127.0.0.1 for
// tests, serving both www.linkedin.com's OAuth endpoints and
// api.linkedin.com. It follows LinkedIn's documented API for what Chorus
// uses:
//
//   - GET /oauth/v2/authorization approves at once (as if the member
//     clicked Allow) and redirects with code and state; PKCE parameters are
//     refused, as for a web app LinkedIn has not enabled PKCE for.
//   - POST /oauth/v2/accessToken takes the client credentials in the form
//     body only and answers {access_token, expires_in: 5184000, scope,
//     token_type, id_token}, without a refresh token (standard apps), or
//     400 {"error":"invalid_request", "error_description": …}.
//   - POST /oauth/v2/revoke.
//   - GET /v2/userinfo (OpenID Connect: sub, name, email…).
//   - POST /rest/posts and DELETE /rest/posts/{encoded URN}, which require
//     LinkedIn-Version (426 NONEXISTENT_VERSION for one that is not
//     active: not released yet or sunset, by Options.Schedule) and
//     X-Restli-Protocol-Version: 2.0.0, answer 201 with the post's URN in
//     x-restli-id, 422 DUPLICATE_POST for a repeated commentary, 422 for a
//     commentary over 3,000 characters, and 204 to a delete (also of a
//     post already deleted).
//   - GET /rest/socialMetadata/{encoded URN} (Community Management API)
//     with the same headers, which takes r_member_social (403
//     ACCESS_DENIED without it): {reactionSummaries: {TYPE: {reactionType,
//     count}}, commentSummary: {count, topLevelCount}, commentsState,
//     entity}; 404 NOT_FOUND for a deleted or unknown post; 429 with the
//     application's daily-limit message (RateLimitReads).
//   - GET /rest/posts?author={encoded person URN}&q=author (the Posts
//     API's author finder) with the same headers, which takes
//     r_member_social for a member's posts (403 ACCESS_DENIED without it,
//     and for another member as author): count (default 10, at most 100),
//     start, sortBy LAST_MODIFIED (default: lastModifiedAt, newest first)
//     or CREATED → {elements: [posts with id, author, commentary, content,
//     lifecycleState, createdAt, publishedAt, lastModifiedAt (epoch ms)…],
//     paging: {start, count, links: [{rel: "next", href}] while more
//     follow}}; 400 for an author URN not URL-encoded; RateLimitReads
//     throttles it too.
//
// Errors have LinkedIn's shape: {"status", "serviceErrorCode", "code",
// "message"}; 401 for an invalid, expired or revoked token; 429 with
// "Resource level throttle … DAY limit …" (LinkedIn sends no Retry-After:
// its daily limits reset at midnight UTC).
//
// Versions follow LinkedIn's Marketing API versioning page
// (learn.microsoft.com/linkedin/marketing/versioning: monthly releases,
// each served at least a year, "Latest Version" March 2026, 202603) and
// its migrations page (learn.microsoft.com/linkedin/marketing/
// integrations/migrations: the sunset date of each version): a version is
// active from the first day of its month until its sunset, by the fake's
// clock. DefaultSchedule holds the versions those pages list as active
// or recently sunset; versions not listed there (202512, and the 202604 to
// 202607 that secondary sources mention) are unknown to the fake, as they
// could not be confirmed.
package linkedintest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chorushq/chorus/social/networktest"
)

// MaxCommentary is the Posts API's commentary length limit.
const MaxCommentary = 3000

// TokenLifetime is how long LinkedIn's access tokens live: 60 days.
const TokenLifetime = 60 * 24 * time.Hour

// Options configure the fake.
type Options struct {
	// ClientID and ClientSecret of the app the fake knows.
	ClientID, ClientSecret string
	// Name, Email and MemberID describe the member who authorises Chorus.
	Name, Email, MemberID string
	// Schedule is the versions LinkedIn released, with their sunsets;
	// default DefaultSchedule. A LinkedIn-Version is active when it is
	// listed, released and not sunset by the fake's clock.
	Schedule []Release
	// Now is the fake's clock for post times; default time.Now.
	Now func() time.Time
}

// Server is a fake LinkedIn. Calls counts the requests by method and path
// ("POST /rest/posts").
type Server struct {
	*networktest.Server
	opts Options

	limit, readLimit, stall networktest.Switch

	mu     sync.Mutex
	codes  map[string]grant
	tokens map[string]*token
	posts  *networktest.Log[Post]
}

type grant struct{ redirect, scopes string }

type token struct {
	scopes  string
	revoked bool
}

// Post is a post made to the fake.
type Post struct {
	URN        string
	Author     string
	Commentary string // as sent, in little text format
	// Rendered is the commentary as LinkedIn shows it: escapes resolved,
	// hashtags kept, and cut at the first unescaped reserved character as
	// LinkedIn does.
	Rendered       string
	ArticleSource  string
	ArticleTitle   string
	Visibility     string
	LifecycleState string
	Version        string
	// CreatedAt and LastModifiedAt by the fake's clock (millisecond
	// precision, as LinkedIn reports them).
	CreatedAt, LastModifiedAt time.Time
	Deleted                   bool
	// Reactions by type (LIKE, PRAISE, EMPATHY…) and comments, as
	// socialMetadata reports them; set with SetSocial.
	Reactions        map[string]int64
	Comments         int64 // all comments, replies included
	TopLevelComments int64
}

// Release is a LinkedIn-Version and when LinkedIn serves it.
type Release struct {
	Version          string
	Released, Sunset time.Time
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// DefaultSchedule is the Marketing API versions and sunset dates as
// LinkedIn's migrations page lists them (see the package comment).
var DefaultSchedule = []Release{
	{"202510", day(2025, 10, 1), day(2026, 10, 15)},
	{"202511", day(2025, 11, 1), day(2026, 11, 16)},
	{"202601", day(2026, 1, 1), day(2027, 1, 15)},
	{"202602", day(2026, 2, 1), day(2027, 2, 15)},
	{"202603", day(2026, 3, 1), day(2027, 3, 16)},
}

// active reports whether LinkedIn serves version v at now.
func (s *Server) active(v string, now time.Time) bool {
	for _, r := range s.opts.Schedule {
		if r.Version == v {
			return !now.Before(r.Released) && now.Before(r.Sunset)
		}
	}
	return false
}

// New starts a fake on 127.0.0.1, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	opts.ClientID = cmp.Or(opts.ClientID, "86xq8ar2cwv4lm")
	opts.ClientSecret = cmp.Or(opts.ClientSecret, "WPL_AP1.secret.abc==")
	opts.Name = cmp.Or(opts.Name, "Alice Martin")
	opts.Email = cmp.Or(opts.Email, "alice@example.com")
	opts.MemberID = cmp.Or(opts.MemberID, "782bbtaQ")
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Schedule == nil {
		opts.Schedule = DefaultSchedule
	}
	s := &Server{opts: opts, codes: map[string]grant{}, tokens: map[string]*token{}, posts: networktest.NewLog[Post](7141138937766391800)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v2/authorization", s.authorize)
	mux.HandleFunc("POST /oauth/v2/accessToken", s.accessToken)
	mux.HandleFunc("POST /oauth/v2/revoke", s.revoke)
	mux.HandleFunc("GET /v2/userinfo", s.userinfo)
	mux.HandleFunc("POST /rest/posts", s.createPost)
	mux.HandleFunc("DELETE /rest/posts/{urn}", s.deletePost)
	mux.HandleFunc("GET /rest/posts", s.findPosts)
	mux.HandleFunc("GET /rest/socialMetadata/{urn}", s.socialMetadata)
	s.Server = networktest.Start(t, mux, "")
	return s
}

// ClientID is the client ID of the app the fake knows.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the app's client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// MemberID is the member's ID (the userinfo sub).
func (s *Server) MemberID() string { return s.opts.MemberID }

// Posts returns every post made, deleted ones flagged.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts.Copies()
}

// RateLimit makes the next n post creations fail with 429 and the
// member's daily-limit message; h adds headers to the answer.
func (s *Server) RateLimit(n int, h http.Header) { s.limit.Set(n, h) }

// SetSocial sets the reactions (by type) and comments of the post urn, as
// if members engaged with it; false if there is no such post.
func (s *Server) SetSocial(urn string, reactions map[string]int64, comments, topLevel int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.posts.Get(urn)
	if p == nil {
		return false
	}
	p.Reactions, p.Comments, p.TopLevelComments = reactions, comments, topLevel
	return true
}

// AddPost records a post of the member made at at (outside Chorus) with
// the commentary as plain text and an article link (optional), and
// returns its URN.
func (s *Server) AddPost(commentary, link string, at time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = at.UTC().Truncate(time.Millisecond)
	return s.add(&Post{Author: "urn:li:person:" + s.opts.MemberID,
		Commentary: commentary, Rendered: commentary, ArticleSource: link, Visibility: "PUBLIC", LifecycleState: "PUBLISHED",
		Version: s.opts.Schedule[len(s.opts.Schedule)-1].Version, CreatedAt: at, LastModifiedAt: at})
}

// add gives p the next share URN and keeps it; the caller holds s.mu.
func (s *Server) add(p *Post) string {
	p.URN = "urn:li:share:" + strconv.FormatInt(s.posts.Next(), 10)
	s.posts.Add(p.URN, p)
	return p.URN
}

// Edit marks the post urn as modified at at (lastModifiedAt), as when its
// author edits it; false if there is no such post.
func (s *Server) Edit(urn string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.posts.Get(urn)
	if p == nil {
		return false
	}
	p.LastModifiedAt = at.UTC().Truncate(time.Millisecond)
	return true
}

// RateLimitReads makes the next n socialMetadata reads and post listings
// (GET /rest/posts?q=author) fail with 429 and
// the application's daily-limit message; h adds headers to the answer.
func (s *Server) RateLimitReads(n int, h http.Header) { s.readLimit.Set(n, h) }

// Stall makes the next n post creations record the post and then never
// answer, as when the connection stalls after LinkedIn acted.
func (s *Server) Stall(n int) { s.stall.Set(n, nil) }

// Revoked reports whether the access token was revoked.
func (s *Server) Revoked(access string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[access]
	return t != nil && t.revoked
}

// api labels LinkedIn's JSON answers.
const api networktest.JSON = "application/json"

// writeError writes LinkedIn's API error body.
func writeError(w http.ResponseWriter, status, serviceCode int, code, msg string) {
	body := map[string]any{"status": status, "message": msg}
	if serviceCode != 0 {
		body["serviceErrorCode"] = serviceCode
	}
	if code != "" {
		body["code"] = code
	}
	api.Write(w, status, body)
}

// throttled is LinkedIn's 429 for a daily limit of scope (MEMBER,
// APPLICATION); it sends no Retry-After, the limit resets at midnight UTC.
func throttled(w http.ResponseWriter, scope string) {
	writeError(w, http.StatusTooManyRequests, 0, "", "Resource level throttle "+scope+" DAY limit for calls to this resource is reached.")
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case q.Get("client_id") != s.opts.ClientID || q.Get("response_type") != "code":
		http.Error(w, "invalid client_id or response_type", http.StatusBadRequest)
		return
	case q.Get("code_challenge") != "":
		// LinkedIn enables PKCE for native apps on request only.
		http.Error(w, "PKCE is not enabled for this application", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() {
		http.Error(w, "The redirect_uri does not match the registered value", http.StatusBadRequest)
		return
	}
	code := networktest.Random()
	s.mu.Lock()
	s.codes[code] = grant{redirect: q.Get("redirect_uri"), scopes: q.Get("scope")}
	s.mu.Unlock()
	networktest.Redirect(w, r, redirect, url.Values{"code": {code}, "state": {q.Get("state")}})
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p := r.PostForm
	// LinkedIn reads the client credentials from the body.
	if p.Get("client_id") != s.opts.ClientID || p.Get("client_secret") != s.opts.ClientSecret {
		api.OAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	if p.Get("grant_type") != "authorization_code" {
		api.OAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "Only authorization_code is supported for this application")
		return
	}
	s.mu.Lock()
	g, ok := s.codes[p.Get("code")]
	delete(s.codes, p.Get("code"))
	s.mu.Unlock()
	if !ok || g.redirect != p.Get("redirect_uri") {
		api.OAuthError(w, http.StatusBadRequest, "invalid_request",
			"Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists")
		return
	}
	access := "AQV" + networktest.Random()
	s.mu.Lock()
	s.tokens[access] = &token{scopes: g.scopes}
	s.mu.Unlock()
	api.Write(w, http.StatusOK, map[string]any{"access_token": access, "expires_in": int(TokenLifetime.Seconds()),
		"scope": strings.ReplaceAll(g.scopes, " ", ","), "token_type": "Bearer", "id_token": "eyJ.fake.idtoken"})
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	p := r.PostForm
	if p.Get("client_id") != s.opts.ClientID || p.Get("client_secret") != s.opts.ClientSecret {
		api.OAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	s.mu.Lock()
	if t := s.tokens[p.Get("token")]; t != nil {
		t.revoked = true
	}
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// authed checks the bearer token and its scope, or answers 401/403.
func (s *Server) authed(w http.ResponseWriter, r *http.Request, scope string) bool {
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	t := s.tokens[access]
	s.mu.Unlock()
	switch {
	case !ok || t == nil:
		writeError(w, http.StatusUnauthorized, 65600, "INVALID_ACCESS_TOKEN", "Invalid access token")
		return false
	case t.revoked:
		writeError(w, http.StatusUnauthorized, 65601, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user")
		return false
	case !strings.Contains(" "+t.scopes+" ", " "+scope+" "):
		writeError(w, http.StatusForbidden, 100, "ACCESS_DENIED", "Not enough permissions to access this resource")
		return false
	}
	return true
}

// versioned checks the headers every /rest call needs.
func (s *Server) versioned(w http.ResponseWriter, r *http.Request) (string, bool) {
	v := r.Header.Get("LinkedIn-Version")
	switch {
	case v == "":
		writeError(w, http.StatusBadRequest, 0, "VERSION_MISSING", "A version must be present. Please specify a version by adding the LinkedIn-Version header.")
		return "", false
	case !s.active(v, s.opts.Now()):
		writeError(w, http.StatusUpgradeRequired, 0, "NONEXISTENT_VERSION", fmt.Sprintf("Requested version %s00 is not active", v))
		return "", false
	case r.Header.Get("X-Restli-Protocol-Version") != "2.0.0":
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 is required")
		return "", false
	}
	return v, true
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "openid") {
		return
	}
	first, last, _ := strings.Cut(s.opts.Name, " ")
	api.Write(w, http.StatusOK, map[string]any{"sub": s.opts.MemberID, "email_verified": true, "name": s.opts.Name,
		"locale": map[string]string{"country": "US", "language": "en"}, "given_name": first, "family_name": last,
		"email": s.opts.Email, "picture": "https://media.licdn.com/dms/image/fake"})
}

type postBody struct {
	Author       string `json:"author"`
	Commentary   string `json:"commentary"`
	Visibility   string `json:"visibility"`
	Distribution *struct {
		FeedDistribution               string `json:"feedDistribution"`
		TargetEntities                 []any  `json:"targetEntities"`
		ThirdPartyDistributionChannels []any  `json:"thirdPartyDistributionChannels"`
	} `json:"distribution"`
	Content *struct {
		Article *struct {
			Source      string `json:"source"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"article"`
	} `json:"content"`
	LifecycleState            string `json:"lifecycleState"`
	IsReshareDisabledByAuthor bool   `json:"isReshareDisabledByAuthor"`
}

func (s *Server) createPost(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "w_member_social") {
		return
	}
	version, ok := s.versioned(w, r)
	if !ok {
		return
	}
	var p postBody
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Request body could not be converted to data map")
		return
	}
	var missing []string
	for _, f := range []struct {
		name string
		ok   bool
	}{{"author", p.Author != ""}, {"visibility", p.Visibility != ""}, {"distribution", p.Distribution != nil}, {"lifecycleState", p.LifecycleState != ""}} {
		if !f.ok {
			missing = append(missing, "ERROR :: /"+f.name+" :: field is required but not found and has no default value\n")
		}
	}
	if p.Content != nil && (p.Content.Article == nil || p.Content.Article.Source == "" || p.Content.Article.Title == "") {
		missing = append(missing, "ERROR :: /content/article/title :: field is required but not found and has no default value\n")
	}
	if len(missing) > 0 {
		writeError(w, http.StatusUnprocessableEntity, 0, "", strings.Join(missing, ""))
		return
	}
	if p.Author != "urn:li:person:"+s.opts.MemberID {
		writeError(w, http.StatusForbidden, 100, "ACCESS_DENIED", "Unpermitted fields present in REQUEST_BODY: Data Processing Exception while processing fields [/author]")
		return
	}
	if n := utf8.RuneCountInString(p.Commentary); n > MaxCommentary {
		writeError(w, http.StatusUnprocessableEntity, 0, "", fmt.Sprintf("ERROR :: /commentary :: length of %d exceeds maximum of %d\n", n, MaxCommentary))
		return
	}
	if s.limit.Take(w) {
		throttled(w, "MEMBER")
		return
	}
	s.mu.Lock()
	for q := range s.posts.All() {
		if !q.Deleted && q.Author == p.Author && q.Commentary == p.Commentary && q.ArticleSource == articleSource(p) {
			s.mu.Unlock()
			api.Write(w, http.StatusUnprocessableEntity, map[string]any{"errorDetailType": "com.linkedin.common.error.BadRequest",
				"message": "com.linkedin.content.common.exception.BadRequestResponseException: Content is a duplicate of " + q.URN,
				"errorDetails": map[string]any{"inputErrors": []any{map[string]any{"description": "Duplicate post is detected",
					"input": map[string]any{}, "code": "DUPLICATE_POST"}}}, "status": 422})
			return
		}
	}
	post := &Post{Author: p.Author, Commentary: p.Commentary,
		Rendered: Render(p.Commentary), ArticleSource: articleSource(p), Visibility: p.Visibility,
		LifecycleState: p.LifecycleState, Version: version}
	post.CreatedAt = s.opts.Now().UTC().Truncate(time.Millisecond)
	post.LastModifiedAt = post.CreatedAt
	if p.Content != nil {
		post.ArticleTitle = p.Content.Article.Title
	}
	s.add(post)
	s.mu.Unlock()
	if s.stall.Take(w) {
		s.Hang(r)
		return
	}
	w.Header().Set("X-RestLi-Id", post.URN)
	w.WriteHeader(http.StatusCreated)
}

func articleSource(p postBody) string {
	if p.Content == nil || p.Content.Article == nil {
		return ""
	}
	return p.Content.Article.Source
}

func (s *Server) deletePost(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "w_member_social") {
		return
	}
	if _, ok := s.versioned(w, r); !ok {
		return
	}
	// The URN must be URL-encoded in the path.
	if !strings.Contains(r.URL.EscapedPath(), "urn%3Ali%3A") {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Invalid URN in path: the post URN must be URL-encoded")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.posts.Get(r.PathValue("urn")); p != nil {
		p.Deleted = true
	}
	// Deleting is idempotent: 204 also for a post already deleted.
	w.WriteHeader(http.StatusNoContent)
}

var (
	hashtagTemplate = regexp.MustCompile(`^\{hashtag\|\\?[#＃]\|([^}]*)\}`)
	mention         = regexp.MustCompile(`^@\[([^\]]*)\]\((urn:li:[a-zA-Z]+:[^)]+)\)`)
)

// Render shows little text as LinkedIn does: escapes resolved, hashtags
// and mentions rendered, and the text cut at the first reserved character
// that is neither escaped nor part of an element.
func Render(little string) string {
	var b strings.Builder
	for i := 0; i < len(little); {
		rest := little[i:]
		c := rest[0]
		switch {
		case c == '\\' && len(rest) > 1:
			_, size := utf8.DecodeRuneInString(rest[1:])
			b.WriteString(rest[1 : 1+size])
			i += 1 + size
			continue
		case c == '#' && len(rest) > 1 && isWord(rest[1:]):
			b.WriteByte('#')
			i++
			continue
		case c == '{':
			if m := hashtagTemplate.FindStringSubmatch(rest); m != nil {
				b.WriteString("#" + m[1])
				i += len(m[0])
				continue
			}
		case c == '@':
			if m := mention.FindStringSubmatch(rest); m != nil {
				b.WriteString(m[1])
				i += len(m[0])
				continue
			}
		}
		if strings.IndexByte(`\|{}@[]()<>#*_~`, c) >= 0 {
			return b.String() // LinkedIn silently drops the rest
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

func isWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

func (s *Server) socialMetadata(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "r_member_social") {
		return
	}
	if _, ok := s.versioned(w, r); !ok {
		return
	}
	if !strings.Contains(r.URL.EscapedPath(), "urn%3Ali%3A") {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Invalid URN in path: the entity URN must be URL-encoded")
		return
	}
	urn := r.PathValue("urn")
	if s.readLimit.Take(w) {
		throttled(w, "APPLICATION")
		return
	}
	s.mu.Lock()
	var p Post
	found := false
	if q := s.posts.Get(urn); q != nil && !q.Deleted {
		p, found = *q, true
	}
	s.mu.Unlock()
	if !found {
		writeError(w, http.StatusNotFound, 0, "NOT_FOUND", "Not Found: socialMetadata for "+urn)
		return
	}
	sums := map[string]any{}
	for typ, n := range p.Reactions {
		if n > 0 {
			sums[typ] = map[string]any{"reactionType": typ, "count": n}
		}
	}
	api.Write(w, http.StatusOK, map[string]any{"reactionSummaries": sums, "commentsState": "OPEN",
		"commentSummary": map[string]int64{"count": p.Comments, "topLevelCount": p.TopLevelComments}, "entity": urn})
}

// findPosts answers the Posts API's author finder, GET
// /rest/posts?author=…&q=author.
func (s *Server) findPosts(w http.ResponseWriter, r *http.Request) {
	if !s.authed(w, r, "r_member_social") {
		return
	}
	if _, ok := s.versioned(w, r); !ok {
		return
	}
	q := r.URL.Query()
	if q.Get("q") != "author" {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Unsupported finder: "+q.Get("q"))
		return
	}
	// Rest.li 2.0: the URN in the query must be URL-encoded.
	if !strings.Contains(r.URL.RawQuery, "author=urn%3Ali%3A") {
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Invalid query parameter: author must be an encoded URN")
		return
	}
	author := q.Get("author")
	if author != "urn:li:person:"+s.opts.MemberID {
		writeError(w, http.StatusForbidden, 100, "ACCESS_DENIED", "Not enough permissions to access: partnerApiPostsExternal.FINDER-author")
		return
	}
	count, start := 10, 0
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Invalid count: "+v)
			return
		}
		count = min(n, 100)
	}
	if v := q.Get("start"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Invalid start: "+v)
			return
		}
		start = n
	}
	sortBy := q.Get("sortBy")
	switch sortBy {
	case "", "LAST_MODIFIED", "CREATED":
	default:
		writeError(w, http.StatusBadRequest, 0, "ILLEGAL_ARGUMENT", "Invalid sortBy: "+sortBy)
		return
	}
	if s.readLimit.Take(w) {
		throttled(w, "APPLICATION")
		return
	}
	s.mu.Lock()
	var listed []Post
	for p := range s.posts.All() {
		if !p.Deleted && p.Author == author {
			listed = append(listed, *p)
		}
	}
	s.mu.Unlock()
	key := func(p Post) time.Time {
		if sortBy == "CREATED" {
			return p.CreatedAt
		}
		return p.LastModifiedAt
	}
	slices.SortStableFunc(listed, func(a, b Post) int { return key(b).Compare(key(a)) })
	elements := []any{}
	end := min(start+count, len(listed))
	for i := start; i < end; i++ {
		p := listed[i]
		el := map[string]any{"id": p.URN, "author": p.Author, "commentary": p.Commentary, "visibility": p.Visibility,
			"distribution":   map[string]any{"feedDistribution": "MAIN_FEED", "targetEntities": []any{}, "thirdPartyDistributionChannels": []any{}},
			"lifecycleState": p.LifecycleState, "isReshareDisabledByAuthor": false,
			"lifecycleStateInfo": map[string]any{"isEditedByAuthor": !p.LastModifiedAt.Equal(p.CreatedAt)},
			"createdAt":          p.CreatedAt.UnixMilli(), "publishedAt": p.CreatedAt.UnixMilli(), "lastModifiedAt": p.LastModifiedAt.UnixMilli()}
		if p.ArticleSource != "" {
			el["content"] = map[string]any{"article": map[string]any{"source": p.ArticleSource, "title": p.ArticleTitle}}
		}
		elements = append(elements, el)
	}
	paging := map[string]any{"start": start, "count": count, "links": []any{}}
	if end < len(listed) {
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("start", strconv.Itoa(end))
		paging["links"] = []any{map[string]any{"type": "application/json", "rel": "next", "href": "/rest/posts?" + next.Encode()}}
	}
	w.Header().Set("X-RestLi-Protocol-Version", "2.0.0")
	api.Write(w, http.StatusOK, map[string]any{"elements": elements, "paging": paging})
}
