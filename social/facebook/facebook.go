// Package facebook connects Chorus to Facebook Pages through Facebook Login
// and the Graph API: the Page a member manages, its follower count, posting
// to its feed, deleting posts, reading their reactions, comments and
// shares, finding a post among the Page's recent ones (for shares left
// unconfirmed), and revoking Chorus's permissions.
//
// A connection posts to ONE Page: the first Page listed by GET /me/accounts
// on which the member may create content. A member who manages several
// Pages cannot choose (yet); one who manages none gets a permanent error
// saying so — Facebook does not let apps post to personal profiles.
//
// Tokens: the code exchange yields a short-lived user token (an hour or
// two) without refresh token. UpgradeToken trades it for a long-lived one
// (about 60 days); Page tokens read with a long-lived user token do not
// expire. The social service must call UpgradeToken before storing the
// token, or connections stop working within hours (see the report of
// this package's change: social needs an optional TokenUpgrader).
//
// Every Graph call carries appsecret_proof (HMAC-SHA256 of the token keyed
// with the app secret), so the app can have "Require App Secret" on. Graph
// has no idempotency key; its refusal of a duplicate post (code 506) is the
// backstop that keeps a retried publish from posting twice, reported as a
// permanent error. PKCE is not used: Facebook offers it only with its OIDC
// login flow (still "in testing"), not with the Graph token flow.
package facebook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/social"
)

// Scopes Chorus asks for: list the member's Pages, post to them, read
// their follower counts and their posts' engagement. Options.BusinessPages
// adds BusinessScope.
var Scopes = []string{"pages_show_list", "pages_manage_posts", "pages_read_engagement"}

// BusinessScope is the permission without which /me/accounts leaves out
// the Pages a business portfolio (Business Manager) owns. It needs its
// own App Review, so Chorus asks for it only when configured to.
const BusinessScope = "business_management"

// BlockedWait is how long a post waits after Graph's code 368
// ("temporarily blocked for policies violations"), which says to wait and
// retry but not how long; the block lasts hours or days.
const BlockedWait = time.Hour

// DefaultGraphVersion is the Graph API version used when
// Options.GraphVersion is empty. Meta serves a version for at least two
// years and then upgrades calls to the oldest live one; operators move
// ahead by setting Options.GraphVersion without waiting for a release.
const DefaultGraphVersion = "v24.0"

// Production endpoints.
const (
	DefaultDialogBaseURL = "https://www.facebook.com"
	DefaultGraphBaseURL  = "https://graph.facebook.com"
)

// Options configure the connector.
type Options struct {
	// AppID and AppSecret of Chorus's Meta app (required).
	AppID     string
	AppSecret social.Secret
	// GraphVersion is the Graph API version, such as "v24.0"; default
	// DefaultGraphVersion. It applies to the login dialog, the token
	// endpoint and every Graph call.
	GraphVersion string
	// HTTPClient talks to Facebook; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// UserAgent identifies Chorus; default "Chorus".
	UserAgent string
	// DialogBaseURL (www.facebook.com: the login dialog) and GraphBaseURL
	// (graph.facebook.com: tokens and the API) default to production;
	// tests point them at a fake.
	DialogBaseURL, GraphBaseURL string
	// Now is the clock for post times and rate-limit delays; default
	// time.Now.
	Now func() time.Time
	// BusinessPages asks for BusinessScope too, so that Pages owned by a
	// business portfolio can be connected.
	BusinessPages bool
}

// Network is the Facebook Pages connector, a social.Network.
type Network struct {
	opts  Options
	graph string // GraphBaseURL + "/" + GraphVersion
	api   social.API
}

var _ social.Network = (*Network)(nil)

var versionRE = regexp.MustCompile(`^v[1-9][0-9]*\.[0-9]+$`)

// New returns the connector, or an error naming the option to fix.
func New(opts Options) (*Network, error) {
	if opts.AppID == "" || opts.AppSecret == "" {
		return nil, errors.New("facebook: the app ID and secret of Chorus's Meta app are required")
	}
	if opts.GraphVersion == "" {
		opts.GraphVersion = DefaultGraphVersion
	}
	if !versionRE.MatchString(opts.GraphVersion) {
		return nil, fmt.Errorf("facebook: Graph API version %q is not a version such as %s", opts.GraphVersion, DefaultGraphVersion)
	}
	opts.DialogBaseURL = social.BaseURL(opts.DialogBaseURL, DefaultDialogBaseURL)
	opts.GraphBaseURL = social.BaseURL(opts.GraphBaseURL, DefaultGraphBaseURL)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Network{opts: opts, graph: opts.GraphBaseURL + "/" + opts.GraphVersion}
	n.api = social.NewAPI(social.Facebook, opts.HTTPClient, opts.UserAgent, n.refused)
	return n, nil
}

// Name is social.Facebook.
func (*Network) Name() string { return social.Facebook }

// GraphVersion is the Graph API version the connector uses.
func (n *Network) GraphVersion() string { return n.opts.GraphVersion }

// OAuth returns Facebook Login's endpoints and Chorus's app; server and
// app are ignored (Facebook is not federated). The token endpoint takes
// the client credentials as parameters; no PKCE (see the package comment).
func (n *Network) OAuth(string, social.App) social.OAuth {
	return social.OAuth{
		Endpoint: oauth2.Endpoint{AuthURL: n.opts.DialogBaseURL + "/" + n.opts.GraphVersion + "/dialog/oauth",
			TokenURL: n.graph + "/oauth/access_token", AuthStyle: oauth2.AuthStyleInParams},
		Scopes: n.scopes(), ClientID: n.opts.AppID, ClientSecret: n.opts.AppSecret,
	}
}

// scopes are Scopes, and BusinessScope with Options.BusinessPages.
func (n *Network) scopes() []string {
	if n.opts.BusinessPages {
		return append(slices.Clone(Scopes), BusinessScope)
	}
	return Scopes
}

// UpgradeToken trades a short-lived user token for a long-lived one
// (GET /oauth/access_token?grant_type=fb_exchange_token, the method Meta
// documents at developers.facebook.com/docs/facebook-login/guides/
// access-tokens/get-long-lived). The secret and the token travel in the
// query, so a transport error is stripped of the URL before it is
// returned (logs never see them). Facebook issues no refresh token: when
// the long-lived token expires the member connects again.
func (n *Network) UpgradeToken(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error) {
	q := url.Values{"grant_type": {"fb_exchange_token"}, "client_id": {n.opts.AppID},
		"client_secret": {n.opts.AppSecret.Reveal()}, "fb_exchange_token": {tok.AccessToken}}
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	// No appsecret_proof: the secret itself is in the request.
	if err := n.call(ctx, "token", http.MethodGet, n.graph+"/oauth/access_token?"+q.Encode(), "", nil, &out); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = n.graph + "/oauth/access_token"
		}
		return nil, err
	}
	if out.AccessToken == "" {
		return nil, &social.Error{Network: social.Facebook, Op: "token", Class: social.ErrRetryLater, Message: "Facebook returned no token"}
	}
	t := &oauth2.Token{AccessToken: out.AccessToken, TokenType: out.TokenType, ExpiresIn: out.ExpiresIn}
	if out.ExpiresIn > 0 {
		t.Expiry = n.opts.Now().Add(time.Duration(out.ExpiresIn) * time.Second)
	}
	return t, nil
}

// page is an entry of /me/accounts.
type page struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	AccessToken string   `json:"access_token"`
	Tasks       []string `json:"tasks"`
}

// page returns the member's Page with id, or (id "") the first Page they
// may post to.
func (n *Network) page(ctx context.Context, op string, a social.Account, id string) (page, error) {
	var out struct {
		Data []page `json:"data"`
	}
	u := n.graph + "/me/accounts?" + url.Values{"fields": {"id,name,access_token,tasks"}, "limit": {"100"}}.Encode()
	if err := n.call(ctx, op, http.MethodGet, u, a.AccessToken.Reveal(), nil, &out); err != nil {
		return page{}, err
	}
	for _, p := range out.Data {
		// tasks is absent for some Page roles; Facebook then decides.
		if p.AccessToken == "" || (len(p.Tasks) > 0 && !slices.Contains(p.Tasks, "CREATE_CONTENT")) {
			continue
		}
		if id == "" || p.ID == id {
			return p, nil
		}
	}
	msg := "the Facebook account manages no Page Chorus may post to; Facebook does not let apps post to personal profiles"
	if !n.opts.BusinessPages {
		msg += " (Pages owned by a business portfolio are listed only with the " + BusinessScope + " permission, which this deployment does not ask for)"
	}
	if id != "" {
		msg = "the Facebook account no longer manages the Page " + id
	}
	return page{}, &social.Error{Network: social.Facebook, Op: op, Class: social.ErrPermanent, Message: msg}
}

// Profile describes the Page the connection posts to: GET /me/accounts,
// then GET /{page-id}?fields=followers_count,… with the Page's token.
func (n *Network) Profile(ctx context.Context, a social.Account) (social.Profile, error) {
	p, err := n.page(ctx, "profile", a, "")
	if err != nil {
		return social.Profile{}, err
	}
	var info struct {
		ID             string `json:"id"`
		Name           string `json:"name"`
		Link           string `json:"link"`
		Username       string `json:"username"`
		FollowersCount int64  `json:"followers_count"`
	}
	u := n.graph + "/" + url.PathEscape(p.ID) + "?" + url.Values{"fields": {"id,name,link,username,followers_count"}}.Encode()
	if err := n.call(ctx, "profile", http.MethodGet, u, p.AccessToken, nil, &info); err != nil {
		return social.Profile{}, err
	}
	prof := social.Profile{RemoteID: p.ID, Handle: info.Name, DisplayName: info.Name, URL: info.Link, Followers: info.FollowersCount}
	if info.Username != "" {
		prof.Handle = "@" + info.Username
	}
	if prof.DisplayName == "" {
		prof.Handle, prof.DisplayName = p.Name, p.Name
	}
	if prof.URL == "" {
		prof.URL = "https://www.facebook.com/" + p.ID
	}
	return prof, nil
}

// Publish posts the text with the link to the Page's feed
// (POST /{page-id}/feed with the Page's token). It first reads the Page
// from /me/accounts (social.Account carries only the user token), so a
// failure there has posted nothing. p.IdempotencyKey is not used: the
// Graph API has none.
func (n *Network) Publish(ctx context.Context, a social.Account, p social.Post) (social.Published, error) {
	pg, err := n.page(ctx, "publish", a, "")
	if err != nil {
		return social.Published{}, err
	}
	form := url.Values{"message": {p.Text}}
	if p.Link != "" {
		form.Set("link", p.Link)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := n.call(ctx, "publish", http.MethodPost, n.graph+"/"+url.PathEscape(pg.ID)+"/feed", pg.AccessToken, form, &out); err != nil {
		return social.Published{}, err
	}
	if out.ID == "" {
		return social.Published{}, &social.Error{Network: social.Facebook, Op: "publish", Class: social.ErrAmbiguous, Message: "Facebook accepted the post but returned no post ID"}
	}
	return social.Published{RemoteID: out.ID, URL: PostURL(out.ID), At: n.opts.Now()}, nil
}

var _ social.PostFinder = (*Network)(nil)

// findPages bounds how far FindPost reads back: 5 pages of 100 posts.
const findPages = 5

// findFields are the fields FindPost reads of each post: a link post's
// link is in its share attachment, behind Facebook's l.facebook.com shim
// in url and as posted in unshimmed_url.
const findFields = "id,message,created_time,permalink_url,attachments{url,unshimmed_url}"

// FindPost looks for p among the posts of the Page the connection posts
// to made since since (GET /{page-id}/published_posts?since=…, 100 a page,
// newest first, with the Page's token, which takes pages_read_engagement),
// matching p.Link against the post's link attachment or its message. It
// answers not found only when Facebook listed every post since since: a
// page without paging.next, within findPages pages.
//
// An invalid token (190) is social.ErrReconnect; the throttling codes are
// social.ErrRetryLater with the delay Retry-After or
// X-Business-Use-Case-Usage names. A missing permission (codes 10 and
// 200–299, or HTTP 403: pages_read_engagement unticked in the login
// dialog) cannot tell: an error that is not ErrReconnect, and the share
// stays unconfirmed.
func (n *Network) FindPost(ctx context.Context, a social.Account, p social.Post, since time.Time) (social.Published, bool, error) {
	if p.Link == "" {
		return social.Published{}, false, &social.Error{Network: social.Facebook, Op: "find", Class: social.ErrPermanent, Message: "no link to look for"}
	}
	pg, err := n.page(ctx, "find", a, "")
	if err != nil {
		return social.Published{}, false, err
	}
	q := url.Values{"fields": {findFields}, "since": {strconv.FormatInt(since.Unix(), 10)}, "limit": {"100"}}
	for range findPages {
		var out struct {
			Data []struct {
				ID          string `json:"id"`
				Message     string `json:"message"`
				CreatedTime string `json:"created_time"`
				Permalink   string `json:"permalink_url"`
				Attachments struct {
					Data []attachment `json:"data"`
				} `json:"attachments"`
			} `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		err := n.call(ctx, "find", http.MethodGet, n.graph+"/"+url.PathEscape(pg.ID)+"/published_posts?"+q.Encode(), pg.AccessToken, nil, &out)
		var se *social.Error
		var ge *graphError
		if errors.As(err, &se) && se.Class == social.ErrPermanent && errors.As(err, &ge) &&
			(se.Status == http.StatusForbidden || ge.Code == 10 || ge.Code >= 200 && ge.Code < 300) {
			se.Message = "Facebook refused to list the Page's posts (pages_read_engagement needed): " + se.Message
		}
		if err != nil {
			return social.Published{}, false, err
		}
		for _, post := range out.Data {
			if linked(post.Message, post.Attachments.Data, p.Link) {
				pub := social.Published{RemoteID: post.ID, URL: post.Permalink}
				if pub.URL == "" {
					pub.URL = PostURL(post.ID)
				}
				if t, err := time.Parse("2006-01-02T15:04:05-0700", post.CreatedTime); err == nil {
					pub.At = t
				}
				return pub, true, nil
			}
		}
		if out.Paging.Next == "" {
			return social.Published{}, false, nil
		}
		// Carry Graph's own paging parameters (after, or until and
		// __paging_token), never its URL: the request goes to the
		// configured Graph with the token in a header.
		next, err := url.Parse(out.Paging.Next)
		if err != nil {
			return social.Published{}, false, &social.Error{Network: social.Facebook, Op: "find", Class: social.ErrRetryLater, Message: "unreadable paging.next", Err: err}
		}
		nq := next.Query()
		nq.Del("access_token")
		nq.Del("appsecret_proof")
		if out.Paging.Cursors.After != "" && nq.Get("after") == "" {
			nq.Set("after", out.Paging.Cursors.After)
		}
		nq.Set("fields", findFields)
		nq.Set("limit", "100")
		q = nq
	}
	return social.Published{}, false, &social.Error{Network: social.Facebook, Op: "find", Class: social.ErrRetryLater,
		Message: "too many posts since the attempt to be sure"}
}

// attachment is the part of a post's attachment FindPost reads.
type attachment struct {
	URL          string `json:"url"`
	UnshimmedURL string `json:"unshimmed_url"`
}

// linked reports whether a post's message or link attachments carry link.
func linked(message string, attachments []attachment, link string) bool {
	if strings.Contains(message, link) {
		return true
	}
	for _, at := range attachments {
		if at.UnshimmedURL == link || at.URL == link {
			return true
		}
		// l.facebook.com/l.php?u=<link>&h=…
		if u, err := url.Parse(at.URL); err == nil && u.Query().Get("u") == link {
			return true
		}
	}
	return false
}

// PostURL is where a post is seen: https://www.facebook.com/<post-id>.
func PostURL(id string) string { return "https://www.facebook.com/" + id }

// Delete deletes a Page post (DELETE /{post-id} with the token of the Page
// named by the ID's prefix, {page-id}_{post-id}). A post already gone is
// not an error.
func (n *Network) Delete(ctx context.Context, a social.Account, remoteID string) error {
	pageID, _, ok := strings.Cut(remoteID, "_")
	if !ok || pageID == "" {
		return &social.Error{Network: social.Facebook, Op: "delete", Class: social.ErrPermanent, Message: "not a Page post ID: " + remoteID}
	}
	pg, err := n.page(ctx, "delete", a, pageID)
	if err != nil {
		return err
	}
	err = n.call(ctx, "delete", http.MethodDelete, n.graph+"/"+url.PathEscape(remoteID), pg.AccessToken, nil, nil)
	var ge *graphError
	if errors.As(err, &ge) && ge.Code == 100 && ge.Subcode == 33 {
		return nil // "Object … does not exist"
	}
	return err
}

var _ social.MetricsReader = (*Network)(nil)

// metricsFields asks for the totals only: limit(0) leaves out the
// reactions and comments themselves.
const metricsFields = "reactions.summary(total_count).limit(0),comments.summary(total_count).limit(0),shares"

// Metrics reads a Page post's reactions (all types), comments and shares
// (GET /{post-id}?fields=reactions.summary(total_count).limit(0),
// comments.summary(total_count).limit(0),shares with the token of the
// Page named by the ID's prefix, which takes pages_read_engagement).
// Comments are the top-level ones, Graph's default filter; shares is
// absent from the answer when there are none.
//
// A post that no longer exists (code 100, subcode 33) is
// social.ErrPermanent; an invalid token (190) social.ErrReconnect; the
// throttling codes (4, 17, 32, 613, 80001) social.ErrRetryLater, with
// the delay Retry-After or X-Business-Use-Case-Usage names. A missing
// permission (codes 10 and 200–299, or HTTP 403: a member who unticked
// pages_read_engagement in the login dialog, or an app Meta has not
// approved for it) is social.ErrNoMetrics, not a reason to reconnect.
func (n *Network) Metrics(ctx context.Context, a social.Account, remoteID string) (social.Engagement, error) {
	pageID, _, ok := strings.Cut(remoteID, "_")
	if !ok || pageID == "" {
		return social.Engagement{}, &social.Error{Network: social.Facebook, Op: "metrics", Class: social.ErrPermanent, Message: "not a Page post ID: " + remoteID}
	}
	pg, err := n.page(ctx, "metrics", a, pageID)
	if err != nil {
		return social.Engagement{}, err
	}
	type summary struct {
		Summary struct {
			TotalCount int64 `json:"total_count"`
		} `json:"summary"`
	}
	var out struct {
		ID        string  `json:"id"`
		Reactions summary `json:"reactions"`
		Comments  summary `json:"comments"`
		Shares    struct {
			Count int64 `json:"count"`
		} `json:"shares"`
	}
	u := n.graph + "/" + url.PathEscape(remoteID) + "?" + url.Values{"fields": {metricsFields}}.Encode()
	err = n.call(ctx, "metrics", http.MethodGet, u, pg.AccessToken, nil, &out)
	var se *social.Error
	var ge *graphError
	if errors.As(err, &se) && se.Class == social.ErrPermanent && errors.As(err, &ge) &&
		(se.Status == http.StatusForbidden || ge.Code == 10 || ge.Code >= 200 && ge.Code < 300) {
		return social.Engagement{}, fmt.Errorf("%w: Facebook refused the post's engagement: %s", social.ErrNoMetrics, se.Message)
	}
	if err != nil {
		return social.Engagement{}, err
	}
	return social.Engagement{Reactions: out.Reactions.Summary.TotalCount, Comments: out.Comments.Summary.TotalCount, Reposts: out.Shares.Count}, nil
}

// Revoke removes Chorus's permissions from the member's account
// (DELETE /me/permissions), which invalidates its tokens.
func (n *Network) Revoke(ctx context.Context, a social.Account) error {
	return n.call(ctx, "revoke", http.MethodDelete, n.graph+"/me/permissions", a.AccessToken.Reveal(), nil, nil)
}

// graphError is the Graph API's error object; it is the Err of the
// *social.Error a failed call returns.
type graphError struct {
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode"`
	IsTransient bool   `json:"is_transient"`
	UserTitle   string `json:"error_user_title"`
	UserMessage string `json:"error_user_msg"`
	FBTraceID   string `json:"fbtrace_id"`
}

func (e *graphError) Error() string {
	return fmt.Sprintf("graph error %d/%d (%s, fbtrace_id %s)", e.Code, e.Subcode, e.Type, e.FBTraceID)
}

// proof is the appsecret_proof of token.
func (n *Network) proof(token string) string {
	m := hmac.New(sha256.New, []byte(n.opts.AppSecret.Reveal()))
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// call sends one Graph request, form parameters in the body (POST) and
// the token in the Authorization header with its appsecret_proof.
func (n *Network) call(ctx context.Context, op, method, rawURL, token string, form url.Values, out any) error {
	if token != "" {
		sep := "?"
		if strings.Contains(rawURL, "?") {
			sep = "&"
		}
		if form != nil {
			form.Set("appsecret_proof", n.proof(token))
		} else {
			rawURL += sep + "appsecret_proof=" + n.proof(token)
		}
	}
	_, err := n.api.Do(ctx, social.Request{Op: op, Method: method, URL: rawURL, Token: token, Form: form}, out)
	return err
}

// refused classifies a Graph error by its code more than by the HTTP
// status, which Graph sets to 400 for most; the *graphError is the
// *social.Error's Err.
func (n *Network) refused(op string, res *http.Response, body []byte) *social.Error {
	var answer struct {
		Error *graphError `json:"error"`
	}
	json.Unmarshal(body, &answer)
	ge := answer.Error
	if ge == nil {
		ge = &graphError{}
	}
	msg := ge.UserMessage
	if msg == "" {
		msg = ge.Message
	}
	s := res.StatusCode
	e := &social.Error{Network: social.Facebook, Op: op, Class: social.ErrPermanent, Status: s, Message: msg, Err: ge}
	switch {
	case ge.Code == 190 || ge.Code == 102 || s == http.StatusUnauthorized:
		// The token is invalid, expired or the member removed the app.
		e.Class = social.ErrReconnect
	case ge.Code == 506:
		e.Class, e.Message = social.ErrPermanent, "already posted: "+msg
	case op == "publish" && (ge.Code == 10 || ge.Code >= 200 && ge.Code < 300):
		// A permission to post not granted or since removed: asking the
		// member again (connecting again) is the remedy. Reads that
		// lack a permission say so themselves (Metrics, FindPost).
		e.Class = social.ErrReconnect
	case ge.Code == 368:
		// Temporarily blocked for policy violations: wait, hours at least.
		e.Class, e.RetryAfter = social.ErrRetryLater, max(n.retryAfter(res.Header), BlockedWait)
	case rateLimited(ge.Code) || s == http.StatusTooManyRequests:
		e.Class, e.RetryAfter = social.ErrRetryLater, n.retryAfter(res.Header)
	case ge.IsTransient || ge.Code == 1 || ge.Code == 2 || s >= 500:
		// Graph's duplicate refusal (506) turns a retry of a post
		// that did go through into a permanent error, so at most one
		// post results.
		e.Class, e.RetryAfter = social.ErrRetryLater, n.retryAfter(res.Header)
	}
	return e
}

// rateLimited are Graph's throttling codes: the app's (4), the user's
// (17), the Page's (32), an API's call count (613), the Pages Business
// Use Case limit (80001) and the application limit (341).
func rateLimited(code int) bool {
	switch code {
	case 4, 17, 32, 341, 613, 80001:
		return true
	}
	return false
}

// retryAfter reads Retry-After (seconds), else the longest
// estimated_time_to_regain_access (minutes) of X-Business-Use-Case-Usage;
// zero if neither says (X-App-Usage and X-Page-Usage give percentages
// only).
func (n *Network) retryAfter(h http.Header) time.Duration {
	if wait, ok := social.RetryAfter(h, n.opts.Now()); ok {
		return wait
	}
	var wait time.Duration
	var usage map[string][]struct {
		EstimatedTimeToRegainAccess int `json:"estimated_time_to_regain_access"`
	}
	if json.Unmarshal([]byte(h.Get("X-Business-Use-Case-Usage")), &usage) == nil {
		for _, entries := range usage {
			for _, u := range entries {
				wait = max(wait, time.Duration(u.EstimatedTimeToRegainAccess)*time.Minute)
			}
		}
	}
	return wait
}
