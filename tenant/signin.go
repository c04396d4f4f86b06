package tenant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// SignInLinkTTL is how long a sign-in link works.
const SignInLinkTTL = 15 * time.Minute

// Config configures the Service.
type Config struct {
	Store  *Store
	Policy *DomainPolicy
	Mailer Mailer
	// BaseURL is the public URL of the deployment; links point there and
	// the session cookie is Secure unless it is plain-http localhost.
	BaseURL *url.URL
	Log     *slog.Logger
	Now     func() time.Time
	// Limits on sign-in mails per address and per client IP (IPv6 by /64).
	AddressLimit Limit
	IPLimit      Limit
	// OIDCStartLimit limits OIDC sign-in starts per client IP (IPv6 by
	// /64); each start stores a state for OIDCStateTTL.
	OIDCStartLimit Limit
	// DevMailbox, when set, is served at /api/v1/dev/mail.
	DevMailbox *DevMailbox
	// CheckTopics validates the topics a member follows and returns them
	// cleaned; content provides it (tenant knows no topics). Nil refuses
	// any topic.
	CheckTopics func(ctx context.Context, sc Scope, topics []string) ([]string, error)
	// Resolver looks up domains' TXT records for verification; nil uses
	// the system resolver.
	Resolver TXTResolver
	// OperatorToken authorises the operator API (/ops/v1); empty turns it off.
	OperatorToken string
	// BaseDomain, when set, gives instances login pages at
	// <subdomain>.<BaseDomain>.
	BaseDomain string
	// Keys encrypt instances' identity provider client secrets and the ID
	// tokens kept for logout; nil: instances cannot configure a provider.
	Keys *Keyring
	// IdPHTTPClient reaches instances' identity providers, which admins
	// name: cmd gives it the guarded client (no private addresses). Nil: a
	// plain client.
	IdPHTTPClient *http.Client
	// AllowHTTPIssuers lets instances configure http:// issuers (tests).
	AllowHTTPIssuers bool
}

// Service signs people in and resolves requests to their member and
// instance.
type Service struct {
	Config
	cookie cookieSpec
	// oidc is the global identity provider, once EnableOIDC has run.
	oidc oidcSlot
	// sso caches instances' own identity providers.
	sso ssoClients
	// privacy erases removed members (set by NewPrivacy).
	privacy *Privacy
}

// NewService returns a Service; the zero limits mean unlimited.
func NewService(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	return &Service{Config: cfg, cookie: cookieFor(cfg.BaseURL)}
}

// signInToken is a one-time sign-in link, stored under its hash.
type signInToken struct {
	Hash      string    `bson:"_id"`
	Email     string    `bson:"email"`
	Used      bool      `bson:"used"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
	// InstanceID and InvitationID are set on an invitation's link.
	InstanceID   string `bson:"instance_id,omitempty"`
	InvitationID string `bson:"invitation_id,omitempty"`
}

// RequestEmailLink mails a one-time sign-in link to email. It answers the
// same whether or not the person is known. Errors: ErrMalformedEmail,
// *DomainError, ErrSSORequired (the domain's instance signs in only
// through its identity provider), *RateLimitError, or a failure to store
// or send.
func (s *Service) RequestEmailLink(ctx context.Context, email string, ip netip.Addr) error {
	addr, domain, err := s.Policy.ParseEmail(email)
	if err != nil {
		return err
	}
	if err := s.refuseEmailUnderSSO(ctx, domain); err != nil {
		return err
	}
	if err := s.limit(ctx, "signin-ip:"+ipKey(ip), s.IPLimit, "sign-in requests from this address"); err != nil {
		return err
	}
	if err := s.limit(ctx, "signin-email:"+hashSecret(mailboxKey(addr)), s.AddressLimit, "sign-in mails for this email address"); err != nil {
		return err
	}

	secret := newSecret()
	now := s.Now().UTC()
	tok := signInToken{Hash: hashSecret(secret), Email: addr, CreatedAt: now, ExpiresAt: now.Add(SignInLinkTTL)}
	if _, err := s.Store.db.Collection(collSignIn).InsertOne(ctx, tok); err != nil {
		return fmt.Errorf("store sign-in link: %w", storeErr(err))
	}
	link := s.BaseURL.JoinPath("/api/v1/auth/email/callback")
	link.RawQuery = url.Values{"token": {secret}}.Encode()
	m := Mail{
		To:      addr,
		Subject: "Your Chorus sign-in link",
		Text: "Open this link to sign in to Chorus:\n\n" + link.String() +
			"\n\nIt works once, for 15 minutes. If you did not ask for it, ignore this mail.\n",
		Link: link.String(),
	}
	if err := s.Mailer.Send(ctx, m); err != nil {
		return fmt.Errorf("mail sign-in link: %w", err)
	}
	return nil
}

// refuseEmailUnderSSO returns ErrSSORequired when the instance owning
// domain signs people in only through its identity provider.
func (s *Service) refuseEmailUnderSSO(ctx context.Context, domain string) error {
	inst, err := s.Store.oidcDomainInstance(ctx, domain)
	if err != nil {
		return err
	}
	if inst.Settings.JoinPolicy == JoinSSO {
		return ErrSSORequired
	}
	return nil
}

func (s *Service) limit(ctx context.Context, key string, l Limit, what string) error {
	ok, wait, err := s.Store.allow(ctx, key, l)
	if err != nil {
		return err
	}
	if !ok {
		return &RateLimitError{What: what, RetryAfter: wait}
	}
	return nil
}

// mailboxKey is the rate-limit key of a normalised address: the mailbox
// that receives its mail. Mail servers deliver local+tag to local, and
// many ignore dots in the local part, so both are folded: otherwise
// victim+1@, victim+2@ … would each get the whole limit of mails into one
// mailbox. Two people whose addresses differ only by dots share a limit,
// which costs them nothing but patience.
func mailboxKey(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok {
		return addr
	}
	local, _, _ = strings.Cut(local, "+")
	return strings.ReplaceAll(local, ".", "") + "@" + domain
}

// ipKey is the rate-limit key of a client address: IPv6 clients usually
// hold a whole /64.
func ipKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// PeekEmailLink returns the address a sign-in (or invitation) link signs
// in, without consuming it or touching any session: the link in the mail
// only leads to the web app's confirmation page, so mail scanners that
// fetch it leave it working and a cross-site GET changes nobody's session.
// Unknown, used or expired links are ErrInvalidToken.
func (s *Service) PeekEmailLink(ctx context.Context, token string) (string, error) {
	if token == "" || len(token) > 100 {
		return "", ErrInvalidToken
	}
	var tok signInToken
	err := s.Store.db.Collection(collSignIn).FindOne(ctx, bson.D{{Key: "_id", Value: hashSecret(token)}, {Key: "used", Value: false},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: s.Now().UTC()}}}}).Decode(&tok)
	switch err := storeErr(err); {
	case errors.Is(err, ErrNotFound):
		return "", ErrInvalidToken
	case err != nil:
		return "", fmt.Errorf("read sign-in link: %w", err)
	}
	return tok.Email, nil
}

// SignInWithEmailLink consumes a sign-in link and starts a session,
// creating the pending instance of a new domain (whose first member is its
// admin-to-be) or joining the existing one. It ends the session of
// oldSecret, if any, so a session is never carried over a sign-in. It
// returns the new session's secret, or ErrInvalidToken.
func (s *Service) SignInWithEmailLink(ctx context.Context, token, oldSecret string) (string, error) {
	if token == "" || len(token) > 100 {
		return "", ErrInvalidToken
	}
	now := s.Now().UTC()
	var tok signInToken
	// One conditional update both checks and consumes the link, so it
	// works once even when two requests race.
	err := s.Store.db.Collection(collSignIn).FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: hashSecret(token)}, {Key: "used", Value: false}, {Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}},
	).Decode(&tok)
	switch err := storeErr(err); {
	case errors.Is(err, ErrNotFound):
		return "", ErrInvalidToken
	case err != nil:
		return "", fmt.Errorf("consume sign-in link: %w", err)
	}
	// The lists may have changed since the link was sent.
	addr, domain, err := s.Policy.ParseEmail(tok.Email)
	if err != nil {
		return "", err
	}
	sc, err := s.instanceOf(ctx, tok, domain, addr)
	if err != nil {
		return "", err
	}
	if sc.Instance().Settings.JoinPolicy == JoinSSO {
		// The policy may have changed since the link was sent.
		return "", ErrSSORequired
	}
	if err := s.admit(ctx, sc, tok, addr, now); err != nil {
		return "", err
	}
	inst := sc.Instance()
	m, err := sc.joinByEmail(ctx, addr, now)
	if err != nil {
		return "", err
	}
	if err := sc.touchSignIn(ctx, m.ID, now); err != nil {
		return "", err
	}
	if err := s.Store.endSession(ctx, oldSecret); err != nil {
		return "", err
	}
	secret, err := s.Store.createSession(ctx, inst.ID, m.ID, nil)
	if err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "signed in", "tenant_id", inst.ID, "member_id", m.ID, "method", "email")
	return secret, nil
}

// instanceOf returns the instance a sign-in lands in: the inviting one for
// an invitation's link (while it still owns the verified domain), else the
// domain's, created pending for a new domain.
func (s *Service) instanceOf(ctx context.Context, tok signInToken, domain, addr string) (Scope, error) {
	if tok.InstanceID == "" {
		inst, err := s.Store.instanceForDomain(ctx, domain, addr)
		if err != nil {
			return Scope{}, err
		}
		return Scope{store: s.Store, inst: inst}, nil
	}
	sc, err := s.Store.Open(ctx, tok.InstanceID)
	if err != nil {
		return Scope{}, ErrInvitationClosed
	}
	if c, err := s.Store.claimOf(ctx, sc, domain); err != nil || !c.Verified {
		return Scope{}, ErrInvitationClosed
	}
	return sc, nil
}

// admit applies the instance's join policy to a person signing in: an
// invitation's link accepts it; under the invite policy a newcomer needs
// an open invitation.
func (s *Service) admit(ctx context.Context, sc Scope, tok signInToken, addr string, now time.Time) error {
	if tok.InvitationID != "" {
		return sc.acceptInvitation(ctx, tok.InvitationID)
	}
	if sc.Instance().Settings.JoinPolicy != JoinInvite {
		return nil
	}
	switch _, err := sc.memberByEmail(ctx, addr); {
	case err == nil:
		return nil
	case !errors.Is(err, ErrNotFound):
		return err
	}
	ok, err := sc.invited(ctx, addr, now)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotInvited
	}
	return nil
}

// Authenticate resolves a session secret to the member's scope and
// member. It returns ErrNoSession when the session is unknown or expired,
// or its member no longer exists.
//
// The three come from the process's cache (see authCache): sign-out,
// session revocation, role changes, removals and instance changes made in
// this process hold for its next request; those made by another process
// within DefaultAuthCacheTTL (StoreConfig.AuthCacheTTL).
func (s *Service) Authenticate(ctx context.Context, secret string) (Scope, Member, error) {
	ses, err := s.Store.cachedSession(ctx, secret)
	if err != nil {
		return Scope{}, Member{}, err
	}
	inst, err := s.Store.cachedInstance(ctx, ses.InstanceID)
	if errors.Is(err, ErrNotFound) {
		return Scope{}, Member{}, ErrNoSession
	} else if err != nil {
		return Scope{}, Member{}, fmt.Errorf("open instance %s: %w", ses.InstanceID, err)
	}
	sc := Scope{store: s.Store, inst: inst}
	m, err := sc.cachedMember(ctx, ses.MemberID)
	if errors.Is(err, ErrNotFound) {
		return Scope{}, Member{}, ErrNoSession
	} else if err != nil {
		return Scope{}, Member{}, err
	}
	return sc, m, nil
}

// SignOut ends the session of secret.
func (s *Service) SignOut(ctx context.Context, secret string) error {
	return s.Store.endSession(ctx, secret)
}

// cookieSpec is how the session cookie is named and flagged.
type cookieSpec struct {
	name   string
	secure bool
}

// cookieFor returns a __Host- Secure cookie, except for plain-http
// localhost development, where browsers would drop a Secure cookie.
func cookieFor(base *url.URL) cookieSpec {
	if base != nil && base.Scheme == "http" && IsLoopbackHost(base.Hostname()) {
		return cookieSpec{name: "chorus_session", secure: false}
	}
	return cookieSpec{name: "__Host-chorus_session", secure: true}
}

// IsLoopbackHost reports whether host is localhost or a loopback address.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// withLogIDs adds the instance and member to ctx's log attributes.
func withLogIDs(ctx context.Context, sc Scope, m Member) context.Context {
	return httpapi.WithLogAttrs(ctx, slog.String("tenant_id", sc.InstanceID()), slog.String("member_id", m.ID))
}
