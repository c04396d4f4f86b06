// Package x connects Chorus to X (formerly Twitter) accounts through the
// X API v2: OAuth 2.0 Authorization Code with PKCE (S256) as a confidential
// client, whose credentials go in an HTTP Basic Authorization header; the
// account's profile with its follower count; posting, deleting,
// revocation, reading a post's public engagement counts, and finding a
// post among the account's recent ones (for shares left unconfirmed).
//
// X access tokens live two hours. With the offline.access scope X issues a
// refresh token that rotates: each refresh returns a new one and
// invalidates the old, which is why the social service persists the
// rotated token before using the new access token. X reports a spent or
// revoked refresh token as 400 invalid_request ("Value passed for the
// token was invalid."), not invalid_grant; TokenError classifies it.
//
// X has no idempotency key for posts. Its refusal of duplicate content
// (403 "You are not allowed to create a Tweet with duplicate content.") is
// the backstop that keeps a retried publish from posting twice; it is
// reported as a permanent error.
package x

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
)

// Scopes Chorus asks for: read the account and post as it, and a refresh
// token (offline.access).
var Scopes = []string{"tweet.read", "tweet.write", "users.read", "offline.access"}

// Production endpoints.
const (
	DefaultAuthBaseURL = "https://x.com"
	DefaultAPIBaseURL  = "https://api.x.com"
)

// Options configure the connector.
type Options struct {
	// ClientID and ClientSecret of Chorus's X app, a confidential client
	// ("Web App" in the developer portal) with OAuth 2.0 on (required).
	ClientID     string
	ClientSecret social.Secret
	// HTTPClient talks to X; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// UserAgent identifies Chorus; default "Chorus".
	UserAgent string
	// AuthBaseURL (x.com: the authorisation page) and APIBaseURL
	// (api.x.com: tokens and the API) default to production; tests point
	// them at a fake.
	AuthBaseURL, APIBaseURL string
	// Now is the clock for rate-limit delays; default time.Now.
	Now func() time.Time
	// FindReads bounds the posts FindPost reads (each is billed, see
	// FindPost); default DefaultFindReads.
	FindReads int
}

// DefaultFindReads is how many of the account's posts since a lost
// publication FindPost reads at most: X bills $0.005 a post read, so a
// lookup costs at most $0.10, half of the post it looks for.
const DefaultFindReads = 20

// Network is the X connector, a social.Network.
type Network struct {
	opts Options
	api  social.API
}

var _ social.Network = (*Network)(nil)

// New returns the connector, or an error naming the option to fix.
func New(opts Options) (*Network, error) {
	if opts.ClientID == "" || opts.ClientSecret == "" {
		return nil, errors.New("x: the OAuth 2.0 client ID and secret of Chorus's X app are required")
	}
	opts.AuthBaseURL = social.BaseURL(opts.AuthBaseURL, DefaultAuthBaseURL)
	opts.APIBaseURL = social.BaseURL(opts.APIBaseURL, DefaultAPIBaseURL)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FindReads <= 0 {
		opts.FindReads = DefaultFindReads
	}
	n := &Network{opts: opts}
	n.api = social.NewAPI(social.X, opts.HTTPClient, opts.UserAgent, n.refused)
	return n, nil
}

// Name is social.X.
func (*Network) Name() string { return social.X }

// OAuth returns X's endpoints and Chorus's app; server and app are ignored
// (X is not federated). X requires PKCE and, for a confidential client,
// the client credentials in a Basic Authorization header.
func (n *Network) OAuth(string, social.App) social.OAuth {
	return social.OAuth{
		Endpoint: oauth2.Endpoint{AuthURL: n.opts.AuthBaseURL + "/i/oauth2/authorize",
			TokenURL: n.opts.APIBaseURL + "/2/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes: Scopes, PKCE: true, ClientID: n.opts.ClientID, ClientSecret: n.opts.ClientSecret,
	}
}

// user is the part of X's User object Chorus reads.
type user struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	Username      string `json:"username"`
	PublicMetrics struct {
		FollowersCount int64 `json:"followers_count"`
	} `json:"public_metrics"`
}

func (n *Network) me(ctx context.Context, op string, a social.Account, fields string) (user, error) {
	u := n.opts.APIBaseURL + "/2/users/me"
	if fields != "" {
		u += "?user.fields=" + url.QueryEscape(fields)
	}
	var out struct {
		Data user `json:"data"`
	}
	if err := n.call(ctx, op, http.MethodGet, u, a.AccessToken.Reveal(), nil, &out); err != nil {
		return user{}, err
	}
	if out.Data.ID == "" || out.Data.Username == "" {
		return user{}, &social.Error{Network: social.X, Op: op, Class: social.ErrRetryLater, Message: "X returned no user"}
	}
	return out.Data, nil
}

// Profile reads GET /2/users/me?user.fields=public_metrics.
func (n *Network) Profile(ctx context.Context, a social.Account) (social.Profile, error) {
	u, err := n.me(ctx, "profile", a, "public_metrics")
	if err != nil {
		return social.Profile{}, err
	}
	return social.Profile{RemoteID: u.ID, Handle: "@" + u.Username, DisplayName: u.Name,
		URL: "https://x.com/" + u.Username, Followers: u.PublicMetrics.FollowersCount}, nil
}

// Publish posts the text with the link appended as content.AppendLink
// does (POST /2/tweets): one request, billed $0.015, or $0.200 when the
// text holds a URL — as every share's does. The post's URL is built from
// the handle read at connect time (a.Handle), or is X's handle-less
// x.com/i/status/{id}: no user read (billed $0.010) per post.
// p.IdempotencyKey is not used: X has none.
func (n *Network) Publish(ctx context.Context, a social.Account, p social.Post) (social.Published, error) {
	body, _ := json.Marshal(map[string]string{"text": content.AppendLink(p.Text, p.Link)})
	var out struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := n.call(ctx, "publish", http.MethodPost, n.opts.APIBaseURL+"/2/tweets", a.AccessToken.Reveal(), body, &out); err != nil {
		return social.Published{}, err
	}
	if out.Data.ID == "" {
		return social.Published{}, &social.Error{Network: social.X, Op: "publish", Class: social.ErrAmbiguous, Message: "X accepted the post but returned no post ID"}
	}
	return social.Published{RemoteID: out.Data.ID, URL: PostURL(strings.TrimPrefix(a.Handle, "@"), out.Data.ID), At: n.opts.Now()}, nil
}

var _ social.PostFinder = (*Network)(nil)

// FindPost looks for p among the account's posts since since (GET
// /2/users/:id/tweets?start_time=…, newest first), matching p.Link
// against each post's links as posted (entities.urls[].expanded_url; the
// text holds them as t.co links) or its text. X bills every post a
// listing returns ($0.005, once a UTC day), so FindPost reads at most
// Options.FindReads posts, in pages of up to 100 (5 at least, X's
// minimum), and takes the account's ID from a.RemoteID (asking X only
// for an account without one). It answers not found only when X listed
// every post since since: the last page came without meta.next_token
// within the posts it may read.
//
// 401 is social.ErrReconnect and 429 social.ErrRetryLater until the
// x-rate-limit-reset of the timeline window. A 403 (an app whose access
// level does not include the timeline, client-not-enrolled) or an answer
// carrying errors instead of posts cannot tell: an error, and the share
// stays unconfirmed.
func (n *Network) FindPost(ctx context.Context, a social.Account, p social.Post, since time.Time) (social.Published, bool, error) {
	unsure := func(msg string) error {
		return &social.Error{Network: social.X, Op: "find", Class: social.ErrRetryLater, Message: msg}
	}
	if p.Link == "" {
		return social.Published{}, false, &social.Error{Network: social.X, Op: "find", Class: social.ErrPermanent, Message: "no link to look for"}
	}
	userID, username := a.RemoteID, strings.TrimPrefix(a.Handle, "@")
	if userID == "" {
		u, err := n.me(ctx, "find", a, "")
		if err != nil {
			return social.Published{}, false, err
		}
		userID, username = u.ID, u.Username
	}
	size := min(max(n.opts.FindReads, 5), 100)
	pages := (n.opts.FindReads + size - 1) / size
	q := url.Values{"max_results": {strconv.Itoa(size)}, "start_time": {since.UTC().Truncate(time.Second).Format(time.RFC3339)},
		"tweet.fields": {"created_at,entities"}}
	for range pages {
		var out struct {
			Data []struct {
				ID        string    `json:"id"`
				Text      string    `json:"text"`
				CreatedAt time.Time `json:"created_at"`
				Entities  struct {
					URLs []struct {
						URL         string `json:"url"`
						ExpandedURL string `json:"expanded_url"`
						UnwoundURL  string `json:"unwound_url"`
					} `json:"urls"`
				} `json:"entities"`
			} `json:"data"`
			Meta struct {
				ResultCount int    `json:"result_count"`
				NextToken   string `json:"next_token"`
			} `json:"meta"`
			Errors []json.RawMessage `json:"errors"`
		}
		err := n.call(ctx, "find", http.MethodGet, n.opts.APIBaseURL+"/2/users/"+url.PathEscape(userID)+"/tweets?"+q.Encode(), a.AccessToken.Reveal(), nil, &out)
		var se *social.Error
		if errors.As(err, &se) && se.Status == http.StatusForbidden {
			se.Message = "X refused to list the account's posts: " + se.Message
		}
		if err != nil {
			return social.Published{}, false, err
		}
		for _, t := range out.Data {
			match := strings.Contains(t.Text, p.Link)
			for _, l := range t.Entities.URLs {
				match = match || l.ExpandedURL == p.Link || l.UnwoundURL == p.Link
			}
			if match {
				return social.Published{RemoteID: t.ID, URL: PostURL(username, t.ID), At: t.CreatedAt}, true, nil
			}
		}
		if len(out.Errors) > 0 {
			// Part of the listing is missing (a suspended or protected
			// account answers this way).
			return social.Published{}, false, unsure("X answered the listing with errors")
		}
		if out.Meta.NextToken == "" {
			return social.Published{}, false, nil
		}
		q.Set("pagination_token", out.Meta.NextToken)
	}
	return social.Published{}, false, unsure("too many posts since the attempt to be sure")
}

// PostURL is where a post is seen: https://x.com/<username>/status/<id>,
// or https://x.com/i/status/<id> without a username (X redirects it).
func PostURL(username, id string) string {
	if username == "" {
		username = "i"
	}
	return "https://x.com/" + username + "/status/" + id
}

// Delete deletes a post (DELETE /2/tweets/:id); one already gone (404, or
// deleted: false) is not an error.
func (n *Network) Delete(ctx context.Context, a social.Account, remoteID string) error {
	var out struct {
		Data struct {
			Deleted bool `json:"deleted"`
		} `json:"data"`
	}
	err := n.call(ctx, "delete", http.MethodDelete, n.opts.APIBaseURL+"/2/tweets/"+url.PathEscape(remoteID), a.AccessToken.Reveal(), nil, &out)
	return social.IgnoreNotFound(err)
}

var _ social.MetricsReader = (*Network)(nil)

// Metrics reads a post's public counts (GET
// /2/tweets/:id?tweet.fields=public_metrics, which Chorus's tweet.read
// and users.read scopes allow): likes are reactions, replies comments,
// retweets and quotes reposts.
//
// X answers a deleted or unknown post with 200 and an errors array
// (resource-not-found) instead of data; that, like a 404, is
// social.ErrPermanent. A 403 means the app's access level does not
// include post lookups (X's client-not-enrolled) or the token lacks a
// scope: social.ErrNoMetrics, and the connection stays usable for
// posting. 401 is social.ErrReconnect; 429 is social.ErrRetryLater until
// the x-rate-limit-reset of the lookup window.
func (n *Network) Metrics(ctx context.Context, a social.Account, remoteID string) (social.Engagement, error) {
	var out struct {
		Data *struct {
			ID            string `json:"id"`
			PublicMetrics *struct {
				Likes    int64 `json:"like_count"`
				Replies  int64 `json:"reply_count"`
				Retweets int64 `json:"retweet_count"`
				Quotes   int64 `json:"quote_count"`
			} `json:"public_metrics"`
		} `json:"data"`
		Errors []struct {
			Title  string `json:"title"`
			Detail string `json:"detail"`
			Type   string `json:"type"`
		} `json:"errors"`
	}
	u := n.opts.APIBaseURL + "/2/tweets/" + url.PathEscape(remoteID) + "?tweet.fields=public_metrics"
	err := n.call(ctx, "metrics", http.MethodGet, u, a.AccessToken.Reveal(), nil, &out)
	var e *social.Error
	if errors.As(err, &e) && e.Status == http.StatusForbidden {
		return social.Engagement{}, fmt.Errorf("%w: X refused the post lookup: %s", social.ErrNoMetrics, e.Message)
	}
	if err != nil {
		return social.Engagement{}, err
	}
	if out.Data == nil {
		msg := "X returned no post"
		if len(out.Errors) > 0 {
			msg = out.Errors[0].Detail
			if msg == "" {
				msg = out.Errors[0].Title
			}
		}
		return social.Engagement{}, &social.Error{Network: social.X, Op: "metrics", Class: social.ErrPermanent, Status: http.StatusOK, Message: msg}
	}
	m := out.Data.PublicMetrics
	if m == nil {
		return social.Engagement{}, &social.Error{Network: social.X, Op: "metrics", Class: social.ErrRetryLater, Status: http.StatusOK,
			Message: "X returned the post without public_metrics"}
	}
	return social.Engagement{Reactions: m.Likes, Comments: m.Replies, Reposts: m.Retweets + m.Quotes}, nil
}

// Revoke revokes the access token (POST /2/oauth2/revoke, client
// credentials in Basic auth). social.Account carries no refresh token, so
// the refresh token is not revoked here.
func (n *Network) Revoke(ctx context.Context, a social.Account) error {
	form := url.Values{"token": {a.AccessToken.Reveal()}, "token_type_hint": {"access_token"}}
	_, err := n.api.Do(ctx, social.Request{Op: "revoke", Method: http.MethodPost, URL: n.opts.APIBaseURL + "/2/oauth2/revoke",
		Header: http.Header{"Authorization": {n.basicAuth()}}, Form: form}, nil)
	return err
}

// basicAuth is the client's Authorization header, its parts form-encoded
// as RFC 6749 §2.3.1 asks (as x/oauth2 does for the token endpoint).
func (n *Network) basicAuth() string {
	cred := url.QueryEscape(n.opts.ClientID) + ":" + url.QueryEscape(n.opts.ClientSecret.Reveal())
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(cred))
}

// TokenError classifies a failed token request to X's token endpoint (an
// error from oauth2.Config.Exchange or a TokenSource): a spent, expired or
// revoked grant is ErrReconnect, whether X says invalid_grant or, as it
// does for refresh tokens, invalid_request "Value passed for the token was
// invalid."; 429 and 5xx are ErrRetryLater; the rest is ErrPermanent.
func (n *Network) TokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return &social.Error{Network: social.X, Op: "token", Class: social.ErrRetryLater, Err: err}
	}
	e := &social.Error{Network: social.X, Op: "token", Class: social.ErrPermanent, Message: re.ErrorDescription}
	if re.Response != nil {
		e.Status = re.Response.StatusCode
	}
	if e.Message == "" {
		e.Message = re.ErrorCode
	}
	switch {
	case re.ErrorCode == "invalid_grant",
		re.ErrorCode == "invalid_request" && strings.Contains(re.ErrorDescription, "was invalid"):
		e.Class = social.ErrReconnect
	case e.Status == http.StatusTooManyRequests || e.Status >= 500:
		e.Class = social.ErrRetryLater
		if re.Response != nil {
			e.RetryAfter = retryAfter(re.Response.Header, n.opts.Now())
		}
	}
	return e
}

// problem is X's error body: an RFC 7807 problem, sometimes with errors.
type problem struct {
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Type   string `json:"type"`
	Errors []struct {
		Message string `json:"message"`
		Detail  string `json:"detail"`
	} `json:"errors"`
	// The OAuth endpoints answer like RFC 6749.
	OAuthError       string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// usageCapped: the answer is X's usage cap, not a rate limit.
func (p problem) usageCapped() bool {
	return strings.HasSuffix(p.Type, "/usage-capped") || p.Title == "UsageCapExceeded"
}

func (p problem) message() string {
	// errors[] says what was wrong where detail is generic ("One or more
	// parameters to your request was invalid.").
	switch {
	case len(p.Errors) > 0 && p.Errors[0].Message != "":
		return p.Errors[0].Message
	case len(p.Errors) > 0 && p.Errors[0].Detail != "":
		return p.Errors[0].Detail
	case p.Detail != "":
		return p.Detail
	case p.ErrorDescription != "":
		return p.ErrorDescription
	}
	return p.Title
}

// call sends one request with the token as a bearer token and body, if
// not nil, as JSON.
func (n *Network) call(ctx context.Context, op, method, rawURL, token string, body []byte, out any) error {
	_, err := n.api.Do(ctx, social.Request{Op: op, Method: method, URL: rawURL, Token: token, JSON: body}, out)
	return err
}

// refused classifies X's refusals. A 5xx is retry-later even for a post:
// X's refusal of duplicate content turns a retry of a post that did go
// through into a permanent error, so at most one post results. A 429
// whose problem type is usage-capped is the app's usage cap, not a rate
// limit: social.ErrOperator, its x-rate-limit-reset (the endpoint's
// window) ignored — the cap lasts until the operator buys credits or
// the period ends.
func (n *Network) refused(op string, res *http.Response, body []byte) *social.Error {
	var p problem
	json.Unmarshal(body, &p)
	e := n.api.Refusal(op, res.StatusCode, p.message())
	switch {
	case res.StatusCode == http.StatusTooManyRequests && p.usageCapped():
		e.Class = social.ErrOperator
		e.Message = "X's usage cap for this deployment's app is spent (" + e.Message + "): add credits or raise the spending limit in the X Developer Console"
	case e.Class == social.ErrRetryLater:
		e.RetryAfter = retryAfter(res.Header, n.opts.Now())
	case res.StatusCode == http.StatusForbidden && strings.Contains(e.Message, "duplicate content"):
		e.Message = "already posted: " + e.Message
	}
	return e
}

// retryAfter reads Retry-After (seconds or a date); else the latest reset
// (epoch seconds) among X's exhausted windows: the endpoint's 15-minute
// window (x-rate-limit-*), the user's and the app's 24-hour post caps
// (x-user-limit-24hour-*, x-app-limit-24hour-*). Zero if nothing says.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if wait, ok := social.RetryAfter(h, now); ok {
		return wait
	}
	var wait time.Duration
	exhausted := false
	for _, prefix := range []string{"X-Rate-Limit-", "X-User-Limit-24hour-", "X-App-Limit-24hour-"} {
		if h.Get(prefix+"Remaining") != "0" {
			continue
		}
		if secs, err := strconv.ParseInt(strings.TrimSpace(h.Get(prefix+"Reset")), 10, 64); err == nil {
			exhausted = true
			wait = max(wait, time.Unix(secs, 0).Sub(now))
		}
	}
	if !exhausted {
		// A 429 without an exhausted window still names the endpoint's
		// reset.
		if secs, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-Rate-Limit-Reset")), 10, 64); err == nil {
			wait = time.Unix(secs, 0).Sub(now)
		}
	}
	return max(wait, 0)
}
