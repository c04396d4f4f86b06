// Package linkedin connects Chorus to LinkedIn members: 3-legged OAuth with
// the client credentials in the form body, the member's identity from the
// OpenID Connect userinfo endpoint, and posting and deleting through the
// versioned Posts API (POST/DELETE /rest/posts).
//
// What LinkedIn does not offer a standard app, and what Chorus does about it:
//   - PKCE: LinkedIn enables it only for native apps with loopback redirect
//     URIs, on request; a web app like Chorus authenticates with its client
//     secret, so OAuth.PKCE is false.
//   - Refresh tokens: only approved Marketing Developer Platform partners
//     get them. An access token lives 60 days (expires_in 5184000, which
//     Chorus stores as the connection's expires_at); after that the member
//     connects again.
//   - Follower counts: a member's follower count needs a partner-only
//     permission, so Profile reports 0 followers.
//   - Engagement: reading a member's post's reactions and comments
//     (socialMetadata) takes r_member_social, a restricted permission
//     LinkedIn grants select developers only. Chorus asks for it only when
//     Options.ReadEngagement says the app has it; otherwise Metrics reports
//     social.ErrNoMetrics without calling LinkedIn. Reposts are not in
//     socialMetadata: they are reported as 0.
//   - Finding a post (social.PostFinder, for shares left unconfirmed):
//     listing a member's posts (the Posts API's author finder) takes the
//     same r_member_social. Without Options.ReadEngagement FindPost cannot
//     tell and says so without calling LinkedIn; such shares stay
//     unconfirmed for the member to check.
//   - Idempotency keys: the Posts API has none. LinkedIn's own duplicate
//     detection (422 DUPLICATE_POST) is the backstop that keeps a retried
//     publish from posting twice; it is reported as a permanent error.
package linkedin

import (
	"context"
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
	"unicode"

	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/social"
)

// Scopes Chorus asks for: the OpenID identity (openid, profile, email) and
// posting as the member (w_member_social).
var Scopes = []string{"openid", "profile", "email", "w_member_social"}

// EngagementScope is the restricted permission that reads a member's
// posts' reactions and comments; Chorus asks for it in addition to Scopes
// when Options.ReadEngagement is set.
const EngagementScope = "r_member_social"

// DefaultVersion is the LinkedIn-Version (YYYYMM) sent when
// Options.Version is empty: the "Latest Version" of LinkedIn's Marketing
// API versioning page as available here (March 2026; the migrations page
// gives its sunset as March 16, 2027). Newer versions could not be
// confirmed from that documentation, so none is guessed. LinkedIn serves
// a version for at least a year and then answers 426 to every call, as it
// does for a version it has not released: operators set
// CHORUS_LINKEDIN_VERSION (Options.Version) to a version LinkedIn lists as
// active, without waiting for a Chorus release. The contract fake
// (linkedintest) refuses this default after its sunset, like LinkedIn.
const DefaultVersion = "202603"

// Production endpoints.
const (
	DefaultAuthBaseURL = "https://www.linkedin.com"
	DefaultAPIBaseURL  = "https://api.linkedin.com"
)

// Options configure the connector.
type Options struct {
	// ClientID and ClientSecret of Chorus's LinkedIn app (required).
	ClientID     string
	ClientSecret social.Secret
	// Version is the LinkedIn-Version header of /rest calls, YYYYMM
	// (optionally .NN); default DefaultVersion.
	Version string
	// HTTPClient talks to LinkedIn; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// UserAgent identifies Chorus; default "Chorus".
	UserAgent string
	// AuthBaseURL (www.linkedin.com: authorisation, token, revocation) and
	// APIBaseURL (api.linkedin.com) default to production; tests point
	// them at a fake.
	AuthBaseURL, APIBaseURL string
	// Now is the clock for rate-limit delays; default time.Now.
	Now func() time.Time
	// ReadEngagement: LinkedIn has granted Chorus's app r_member_social
	// (EngagementScope), so members are asked for it and Metrics reads
	// their posts' reactions and comments. LinkedIn refuses to authorise
	// an app that asks for a permission it was not granted, so leave it
	// off unless the app's Products tab lists it.
	ReadEngagement bool
}

// Network is the LinkedIn connector, a social.Network.
type Network struct {
	opts Options
	api  social.API
}

var _ social.Network = (*Network)(nil)

var versionRE = regexp.MustCompile(`^20[0-9]{2}(0[1-9]|1[0-2])(\.[0-9]{2})?$`)

// New returns the connector, or an error naming the option to fix.
func New(opts Options) (*Network, error) {
	if opts.ClientID == "" || opts.ClientSecret == "" {
		return nil, errors.New("linkedin: the client ID and secret of Chorus's LinkedIn app are required")
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if !versionRE.MatchString(opts.Version) {
		return nil, fmt.Errorf("linkedin: version %q is not a LinkedIn-Version such as %s (YYYYMM)", opts.Version, DefaultVersion)
	}
	opts.AuthBaseURL = social.BaseURL(opts.AuthBaseURL, DefaultAuthBaseURL)
	opts.APIBaseURL = social.BaseURL(opts.APIBaseURL, DefaultAPIBaseURL)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Network{opts: opts}
	n.api = social.NewAPI(social.LinkedIn, opts.HTTPClient, opts.UserAgent, n.refused)
	return n, nil
}

// Name is social.LinkedIn.
func (*Network) Name() string { return social.LinkedIn }

// Version is the LinkedIn-Version the connector sends.
func (n *Network) Version() string { return n.opts.Version }

// OAuth returns LinkedIn's endpoints and Chorus's app; server and app are
// ignored (LinkedIn is not federated). LinkedIn wants the client
// credentials in the form body and offers PKCE to native apps only.
func (n *Network) OAuth(string, social.App) social.OAuth {
	return social.OAuth{
		Endpoint: oauth2.Endpoint{AuthURL: n.opts.AuthBaseURL + "/oauth/v2/authorization",
			TokenURL: n.opts.AuthBaseURL + "/oauth/v2/accessToken", AuthStyle: oauth2.AuthStyleInParams},
		Scopes: n.scopes(), ClientID: n.opts.ClientID, ClientSecret: n.opts.ClientSecret,
	}
}

func (n *Network) scopes() []string {
	if n.opts.ReadEngagement {
		return append(slices.Clip(Scopes), EngagementScope)
	}
	return slices.Clone(Scopes)
}

// userinfo is the OpenID Connect userinfo answer.
type userinfo struct {
	Sub     string `json:"sub"`
	Name    string `json:"name"`
	Email   string `json:"email"`
	Picture string `json:"picture"`
}

func (n *Network) userinfo(ctx context.Context, op string, a social.Account) (userinfo, error) {
	var u userinfo
	if _, err := n.call(ctx, op, http.MethodGet, n.opts.APIBaseURL+"/v2/userinfo", a.AccessToken.Reveal(), nil, nil, &u); err != nil {
		return userinfo{}, err
	}
	if u.Sub == "" {
		return userinfo{}, &social.Error{Network: social.LinkedIn, Op: op, Class: social.ErrRetryLater, Message: "LinkedIn returned no member ID"}
	}
	return u, nil
}

// Profile reads GET /v2/userinfo. LinkedIn does not give a standard app a
// member's profile URL or follower count: URL is "" and Followers 0.
func (n *Network) Profile(ctx context.Context, a social.Account) (social.Profile, error) {
	u, err := n.userinfo(ctx, "profile", a)
	if err != nil {
		return social.Profile{}, err
	}
	name := u.Name
	if name == "" {
		name = u.Email
	}
	return social.Profile{RemoteID: u.Sub, Handle: name, DisplayName: name}, nil
}

// post is the Posts API's create body.
type post struct {
	Author                    string       `json:"author"`
	Commentary                string       `json:"commentary"`
	Visibility                string       `json:"visibility"`
	Distribution              distribution `json:"distribution"`
	Content                   *content     `json:"content,omitempty"`
	LifecycleState            string       `json:"lifecycleState"`
	IsReshareDisabledByAuthor bool         `json:"isReshareDisabledByAuthor"`
}

type distribution struct {
	FeedDistribution               string `json:"feedDistribution"`
	TargetEntities                 []any  `json:"targetEntities"`
	ThirdPartyDistributionChannels []any  `json:"thirdPartyDistributionChannels"`
}

type content struct {
	Article article `json:"article"`
}

type article struct {
	Source      string `json:"source"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Publish posts a public article share as the member (POST /rest/posts):
// the text as commentary, escaped for LinkedIn's "little" text format, and
// the link as the article. It first reads the member's ID from userinfo
// (social.Account does not carry it), so a failure there has posted
// nothing. p.IdempotencyKey is not used: LinkedIn has no such header.
//
// social.Post has no title for the link, and LinkedIn requires one for an
// article: Chorus uses the link without its scheme.
func (n *Network) Publish(ctx context.Context, a social.Account, p social.Post) (social.Published, error) {
	u, err := n.userinfo(ctx, "publish", a)
	if err != nil {
		return social.Published{}, err
	}
	body := post{Author: "urn:li:person:" + u.Sub, Commentary: Escape(p.Text), Visibility: "PUBLIC",
		Distribution:   distribution{FeedDistribution: "MAIN_FEED", TargetEntities: []any{}, ThirdPartyDistributionChannels: []any{}},
		LifecycleState: "PUBLISHED"}
	if p.Link != "" {
		body.Content = &content{Article: article{Source: p.Link, Title: linkTitle(p.Link)}}
	}
	b, _ := json.Marshal(body)
	h, err := n.call(ctx, "publish", http.MethodPost, n.opts.APIBaseURL+"/rest/posts", a.AccessToken.Reveal(), b, n.restHeaders(), nil)
	if err != nil {
		return social.Published{}, err
	}
	urn := h.Get("X-Restli-Id")
	if urn == "" {
		return social.Published{}, &social.Error{Network: social.LinkedIn, Op: "publish", Class: social.ErrAmbiguous, Status: http.StatusCreated,
			Message: "LinkedIn accepted the post but returned no post ID"}
	}
	return social.Published{RemoteID: urn, URL: PostURL(urn), At: n.opts.Now()}, nil
}

var _ social.PostFinder = (*Network)(nil)

// Bounds of how far FindPost reads back: findPages pages of findCount
// posts.
const (
	findPages = 5
	findCount = 50
)

// FindPost looks for p among the member's posts (GET
// /rest/posts?author={encoded person URN}&q=author&sortBy=LAST_MODIFIED,
// most recently modified first), matching p.Link against the post's
// article source or its commentary. A post made since since was last
// modified since then too, so once the listing reaches a post last
// modified before since, or runs out, every post since since has been
// seen: only then is the answer not found.
//
// The author finder takes r_member_social: without
// Options.ReadEngagement FindPost returns an ErrPermanent error without
// calling LinkedIn, and a 403 (a member who connected before the option
// was set) is an error too; either way the share stays unconfirmed. 401
// is social.ErrReconnect and 429 social.ErrRetryLater (until midnight
// UTC for a daily limit).
func (n *Network) FindPost(ctx context.Context, a social.Account, p social.Post, since time.Time) (social.Published, bool, error) {
	if !n.opts.ReadEngagement {
		return social.Published{}, false, &social.Error{Network: social.LinkedIn, Op: "find", Class: social.ErrPermanent,
			Message: "listing a member's posts takes " + EngagementScope + ", which Chorus's LinkedIn app is not configured with"}
	}
	if p.Link == "" {
		return social.Published{}, false, &social.Error{Network: social.LinkedIn, Op: "find", Class: social.ErrPermanent, Message: "no link to look for"}
	}
	u, err := n.userinfo(ctx, "find", a)
	if err != nil {
		return social.Published{}, false, err
	}
	author := "urn:li:person:" + u.Sub
	escaped := Escape(p.Link)
	start := 0
	for range findPages {
		q := url.Values{"author": {author}, "q": {"author"}, "count": {strconv.Itoa(findCount)}, "start": {strconv.Itoa(start)},
			"sortBy": {"LAST_MODIFIED"}}
		var out struct {
			Elements []struct {
				ID         string `json:"id"`
				Commentary string `json:"commentary"`
				Content    struct {
					Article struct {
						Source string `json:"source"`
					} `json:"article"`
				} `json:"content"`
				CreatedAt      int64 `json:"createdAt"`
				PublishedAt    int64 `json:"publishedAt"`
				LastModifiedAt int64 `json:"lastModifiedAt"`
			} `json:"elements"`
		}
		_, err := n.call(ctx, "find", http.MethodGet, n.opts.APIBaseURL+"/rest/posts?"+q.Encode(), a.AccessToken.Reveal(), nil, n.restHeaders(), &out)
		var se *social.Error
		if errors.As(err, &se) && se.Status == http.StatusForbidden {
			se.Message = "LinkedIn refused to list the member's posts (" + EngagementScope + " needed): " + se.Message
		}
		if err != nil {
			return social.Published{}, false, err
		}
		for _, el := range out.Elements {
			if el.Content.Article.Source == p.Link || strings.Contains(el.Commentary, escaped) || strings.Contains(el.Commentary, p.Link) {
				at := el.PublishedAt
				if at == 0 {
					at = el.CreatedAt
				}
				pub := social.Published{RemoteID: el.ID, URL: PostURL(el.ID)}
				if at > 0 {
					pub.At = time.UnixMilli(at).UTC()
				}
				return pub, true, nil
			}
		}
		if len(out.Elements) == 0 {
			return social.Published{}, false, nil
		}
		if last := out.Elements[len(out.Elements)-1]; last.LastModifiedAt > 0 && time.UnixMilli(last.LastModifiedAt).Before(since) {
			return social.Published{}, false, nil
		}
		// LinkedIn may answer fewer than count elements with more to
		// come: start moves by what was asked for.
		start += findCount
	}
	return social.Published{}, false, &social.Error{Network: social.LinkedIn, Op: "find", Class: social.ErrRetryLater,
		Message: "too many posts since the attempt to be sure"}
}

// PostURL is where a post is seen: https://www.linkedin.com/feed/update/<urn>.
func PostURL(urn string) string { return "https://www.linkedin.com/feed/update/" + urn }

// Delete deletes a post (DELETE /rest/posts/{encoded URN}). LinkedIn
// answers 204 to a post already deleted; a 404 is not an error either.
func (n *Network) Delete(ctx context.Context, a social.Account, remoteID string) error {
	h := n.restHeaders()
	h.Set("X-RestLi-Method", "DELETE")
	_, err := n.call(ctx, "delete", http.MethodDelete, n.opts.APIBaseURL+"/rest/posts/"+url.QueryEscape(remoteID), a.AccessToken.Reveal(), nil, h, nil)
	return social.IgnoreNotFound(err)
}

var _ social.MetricsReader = (*Network)(nil)

// Metrics reads a post's reactions (all types summed) and top-level
// comments from the Community Management API's socialMetadata (GET
// /rest/socialMetadata/{encoded URN}). Reposts are not part of it and are
// reported as 0.
//
// Without Options.ReadEngagement it is social.ErrNoMetrics at once: a
// token without r_member_social is always refused. A 403 (a member who
// connected before the option was set, or an app that lost the
// permission) is social.ErrNoMetrics too, and leaves the connection
// usable for posting; 404 (the post is gone) is social.ErrPermanent, 401
// social.ErrReconnect and 429 social.ErrRetryLater.
func (n *Network) Metrics(ctx context.Context, a social.Account, remoteID string) (social.Engagement, error) {
	if !n.opts.ReadEngagement {
		return social.Engagement{}, social.ErrNoMetrics
	}
	var out struct {
		ReactionSummaries map[string]struct {
			ReactionType string `json:"reactionType"`
			Count        int64  `json:"count"`
		} `json:"reactionSummaries"`
		CommentSummary struct {
			Count         int64 `json:"count"`
			TopLevelCount int64 `json:"topLevelCount"`
		} `json:"commentSummary"`
		Entity string `json:"entity"`
	}
	_, err := n.call(ctx, "metrics", http.MethodGet, n.opts.APIBaseURL+"/rest/socialMetadata/"+url.QueryEscape(remoteID),
		a.AccessToken.Reveal(), nil, n.restHeaders(), &out)
	var e *social.Error
	if errors.As(err, &e) && e.Status == http.StatusForbidden {
		return social.Engagement{}, fmt.Errorf("%w: LinkedIn refused socialMetadata (%s needed): %s", social.ErrNoMetrics, EngagementScope, e.Message)
	}
	if err != nil {
		return social.Engagement{}, err
	}
	var eng social.Engagement
	for _, r := range out.ReactionSummaries {
		eng.Reactions += r.Count
	}
	eng.Comments = out.CommentSummary.TopLevelCount
	return eng, nil
}

// Revoke revokes the access token (POST /oauth/v2/revoke with the client
// credentials in the form body).
func (n *Network) Revoke(ctx context.Context, a social.Account) error {
	form := url.Values{"client_id": {n.opts.ClientID}, "client_secret": {n.opts.ClientSecret.Reveal()}, "token": {a.AccessToken.Reveal()}}
	_, err := n.api.Do(ctx, social.Request{Op: "revoke", Method: http.MethodPost, URL: n.opts.AuthBaseURL + "/oauth/v2/revoke", Form: form}, nil)
	return err
}

func (n *Network) restHeaders() http.Header {
	return http.Header{"Linkedin-Version": {n.opts.Version}, "X-Restli-Protocol-Version": {"2.0.0"}}
}

// linkTitle is the article title Chorus can offer without fetching the page.
func linkTitle(link string) string {
	t := link
	if u, err := url.Parse(link); err == nil && u.Host != "" {
		t = strings.TrimSuffix(u.Host+u.EscapedPath(), "/")
		if u.RawQuery != "" {
			t += "?" + u.RawQuery
		}
	}
	if r := []rune(t); len(r) > 200 {
		t = string(r[:199]) + "…"
	}
	return t
}

// reserved are the characters of LinkedIn's "little" text format that must
// be escaped with a backslash to be plain text. LinkedIn cuts a
// commentary short at an unescaped one instead of refusing it.
const reserved = `\|{}@[]()<>#*_~`

// Escape turns plain text into LinkedIn "little" text: reserved characters
// are escaped, except the # of a hashtag (#word), which LinkedIn renders
// as a hashtag.
func Escape(text string) string {
	var b strings.Builder
	r := []rune(text)
	for i, c := range r {
		if c == '#' && i+1 < len(r) && isTagRune(r[i+1]) && (i == 0 || !isTagRune(r[i-1])) {
			b.WriteRune(c)
			continue
		}
		if strings.ContainsRune(reserved, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func isTagRune(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }

// apiError is the body of a failed LinkedIn API call.
type apiError struct {
	Status           int    `json:"status"`
	ServiceErrorCode int    `json:"serviceErrorCode"`
	Code             string `json:"code"`
	Message          string `json:"message"`
	ErrorDetails     struct {
		InputErrors []struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"inputErrors"`
	} `json:"errorDetails"`
	// OAuth endpoints (revocation) answer like RFC 6749.
	OAuthError       string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (e apiError) duplicate() bool {
	for _, ie := range e.ErrorDetails.InputErrors {
		if ie.Code == "DUPLICATE_POST" {
			return true
		}
	}
	return e.Code == "DUPLICATE_POST"
}

var duplicateOfRE = regexp.MustCompile(`urn:li:(share|ugcPost):[0-9]+`)

// call sends one request with the token as a bearer token, body, if not
// nil, as JSON, and the headers h; it returns the answer's headers.
func (n *Network) call(ctx context.Context, op, method, rawURL, token string, body []byte, h http.Header, out any) (http.Header, error) {
	return n.api.Do(ctx, social.Request{Op: op, Method: method, URL: rawURL, Token: token, Header: h, JSON: body}, out)
}

// refused classifies LinkedIn's refusals. A 5xx is retry-later even for a
// post: LinkedIn's duplicate detection turns a retry of a post that did
// go through into DUPLICATE_POST, so at most one post results.
func (n *Network) refused(op string, res *http.Response, body []byte) *social.Error {
	var ae apiError
	json.Unmarshal(body, &ae)
	msg := ae.Message
	if msg == "" {
		msg = ae.ErrorDescription
	}
	e := n.api.Refusal(op, res.StatusCode, msg)
	switch s := res.StatusCode; {
	case s == http.StatusTooManyRequests:
		e.RetryAfter = n.retryAfter(res.Header, msg)
	case e.Class == social.ErrRetryLater:
		e.RetryAfter = n.retryAfter(res.Header, "")
	case s == http.StatusUnprocessableEntity && ae.duplicate():
		e.Message = "already posted: LinkedIn refuses a duplicate of a recent post"
		if urn := duplicateOfRE.FindString(ae.Message); urn != "" {
			e.Message += " (" + urn + ")"
		}
	case s == http.StatusUpgradeRequired:
		// The deployment's configuration, not the member, is at fault:
		// every call of every member meets the same answer.
		e.Class = social.ErrOperator
		e.Message = fmt.Sprintf("%s; LinkedIn does not serve LinkedIn-Version %s (sunset, or not released yet): set CHORUS_LINKEDIN_VERSION to a version LinkedIn lists as active", msg, n.opts.Version)
	}
	return e
}

// retryAfter reads Retry-After (seconds or a date). Without it, a daily
// limit ("… DAY limit …") lasts until midnight UTC, when LinkedIn resets
// its counters; otherwise zero: back off.
func (n *Network) retryAfter(h http.Header, msg string) time.Duration {
	now := n.opts.Now()
	if wait, ok := social.RetryAfter(h, now); ok {
		return wait
	}
	if strings.Contains(msg, " DAY ") {
		y, m, d := now.UTC().Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Sub(now)
	}
	return 0
}
