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
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/tenant"
)

// Status is where a connection stands.
type Status string

// Statuses.
const (
	// StatusActive: usable.
	StatusActive Status = "active"
	// StatusDisabled: the network was un-whitelisted; allowing it again
	// re-activates the connection.
	StatusDisabled Status = "disabled"
	// StatusNeedsReconnect: the network no longer accepts the tokens
	// (revoked, invalid_grant); the member must connect again.
	StatusNeedsReconnect Status = "needs_reconnect"
	// StatusBroken: the tokens cannot be decrypted; nothing is sent with
	// them, the member must connect again.
	StatusBroken Status = "broken"
)

// Connection is a member's account at a network. Its tokens are sealed
// with the instance and connection ID as associated data.
type Connection struct {
	ID          string `bson:"_id"`
	MemberID    string `bson:"member_id"`
	Network     string `bson:"network"`
	RemoteID    string `bson:"remote_id"`
	Handle      string `bson:"handle"`
	DisplayName string `bson:"display_name"`
	ProfileURL  string `bson:"profile_url"`
	Followers   int64  `bson:"followers"`
	// MaxChars is the account's post length limit as its server reported
	// it at connect time (Profile.MaxChars), 0 for the network's default.
	MaxChars int    `bson:"max_chars,omitempty"`
	Status   Status `bson:"status"`
	// DisabledBy says why a disabled connection is (whitelist).
	DisabledBy string `bson:"disabled_by,omitempty"`
	// InstanceURL is the account's server (Mastodon), "" otherwise.
	InstanceURL string `bson:"instance_url"`
	// AppID names the oauth_apps record the tokens were issued to.
	AppID     string     `bson:"app_id,omitempty"`
	Access    Sealed     `bson:"access"`
	Refresh   *Sealed    `bson:"refresh,omitempty"`
	ExpiresAt *time.Time `bson:"expires_at,omitempty"`
	// RefreshLease is set while one process refreshes the tokens.
	RefreshLease *time.Time `bson:"refresh_lease,omitempty"`
	CreatedAt    time.Time  `bson:"created_at"`
	UpdatedAt    time.Time  `bson:"updated_at"`
}

var connectionKind = tenant.Kind{
	Name: "connections",
	Indexes: []tenant.Index{
		// One connection per member and remote account; also serves "mine".
		{Keys: bson.D{{Key: "member_id", Value: 1}, {Key: "network", Value: 1}, {Key: "instance_url", Value: 1}, {Key: "remote_id", Value: 1}}, Unique: true},
		// The expiry warning: active connections whose tokens expire soon.
		{Keys: bson.D{{Key: "status", Value: 1}, {Key: "expires_at", Value: 1}}},
	},
}

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

// Connect connects the member's account at a PasswordNetwork (Bluesky)
// with identifier (handle, DID or email) and an app password, which is
// used to log in once and never stored. The network must be whitelisted
// (ErrNetworkNotAllowed) and the server on the admins' list when they keep
// one (ErrServerNotAllowed) and at a public address (*ServerAddressError);
// an OAuth network is a validation error (use Start). Wrong credentials
// are ErrInvalidCredentials. Connecting the same account again updates its
// connection.
func (s *Service) Connect(ctx context.Context, sc tenant.Scope, me tenant.Member, network, instanceURL, identifier string, password Secret) (Connection, error) {
	n, err := s.network(network)
	if err != nil {
		return Connection{}, err
	}
	pn, ok := n.(PasswordNetwork)
	if !ok {
		return Connection{}, &tenant.ValidationError{Field: "network", Reason: "connects through OAuth: use POST /api/v1/connections/" + network + "/start"}
	}
	wl, err := s.whitelisted(ctx, sc, network)
	if err != nil {
		return Connection{}, err
	}
	server, err := pn.Server(instanceURL)
	if err != nil {
		return Connection{}, &tenant.ValidationError{Field: "instance_url", Reason: err.Error()}
	}
	if !wl.Config.serverAllowed(server) {
		return Connection{}, ErrServerNotAllowed
	}
	switch {
	case identifier == "":
		return Connection{}, &tenant.ValidationError{Field: "identifier", Reason: "is required: your handle, such as alice.bsky.social"}
	case password == "":
		return Connection{}, &tenant.ValidationError{Field: "app_password", Reason: "is required"}
	}
	toks, err := pn.Login(ctx, server, identifier, password)
	if errors.Is(err, ErrReconnect) {
		return Connection{}, fmt.Errorf("%w (%v)", ErrInvalidCredentials, err)
	}
	if err != nil {
		return Connection{}, serverAddressErr(server, err)
	}
	acct := Account{Server: server, AccessToken: toks.Access}
	return s.store(ctx, sc, me, n, acct, "", &oauth2.Token{AccessToken: toks.Access.Reveal(), RefreshToken: toks.Refresh.Reveal(), Expiry: toks.Expiry})
}

// store reads the profile of the account acct acts for and stores its
// connection with tok sealed, updating the member's existing connection to
// the same account.
func (s *Service) store(ctx context.Context, sc tenant.Scope, me tenant.Member, n Network, acct Account, appID string, tok *oauth2.Token) (Connection, error) {
	network := n.Name()
	prof, err := n.Profile(ctx, acct)
	if err != nil {
		return Connection{}, err
	}
	now := s.timestamp()
	c := Connection{ID: newID(), MemberID: me.ID, Network: network, RemoteID: prof.RemoteID, Handle: prof.Handle,
		DisplayName: prof.DisplayName, ProfileURL: prof.URL, Followers: prof.Followers, MaxChars: prof.MaxChars, Status: StatusActive,
		InstanceURL: acct.Server, AppID: appID, CreatedAt: now, UpdatedAt: now}
	var existing Connection
	err = sc.Collection(connectionKind).FindOne(ctx, bson.D{{Key: "member_id", Value: me.ID}, {Key: "network", Value: network},
		{Key: "instance_url", Value: acct.Server}, {Key: "remote_id", Value: prof.RemoteID}}, &existing)
	switch {
	case err == nil:
		c.ID, c.CreatedAt = existing.ID, existing.CreatedAt
	case !isNotFound(err):
		return Connection{}, err
	}
	if err := s.sealTokens(sc, &c, tok); err != nil {
		return Connection{}, err
	}
	if existing.ID == "" {
		err = sc.Collection(connectionKind).Insert(ctx, c)
	} else {
		_, err = sc.Collection(connectionKind).Update(ctx, bson.D{{Key: "_id", Value: c.ID}},
			bson.D{{Key: "$set", Value: connectionSet(c)}, {Key: "$unset", Value: bson.D{{Key: "disabled_by", Value: ""}, {Key: "refresh_lease", Value: ""}}}})
	}
	if err != nil {
		return Connection{}, fmt.Errorf("store connection: %w", err)
	}
	return c, nil
}

func connectionSet(c Connection) bson.D {
	set := bson.D{{Key: "handle", Value: c.Handle}, {Key: "display_name", Value: c.DisplayName},
		{Key: "profile_url", Value: c.ProfileURL}, {Key: "followers", Value: c.Followers}, {Key: "max_chars", Value: c.MaxChars},
		{Key: "status", Value: c.Status}, {Key: "app_id", Value: c.AppID}, {Key: "access", Value: c.Access},
		{Key: "updated_at", Value: c.UpdatedAt}, {Key: "expiry_warned", Value: false}}
	if c.Refresh != nil {
		set = append(set, bson.E{Key: "refresh", Value: *c.Refresh})
	}
	if c.ExpiresAt != nil {
		set = append(set, bson.E{Key: "expires_at", Value: *c.ExpiresAt})
	}
	return set
}

// sealTokens seals tok's tokens into c. An empty refresh token never
// replaces the one c holds.
func (s *Service) sealTokens(sc tenant.Scope, c *Connection, tok *oauth2.Token) error {
	access, err := s.keys.Seal(Secret(tok.AccessToken), tokenAD(sc.InstanceID(), c.ID, "access"))
	if err != nil {
		return err
	}
	c.Access = access
	if tok.RefreshToken != "" {
		refresh, err := s.keys.Seal(Secret(tok.RefreshToken), tokenAD(sc.InstanceID(), c.ID, "refresh"))
		if err != nil {
			return err
		}
		c.Refresh = &refresh
	}
	// Expiry is computed on the injected clock from expires_in where the
	// network sent it.
	c.ExpiresAt = nil
	switch {
	case tok.ExpiresIn > 0:
		e := s.timestamp().Add(time.Duration(tok.ExpiresIn) * time.Second)
		c.ExpiresAt = &e
	case !tok.Expiry.IsZero():
		e := tok.Expiry.UTC().Truncate(time.Millisecond)
		c.ExpiresAt = &e
	}
	return nil
}

func (s *Service) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, s.client)
}

// tokenError classifies a failed token request.
// tokenError classifies a failed token request, asking the network first.
func (s *Service) tokenError(n Network, err error) error {
	if tc, ok := n.(TokenErrorClassifier); ok {
		if e := tc.TokenError(err); e != nil {
			return e
		}
	}
	return tokenError(n.Name(), err)
}

func tokenError(network string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		e := &Error{Network: network, Op: "token", Class: ErrPermanent, Message: re.ErrorDescription}
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		switch {
		case re.ErrorCode == "invalid_grant":
			e.Class = ErrReconnect
		case e.Status == 429 || e.Status >= 500:
			e.Class = ErrRetryLater
		}
		if e.Message == "" {
			e.Message = re.ErrorCode
		}
		return e
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &Error{Network: network, Op: "token", Class: ErrRetryLater, Err: err}
}

// Connections returns the member's connections, oldest first.
func (s *Service) Connections(ctx context.Context, sc tenant.Scope, me tenant.Member) ([]Connection, error) {
	var cs []Connection
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(200)
	if err := sc.Collection(connectionKind).Find(ctx, bson.D{{Key: "member_id", Value: me.ID}}, &cs, opts); err != nil {
		return nil, err
	}
	return cs, nil
}

// Connection returns one of the member's connections; another member's
// or instance's is ErrNotFound.
func (s *Service) Connection(ctx context.Context, sc tenant.Scope, me tenant.Member, id string) (Connection, error) {
	if !validID(id) {
		return Connection{}, ErrNotFound
	}
	var c Connection
	err := sc.Collection(connectionKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "member_id", Value: me.ID}}, &c)
	return c, err
}

// Disconnect revokes the connection's tokens at the network where it can
// (a failure there is logged, never blocks), cancels its queued and
// scheduled shares and deletes it. Another member's or instance's
// connection is ErrNotFound.
func (s *Service) Disconnect(ctx context.Context, sc tenant.Scope, me tenant.Member, id string) error {
	c, err := s.Connection(ctx, sc, me, id)
	if err != nil {
		return err
	}
	if n, ok := s.networks.Get(c.Network); ok {
		acct, err := s.account(ctx, sc, c)
		if err == nil {
			err = n.Revoke(ctx, acct)
		}
		if pn, ok := n.(PasswordNetwork); ok && err == nil && c.Refresh != nil {
			var rt Secret
			if rt, err = s.keys.Open(*c.Refresh, tokenAD(sc.InstanceID(), c.ID, "refresh")); err == nil {
				err = pn.Logout(ctx, c.InstanceURL, rt)
			}
		}
		if err != nil {
			s.log.WarnContext(ctx, "token not revoked at the network", "connection_id", c.ID, "network", c.Network, "err", err)
		}
	}
	// Its waiting shares could only fail once it is gone: they are
	// cancelled first (and their tasks deleted), so a failure here leaves
	// the connection to disconnect again.
	if _, err := s.cancelPending(ctx, sc, bson.D{{Key: "connection_id", Value: c.ID}, {Key: "member_id", Value: me.ID}},
		"the account was disconnected"); err != nil {
		return err
	}
	ok, err := sc.Collection(connectionKind).Delete(ctx, bson.D{{Key: "_id", Value: id}, {Key: "member_id", Value: me.ID}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// account opens a connection's tokens without status checks. A token that
// does not decrypt marks the connection broken (ErrBroken).
func (s *Service) account(ctx context.Context, sc tenant.Scope, c Connection) (Account, error) {
	acct := Account{Server: c.InstanceURL, RemoteID: c.RemoteID, Handle: c.Handle}
	var err error
	acct.AccessToken, err = s.keys.Open(c.Access, tokenAD(sc.InstanceID(), c.ID, "access"))
	if err == nil && c.Refresh != nil {
		_, err = s.keys.Open(*c.Refresh, tokenAD(sc.InstanceID(), c.ID, "refresh"))
	}
	if err != nil {
		s.log.ErrorContext(ctx, "connection tokens do not decrypt", "connection_id", c.ID, "key_id", c.Access.KeyID, "err", err)
		s.setStatus(ctx, sc, c.ID, StatusBroken)
		return Account{}, fmt.Errorf("connection %s: %w", c.ID, ErrBroken)
	}
	if c.AppID != "" {
		if acct.App, err = s.loadApp(ctx, sc, c.AppID); err != nil {
			return Account{}, err
		}
	}
	return acct, nil
}

func (s *Service) setStatus(ctx context.Context, sc tenant.Scope, id string, st Status) {
	changed, err := sc.Collection(connectionKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "status", Value: bson.D{{Key: "$ne", Value: st}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: st}, {Key: "updated_at", Value: s.timestamp()}}}})
	if err != nil {
		s.log.ErrorContext(ctx, "connection status not saved", "connection_id", id, "status", st, "err", err)
		return
	}
	if changed && st == StatusNeedsReconnect {
		s.tellReconnect(ctx, sc, id)
	}
}

// tellReconnect tells the member once that a connection needs them to
// connect it again (the API shows the state; the mail makes sure they
// learn it before their next share fails).
func (s *Service) tellReconnect(ctx context.Context, sc tenant.Scope, id string) {
	if s.notify == nil {
		return
	}
	var c Connection
	if err := sc.Collection(connectionKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &c); err != nil {
		return
	}
	subject := "Reconnect your " + networkTitle(c.Network) + " account in Chorus"
	text := "Chorus can no longer post to your " + networkTitle(c.Network) + " account " + c.Handle +
		": the network stopped accepting its authorisation.\n\nOpen Chorus, go to your profile and connect the account again.\n"
	if err := s.notify(context.WithoutCancel(ctx), sc, c.MemberID, subject, text); err != nil {
		s.log.WarnContext(ctx, "member not told to reconnect", "connection_id", id, "err", err)
	}
}

func networkTitle(n string) string {
	switch n {
	case X:
		return "X"
	case LinkedIn:
		return "LinkedIn"
	}
	if n == "" {
		return n
	}
	return strings.ToUpper(n[:1]) + n[1:]
}

// Account returns a usable account for connection id of the scope's
// instance (jobs call it with the connection ID of a share): the
// connection must be active (ErrDisabled, ErrReconnect, ErrBroken)
// and its network whitelisted (ErrNetworkNotAllowed), its server allowed
// (ErrServerNotAllowed). An access token
// about to expire is refreshed first, once per connection at a time.
func (s *Service) Account(ctx context.Context, sc tenant.Scope, id string) (Network, Account, error) {
	if !validID(id) {
		return nil, Account{}, ErrNotFound
	}
	var c Connection
	if err := sc.Collection(connectionKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &c); err != nil {
		return nil, Account{}, err
	}
	switch c.Status {
	case StatusActive:
	case StatusDisabled:
		return nil, Account{}, ErrDisabled
	case StatusBroken:
		return nil, Account{}, ErrBroken
	default:
		return nil, Account{}, ErrReconnect
	}
	n, err := s.network(c.Network)
	if err != nil {
		return nil, Account{}, err
	}
	wl, err := s.whitelisted(ctx, sc, c.Network)
	if err != nil {
		return nil, Account{}, err
	}
	if !wl.Config.serverAllowed(c.InstanceURL) {
		return nil, Account{}, ErrServerNotAllowed
	}
	acct, err := s.account(ctx, sc, c)
	if err != nil {
		return nil, Account{}, err
	}
	if c.ExpiresAt != nil && c.Refresh != nil && !c.ExpiresAt.After(s.now().Add(refreshMargin)) {
		if acct, err = s.refresh(ctx, sc, n, c.ID); err != nil {
			return nil, Account{}, err
		}
	}
	return n, acct, nil
}

// Publish posts through connection id, marking the connection
// needs_reconnect when the network refuses its token.
func (s *Service) Publish(ctx context.Context, sc tenant.Scope, id string, p Post) (Published, error) {
	n, acct, err := s.Account(ctx, sc, id)
	if err != nil {
		return Published{}, err
	}
	pub, err := n.Publish(ctx, acct, p)
	if errors.Is(err, ErrReconnect) {
		s.setStatus(ctx, sc, id, StatusNeedsReconnect)
	}
	return pub, err
}

// DeletePost deletes a post published through connection id.
func (s *Service) DeletePost(ctx context.Context, sc tenant.Scope, id, remoteID string) error {
	n, acct, err := s.Account(ctx, sc, id)
	if err != nil {
		return err
	}
	err = n.Delete(ctx, acct, remoteID)
	if errors.Is(err, ErrReconnect) {
		s.setStatus(ctx, sc, id, StatusNeedsReconnect)
	}
	return err
}
