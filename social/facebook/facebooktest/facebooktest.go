// Package facebooktest is a contract fake of Facebook Login and the Graph
// API (www.facebook.com and graph.facebook.com) on 127.0.0.1 for tests. It
// follows Meta's documentation for what Chorus uses, under any version
// prefix (/v24.0/…):
//
//   - GET /{v}/dialog/oauth approves at once (as if the member clicked
//     Continue) and redirects with code and state.
//   - GET or POST /{v}/oauth/access_token exchanges a code for a
//     short-lived user token (client_id and client_secret as parameters),
//     and, with grant_type=fb_exchange_token, a short-lived token for a
//     long-lived one (60 days): {access_token, token_type, expires_in}.
//     The documentation (developers.facebook.com/docs/facebook-login/
//     guides/access-tokens/get-long-lived) shows GET for the exchange;
//     Calls tells which method a client used.
//   - GET /{v}/me/accounts lists the member's Pages with a Page token
//     each; a Page token read with a long-lived user token never expires,
//     one read with a short-lived token expires with it. A Page owned by
//     a business portfolio (Page.Business) is listed only when the member
//     also granted business_management.
//   - GET /{v}/{page-id}?fields=… (id, name, link, username,
//     followers_count), POST /{v}/{page-id}/feed (message, link) → {id:
//     "{page-id}_{post-id}"}, DELETE /{v}/{post-id} → {success: true},
//     DELETE /{v}/me/permissions.
//   - GET /{v}/{post-id}?fields=reactions.summary(total_count).limit(0),
//     comments.summary(total_count).limit(0),shares with the Page's token
//     and pages_read_engagement (#200, HTTP 403, without it):
//     {reactions: {data, summary: {total_count, viewer_reaction}},
//     comments: {data, summary: {order, total_count, can_comment}},
//     shares: {count} (absent when none), id}. The fake lists no
//     individual reactions or comments (data is empty), as with limit(0).
//     A deleted or unknown post is code 100, subcode 33; RateLimitReads
//     throttles these reads with the code and headers given.
//   - GET /{v}/{page-id}/published_posts with the Page's token and
//     pages_read_engagement (#200, HTTP 403, without it; #210 with a user
//     token): the Page's posts newest first, created_time at or after
//     since (Unix seconds or RFC 3339), limit (default 25, at most 100),
//     fields among id, message, created_time, permalink_url and
//     attachments{…} (a link post's share attachment: url, the link
//     behind l.facebook.com's shim, and unshimmed_url); → {data, paging:
//     {cursors: {before, after}, next}}, next (with access_token, as Graph
//     writes it) only when more posts follow, after= the cursor.
//     RateLimitReads throttles it too.
//
// Tokens are read from the Authorization header (Bearer) or access_token,
// and, as with "Require App Secret" on, every call needs appsecret_proof.
// Errors are Graph's {"error": {"message", "type", "code", "error_subcode",
// "is_transient", "fbtrace_id"}}, codes as the Graph API's error handling
// page lists them (developers.facebook.com/docs/graph-api/guides/
// error-handling) and rate limiting page explains them
// (developers.facebook.com/docs/graph-api/overview/rate-limiting): 190 for
// an invalid or expired token, 506 for a duplicate post, 100 (subcode 33)
// for deleting what does not exist; and, for the next posts a test
// refuses (Refuse), the throttling codes 4 (app), 17 (user), 32 (Page),
// 613 and 80001 (Pages business use case) with the headers given
// (X-App-Usage, X-Business-Use-Case-Usage), 341 (application limit, wait),
// 368 (temporarily blocked for policy violations, wait), 10 and 200–299
// (permission not granted or removed, HTTP 403), 102 (session) and 190
// (token), with Graph's messages.
package facebooktest

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
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

	"github.com/chorushq/chorus/social/networktest"
)

// Token lifetimes.
const (
	ShortLived = 90 * time.Minute
	LongLived  = 5183944 * time.Second // "about 60 days"
)

// MaxMessage is the length limit of a post's message.
const MaxMessage = 63206

// Page is a Facebook Page the member manages.
type Page struct {
	ID, Name, Username string
	Followers          int64
	// Tasks the member may perform; default all, with CREATE_CONTENT.
	Tasks []string
	// Business: the Page is owned by a business portfolio (Business
	// Manager), so it is listed only with business_management.
	Business bool
}

// Options configure the fake.
type Options struct {
	// AppID and AppSecret of the app the fake knows.
	AppID, AppSecret string
	// Pages the member manages, in /me/accounts order; nil is one Page,
	// an empty slice none.
	Pages []Page
	// Now is the fake's clock for token expiry; default time.Now.
	Now func() time.Time
}

// Server is a fake Facebook. Calls counts the requests by method and path;
// for the token endpoint the key ends in the grant type ("POST
// /v24.0/oauth/access_token fb_exchange_token", "… authorization_code" for
// a code).
type Server struct {
	*networktest.Server
	opts Options

	limit, readLimit, stall networktest.Switch
	readCode                atomic.Int64 // Graph's throttling code for readLimit
	limitCode               atomic.Int64 // Graph's error code for limit

	mu      sync.Mutex
	codes   map[string]grant
	tokens  map[string]*token
	posts   *networktest.Log[Post]
	removed bool // the member removed the app
}

type grant struct{ redirect, scopes string }

type token struct {
	page    string // "" for a user token
	expires time.Time
	long    bool
	scopes  string
}

// Post is a post made to a Page.
type Post struct {
	ID, PageID, Message, Link string
	// CreatedAt is when the post was made, by the fake's clock.
	CreatedAt time.Time
	// Version is the Graph API version the post was made with.
	Version string
	Deleted bool
	// Reactions (all types), top-level Comments and Shares; set with
	// SetEngagement.
	Reactions, Comments, Shares int64
}

// New starts a fake on 127.0.0.1, closed when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	opts.AppID = cmp.Or(opts.AppID, "1234567890123456")
	opts.AppSecret = cmp.Or(opts.AppSecret, "0f3d2c1b0a9e8d7c6b5a4f3e2d1c0b9a")
	if opts.Pages == nil {
		opts.Pages = []Page{{ID: "101234567890123", Name: "Acme Widgets", Username: "acmewidgets", Followers: 4321}}
	}
	for i := range opts.Pages {
		if opts.Pages[i].Tasks == nil {
			opts.Pages[i].Tasks = []string{"ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"}
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, codes: map[string]grant{}, tokens: map[string]*token{}, posts: networktest.NewLog[Post](122100000000000000)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{version}/dialog/oauth", s.dialog)
	mux.HandleFunc("GET /{version}/oauth/access_token", s.accessToken)
	mux.HandleFunc("POST /{version}/oauth/access_token", s.accessToken)
	mux.HandleFunc("GET /{version}/me/accounts", s.accounts)
	mux.HandleFunc("DELETE /{version}/me/permissions", s.removeApp)
	mux.HandleFunc("GET /{version}/{id}", s.node)
	mux.HandleFunc("POST /{version}/{page}/feed", s.feed)
	mux.HandleFunc("GET /{version}/{page}/published_posts", s.publishedPosts)
	mux.HandleFunc("DELETE /{version}/{id}", s.deletePost)
	s.Server = networktest.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); !versionRE.MatchString(v) {
			graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 0, "Unknown path components: "+r.URL.Path)
			return
		}
		mux.ServeHTTP(w, r)
	}), "/oauth/access_token")
	return s
}

var versionRE = regexp.MustCompile(`^v[1-9][0-9]*\.[0-9]+$`)

// AppID is the app's ID.
func (s *Server) AppID() string { return s.opts.AppID }

// AppSecret is the app's secret.
func (s *Server) AppSecret() string { return s.opts.AppSecret }

// Posts returns every post made, deleted ones flagged.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts.Copies()
}

// RateLimit makes the next n posts fail with Graph's Page rate limit
// (code 32) and headers h.
func (s *Server) RateLimit(n int, h http.Header) { s.Refuse(n, 32, h) }

// Refuse makes the next n posts fail with Graph's error code (one of
// RefusalCodes), as Graph answers it, with headers h added.
func (s *Server) Refuse(n, code int, h http.Header) {
	s.limitCode.Store(int64(code))
	s.limit.Set(n, h)
}

// refusals are Graph's documented errors a post can meet besides
// validation: HTTP status, type, message, whether Graph marks it
// transient, and a subcode.
var refusals = map[int]struct {
	status    int
	typ, msg  string
	transient bool
	subcode   int
}{
	4:     {http.StatusBadRequest, "OAuthException", "(#4) Application request limit reached", true, 0},
	17:    {http.StatusBadRequest, "OAuthException", "(#17) User request limit reached", true, 0},
	32:    {http.StatusBadRequest, "OAuthException", "(#32) Page request limit reached", true, 0},
	613:   {http.StatusBadRequest, "OAuthException", "(#613) Calls to this api have exceeded the rate limit.", true, 0},
	80001: {http.StatusBadRequest, "OAuthException", "(#80001) There have been too many calls to this Page account. Wait a bit and try again.", true, 0},
	341:   {http.StatusBadRequest, "OAuthException", "(#341) Application limit reached", true, 0},
	368:   {http.StatusBadRequest, "OAuthException", "(#368) The action attempted has been deemed abusive or is otherwise disallowed", false, 1390008},
	10:    {http.StatusForbidden, "OAuthException", "(#10) Application does not have permission for this action", false, 0},
	200:   {http.StatusForbidden, "OAuthException", "(#200) Permissions error", false, 0},
	230:   {http.StatusForbidden, "OAuthException", "(#230) Requires pages_manage_posts permission to manage the object", false, 0},
	102:   {http.StatusBadRequest, "OAuthException", "Session key invalid or no longer valid", false, 0},
	190:   {http.StatusBadRequest, "OAuthException", "Error validating access token: The user has not authorized application.", false, 458},
}

// RefusalCodes lists the codes Refuse knows.
func RefusalCodes() []int {
	var out []int
	for c := range refusals {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// SetEngagement sets the counts of the post id, as if people reacted,
// commented and shared; false if there is no such post.
func (s *Server) SetEngagement(id string, reactions, comments, shares int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.posts.Get(id)
	if p == nil {
		return false
	}
	p.Reactions, p.Comments, p.Shares = reactions, comments, shares
	return true
}

// AddPost records a post on the Page pageID made at at (outside Chorus)
// and returns its ID.
func (s *Server) AddPost(pageID, message, link string, at time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.post(pageID, message, link, at, "v24.0").ID
}

// post records a post on the Page pageID made at at with the Graph API
// version; the caller holds s.mu.
func (s *Server) post(pageID, message, link string, at time.Time, version string) *Post {
	p := &Post{ID: pageID + "_" + strconv.FormatInt(s.posts.Next(), 10), PageID: pageID, Message: message, Link: link,
		CreatedAt: at.UTC().Truncate(time.Second), Version: version}
	s.posts.Add(p.ID, p)
	return p
}

// RateLimitReads makes the next n reads of a post's engagement or of a
// Page's posts (published_posts) fail with
// Graph's throttling error code (4 app, 17 user, 32 Page, 613, 80001
// Pages business use case) and headers h (X-App-Usage,
// X-Business-Use-Case-Usage…).
func (s *Server) RateLimitReads(n, code int, h http.Header) {
	s.readCode.Store(int64(code))
	s.readLimit.Set(n, h)
}

// Stall makes the next n posts record the post and then never answer, as
// when the connection stalls after Facebook acted.
func (s *Server) Stall(n int) { s.stall.Set(n, nil) }

// AppRemoved reports whether the member removed the app (DELETE
// /me/permissions).
func (s *Server) AppRemoved() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.removed
}

// api labels Graph's JSON answers.
const api networktest.JSON = "application/json; charset=UTF-8"

func graphError(w http.ResponseWriter, status int, typ string, code, subcode int, msg string) {
	e := map[string]any{"message": msg, "type": typ, "code": code, "fbtrace_id": "A" + networktest.Random()[:22]}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	api.Write(w, status, map[string]any{"error": e})
}

func (s *Server) dialog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.opts.AppID {
		http.Error(w, "Invalid App ID", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() {
		http.Error(w, "URL blocked: this redirect failed because the redirect URI is not whitelisted", http.StatusBadRequest)
		return
	}
	code := networktest.Random()
	s.mu.Lock()
	s.codes[code] = grant{redirect: q.Get("redirect_uri"), scopes: q.Get("scope")}
	s.mu.Unlock()
	redirect.Fragment = "_=_" // as Facebook appends
	networktest.Redirect(w, r, redirect, url.Values{"code": {code}, "state": {q.Get("state")}})
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	p := r.Form
	if p.Get("client_id") != s.opts.AppID || p.Get("client_secret") != s.opts.AppSecret {
		graphError(w, http.StatusBadRequest, "OAuthException", 1, 0, "Error validating client secret.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	var t *token
	switch p.Get("grant_type") {
	case "fb_exchange_token":
		old := s.tokens[p.Get("fb_exchange_token")]
		if old == nil || old.page != "" || s.removed || !now.Before(old.expires) {
			graphError(w, http.StatusBadRequest, "OAuthException", 190, 0, "Error validating access token: Session has expired.")
			return
		}
		t = &token{expires: now.Add(LongLived), long: true, scopes: old.scopes}
	case "", "authorization_code":
		g, ok := s.codes[p.Get("code")]
		delete(s.codes, p.Get("code"))
		if !ok {
			graphError(w, http.StatusBadRequest, "OAuthException", 100, 36009, "This authorization code has been used.")
			return
		}
		if g.redirect != p.Get("redirect_uri") {
			graphError(w, http.StatusBadRequest, "OAuthException", 100, 36008,
				"Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request")
			return
		}
		t = &token{expires: now.Add(ShortLived), scopes: g.scopes}
	default:
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, "Unsupported grant_type")
		return
	}
	access := "EAA" + networktest.Random()
	s.tokens[access] = t
	api.Write(w, http.StatusOK, map[string]any{"access_token": access, "token_type": "bearer",
		"expires_in": int(t.expires.Sub(now).Seconds())})
}

// authed returns the request's valid token, or answers Graph's error.
func (s *Server) authed(w http.ResponseWriter, r *http.Request) (*token, bool) {
	access, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		access = r.FormValue("access_token")
	}
	s.mu.Lock()
	t := s.tokens[access]
	removed := s.removed
	now := s.opts.Now()
	s.mu.Unlock()
	switch {
	case t == nil:
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 0, "Invalid OAuth access token - Cannot parse access token")
		return nil, false
	case removed:
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 458, "Error validating access token: The user has not authorized application "+s.opts.AppID+".")
		return nil, false
	case !t.expires.IsZero() && !now.Before(t.expires):
		graphError(w, http.StatusBadRequest, "OAuthException", 190, 463,
			"Error validating access token: Session has expired on "+t.expires.Format(time.RFC1123)+".")
		return nil, false
	}
	m := hmac.New(sha256.New, []byte(s.opts.AppSecret))
	m.Write([]byte(access))
	if !hmac.Equal([]byte(r.FormValue("appsecret_proof")), []byte(hex.EncodeToString(m.Sum(nil)))) {
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 0, "API calls from the server require an appsecret_proof argument")
		return nil, false
	}
	return t, true
}

// memberAuthed is authed for an edge of the member (/me/field): a Page
// token has no such field.
func (s *Server) memberAuthed(w http.ResponseWriter, r *http.Request, field string) (*token, bool) {
	t, ok := s.authed(w, r)
	if ok && t.page != "" {
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, "(#100) Tried accessing nonexisting field ("+field+") on node type (Page)")
		return nil, false
	}
	return t, ok
}

func (s *Server) accounts(w http.ResponseWriter, r *http.Request) {
	t, ok := s.memberAuthed(w, r, "accounts")
	if !ok {
		return
	}
	if !granted(w, t, "pages_show_list") {
		return
	}
	data := []any{}
	s.mu.Lock()
	for _, p := range s.opts.Pages {
		if p.Business && !hasScope(t.scopes, "business_management") {
			continue
		}
		pt := &token{page: p.ID, scopes: t.scopes}
		if !t.long {
			pt.expires = t.expires
		}
		access := "EAAP" + networktest.Random()
		s.tokens[access] = pt
		data = append(data, map[string]any{"access_token": access, "category": "Product/service",
			"category_list": []any{map[string]string{"id": "2201", "name": "Product/service"}}, "name": p.Name, "id": p.ID, "tasks": p.Tasks})
	}
	s.mu.Unlock()
	api.Write(w, http.StatusOK, map[string]any{"data": data, "paging": map[string]any{"cursors": map[string]string{"before": "QVFIUk", "after": "QVFIUl"}}})
}

// granted checks that the member granted permission in the login dialog
// (scope: comma- or space-separated), or answers Graph's #200.
func granted(w http.ResponseWriter, t *token, permission string) bool {
	if hasScope(t.scopes, permission) {
		return true
	}
	graphError(w, http.StatusForbidden, "OAuthException", 200, 0, "(#200) This endpoint requires the '"+permission+"' permission")
	return false
}

// hasScope reports whether scopes (comma- or space-separated) hold
// permission.
func hasScope(scopes, permission string) bool {
	return slices.Contains(strings.FieldsFunc(scopes, func(r rune) bool { return r == ',' || r == ' ' }), permission)
}

func (s *Server) findPage(id string) (Page, bool) {
	for _, p := range s.opts.Pages {
		if p.ID == id {
			return p, true
		}
	}
	return Page{}, false
}

func (s *Server) node(w http.ResponseWriter, r *http.Request) {
	t, ok := s.authed(w, r)
	if !ok {
		return
	}
	if strings.Contains(r.PathValue("id"), "_") {
		s.postNode(w, r, t)
		return
	}
	p, found := s.findPage(r.PathValue("id"))
	if !found || t.page != p.ID {
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 33,
			fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", r.PathValue("id")))
		return
	}
	all := map[string]any{"id": p.ID, "name": p.Name, "link": "https://www.facebook.com/" + p.Username, "username": p.Username,
		"followers_count": p.Followers, "fan_count": p.Followers - 12}
	out := map[string]any{"id": p.ID}
	fields := r.URL.Query().Get("fields")
	if fields == "" {
		fields = "name"
	}
	for _, f := range strings.Split(fields, ",") {
		if f == "followers_count" && !granted(w, t, "pages_read_engagement") {
			return
		}
		if v, ok := all[f]; ok && (f != "username" || p.Username != "") && (f != "link" || p.Username != "") {
			out[f] = v
		}
	}
	api.Write(w, http.StatusOK, out)
}

func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	t, ok := s.authed(w, r)
	if !ok {
		return
	}
	p, found := s.findPage(r.PathValue("page"))
	switch {
	case !found:
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 33, "Unsupported post request.")
		return
	case t.page != p.ID:
		// A user token cannot post to a Page: it takes the Page's token.
		graphError(w, http.StatusForbidden, "OAuthException", 200, 0,
			"(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission")
		return
	case !granted(w, t, "pages_manage_posts"):
		return
	case !slices.Contains(p.Tasks, "CREATE_CONTENT"):
		graphError(w, http.StatusForbidden, "OAuthException", 200, 0, "(#200) The user does not have the CREATE_CONTENT task on the Page")
		return
	}
	msg, link := r.PostFormValue("message"), r.PostFormValue("link")
	switch {
	case msg == "" && link == "":
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, "(#100) Missing message or attachment")
		return
	case len([]rune(msg)) > MaxMessage:
		graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, "(#100) Message is too long")
		return
	}
	if s.limit.Take(w) {
		refuse(w, int(s.limitCode.Load()), p.ID)
		return
	}
	s.mu.Lock()
	for q := range s.posts.All() {
		if !q.Deleted && q.PageID == p.ID && q.Message == msg && q.Link == link {
			s.mu.Unlock()
			api.Write(w, http.StatusBadRequest, map[string]any{"error": map[string]any{"message": "Duplicate status message",
				"type": "OAuthException", "code": 506, "error_subcode": 1455006, "is_transient": false, "error_user_title": "Duplicate Post",
				"error_user_msg": "This status update is identical to the last one you posted. Try posting something different, or delete your previous update.",
				"fbtrace_id":     "AbCdEf"}})
			return
		}
	}
	post := s.post(p.ID, msg, link, s.opts.Now(), r.PathValue("version"))
	s.mu.Unlock()
	if s.stall.Take(w) {
		s.Hang(r)
		return
	}
	api.Write(w, http.StatusOK, map[string]string{"id": post.ID})
}

func (s *Server) deletePost(w http.ResponseWriter, r *http.Request) {
	t, ok := s.authed(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.posts.Get(id)
	if p == nil || p.Deleted || t.page != p.PageID {
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 33,
			fmt.Sprintf("Unsupported delete request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id))
		return
	}
	p.Deleted = true
	api.Write(w, http.StatusOK, map[string]bool{"success": true})
}

func (s *Server) removeApp(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.memberAuthed(w, r, "permissions"); !ok {
		return
	}
	s.mu.Lock()
	s.removed = true
	s.mu.Unlock()
	api.Write(w, http.StatusOK, map[string]bool{"success": true})
}

// refuse answers Graph's error code (refusals) about page; the switch
// that refused has added the test's headers. A throttling answer carries
// the usage header Graph's rate limiting page describes for it when the
// test gave none: X-App-Usage for the app's and user's limits (4, 17),
// X-Business-Use-Case-Usage for the Page's (32, 80001), without a time to
// regain access.
func refuse(w http.ResponseWriter, code int, page string) {
	r, ok := refusals[code]
	if !ok {
		panic(fmt.Sprintf("facebooktest: no Graph error %d", code))
	}
	h := w.Header()
	switch {
	case h.Get("X-App-Usage") != "" || h.Get("X-Business-Use-Case-Usage") != "":
	case code == 4 || code == 17:
		h.Set("X-App-Usage", `{"call_count":100,"total_cputime":20,"total_time":30}`)
	case code == 32 || code == 80001:
		h.Set("X-Business-Use-Case-Usage", `{"`+page+`":[{"type":"pages","call_count":100,"total_cputime":20,"total_time":30,"estimated_time_to_regain_access":0}]}`)
	}
	e := map[string]any{"message": r.msg, "type": r.typ, "is_transient": r.transient, "code": code, "fbtrace_id": "AbCdEf"}
	if r.subcode != 0 {
		e["error_subcode"] = r.subcode
	}
	api.Write(w, r.status, map[string]any{"error": e})
}

// postNode answers GET /{v}/{page-id}_{post-id}?fields=….
func (s *Server) postNode(w http.ResponseWriter, r *http.Request, t *token) {
	id := r.PathValue("id")
	s.mu.Lock()
	var p Post
	found := false
	if q := s.posts.Get(id); q != nil && !q.Deleted && t.page == q.PageID {
		p, found = *q, true
	}
	s.mu.Unlock()
	if !found {
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 33,
			fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id))
		return
	}
	fields := strings.Split(r.URL.Query().Get("fields"), ",")
	for _, f := range fields {
		if base, _, _ := strings.Cut(f, "."); (base == "reactions" || base == "comments" || base == "shares") && !granted(w, t, "pages_read_engagement") {
			return
		}
	}
	if s.readLimit.Take(w) {
		refuse(w, int(s.readCode.Load()), p.PageID)
		return
	}
	out := map[string]any{"id": p.ID}
	for _, f := range fields {
		base, mods, _ := strings.Cut(f, ".")
		withSummary := strings.Contains(mods, "summary(total_count)") || strings.Contains(mods, "summary(true)")
		switch base {
		case "reactions":
			e := map[string]any{"data": []any{}}
			if withSummary {
				e["summary"] = map[string]any{"total_count": p.Reactions, "viewer_reaction": "NONE"}
			}
			out["reactions"] = e
		case "comments":
			e := map[string]any{"data": []any{}}
			if withSummary {
				e["summary"] = map[string]any{"order": "ranked", "total_count": p.Comments, "can_comment": true}
			}
			out["comments"] = e
		case "shares":
			if p.Shares > 0 { // Graph leaves shares out when there are none
				out["shares"] = map[string]int64{"count": p.Shares}
			}
		case "message":
			out["message"] = p.Message
		}
	}
	api.Write(w, http.StatusOK, out)
}

// splitFields splits a Graph fields parameter at its top-level commas
// ("id,attachments{url,unshimmed_url}" is two fields).
func splitFields(fields string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range fields {
		switch c {
		case '{', '(':
			depth++
		case '}', ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, fields[start:i])
				start = i + 1
			}
		}
	}
	return append(out, fields[start:])
}

// publishedPosts answers GET /{v}/{page-id}/published_posts.
func (s *Server) publishedPosts(w http.ResponseWriter, r *http.Request) {
	t, ok := s.authed(w, r)
	if !ok {
		return
	}
	p, found := s.findPage(r.PathValue("page"))
	switch {
	case !found:
		graphError(w, http.StatusBadRequest, "GraphMethodException", 100, 33,
			fmt.Sprintf("Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", r.PathValue("page")))
		return
	case t.page != p.ID:
		graphError(w, http.StatusBadRequest, "OAuthException", 210, 0, "(#210) A page access token is required to request this resource.")
		return
	case !granted(w, t, "pages_read_engagement"):
		return
	}
	q := r.URL.Query()
	limit := 25
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, "(#100) The parameter limit must be a positive integer")
			return
		}
		limit = min(n, 100)
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			since = time.Unix(secs, 0)
		} else if tm, err := time.Parse(time.RFC3339, v); err == nil {
			since = tm
		} else {
			graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, "(#100) The parameter since is not a valid time")
			return
		}
	}
	offset := 0
	if v := q.Get("after"); v != "" {
		b, err := base64.RawURLEncoding.DecodeString(v)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "cursor:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "cursor:") || n < 0 {
			graphError(w, http.StatusBadRequest, "OAuthException", 100, 0, "(#100) Invalid cursor")
			return
		}
		offset = n
	}
	fields := map[string]bool{}
	for _, f := range splitFields(q.Get("fields")) {
		base, _, _ := strings.Cut(f, "{")
		fields[base] = true
	}
	if len(fields) == 0 || q.Get("fields") == "" {
		fields = map[string]bool{"id": true, "message": true, "created_time": true}
	}
	if s.readLimit.Take(w) {
		refuse(w, int(s.readCode.Load()), r.PathValue("page"))
		return
	}
	s.mu.Lock()
	var listed []Post
	for q := range s.posts.All() {
		if !q.Deleted && q.PageID == p.ID && !q.CreatedAt.Before(since) {
			listed = append(listed, *q)
		}
	}
	s.mu.Unlock()
	slices.SortStableFunc(listed, func(a, b Post) int { return b.CreatedAt.Compare(a.CreatedAt) })
	data := []any{}
	end := min(offset+limit, len(listed))
	for i := offset; i < end; i++ {
		post := listed[i]
		d := map[string]any{"id": post.ID}
		if fields["message"] && post.Message != "" {
			d["message"] = post.Message
		}
		if fields["created_time"] {
			d["created_time"] = post.CreatedAt.UTC().Format("2006-01-02T15:04:05-0700")
		}
		if fields["permalink_url"] {
			_, num, _ := strings.Cut(post.ID, "_")
			d["permalink_url"] = "https://www.facebook.com/" + p.ID + "/posts/" + num
		}
		if fields["attachments"] && post.Link != "" {
			d["attachments"] = map[string]any{"data": []any{map[string]any{"type": "share", "media_type": "link",
				"url":           "https://l.facebook.com/l.php?u=" + url.QueryEscape(post.Link) + "&h=AT0fake",
				"unshimmed_url": post.Link, "title": post.Link}}}
		}
		data = append(data, d)
	}
	cursor := func(n int) string { return base64.RawURLEncoding.EncodeToString([]byte("cursor:" + strconv.Itoa(n))) }
	paging := map[string]any{}
	if len(data) > 0 {
		paging["cursors"] = map[string]string{"before": cursor(offset), "after": cursor(end)}
	}
	if end < len(listed) {
		next := url.Values{}
		for k, vs := range q {
			next[k] = vs
		}
		next.Set("access_token", strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		next.Set("after", cursor(end))
		paging["next"] = "https://graph.facebook.com/" + r.PathValue("version") + "/" + p.ID + "/published_posts?" + next.Encode()
	}
	out := map[string]any{"data": data}
	if len(paging) > 0 {
		out["paging"] = paging
	}
	w.Header().Set("X-App-Usage", `{"call_count":1,"total_cputime":1,"total_time":1}`)
	api.Write(w, http.StatusOK, out)
}
