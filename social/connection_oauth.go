package social

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/tenant"
)

// oauthState is a pending OAuth flow, stored under the hash of the state
// parameter and consumed once by a conditional update.
type oauthState struct {
	Hash      string     `bson:"_id"`
	MemberID  string     `bson:"member_id"`
	Network   string     `bson:"network"`
	Server    string     `bson:"server"`
	AppID     string     `bson:"app_id,omitempty"`
	Verifier  *Sealed    `bson:"verifier,omitempty"`
	ExpiresAt time.Time  `bson:"expires_at"`
	UsedAt    *time.Time `bson:"used_at,omitempty"`
	// ReturnTo is the app's page the member started from (a checked
	// same-origin path), where the callback sends them back.
	ReturnTo string `bson:"return_to,omitempty"`
}

// StateTTL is how long a member has to authorise Chorus at the network.
const StateTTL = 10 * time.Minute

var stateKind = tenant.Kind{Name: "oauth_states"}

// appDoc is Chorus's app on one server of a federated network, registered
// on first use by this instance's members. Keeping it per instance (not
// global) means one company's app can be revoked or rate limited without
// touching the others, and its secret is sealed like the tokens.
type appDoc struct {
	ID           string    `bson:"_id"` // network + " " + server
	Network      string    `bson:"network"`
	Server       string    `bson:"server"`
	RedirectURL  string    `bson:"redirect_url"`
	ClientID     string    `bson:"client_id"`
	ClientSecret Sealed    `bson:"client_secret"`
	CreatedAt    time.Time `bson:"created_at"`
}

var appKind = tenant.Kind{Name: "oauth_apps"}

func hashState(state string) string {
	h := sha256.Sum256([]byte(state))
	return hex.EncodeToString(h[:])
}

func (s *Service) redirectURL(network string) string {
	return s.baseURL.JoinPath("/api/v1/connections", network, "callback").String()
}

// maxReturnTo bounds a return path.
const maxReturnTo = 512

// CheckReturnTo validates a page of the app to send the member back to
// after connecting: a path relative to the app's origin ("/share/abc",
// with a query if any), never an address that leaves it — no scheme or
// host, no "//" or "/\\" prefix (which browsers read as another host), no
// control characters. It returns the path as it will be used, or a
// *tenant.ValidationError on return_to.
func CheckReturnTo(raw string) (string, error) {
	bad := func(reason string) (string, error) {
		return "", &tenant.ValidationError{Field: "return_to", Reason: reason}
	}
	switch {
	case len(raw) > maxReturnTo:
		return bad(fmt.Sprintf("must be at most %d bytes", maxReturnTo))
	case !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\"):
		return bad("must be a path of this app, such as /share/abc")
	case strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }):
		return bad("must not contain control characters or backslashes")
	}
	raw, _, _ = strings.Cut(raw, "#")
	u, err := url.Parse(raw)
	// The decoded path is checked too: "/%2F…" must not become "//…"
	// wherever it is decoded.
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		strings.HasPrefix(u.Path, "//") || strings.Contains(u.Path, "\\") {
		return bad("must be a path of this app, such as /share/abc")
	}
	return raw, nil
}

// ReturnURL is the app's page at returnTo (a path CheckReturnTo passed;
// "" for the app's root) with query's parameters added.
func (s *Service) ReturnURL(returnTo string, query url.Values) string {
	if returnTo == "" {
		return s.AppURL(query.Encode())
	}
	rt, err := url.Parse(returnTo)
	if err != nil {
		return s.AppURL(query.Encode())
	}
	u := *s.baseURL
	u.Path, u.RawPath = rt.Path, rt.RawPath
	q := rt.Query()
	for k, vs := range query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// AppURL is where the callback sends the member's browser afterwards.
func (s *Service) AppURL(query string) string {
	u := *s.baseURL.JoinPath("/")
	u.RawQuery = query
	return u.String()
}

// Start begins connecting the member's account at network and returns the
// URL to send their browser to. The network must be whitelisted
// (ErrNetworkNotAllowed); a federated network needs instanceURL, whose host
// must be on the admins' list when they keep one (ErrServerNotAllowed) and
// at a public address (*ServerAddressError). returnTo ("" for none) is
// the app's page to come back to, a path of the app (CheckReturnTo).
func (s *Service) Start(ctx context.Context, sc tenant.Scope, me tenant.Member, network, instanceURL, returnTo string) (string, error) {
	n, err := s.network(network)
	if err != nil {
		return "", err
	}
	if returnTo != "" {
		if returnTo, err = CheckReturnTo(returnTo); err != nil {
			return "", err
		}
	}
	wl, err := s.whitelisted(ctx, sc, network)
	if err != nil {
		return "", err
	}
	if _, ok := n.(PasswordNetwork); ok {
		return "", &tenant.ValidationError{Field: "network", Reason: "connects with an app password, not OAuth: use POST /api/v1/connections/" + network + "/password"}
	}
	st := oauthState{MemberID: me.ID, Network: network, ExpiresAt: s.timestamp().Add(StateTTL), ReturnTo: returnTo}
	var app App
	fed, isFed := n.(Federated)
	switch {
	case isFed:
		if instanceURL == "" {
			return "", &tenant.ValidationError{Field: "instance_url", Reason: "is required: the address of your " + network + " server, such as https://mastodon.social"}
		}
		if st.Server, err = fed.Server(instanceURL); err != nil {
			return "", &tenant.ValidationError{Field: "instance_url", Reason: err.Error()}
		}
		if !wl.Config.serverAllowed(st.Server) {
			return "", ErrServerNotAllowed
		}
		if app, st.AppID, err = s.app(ctx, sc, fed, st.Server); err != nil {
			return "", serverAddressErr(st.Server, err)
		}
	case instanceURL != "":
		return "", &tenant.ValidationError{Field: "instance_url", Reason: "applies to federated networks (Mastodon) only"}
	}
	o := n.OAuth(st.Server, app)
	var raw [32]byte
	rand.Read(raw[:])
	state := base64.RawURLEncoding.EncodeToString(raw[:])
	st.Hash = hashState(state)
	var opts []oauth2.AuthCodeOption
	if o.PKCE {
		verifier := oauth2.GenerateVerifier()
		sealed, err := s.keys.Seal(Secret(verifier), stateAD(sc.InstanceID(), st.Hash))
		if err != nil {
			return "", err
		}
		st.Verifier = &sealed
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	// Expired flows are dropped here rather than by a sweeper: each start
	// costs one small deleteMany on a tiny collection.
	if _, err := sc.Collection(stateKind).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lt", Value: s.timestamp()}}}}); err != nil {
		return "", err
	}
	if err := sc.Collection(stateKind).Insert(ctx, st); err != nil {
		return "", fmt.Errorf("store OAuth state: %w", err)
	}
	return o.Config(s.redirectURL(network)).AuthCodeURL(state, opts...), nil
}

func stateAD(instanceID, hash string) []byte {
	return []byte("chorus:pkce\x00" + instanceID + "\x00" + hash)
}

// app returns Chorus's app on a federated network's server, registering it
// the first time. Two members racing register twice; the first insert wins
// and the loser's app is simply unused.
func (s *Service) app(ctx context.Context, sc tenant.Scope, fed Federated, server string) (App, string, error) {
	id := fed.Name() + " " + server
	app, err := s.loadApp(ctx, sc, id)
	replace := errors.Is(err, ErrUndecryptable)
	switch {
	case err == nil:
		return app, id, nil
	case replace:
		// Its key is gone: register afresh rather than fail every start.
		s.log.WarnContext(ctx, "app secret does not decrypt; registering again", "app_id", id, "err", err)
	case !isNotFound(err):
		return App{}, "", err
	}
	app, err = fed.RegisterApp(ctx, server, s.redirectURL(fed.Name()))
	if err != nil {
		return App{}, "", err
	}
	sealed, err := s.keys.Seal(app.ClientSecret, appAD(sc.InstanceID(), id))
	if err != nil {
		return App{}, "", err
	}
	d := appDoc{ID: id, Network: fed.Name(), Server: server, RedirectURL: s.redirectURL(fed.Name()),
		ClientID: app.ClientID, ClientSecret: sealed, CreatedAt: s.timestamp()}
	if replace {
		err := sc.Collection(appKind).Upsert(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
			{Key: "client_id", Value: d.ClientID}, {Key: "client_secret", Value: d.ClientSecret},
			{Key: "redirect_url", Value: d.RedirectURL}, {Key: "created_at", Value: d.CreatedAt}}}})
		return app, id, err
	}
	switch err := sc.Collection(appKind).Insert(ctx, d); {
	case errors.Is(err, tenant.ErrDuplicate):
		app, err := s.loadApp(ctx, sc, id)
		return app, id, err
	case err != nil:
		return App{}, "", fmt.Errorf("store app of %s: %w", server, err)
	}
	return app, id, nil
}

func (s *Service) loadApp(ctx context.Context, sc tenant.Scope, id string) (App, error) {
	var d appDoc
	if err := sc.Collection(appKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &d); err != nil {
		return App{}, err
	}
	secret, err := s.keys.Open(d.ClientSecret, appAD(sc.InstanceID(), id))
	if err != nil {
		return App{}, fmt.Errorf("app %s: %w", id, err)
	}
	return App{ClientID: d.ClientID, ClientSecret: secret}, nil
}

// CallbackParams are the query parameters the network sends back.
type CallbackParams struct {
	Code, State string
	// Error is set when the member declined (access_denied).
	Error string
}

// ErrDeclined: the member did not authorise Chorus at the network.
var ErrDeclined = errors.New("authorisation declined at the network")

// Callback finishes a flow Start began: it consumes the state (one use, by
// the member who started it, within StateTTL: ErrInvalidState otherwise),
// exchanges the code, reads the profile and stores the connection with its
// tokens sealed. Connecting the same account again updates its connection.
func (s *Service) Callback(ctx context.Context, sc tenant.Scope, me tenant.Member, network string, p CallbackParams) (Connection, error) {
	c, _, err := s.CallbackReturn(ctx, sc, me, network, p)
	return c, err
}

// CallbackReturn is Callback that also returns the page the member
// started from (Start's returnTo, "" for none), also when they declined.
func (s *Service) CallbackReturn(ctx context.Context, sc tenant.Scope, me tenant.Member, network string, p CallbackParams) (Connection, string, error) {
	var st oauthState
	c, err := s.callback(ctx, sc, me, network, p, &st)
	return c, st.ReturnTo, err
}

func (s *Service) callback(ctx context.Context, sc tenant.Scope, me tenant.Member, network string, p CallbackParams, st *oauthState) (Connection, error) {
	n, err := s.network(network)
	if err != nil {
		return Connection{}, err
	}
	if p.State == "" || len(p.State) > 200 {
		return Connection{}, ErrInvalidState
	}
	now := s.timestamp()
	err = sc.Collection(stateKind).FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: hashState(p.State)}, {Key: "member_id", Value: me.ID}, {Key: "network", Value: network},
			{Key: "used_at", Value: bson.D{{Key: "$exists", Value: false}}}, {Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used_at", Value: now}}}}, st)
	if isNotFound(err) {
		return Connection{}, ErrInvalidState
	}
	if err != nil {
		return Connection{}, err
	}
	if p.Error != "" {
		return Connection{}, fmt.Errorf("%w: %s", ErrDeclined, p.Error)
	}
	if p.Code == "" {
		return Connection{}, &tenant.ValidationError{Field: "code", Reason: "is required"}
	}
	if _, err := s.whitelisted(ctx, sc, network); err != nil {
		return Connection{}, err
	}
	var app App
	if st.AppID != "" {
		if app, err = s.loadApp(ctx, sc, st.AppID); err != nil {
			return Connection{}, err
		}
	}
	var opts []oauth2.AuthCodeOption
	if st.Verifier != nil {
		v, err := s.keys.Open(*st.Verifier, stateAD(sc.InstanceID(), st.Hash))
		if err != nil {
			return Connection{}, err
		}
		opts = append(opts, oauth2.VerifierOption(v.Reveal()))
	}
	cfg := n.OAuth(st.Server, app).Config(s.redirectURL(network))
	tok, err := cfg.Exchange(s.oauthContext(ctx), p.Code, opts...)
	if err != nil {
		return Connection{}, s.tokenError(n, err)
	}
	if up, ok := n.(TokenUpgrader); ok {
		if tok, err = up.UpgradeToken(ctx, tok); err != nil {
			return Connection{}, err
		}
	}
	acct := Account{Server: st.Server, AccessToken: Secret(tok.AccessToken), App: app}
	c, err := s.store(ctx, sc, me, n, acct, st.AppID, tok)
	if err != nil {
		return Connection{}, err
	}
	// The state did its job; a used one left behind expires with the rest.
	sc.Collection(stateKind).Delete(ctx, bson.D{{Key: "_id", Value: st.Hash}})
	return c, nil
}

func (s *Service) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.client)
}
