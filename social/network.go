package social

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/oauth2"
)

// Names of the networks Chorus knows. cmd registers a connector for each
// network it can serve; only registered networks are offered.
const (
	Mastodon = "mastodon"
	Bluesky  = "bluesky"
	LinkedIn = "linkedin"
	X        = "x"
	Facebook = "facebook"
)

// Names lists every network name Chorus knows, in display order.
var Names = []string{Mastodon, Bluesky, LinkedIn, X, Facebook}

// Network is one social network's API, as a connector subpackage
// (social/mastodon…) implements it. Methods that talk to the network return
// *Error values classifying what went wrong (see errors.go); Account carries
// a live access token: refreshing it is the service's job, not the
// connector's.
type Network interface {
	// Name is one of Names.
	Name() string
	// OAuth returns how an account authorises Chorus. server is the
	// account's server for a Federated network, "" otherwise; app is the
	// app Chorus registered there (Federated), zero otherwise (the
	// connector then uses the app it was configured with).
	OAuth(server string, app App) OAuth
	// Profile reads the account's identity and follower count.
	Profile(ctx context.Context, a Account) (Profile, error)
	// Publish posts text and link. The network deduplicates retries with
	// p.IdempotencyKey where it can. A failure after the request was sent
	// without an answer is ErrAmbiguous: the post may exist.
	Publish(ctx context.Context, a Account, p Post) (Published, error)
	// Delete removes a post; a post already gone is not an error.
	Delete(ctx context.Context, a Account, remoteID string) error
	// Revoke invalidates the account's tokens at the network where the
	// network supports it (otherwise it returns nil).
	Revoke(ctx context.Context, a Account) error
}

// PostFinder is a Network that can be asked whether a post exists: the
// reconciler asks it about shares left unconfirmed (sent, no answer).
type PostFinder interface {
	// FindPost looks for p (matched by p.IdempotencyKey where the network
	// keeps it, else by p.Link) among the account's posts made since
	// since. found is false with a nil error only when the network
	// answered and the post is not there; anything inconclusive is an
	// error.
	FindPost(ctx context.Context, a Account, p Post, since time.Time) (pub Published, found bool, err error)
}

// KeyedPublisher is a Network that makes at most one post per
// p.IdempotencyKey for a while after the first request with it: a repeat
// within that time is answered with the first post. For such a network, a
// share whose attempt was interrupted and whose post FindPost does not
// show is posted again at once instead of after the grace period: if the
// first request did arrive after all, the repeat creates nothing.
type KeyedPublisher interface {
	// IdempotencyWindow is how long the network keeps a key.
	IdempotencyWindow() time.Duration
}

// TokenUpgrader is a Network whose code exchange gives a short-lived token
// that must be traded for a longer one before it is stored (Facebook).
type TokenUpgrader interface {
	UpgradeToken(ctx context.Context, tok *oauth2.Token) (*oauth2.Token, error)
}

// TokenErrorClassifier is a Network that knows better than OAuth 2.0's
// error codes what a failed token request means (X answers a spent refresh
// token with invalid_request, not invalid_grant).
type TokenErrorClassifier interface {
	TokenError(err error) error
}

// Federated is a Network made of many servers (Mastodon): the member names
// their server, and Chorus registers an app on each server it meets.
type Federated interface {
	Network
	// Server normalises and checks a server URL given by a member (https,
	// no path), returning it as scheme://host[:port].
	Server(raw string) (string, error)
	// RegisterApp registers Chorus on server with redirectURL as its only
	// redirect URI.
	RegisterApp(ctx context.Context, server, redirectURL string) (App, error)
}

// OAuth is how a network authorises Chorus to act for an account.
type OAuth struct {
	// Endpoint includes the AuthStyle: how the token endpoint wants the
	// client credentials (Mastodon: in the form body).
	Endpoint oauth2.Endpoint
	Scopes   []string
	// PKCE: the network supports S256 PKCE, so Chorus always sends it.
	PKCE bool
	// ClientID and ClientSecret of Chorus's app.
	ClientID     string
	ClientSecret Secret
}

// Config returns the x/oauth2 configuration with redirectURL.
func (o OAuth) Config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret.Reveal(),
		Endpoint: o.Endpoint, Scopes: o.Scopes, RedirectURL: redirectURL}
}

// App is Chorus's registered client at a network (or one of its servers).
type App struct {
	ClientID     string
	ClientSecret Secret
}

// Account is what a connector needs to act for a connected account.
type Account struct {
	// Server is the account's server for a Federated network.
	Server      string
	AccessToken Secret
	// App is the client the token was issued to (revocation needs it).
	App App
	// RemoteID and Handle are the account's, as Profile read them when it
	// was connected ("" while connecting): a connector uses them rather
	// than asking the network again (X bills every user read).
	RemoteID, Handle string
}

// Profile is a connected account as its network describes it.
type Profile struct {
	// RemoteID identifies the account at the network.
	RemoteID string
	// Handle is how people address the account (@alice@mastodon.social).
	Handle      string
	DisplayName string
	URL         string
	Followers   int64
	// MaxChars is the account's own post length limit where its server
	// sets one (a Mastodon server's max_characters), 0 for the network's
	// default.
	MaxChars int
}

// Post is what Publish sends.
type Post struct {
	Text string
	Link string
	// IdempotencyKey makes a retried publish create at most one post where
	// the network supports it (Chorus uses the share ID).
	IdempotencyKey string
}

// Published is a post that exists at the network.
type Published struct {
	RemoteID string
	URL      string
	At       time.Time
}

// Registry is the set of networks this deployment serves, by name. cmd
// builds it from configuration; a nil or empty Registry serves none.
type Registry struct {
	networks map[string]Network
}

// NewRegistry returns a registry of networks. Each must have one of Names,
// at most once.
func NewRegistry(networks ...Network) (*Registry, error) {
	r := &Registry{networks: map[string]Network{}}
	for _, n := range networks {
		name := n.Name()
		if !slices.Contains(Names, name) {
			return nil, fmt.Errorf("network %q is not one of %v", name, Names)
		}
		if _, dup := r.networks[name]; dup {
			return nil, fmt.Errorf("network %q registered twice", name)
		}
		r.networks[name] = n
	}
	return r, nil
}

// Get returns the named network; false if it is not served here.
func (r *Registry) Get(name string) (Network, bool) {
	if r == nil {
		return nil, false
	}
	n, ok := r.networks[name]
	return n, ok
}

// Names returns the served networks' names in display order.
func (r *Registry) Names() []string {
	var out []string
	for _, name := range Names {
		if _, ok := r.Get(name); ok {
			out = append(out, name)
		}
	}
	return out
}

// PasswordNetwork is a Network whose members connect with an identifier
// and an app password rather than through an OAuth redirect (Bluesky), and
// whose sessions are renewed by the network's own call rather than an
// OAuth refresh_token grant. Service.Connect connects to it; Service.Start
// refuses it.
type PasswordNetwork interface {
	Network
	// Server normalises and checks the member's server URL; "" is the
	// network's default server.
	Server(raw string) (string, error)
	// Login opens a session at server. Wrong credentials are ErrReconnect.
	// The password is used for this call only, never kept.
	Login(ctx context.Context, server, identifier string, password Secret) (Tokens, error)
	// Refresh renews a session; the returned refresh token replaces the
	// old one (which the network may rotate). A refresh token the server no
	// longer accepts is ErrReconnect.
	Refresh(ctx context.Context, server string, refresh Secret) (Tokens, error)
	// Logout ends the session the refresh token belongs to.
	Logout(ctx context.Context, server string, refresh Secret) error
}

// Tokens are a PasswordNetwork's session tokens. Expiry is when Access
// expires, zero if unknown.
type Tokens struct {
	Access, Refresh Secret
	Expiry          time.Time
}

// Engagement is what a network counts on a published post.
type Engagement struct {
	Reactions int64 `bson:"reactions" json:"reactions"`
	Comments  int64 `bson:"comments" json:"comments"`
	Reposts   int64 `bson:"reposts" json:"reposts"`
}

// MetricsReader is a Network that can read a published post's engagement
// (optional; networks without it report no engagement).
type MetricsReader interface {
	// Metrics reads the post's current counts.
	Metrics(ctx context.Context, a Account, remoteID string) (Engagement, error)
}

// ErrNoMetrics: the share's network offers no engagement metrics.
var ErrNoMetrics = errors.New("the network offers no post metrics")
