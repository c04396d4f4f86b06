// Package bluesky connects Chorus to Bluesky, and to any AT Protocol
// server (PDS) a member's account lives on: sessions opened with an app
// password and renewed with com.atproto.server.refreshSession, the
// account's identity, posts (app.bsky.feed.post records with a link card)
// written at most once per share, and their deletion.
//
// # App passwords, not OAuth (yet)
//
// A member connects with their handle (or DID or email) and an app
// password; com.atproto.server.createSession turns them into an access JWT
// (about two hours) and a refresh JWT (90 days, rotated at each refresh),
// which Chorus stores sealed like OAuth tokens. The app password itself is
// never stored, and the account's main password is refused: its session
// could change the account's email or delete the account.
//
// AT Protocol's OAuth profile is not implemented. It needs pushed
// authorization requests (PAR), DPoP-bound tokens (a key pair per
// connection and a nonce exchange on every request, refresh included), a
// client_id that is the URL of a client metadata document the
// authorization server fetches, and private_key_jwt client authentication
// with keys published there; none of it fits x/oauth2 or social.OAuth, and
// a deployment on a private network cannot serve its metadata to
// bsky.social. App passwords are acceptable as the first method: they are
// Bluesky's documented credential for third-party tools, scoped (no
// account settings, no direct messages), listed by name and revocable one
// by one by the member in Bluesky's settings, and they bypass neither the
// PDS's rate limits nor its moderation.
//
// *Network implements social.PasswordNetwork (Login, Refresh, Logout on
// social.Tokens), with OAuth returning the zero value; OpenSession,
// RefreshSession and EndSession are the same calls on a whole Session, and
// Client renews a Session as it goes.
//
// # Posts
//
// A post is written with com.atproto.repo.putRecord under a record key
// derived from the share's idempotency key (RecordKey) and swapRecord
// null, which the PDS checks inside its repository transaction: the write
// succeeds only if no record has that key. A retry therefore finds the
// post of an earlier attempt (400 InvalidSwap) and returns it instead of
// posting twice. (createRecord with the same rkey would answer 500.)
//
// # Profile
//
// Handle and DID come from com.atproto.server.getSession. The follower
// count comes from app.bsky.actor.getProfile, which a PDS proxies to the
// Bluesky AppView; a PDS without an AppView (such as the test PDS) cannot
// answer it, and the display name is then read from the account's
// app.bsky.actor.profile record, with 0 followers: unknown, not none.
package bluesky

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chorushq/chorus/social"
)

// DefaultServer is the server of accounts hosted by Bluesky: their PDS
// sits behind it and it forwards their requests.
const DefaultServer = "https://bsky.social"

// AppURL is the web app that post and profile URLs point to.
const AppURL = "https://bsky.app"

// Options configure the connector.
type Options struct {
	// HTTPClient talks to the servers; nil is a client with a 30 s timeout.
	HTTPClient *http.Client
	// UserAgent identifies Chorus to servers; default "Chorus".
	UserAgent string
	// AllowHTTP accepts http:// servers: for tests on loopback only.
	AllowHTTP bool
	Now       func() time.Time
}

// Network is the Bluesky connector.
type Network struct {
	opts Options
	// api builds the requests and sends them; xrpc reads the answers.
	api social.API
}

var (
	_ social.PasswordNetwork = (*Network)(nil)
	_ social.PostFinder      = (*Network)(nil)
)

// New returns the connector.
func New(opts Options) *Network {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Network{opts: opts, api: social.NewAPI(social.Bluesky, opts.HTTPClient, opts.UserAgent, nil)}
}

// Name is social.Bluesky.
func (*Network) Name() string { return social.Bluesky }

// OAuth returns the zero value: members connect with an app password (see
// the package comment), not through OAuth.
func (*Network) OAuth(string, social.App) social.OAuth { return social.OAuth{} }

// Server accepts "" (DefaultServer), "bsky.social" or
// "https://pds.example.com/" and returns "https://pds.example.com". Only
// https is accepted (http with AllowHTTP), without credentials, path,
// query or fragment.
func (n *Network) Server(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return DefaultServer, nil
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "" || u.Hostname() == "":
		return "", errors.New("must be the address of a Bluesky server (PDS), such as https://bsky.social")
	case u.Scheme != "https" && !(u.Scheme == "http" && n.opts.AllowHTTP):
		return "", errors.New("must be an https address")
	case u.User != nil:
		return "", errors.New("must not contain a user name or password")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("must be the server's address only, without a path")
	}
	return u.Scheme + "://" + strings.ToLower(strings.TrimSuffix(u.Host, ".")), nil
}

// Session is an open session at a server: what Chorus keeps of a
// connection (Access and Refresh sealed like OAuth tokens).
type Session struct {
	// Server is where the session was opened (Network.Server's form).
	Server string
	DID    string
	Handle string
	// Access authorises calls; Refresh renews the session, once: the
	// server rotates it.
	Access, Refresh social.Secret
	// Expires is when Access expires (its exp claim), zero if unknown.
	Expires time.Time
}

// Account returns the session as the social.Account that Network's
// social.Network methods take.
func (s Session) Account() social.Account {
	return social.Account{Server: s.Server, AccessToken: s.Access}
}

// sessionAnswer is what createSession and refreshSession return.
type sessionAnswer struct {
	AccessJwt  string `json:"accessJwt"`
	RefreshJwt string `json:"refreshJwt"`
	DID        string `json:"did"`
	Handle     string `json:"handle"`
}

func (a sessionAnswer) session(server string) Session {
	s := Session{Server: server, DID: a.DID, Handle: a.Handle, Access: social.Secret(a.AccessJwt), Refresh: social.Secret(a.RefreshJwt)}
	if c, ok := decodeJWT(a.AccessJwt); ok && c.Exp > 0 {
		s.Expires = time.Unix(c.Exp, 0).UTC()
	}
	return s
}

// scopeFull is the scope of a session opened with the account's password
// (an app password's is com.atproto.appPass).
const scopeFull = "com.atproto.access"

// OpenSession opens a session at server (Network.Server's form) with
// com.atproto.server.createSession. identifier is the account's handle
// (a leading @ is ignored), DID or email; password must be an app
// password. Wrong credentials are social.ErrReconnect; the account's main
// password is social.ErrPermanent (its session is ended at once); the
// server's rate limit is social.ErrRetryLater.
func (n *Network) OpenSession(ctx context.Context, server, identifier string, password social.Secret) (Session, error) {
	identifier = strings.TrimPrefix(strings.TrimSpace(identifier), "@")
	if identifier == "" || password == "" {
		return Session{}, &social.Error{Network: social.Bluesky, Op: "login", Class: social.ErrPermanent,
			Message: "your handle and an app password are required"}
	}
	var out sessionAnswer
	err := n.xrpc(ctx, server, call{post: true, nsid: "com.atproto.server.createSession",
		body: map[string]string{"identifier": identifier, "password": password.Reveal()}}, &out)
	var f *failure
	if errors.As(err, &f) && f.name == "AuthFactorTokenRequired" {
		// Only the main password asks for a sign-in code.
		return Session{}, &social.Error{Network: social.Bluesky, Op: "login", Class: social.ErrPermanent, Status: f.status,
			Message: mainPassword}
	}
	if err != nil {
		return Session{}, classify("login", err)
	}
	s := out.session(server)
	if c, ok := decodeJWT(out.AccessJwt); ok && c.Scope == scopeFull {
		n.EndSession(ctx, s) // best effort: Chorus never uses this session
		return Session{}, &social.Error{Network: social.Bluesky, Op: "login", Class: social.ErrPermanent, Message: mainPassword}
	}
	return s, nil
}

const mainPassword = "this is your account's password: create an app password in Bluesky " +
	"(Settings → Privacy and security → App passwords) and use it instead"

// RefreshSession renews s with com.atproto.server.refreshSession and returns the
// new session, whose Refresh replaces s.Refresh (the server rotates it:
// keep the new one before using its Access). A refresh token the server
// no longer accepts (expired, revoked, the account taken down) is
// social.ErrReconnect.
func (n *Network) RefreshSession(ctx context.Context, s Session) (Session, error) {
	if s.Refresh == "" {
		return Session{}, &social.Error{Network: social.Bluesky, Op: "token", Class: social.ErrReconnect, Message: "no refresh token"}
	}
	var out sessionAnswer
	if err := n.xrpc(ctx, s.Server, call{post: true, nsid: "com.atproto.server.refreshSession", token: s.Refresh.Reveal()}, &out); err != nil {
		return Session{}, classify("token", err)
	}
	return out.session(s.Server), nil
}

// EndSession ends s at the server (com.atproto.server.deleteSession with its
// refresh token): neither token renews or authorises anything after.
func (n *Network) EndSession(ctx context.Context, s Session) error {
	err := n.xrpc(ctx, s.Server, call{post: true, nsid: "com.atproto.server.deleteSession", token: s.Refresh.Reveal()}, nil)
	return classify("revoke", err)
}

// Login is OpenSession's social.PasswordNetwork form.
func (n *Network) Login(ctx context.Context, server, identifier string, password social.Secret) (social.Tokens, error) {
	s, err := n.OpenSession(ctx, server, identifier, password)
	return s.tokens(), err
}

// Refresh is RefreshSession's social.PasswordNetwork form.
func (n *Network) Refresh(ctx context.Context, server string, refresh social.Secret) (social.Tokens, error) {
	s, err := n.RefreshSession(ctx, Session{Server: server, Refresh: refresh})
	return s.tokens(), err
}

// Logout is EndSession's social.PasswordNetwork form.
func (n *Network) Logout(ctx context.Context, server string, refresh social.Secret) error {
	return n.EndSession(ctx, Session{Server: server, Refresh: refresh})
}

func (s Session) tokens() social.Tokens {
	return social.Tokens{Access: s.Access, Refresh: s.Refresh, Expiry: s.Expires}
}

// Revoke returns nil: ending a session needs its refresh token, which a
// social.Account does not carry (Logout does it), and an app password
// can only be revoked by the member in Bluesky's settings.
func (*Network) Revoke(context.Context, social.Account) error { return nil }

// identity is the account a token acts for.
type identity struct {
	DID    string `json:"did"`
	Handle string `json:"handle"`
}

// path is how bsky.app addresses the account: its handle, or its DID when
// the handle does not resolve.
func (id identity) path() string {
	if id.Handle == "" || id.Handle == "handle.invalid" {
		return id.DID
	}
	return id.Handle
}

// postURL is where the account's post at rkey is seen on bsky.app.
func (id identity) postURL(rkey string) string {
	return AppURL + "/profile/" + id.path() + "/post/" + rkey
}

// whoami reads the token's account (com.atproto.server.getSession). Every
// operation starts with it: it checks the token with a read before any
// write, and gives the current handle for URLs.
func (n *Network) whoami(ctx context.Context, a social.Account) (identity, error) {
	var id identity
	err := n.xrpc(ctx, a.Server, call{nsid: "com.atproto.server.getSession", token: a.AccessToken.Reveal()}, &id)
	return id, err
}

// Profile reads the account's identity and, where the server can ask an
// AppView, its followers (see the package comment): 0 means unknown.
func (n *Network) Profile(ctx context.Context, a social.Account) (social.Profile, error) {
	p, err := n.profile(ctx, a)
	return p, classify("profile", err)
}

func (n *Network) profile(ctx context.Context, a social.Account) (social.Profile, error) {
	id, err := n.whoami(ctx, a)
	if err != nil {
		return social.Profile{}, err
	}
	p := social.Profile{RemoteID: id.DID, Handle: "@" + id.Handle, URL: AppURL + "/profile/" + id.path()}
	var view struct {
		DisplayName    string `json:"displayName"`
		FollowersCount int64  `json:"followersCount"`
	}
	err = n.xrpc(ctx, a.Server, call{nsid: "app.bsky.actor.getProfile", query: url.Values{"actor": {id.DID}}, token: a.AccessToken.Reveal()}, &view)
	if err == nil {
		p.DisplayName, p.Followers = view.DisplayName, view.FollowersCount
		return p, nil
	}
	if ctx.Err() != nil {
		return social.Profile{}, ctx.Err()
	}
	var rec struct {
		Value struct {
			DisplayName string `json:"displayName"`
		} `json:"value"`
	}
	err = n.xrpc(ctx, a.Server, call{nsid: "com.atproto.repo.getRecord", token: a.AccessToken.Reveal(),
		query: url.Values{"repo": {id.DID}, "collection": {"app.bsky.actor.profile"}, "rkey": {"self"}}}, &rec)
	var f *failure
	if err != nil && !(errors.As(err, &f) && f.name == "RecordNotFound") {
		return social.Profile{}, err
	}
	p.DisplayName = rec.Value.DisplayName
	return p, nil
}

var _ social.MetricsReader = (*Network)(nil)

// Metrics reads a post's likes, replies, reposts and quotes (quotes count
// as reposts) through app.bsky.feed.getPosts, which a PDS proxies to the
// Bluesky AppView. A PDS without an AppView (such as the test PDS) answers
// "No service configured": social.ErrNoMetrics. A post the AppView does
// not return (deleted) is social.ErrPermanent.
func (n *Network) Metrics(ctx context.Context, a social.Account, remoteID string) (social.Engagement, error) {
	var out struct {
		Posts []struct {
			URI         string `json:"uri"`
			LikeCount   int64  `json:"likeCount"`
			ReplyCount  int64  `json:"replyCount"`
			RepostCount int64  `json:"repostCount"`
			QuoteCount  int64  `json:"quoteCount"`
		} `json:"posts"`
	}
	err := n.xrpc(ctx, a.Server, call{nsid: "app.bsky.feed.getPosts", query: url.Values{"uris": {remoteID}}, token: a.AccessToken.Reveal()}, &out)
	var f *failure
	if errors.As(err, &f) && f.status == http.StatusBadRequest && f.name == "InvalidRequest" && strings.HasPrefix(f.message, "No service configured") {
		return social.Engagement{}, social.ErrNoMetrics
	}
	if err != nil {
		return social.Engagement{}, classify("metrics", err)
	}
	for _, p := range out.Posts {
		if p.URI == remoteID {
			return social.Engagement{Reactions: p.LikeCount, Comments: p.ReplyCount, Reposts: p.RepostCount + p.QuoteCount}, nil
		}
	}
	return social.Engagement{}, &social.Error{Network: social.Bluesky, Op: "metrics", Class: social.ErrPermanent, Message: "the post is gone"}
}

// putRecord is com.atproto.repo.putRecord's input.
type putRecord struct {
	Repo       string `json:"repo"`
	Collection string `json:"collection"`
	Rkey       string `json:"rkey"`
	Record     post   `json:"record"`
	// SwapRecord is sent as null, which means "only if there is no record
	// at this key yet" (omitted, it would mean "whatever is there").
	SwapRecord *string `json:"swapRecord"`
}

// Publish posts p.Text with p.Link as a card (and a link facet where the
// text holds it) under RecordKey(p.IdempotencyKey). A retry with the same
// key returns the post the first attempt made. A text longer than
// MaxGraphemes is social.ErrPermanent, and nothing is sent. Without an
// idempotency key the record key is fresh and a retry may post again.
// The remote ID is the post's at:// URI.
func (n *Network) Publish(ctx context.Context, a social.Account, p social.Post) (social.Published, error) {
	pub, err := n.publish(ctx, a, p)
	return pub, classify("publish", err)
}

func (n *Network) publish(ctx context.Context, a social.Account, p social.Post) (social.Published, error) {
	if err := checkText(p.Text); err != nil {
		return social.Published{}, err
	}
	id, err := n.whoami(ctx, a)
	if err != nil {
		return social.Published{}, err
	}
	now := n.opts.Now().UTC().Truncate(time.Millisecond)
	rkey := RecordKey(p.IdempotencyKey)
	if p.IdempotencyKey == "" {
		rkey = newRecordKey(now)
	}
	var out struct {
		URI string `json:"uri"`
	}
	err = n.xrpc(ctx, a.Server, call{post: true, nsid: "com.atproto.repo.putRecord", token: a.AccessToken.Reveal(),
		publish: true, keyed: p.IdempotencyKey != "",
		body: putRecord{Repo: id.DID, Collection: Collection, Rkey: rkey, Record: newPost(p, now)}}, &out)
	var f *failure
	switch {
	case err == nil:
		return social.Published{RemoteID: out.URI, URL: id.postURL(rkey), At: now}, nil
	case !errors.As(err, &f) || f.status != http.StatusBadRequest || f.name != "InvalidSwap" || p.IdempotencyKey == "":
		return social.Published{}, err
	}
	// An earlier attempt posted under this key.
	return n.readPost(ctx, a, id, rkey)
}

// FindPost reads the record a publish of p writes, at
// RecordKey(p.IdempotencyKey) (com.atproto.repo.getRecord): there, it is
// found; RecordNotFound is a sure "not there", whatever since says. A post
// without an idempotency key cannot be looked up (social.ErrPermanent).
func (n *Network) FindPost(ctx context.Context, a social.Account, p social.Post, since time.Time) (social.Published, bool, error) {
	pub, found, err := n.findPost(ctx, a, p)
	return pub, found, classify("find", err)
}

func (n *Network) findPost(ctx context.Context, a social.Account, p social.Post) (social.Published, bool, error) {
	if p.IdempotencyKey == "" {
		return social.Published{}, false, &failure{local: true, message: "a post without an idempotency key cannot be looked up"}
	}
	id, err := n.whoami(ctx, a)
	if err != nil {
		return social.Published{}, false, err
	}
	pub, err := n.readPost(ctx, a, id, RecordKey(p.IdempotencyKey))
	var f *failure
	switch {
	case errors.As(err, &f) && f.err == nil && f.name == "RecordNotFound":
		return social.Published{}, false, nil
	case err != nil:
		return social.Published{}, false, err
	}
	return pub, true, nil
}

// readPost reads the account's post at rkey (com.atproto.repo.getRecord).
func (n *Network) readPost(ctx context.Context, a social.Account, id identity, rkey string) (social.Published, error) {
	var got struct {
		URI   string `json:"uri"`
		Value struct {
			CreatedAt time.Time `json:"createdAt"`
		} `json:"value"`
	}
	err := n.xrpc(ctx, a.Server, call{nsid: "com.atproto.repo.getRecord", token: a.AccessToken.Reveal(),
		query: url.Values{"repo": {id.DID}, "collection": {Collection}, "rkey": {rkey}}}, &got)
	if err != nil {
		return social.Published{}, err
	}
	return social.Published{RemoteID: got.URI, URL: id.postURL(rkey), At: got.Value.CreatedAt.UTC()}, nil
}

// Delete deletes the post whose at:// URI is remoteID
// (com.atproto.repo.deleteRecord); one already gone is not an error, and
// another account's post is social.ErrPermanent.
func (n *Network) Delete(ctx context.Context, a social.Account, remoteID string) error {
	return classify("delete", n.delete(ctx, a, remoteID))
}

func (n *Network) delete(ctx context.Context, a social.Account, remoteID string) error {
	did, rkey, ok := parsePostURI(remoteID)
	if !ok {
		return &failure{local: true, message: "not the at:// URI of a post: " + remoteID}
	}
	id, err := n.whoami(ctx, a)
	if err != nil {
		return err
	}
	if id.DID != did {
		return &failure{local: true, message: "the post belongs to another account"}
	}
	return n.xrpc(ctx, a.Server, call{post: true, nsid: "com.atproto.repo.deleteRecord", token: a.AccessToken.Reveal(),
		body: map[string]string{"repo": did, "collection": Collection, "rkey": rkey}}, nil)
}

// parsePostURI splits at://DID/app.bsky.feed.post/RKEY.
func parsePostURI(uri string) (did, rkey string, ok bool) {
	rest, found := strings.CutPrefix(uri, "at://")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "did:") || parts[1] != Collection || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}
