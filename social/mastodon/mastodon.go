// Package mastodon connects Chorus to Mastodon servers: app registration
// per server, OAuth with client credentials in the form body and PKCE,
// the account's profile, posting and deleting statuses, and revocation.
package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
)

// Scopes Chorus asks for: read the profile, post and delete statuses, and
// read statuses — Mastodon authorises GET /api/v1/accounts/:id/statuses
// and GET /api/v1/statuses/:id with read:statuses whenever a token is
// sent, and FindPost needs the account's own listing to confirm a share
// whose answer was lost. Connections made when Chorus asked only for
// read:accounts and write:statuses fall back to the public listing (see
// FindPost).
var Scopes = []string{"read:accounts", "read:statuses", "write:statuses"}

// Options configure the connector.
type Options struct {
	// HTTPClient talks to the servers; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// UserAgent identifies Chorus to servers (Mastodon refuses requests
	// without one); default "Chorus".
	UserAgent string
	// AppName and Website are shown to members on the server's
	// authorisation page.
	AppName, Website string
	// AllowHTTP accepts http:// servers: for tests on loopback only.
	AllowHTTP bool
	Now       func() time.Time
}

// Network is the Mastodon connector, a social.Federated.
type Network struct {
	opts Options
	api  social.API
}

var (
	_ social.Federated  = (*Network)(nil)
	_ social.PostFinder = (*Network)(nil)
)

// New returns the connector.
func New(opts Options) *Network {
	if opts.AppName == "" {
		opts.AppName = "Chorus"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := &Network{opts: opts}
	n.api = social.NewAPI(social.Mastodon, opts.HTTPClient, opts.UserAgent, n.refused)
	return n
}

// Name is social.Mastodon.
func (*Network) Name() string { return social.Mastodon }

// Server accepts "mastodon.social" or "https://mastodon.social/" and
// returns "https://mastodon.social". Only https is accepted (http with
// AllowHTTP), without credentials, path, query or fragment.
func (n *Network) Server(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Hostname() == "":
		return "", errors.New("must be the address of a Mastodon server, such as https://mastodon.social")
	case u.Scheme != "https" && !(u.Scheme == "http" && n.opts.AllowHTTP):
		return "", errors.New("must be an https address")
	case u.User != nil:
		return "", errors.New("must not contain a user name or password")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("must be the server's address only, without a path")
	}
	return u.Scheme + "://" + strings.ToLower(strings.TrimSuffix(u.Host, ".")), nil
}

// OAuth returns the server's endpoints; Mastodon takes the client
// credentials in the form body and supports S256 PKCE (4.3 and later;
// older servers ignore the challenge).
func (n *Network) OAuth(server string, app social.App) social.OAuth {
	return social.OAuth{
		Endpoint: oauth2.Endpoint{AuthURL: server + "/oauth/authorize", TokenURL: server + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInParams},
		Scopes: Scopes, PKCE: true, ClientID: app.ClientID, ClientSecret: app.ClientSecret,
	}
}

// RegisterApp registers Chorus on server (POST /api/v1/apps).
func (n *Network) RegisterApp(ctx context.Context, server, redirectURL string) (social.App, error) {
	form := url.Values{"client_name": {n.opts.AppName}, "redirect_uris": {redirectURL}, "scopes": {strings.Join(Scopes, " ")}}
	if n.opts.Website != "" {
		form.Set("website", n.opts.Website)
	}
	var out struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := n.call(ctx, "register", http.MethodPost, server+"/api/v1/apps", "", form, nil, &out); err != nil {
		return social.App{}, err
	}
	if out.ClientID == "" || out.ClientSecret == "" {
		return social.App{}, &social.Error{Network: social.Mastodon, Op: "register", Class: social.ErrPermanent, Message: "the server returned no client credentials"}
	}
	return social.App{ClientID: out.ClientID, ClientSecret: social.Secret(out.ClientSecret)}, nil
}

// account is the part of Mastodon's Account entity Chorus reads.
type account struct {
	ID             string `json:"id"`
	Username       string `json:"username"`
	Acct           string `json:"acct"`
	DisplayName    string `json:"display_name"`
	URL            string `json:"url"`
	FollowersCount int64  `json:"followers_count"`
}

// Profile reads GET /api/v1/accounts/verify_credentials, and the server's
// status limit from GET /api/v2/instance
// (configuration.statuses.max_characters). A server that does not say
// (older than 4.0, or the call fails) leaves MaxChars 0: Mastodon's
// default of 500 applies.
func (n *Network) Profile(ctx context.Context, a social.Account) (social.Profile, error) {
	var acc account
	if err := n.call(ctx, "profile", http.MethodGet, a.Server+"/api/v1/accounts/verify_credentials", a.AccessToken.Reveal(), nil, nil, &acc); err != nil {
		return social.Profile{}, err
	}
	host := a.Server
	if u, err := url.Parse(a.Server); err == nil {
		host = u.Host
	}
	var inst struct {
		Configuration struct {
			Statuses struct {
				MaxCharacters int `json:"max_characters"`
			} `json:"statuses"`
		} `json:"configuration"`
	}
	// The token goes along: a server that disallows unauthenticated
	// access still answers it.
	if err := n.call(ctx, "profile", http.MethodGet, a.Server+"/api/v2/instance", a.AccessToken.Reveal(), nil, nil, &inst); err != nil {
		inst.Configuration.Statuses.MaxCharacters = 0
	}
	return social.Profile{RemoteID: acc.ID, Handle: "@" + acc.Username + "@" + host, DisplayName: acc.DisplayName,
		URL: acc.URL, Followers: acc.FollowersCount, MaxChars: max(inst.Configuration.Statuses.MaxCharacters, 0)}, nil
}

// status is the part of Mastodon's Status entity Chorus reads.
type status struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	URI       string    `json:"uri"`
	CreatedAt time.Time `json:"created_at"`
}

// Publish posts a public status (POST /api/v1/statuses) with the link
// appended as content.AppendLink does (and the length check counts),
// deduplicated by Idempotency-Key.
func (n *Network) Publish(ctx context.Context, a social.Account, p social.Post) (social.Published, error) {
	text := content.AppendLink(p.Text, p.Link)
	h := http.Header{}
	if p.IdempotencyKey != "" {
		h.Set("Idempotency-Key", p.IdempotencyKey)
	}
	var st status
	err := n.call(ctx, "publish", http.MethodPost, a.Server+"/api/v1/statuses", a.AccessToken.Reveal(),
		url.Values{"status": {text}, "visibility": {"public"}}, h, &st)
	if err != nil {
		return social.Published{}, err
	}
	u := st.URL
	if u == "" {
		u = st.URI
	}
	return social.Published{RemoteID: st.ID, URL: u, At: st.CreatedAt}, nil
}

var _ social.KeyedPublisher = (*Network)(nil)

// IdempotencyWindow: Mastodon keeps an Idempotency-Key of POST
// /api/v1/statuses for up to an hour.
func (n *Network) IdempotencyWindow() time.Duration { return time.Hour }

// FindPost looks for p among the account's statuses since since (GET
// /api/v1/accounts/:id/statuses, newest first, up to findPages pages of
// 40), matching the link, which Mastodon keeps in the status's HTML. It
// answers not found only when the listing reached back past since.
//
// The listing is read with the member's token, which needs read:statuses
// (Scopes). A token from before Chorus asked for it is refused with 403
// "outside the authorized scopes"; FindPost then reads the public listing
// without a token, which holds the public statuses Chorus posts. A server
// that also refuses unauthenticated calls (401 without a token) cannot
// tell: ErrPermanent saying the account must be connected again to grant
// read:statuses — not ErrReconnect, as the token itself still works.
func (n *Network) FindPost(ctx context.Context, a social.Account, p social.Post, since time.Time) (social.Published, bool, error) {
	var acc account
	if err := n.call(ctx, "find", http.MethodGet, a.Server+"/api/v1/accounts/verify_credentials", a.AccessToken.Reveal(), nil, nil, &acc); err != nil {
		return social.Published{}, false, err
	}
	q := url.Values{"limit": {"40"}, "exclude_reblogs": {"true"}}
	token := a.AccessToken.Reveal()
	for range findPages {
		var page []struct {
			status
			Content string `json:"content"`
		}
		u := a.Server + "/api/v1/accounts/" + url.PathEscape(acc.ID) + "/statuses?" + q.Encode()
		err := n.readStatuses(ctx, "find", u, &token, &page)
		if err != nil {
			return social.Published{}, false, err
		}
		for _, st := range page {
			if p.Link != "" && (strings.Contains(st.Content, p.Link) || strings.Contains(html.UnescapeString(st.Content), p.Link)) {
				u := st.URL
				if u == "" {
					u = st.URI
				}
				return social.Published{RemoteID: st.ID, URL: u, At: st.CreatedAt}, true, nil
			}
		}
		if len(page) < 40 || page[len(page)-1].CreatedAt.Before(since) {
			return social.Published{}, false, nil
		}
		q.Set("max_id", page[len(page)-1].ID)
	}
	return social.Published{}, false, &social.Error{Network: social.Mastodon, Op: "find", Class: social.ErrRetryLater,
		Message: "too many statuses since the attempt to be sure"}
}

// findPages bounds how far FindPost reads back: 1,000 statuses, 25
// requests at most (Mastodon allows 300 a user in 5 minutes). 200 were
// too few for an account several members share through Chorus: one
// sharing a few hundred posts in a minute (the soak) left a lost answer
// unconfirmed for good, each check finding "too many statuses" since.
const findPages = 25

// Delete deletes a status (DELETE /api/v1/statuses/:id); one already gone
// is not an error.
func (n *Network) Delete(ctx context.Context, a social.Account, remoteID string) error {
	err := n.call(ctx, "delete", http.MethodDelete, a.Server+"/api/v1/statuses/"+url.PathEscape(remoteID), a.AccessToken.Reveal(), nil, nil, nil)
	return social.IgnoreNotFound(err)
}

var _ social.MetricsReader = (*Network)(nil)

// Metrics reads a status's favourites, replies and reblogs (GET
// /api/v1/statuses/:id) with the member's token (read:statuses), or, for
// a connection made before Chorus asked for that scope, without one — a
// public status needs none. A server that refuses calls without a token
// answers that with 401, which here means "no metrics without
// reconnecting" (social.ErrNoMetrics), never that the connection is gone.
func (n *Network) Metrics(ctx context.Context, a social.Account, remoteID string) (social.Engagement, error) {
	var st struct {
		Favourites int64 `json:"favourites_count"`
		Replies    int64 `json:"replies_count"`
		Reblogs    int64 `json:"reblogs_count"`
	}
	token := a.AccessToken.Reveal()
	if err := n.readStatuses(ctx, "metrics", a.Server+"/api/v1/statuses/"+url.PathEscape(remoteID), &token, &st); err != nil {
		var e *social.Error
		if token == "" && errors.As(err, &e) && e.Status == http.StatusUnauthorized {
			return social.Engagement{}, fmt.Errorf("%w: %v", social.ErrNoMetrics, err)
		}
		return social.Engagement{}, err
	}
	return social.Engagement{Reactions: st.Favourites, Comments: st.Replies, Reposts: st.Reblogs}, nil
}

// readStatuses GETs rawURL, an endpoint under read:statuses, with *token.
// A token outside that scope (403, a connection made before Chorus asked
// for it) is dropped — *token becomes "" for the calls that follow — and
// the public answer read instead. A 401 to a call without a token is the
// server refusing unauthenticated access, not a dead token: ErrPermanent,
// asking for a reconnect that grants read:statuses.
func (n *Network) readStatuses(ctx context.Context, op, rawURL string, token *string, out any) error {
	err := n.call(ctx, op, http.MethodGet, rawURL, *token, nil, nil, out)
	var e *social.Error
	if *token != "" && errors.As(err, &e) && e.Status == http.StatusForbidden {
		*token = ""
		err = n.call(ctx, op, http.MethodGet, rawURL, "", nil, nil, out)
	}
	if *token == "" && errors.As(err, &e) && e.Status == http.StatusUnauthorized {
		e.Class = social.ErrPermanent
		e.Message = "the server does not show statuses without read:statuses, which this connection lacks: connect the account again (" + e.Message + ")"
	}
	return err
}

// Revoke revokes the access token (POST /oauth/revoke).
func (n *Network) Revoke(ctx context.Context, a social.Account) error {
	form := url.Values{"client_id": {a.App.ClientID}, "client_secret": {a.App.ClientSecret.Reveal()}, "token": {a.AccessToken.Reveal()}}
	return n.call(ctx, "revoke", http.MethodPost, a.Server+"/oauth/revoke", "", form, nil, nil)
}

// call sends one request, its form in the body.
func (n *Network) call(ctx context.Context, op, method, rawURL, token string, form url.Values, h http.Header, out any) error {
	_, err := n.api.Do(ctx, social.Request{Op: op, Method: method, URL: rawURL, Token: token, Header: h, Form: form}, out)
	return err
}

// refused classifies Mastodon's refusals, which explain themselves in
// {"error": …}. A 5xx comes after the request was sent, but Mastodon's
// Idempotency-Key makes a retry of a publish safe, so it is retry-later.
func (n *Network) refused(op string, res *http.Response, body []byte) *social.Error {
	var answer struct {
		Error string `json:"error"`
	}
	json.Unmarshal(body, &answer)
	e := n.api.Refusal(op, res.StatusCode, answer.Error)
	if e.Class == social.ErrRetryLater {
		e.RetryAfter = retryAfter(res.Header, n.opts.Now())
	}
	return e
}

// retryAfter reads Retry-After, else Mastodon's X-RateLimit-Reset (an ISO
// 8601 time); zero if neither says.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if wait, ok := social.RetryAfter(h, now); ok {
		return wait
	}
	if v := h.Get("X-RateLimit-Reset"); v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	return 0
}
