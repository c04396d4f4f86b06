package social

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
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
	c := Connection{ID: httpapi.NewID(), MemberID: me.ID, Network: network, RemoteID: prof.RemoteID, Handle: prof.Handle,
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
	if !httpapi.ValidID(id) {
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
	if !httpapi.ValidID(id) {
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

// ConnectedMembers returns the members who have at least one active
// connection now, through the {status, expires_at} index: one document
// per active connection, a handful per member at most.
func ConnectedMembers(ctx context.Context, sc tenant.Scope) (map[string]bool, error) {
	var cs []struct {
		MemberID string `bson:"member_id"`
	}
	err := sc.Collection(connectionKind).Find(ctx, bson.D{{Key: "status", Value: StatusActive}}, &cs,
		options.Find().SetProjection(bson.D{{Key: "member_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(cs))
	for _, c := range cs {
		out[c.MemberID] = true
	}
	return out, nil
}
