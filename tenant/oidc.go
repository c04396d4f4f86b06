package tenant

// Sign-in with OpenID Connect against the deployment's global identity
// provider: the authorization code flow with PKCE (S256 only), state and
// nonce. What the flow needs between the redirect and the callback (nonce,
// PKCE verifier, issuer, intended instance) stays server-side in the global
// oidc_states collection, under the hash of the state, and is consumed once.
// The state is also bound to the browser that started the flow (a cookie
// whose hash the state document holds), so an attacker cannot complete
// their own sign-in in a victim's browser (login CSRF).
//
// Only verified claims count: email_verified (absent means false), Google's
// hd for a Google Workspace domain, Entra's xms_edov. Members are keyed by
// (issuer, subject) — Entra's by (tid, oid) — and an email address alone
// never links an identity to an existing member: that waits for an admin.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// OIDCProvider is an identity provider's client configuration.
type OIDCProvider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
}

// OIDCStateTTL is how long a started OIDC sign-in may take to come back.
const OIDCStateTTL = 10 * time.Minute

// collOIDCStates holds the server-side half of started OIDC sign-ins.
const collOIDCStates = "oidc_states"

// oidcCallbackPath is where the provider sends the browser back; it must be
// registered with the provider as BaseURL + this path.
const oidcCallbackPath = "/api/v1/auth/oidc/callback"

// oidcStartPath starts a sign-in with an identity provider.
const oidcStartPath = "/api/v1/auth/oidc/start"

// oidcHTTPTimeout bounds each request to the provider (discovery, keys,
// token exchange).
const oidcHTTPTimeout = 15 * time.Second

// Errors of OIDC sign-in. Problems maps them to problems.
var (
	// ErrOIDCDisabled: no identity provider is configured.
	ErrOIDCDisabled = errors.New("sign-in with an identity provider is not configured")
	// ErrInvalidState: a callback whose state is unknown, used, expired,
	// or was started in another browser.
	ErrInvalidState = errors.New("unknown, used or expired sign-in state")
	// ErrOIDCRefused: the provider answered the callback with an error or
	// refused to exchange the code (used code, PKCE mismatch).
	ErrOIDCRefused = errors.New("the identity provider refused the sign-in")
	// ErrInvalidIDToken: the ID token is missing, or fails the signature,
	// issuer, audience, expiry, nonce or at_hash checks.
	ErrInvalidIDToken = errors.New("invalid ID token")
	// ErrEmailUnverified: the provider does not vouch for the address (no
	// email_verified, no Google hd for the domain, no Entra xms_edov).
	ErrEmailUnverified = errors.New("the identity provider has not verified the email address")
	// ErrIdentityPending: the address belongs to a member who signs in with
	// other identities; an admin must approve this one first.
	ErrIdentityPending = errors.New("an admin must approve this new sign-in identity")
	// ErrWrongInstance: the sign-in started for one instance and came back
	// with an address of another.
	ErrWrongInstance = errors.New("the email address does not belong to this company's instance")
	// ErrOIDCUnavailable: the provider could not be reached.
	ErrOIDCUnavailable = errors.New("the identity provider is unavailable")
)

// oidcClient is the configured provider.
type oidcClient struct {
	issuer   string
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	http     *http.Client
	// endSession is the provider's end_session_endpoint, if discovery
	// names one (RP-initiated logout).
	endSession *url.URL
}

// oidcSlot holds the provider: EnableOIDC may run while requests are
// served.
type oidcSlot struct{ p atomic.Pointer[oidcClient] }

// EnableOIDC discovers the provider (its /.well-known/openid-configuration)
// and turns on /auth/oidc. Call it once at start, after NewService; the
// provider must accept BaseURL + /api/v1/auth/oidc/callback as redirect URI.
// It fails when the provider cannot be discovered or does not offer PKCE
// with S256.
func (s *Service) EnableOIDC(ctx context.Context, p OIDCProvider) error {
	if p.Issuer == "" || p.ClientID == "" || p.ClientSecret == "" {
		return errors.New("OIDC provider: issuer, client ID and client secret are all required")
	}
	c, err := s.discover(ctx, &http.Client{Timeout: oidcHTTPTimeout}, p)
	if err != nil {
		return err
	}
	s.oidc.p.Store(c)
	s.Log.InfoContext(ctx, "OIDC sign-in enabled", "issuer", p.Issuer)
	return nil
}

// discover fetches a provider's discovery document through hc and returns
// its client. It fails when the provider cannot be discovered, names
// another issuer, or lists its PKCE methods without S256.
func (s *Service) discover(ctx context.Context, hc *http.Client, p OIDCProvider) (*oidcClient, error) {
	if s.BaseURL == nil {
		return nil, errors.New("OIDC provider: the service has no base URL to receive the callback")
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), p.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover OIDC provider %s: %w", p.Issuer, err)
	}
	var meta struct {
		PKCEMethods []string `json:"code_challenge_methods_supported"`
		EndSession  string   `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("OIDC provider %s: %w", p.Issuer, err)
	}
	// Browsers are sent to these two endpoints from Chorus's own
	// addresses: one elsewhere would make Chorus an open redirect.
	if err := checkEndpoint(p.Issuer, "authorization_endpoint", provider.Endpoint().AuthURL); err != nil {
		return nil, err
	}
	if meta.EndSession != "" {
		if err := checkEndpoint(p.Issuer, "end_session_endpoint", meta.EndSession); err != nil {
			return nil, err
		}
	}
	// Some providers support PKCE without saying so; refuse only one that
	// lists its methods without S256.
	if len(meta.PKCEMethods) > 0 && !slices.Contains(meta.PKCEMethods, "S256") {
		return nil, fmt.Errorf("OIDC provider %s does not support PKCE with S256 (it offers %v)", p.Issuer, meta.PKCEMethods)
	}
	c := &oidcClient{
		issuer: p.Issuer,
		oauth: oauth2.Config{
			ClientID:     p.ClientID,
			ClientSecret: p.ClientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  s.BaseURL.JoinPath(oidcCallbackPath).String(),
			Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: p.ClientID, Now: s.Now}),
		http:     hc,
	}
	if meta.EndSession != "" {
		c.endSession, _ = url.Parse(meta.EndSession) // checked above
	}
	return c, nil
}

// endpointError is a discovery document naming a browser-facing endpoint
// away from the issuer's origin.
type endpointError struct {
	// Name is the discovery field, such as authorization_endpoint.
	Name string
	URL  string
}

func (e *endpointError) Error() string {
	return fmt.Sprintf("the discovery document's %s %q is not on the issuer's scheme and host", e.Name, e.URL)
}

// checkEndpoint accepts an endpoint on the issuer's origin: the same
// scheme, host and port (so http only for an http issuer, which only
// development allows), without user info. Google, Microsoft Entra, Okta,
// Auth0, Keycloak and Dex all serve their authorization and end-session
// endpoints on the issuer's host. Errors: *endpointError.
func checkEndpoint(issuer, name, raw string) error {
	iss, err := url.Parse(issuer)
	if err != nil {
		return fmt.Errorf("OIDC issuer %q: %w", issuer, err)
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" || !strings.EqualFold(u.Scheme, iss.Scheme) ||
		!strings.EqualFold(u.Hostname(), iss.Hostname()) || effectivePort(u) != effectivePort(iss) {
		return &endpointError{Name: name, URL: raw}
	}
	return nil
}

// effectivePort is u's port, the scheme's default when it names none.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// oidcState is the server-side half of a started sign-in, stored under the
// hash of the state parameter.
type oidcState struct {
	Hash string `bson:"_id"`
	// Browser is the hash of the binding cookie of the browser that
	// started the sign-in.
	Browser  string `bson:"browser"`
	Issuer   string `bson:"issuer"`
	Nonce    string `bson:"nonce"`
	Verifier string `bson:"verifier"`
	// InstanceID is the instance the sign-in is meant for, when known.
	InstanceID string `bson:"instance_id,omitempty"`
	// Provider is providerGlobal or the ID of the instance whose own
	// provider signs the person in.
	Provider  string    `bson:"provider,omitempty"`
	Used      bool      `bson:"used"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// oidcStart is a request to start an OIDC sign-in: exactly one of Email and
// InstanceID.
type oidcStart struct {
	Email      string
	InstanceID string
	IP         netip.Addr
	// Browser is the binding cookie's secret.
	Browser string
}

// startOIDC stores a new sign-in's state and returns the provider's
// authorization URL. An email must pass the domain policy and becomes the
// login hint; an instance must exist. The provider is the instance's own
// when it has one vouching for the email's domain (or, from an instance's
// login page, any), else the deployment's. Errors: ErrOIDCDisabled,
// ErrSSORequired, *ValidationError, ErrMalformedEmail, *DomainError,
// ErrNotFound (unknown instance), ErrOIDCUnavailable, *RateLimitError, or a
// store failure.
func (s *Service) startOIDC(ctx context.Context, in oidcStart) (string, error) {
	if s.oidc.p.Load() == nil && s.Keys == nil {
		return "", ErrOIDCDisabled // neither a global nor any instance's provider
	}
	var st oidcState
	var opts []oauth2.AuthCodeOption
	var domain string
	switch {
	case (in.Email == "") == (in.InstanceID == ""):
		return "", &ValidationError{Field: "email", Reason: "give either email or instance"}
	case in.Email != "":
		var addr string
		var err error
		addr, domain, err = s.Policy.ParseEmail(in.Email)
		if err != nil {
			return "", err
		}
		inst, err := s.Store.oidcDomainInstance(ctx, domain)
		if err != nil {
			return "", err
		}
		st.InstanceID = inst.ID
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", addr))
	default:
		inst, err := s.Store.instance(ctx, in.InstanceID)
		if err != nil {
			return "", err
		}
		st.InstanceID = inst.ID
	}
	if in.Browser == "" {
		return "", errors.New("start OIDC sign-in: no browser binding")
	}
	// Counted before the provider is picked: picking may discover an
	// instance's provider over the network.
	if err := s.limit(ctx, "oidc-ip:"+ipKey(in.IP), s.OIDCStartLimit, "sign-in attempts from this address"); err != nil {
		return "", err
	}
	c, provider, err := s.pickProvider(ctx, st.InstanceID, domain)
	if err != nil {
		return "", err
	}
	st.Provider = provider

	state := newSecret()
	now := s.Now().UTC()
	st.Hash = hashSecret(state)
	st.Browser = hashSecret(in.Browser)
	st.Issuer = c.issuer
	st.Nonce = newSecret()
	st.Verifier = oauth2.GenerateVerifier()
	st.CreatedAt = now
	st.ExpiresAt = now.Add(OIDCStateTTL)
	if _, err := s.Store.db.Collection(collOIDCStates).InsertOne(ctx, st); err != nil {
		return "", fmt.Errorf("store OIDC state: %w", storeErr(err))
	}
	opts = append(opts, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	return c.oauth.AuthCodeURL(state, opts...), nil
}

// pickProvider chooses the provider of a sign-in meant for an instance
// (none: "") from an address of domain (none: ""): the instance's own
// when it vouches for the domain, else the deployment's. An instance
// whose join policy is sso allows only its own.
func (s *Service) pickProvider(ctx context.Context, instanceID, domain string) (*oidcClient, string, error) {
	if instanceID != "" {
		c, rec, err := s.instanceClient(ctx, instanceID)
		switch {
		case err == nil && (domain == "" || slices.Contains(rec.Domains, domain)):
			return c, instanceID, nil
		case err != nil && !errors.Is(err, ErrNotFound):
			return nil, "", err
		}
		inst, err := s.Store.instance(ctx, instanceID)
		if err != nil {
			return nil, "", err
		}
		if inst.Settings.JoinPolicy == JoinSSO {
			return nil, "", ErrSSORequired
		}
	}
	c := s.oidc.p.Load()
	if c == nil {
		return nil, "", ErrOIDCDisabled
	}
	return c, providerGlobal, nil
}

// stateClient returns the client of the provider a sign-in started with,
// and the instance's provider record when it was an instance's.
func (s *Service) stateClient(ctx context.Context, st oidcState) (*oidcClient, *ssoRecord, error) {
	if st.Provider == providerGlobal || st.Provider == "" {
		c := s.oidc.p.Load()
		if c == nil {
			return nil, nil, ErrOIDCDisabled
		}
		return c, nil, nil
	}
	c, rec, err := s.instanceClient(ctx, st.Provider)
	if errors.Is(err, ErrNotFound) {
		// The instance removed its provider since the sign-in started.
		return nil, nil, ErrInvalidState
	} else if err != nil {
		return nil, nil, err
	}
	return c, &rec, nil
}

// oidcDomainInstance returns the instance a person of a normalised domain
// lands in, or the zero Instance when none does yet (an unverified added
// domain routes nobody, see domainClaim.routes). It creates nothing: a
// new domain's instance is created by the verified sign-in.
func (s *Store) oidcDomainInstance(ctx context.Context, domain string) (Instance, error) {
	claim, holder, ok, err := s.claimOwner(ctx, domain)
	if err != nil || !ok || !claim.routes(holder) {
		return Instance{}, err
	}
	return holder, nil
}

// oidcCallback is the provider's answer as it reached the callback.
type oidcCallback struct {
	State string
	Code  string
	// Error is the provider's error code, when it refused.
	Error string
	// Browser is the binding cookie's secret.
	Browser string
}

// signInWithOIDC completes a sign-in: it consumes the state, exchanges the
// code with the PKCE verifier, verifies the ID token, and starts a session
// for the member holding the identity, adding them (or the pending
// instance of a new domain) on a first sign-in. It ends the session of
// oldSecret, so a session is never carried over a sign-in, and returns the
// new session's secret. Errors: ErrOIDCDisabled, ErrInvalidState,
// ErrOIDCRefused, ErrInvalidIDToken, ErrEmailUnverified, *DomainError,
// ErrMalformedEmail, ErrWrongInstance, ErrIdentityPending, the join
// policy's errors, ErrOIDCUnavailable, or a store failure.
func (s *Service) signInWithOIDC(ctx context.Context, cb oidcCallback, oldSecret string) (string, error) {
	if s.oidc.p.Load() == nil && s.Keys == nil {
		return "", ErrOIDCDisabled
	}
	st, err := s.consumeOIDCState(ctx, cb.State, cb.Browser)
	if err != nil {
		return "", err
	}
	c, rec, err := s.stateClient(ctx, st)
	if err != nil {
		return "", err
	}
	if st.Issuer != c.issuer {
		// The provider was reconfigured since the sign-in started.
		return "", ErrInvalidState
	}
	switch {
	case cb.Error != "":
		return "", fmt.Errorf("%w: it answered %s", ErrOIDCRefused, oauthErrorCode(cb.Error))
	case cb.Code == "":
		return "", fmt.Errorf("%w: no code in the callback", ErrOIDCRefused)
	}
	tok, err := c.exchange(ctx, cb.Code, st.Verifier)
	if err != nil {
		return "", err
	}
	idt, err := c.verify(ctx, tok, st.Nonce)
	if err != nil {
		return "", err
	}
	var cl oidcClaims
	if err := idt.Claims(&cl); err != nil {
		return "", fmt.Errorf("%w: claims: %v", ErrInvalidIDToken, err)
	}
	who, err := oidcIdentify(idt.Issuer, idt.Subject, cl, s.Policy)
	if err != nil {
		return "", err
	}
	if rec != nil && !slices.Contains(rec.Domains, who.Domain) {
		// An instance's own provider vouches only for its domains.
		return "", fmt.Errorf("%w: the provider of instance %s does not vouch for %s", ErrWrongInstance, rec.InstanceID, who.Domain)
	}

	now := s.Now().UTC()
	sc, err := s.oidcInstance(ctx, st, who)
	if err != nil {
		return "", err
	}
	provider := providerGlobal
	if rec != nil {
		provider = rec.InstanceID
	}
	if sc.Instance().Settings.JoinPolicy == JoinSSO && provider != sc.InstanceID() {
		return "", ErrSSORequired
	}
	m, err := s.joinByOIDC(ctx, sc, who, now)
	if err != nil {
		return "", err
	}
	if len(sc.inst.Settings.AttributeClaims) > 0 {
		var all map[string]any
		if err := idt.Claims(&all); err != nil {
			return "", fmt.Errorf("%w: claims: %v", ErrInvalidIDToken, err)
		}
		if err := sc.applyClaims(ctx, m, all); err != nil {
			return "", err
		}
	}
	if err := sc.touchSignIn(ctx, m.ID, now); err != nil {
		return "", err
	}
	if err := s.Store.endSession(ctx, oldSecret); err != nil {
		return "", err
	}
	so := &sessionOIDC{Provider: provider}
	if raw, _ := tok.Extra("id_token").(string); raw != "" && s.Keys != nil {
		if sealed, err := s.Keys.Seal(Secret(raw), idTokenAD(sc.InstanceID(), m.ID)); err == nil {
			so.IDToken = &sealed
		}
	}
	secret, err := s.Store.createSession(ctx, sc.InstanceID(), m.ID, so)
	if err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "signed in", "tenant_id", sc.InstanceID(), "member_id", m.ID, "method", "oidc", "issuer", who.Issuer, "provider", provider)
	return secret, nil
}

// consumeOIDCState checks and uses up a state in one conditional update, so
// it works once even when two callbacks race, and only in the browser that
// started the sign-in.
func (s *Service) consumeOIDCState(ctx context.Context, state, browser string) (oidcState, error) {
	if state == "" || len(state) > 100 || browser == "" || len(browser) > 100 {
		return oidcState{}, ErrInvalidState
	}
	var st oidcState
	err := s.Store.db.Collection(collOIDCStates).FindOneAndUpdate(ctx,
		bson.D{
			{Key: "_id", Value: hashSecret(state)},
			{Key: "browser", Value: hashSecret(browser)},
			{Key: "used", Value: false},
			{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: s.Now().UTC()}}},
		},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}},
	).Decode(&st)
	switch err := storeErr(err); {
	case errors.Is(err, ErrNotFound):
		return oidcState{}, ErrInvalidState
	case err != nil:
		return oidcState{}, fmt.Errorf("consume OIDC state: %w", err)
	}
	return st, nil
}

// oauthErrorCode returns an OAuth error code fit for logs and problems:
// the provider's word for it, if it is a plain code.
func oauthErrorCode(code string) string {
	if len(code) > 40 || strings.Trim(code, "abcdefghijklmnopqrstuvwxyz_") != "" {
		return "an unexpected error"
	}
	return code
}

// exchange trades the code for tokens, proving PKCE with the verifier.
func (c *oidcClient) exchange(ctx context.Context, code, verifier string) (*oauth2.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := c.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err == nil {
		return tok, nil
	}
	// Only the error code: the provider's message may quote the request.
	if re := (*oauth2.RetrieveError)(nil); errors.As(err, &re) {
		if re.Response != nil && re.Response.StatusCode >= 500 {
			return nil, fmt.Errorf("%w: token endpoint answered %d", ErrOIDCUnavailable, re.Response.StatusCode)
		}
		return nil, fmt.Errorf("%w: the code exchange failed with %s", ErrOIDCRefused, oauthErrorCode(re.ErrorCode))
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("%w: token exchange: %v", ErrOIDCUnavailable, err)
}

// verify checks the ID token that came with tok: signature, issuer,
// audience and expiry (go-oidc), then the nonce of this sign-in and, when
// the token carries one, the access token's hash.
func (c *oidcClient) verify(ctx context.Context, tok *oauth2.Token, nonce string) (*oidc.IDToken, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no ID token", ErrInvalidIDToken)
	}
	idt, err := c.verifier.Verify(oidc.ClientContext(ctx, c.http), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidIDToken, err)
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, fmt.Errorf("%w: nonce mismatch", ErrInvalidIDToken)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidIDToken, err)
		}
	}
	return idt, nil
}

// oidcClaims are the ID token claims sign-in reads besides iss and sub.
type oidcClaims struct {
	Email         string    `json:"email"`
	EmailVerified claimBool `json:"email_verified"`
	Name          string    `json:"name"`
	// HD is Google's hosted domain: present only for Google Workspace
	// accounts, whose domain Google has verified.
	HD string `json:"hd"`
	// TID and OID are Entra's tenant and object IDs; XMSEdov says the
	// email's domain is verified by its owner in that tenant.
	TID     string    `json:"tid"`
	OID     string    `json:"oid"`
	XMSEdov claimBool `json:"xms_edov"`
}

// claimBool is a boolean claim: true or "true" are true; anything else,
// absent included, is false.
type claimBool bool

func (b *claimBool) UnmarshalJSON(p []byte) error {
	var v any
	if err := json.Unmarshal(p, &v); err != nil {
		return err
	}
	*b = claimBool(v == true || v == "true")
	return nil
}

// oidcIdentity is who a verified ID token says signed in.
type oidcIdentity struct {
	Identity
	// Email is the verified address, normalised, and Domain its domain.
	Email  string
	Domain string
	// Name is the display name the provider gave, or "".
	Name string
}

// Issuers with rules of their own.
const (
	googleIssuer = "https://accounts.google.com"
	entraHost    = "login.microsoftonline.com"
	entraV1Host  = "sts.windows.net"
)

// oidcIdentify decides, from a verified token's issuer, subject and claims,
// whose identity it is and which address the provider vouches for. Google
// vouches for a company domain only with hd equal to it; Entra identities
// are (tid, oid), the same for every application and token version, and
// Entra vouches for the address only with xms_edov; everyone else with
// email_verified. The address must then pass the domain policy.
func oidcIdentify(iss, sub string, cl oidcClaims, policy *DomainPolicy) (oidcIdentity, error) {
	if cl.Email == "" {
		return oidcIdentity{}, fmt.Errorf("%w: the ID token has no email", ErrEmailUnverified)
	}
	id := Identity{Issuer: iss, Subject: sub}
	google := isGoogleIssuer(iss)
	switch {
	case isEntraIssuer(iss):
		if cl.TID == "" || cl.OID == "" {
			return oidcIdentity{}, fmt.Errorf("%w: an Entra token without tid and oid", ErrInvalidIDToken)
		}
		if !cl.XMSEdov {
			return oidcIdentity{}, fmt.Errorf("%w: xms_edov is not true", ErrEmailUnverified)
		}
		id = Identity{Issuer: "https://" + entraHost + "/" + cl.TID + "/v2.0", Subject: cl.OID}
	case !bool(cl.EmailVerified):
		return oidcIdentity{}, fmt.Errorf("%w: email_verified is not true", ErrEmailUnverified)
	}
	if id.Issuer == "" || id.Subject == "" {
		return oidcIdentity{}, fmt.Errorf("%w: no issuer or subject", ErrInvalidIDToken)
	}
	addr, domain, err := policy.ParseEmail(cl.Email)
	if err != nil {
		return oidcIdentity{}, err
	}
	if google && domain != "gmail.com" && domain != "googlemail.com" {
		if hd, err := NormalizeDomain(cl.HD); err != nil || hd != domain {
			return oidcIdentity{}, fmt.Errorf("%w: a Google account without hd %s", ErrEmailUnverified, domain)
		}
	}
	return oidcIdentity{Identity: id, Email: addr, Domain: domain, Name: cl.Name}, nil
}

func isGoogleIssuer(iss string) bool {
	return iss == googleIssuer || iss == "accounts.google.com"
}

func isEntraIssuer(iss string) bool {
	u, err := url.Parse(iss)
	return err == nil && u.Scheme == "https" && (u.Host == entraHost || u.Host == entraV1Host)
}

// oidcInstance returns the instance a verified address signs in to: its
// domain's, created pending (with this address as admin-to-be) for a new
// domain. A sign-in started for a known instance must stay in it.
func (s *Service) oidcInstance(ctx context.Context, st oidcState, who oidcIdentity) (Scope, error) {
	if st.InstanceID != "" {
		// Nothing is created for a sign-in meant for a known instance.
		claim, holder, ok, err := s.Store.claimOwner(ctx, who.Domain)
		switch {
		case err != nil:
			return Scope{}, err
		case !ok || holder.ID != st.InstanceID || !claim.routes(holder):
			return Scope{}, ErrWrongInstance
		}
		return Scope{store: s.Store, inst: holder}, nil
	}
	inst, err := s.Store.instanceForDomain(ctx, who.Domain, who.Email)
	if err != nil {
		return Scope{}, err
	}
	return Scope{store: s.Store, inst: inst}, nil
}

// pendingIdentity is a sign-in identity waiting for an admin's approval,
// kept in the member document's pending_identities.
type pendingIdentity struct {
	Issuer  string    `bson:"issuer"`
	Subject string    `bson:"subject"`
	SeenAt  time.Time `bson:"seen_at"`
}

// memberByIdentity returns the member holding a sign-in identity. The
// query uses the identities index; the pairing of issuer and subject in one
// element is checked here, since FerretDB has no $elemMatch on fields.
func (sc Scope) memberByIdentity(ctx context.Context, id Identity) (Member, error) {
	var ms []Member
	err := sc.Collection(memberKind).Find(ctx, bson.D{
		{Key: "identities.issuer", Value: id.Issuer},
		{Key: "identities.subject", Value: id.Subject},
	}, &ms)
	if err != nil {
		return Member{}, err
	}
	for _, m := range ms {
		if slices.Contains(m.Identities, id) {
			return m, nil
		}
	}
	return Member{}, ErrNotFound
}

// joinByOIDC returns the member holding a verified OIDC identity, adding a
// new member on the first sign-in of an address (the instance's founder
// becomes its admin, everyone else an employee, as with joinByEmail). When
// the address belongs to a member who does not hold the identity, it
// records the identity as pending and returns ErrIdentityPending: an
// email alone never links an identity to a member.
func (s *Service) joinByOIDC(ctx context.Context, sc Scope, who oidcIdentity, now time.Time) (Member, error) {
	for attempt := 0; ; attempt++ {
		m, err := sc.memberByIdentity(ctx, who.Identity)
		if err == nil {
			return m, nil
		} else if !errors.Is(err, ErrNotFound) {
			return Member{}, err
		}
		m, err = sc.memberByEmail(ctx, who.Email)
		if err == nil {
			if err := sc.addPendingIdentity(ctx, m.ID, who.Identity, now); err != nil {
				return Member{}, err
			}
			s.Log.InfoContext(ctx, "sign-in identity recorded as pending an admin's approval", "tenant_id", sc.InstanceID(),
				"member_id", m.ID, "issuer", who.Issuer)
			return Member{}, ErrIdentityPending
		} else if !errors.Is(err, ErrNotFound) {
			return Member{}, err
		}
		if err := s.admit(ctx, sc, signInToken{}, who.Email, now); err != nil {
			return Member{}, err
		}
		role, err := sc.newMemberRole(ctx, who.Email)
		if err != nil {
			return Member{}, err
		}
		m = Member{
			ID:         httpapi.NewID(),
			Email:      who.Email,
			Name:       oidcDisplayName(who.Name, who.Email),
			Role:       role,
			Topics:     []string{},
			Identities: []Identity{who.Identity},
			CreatedAt:  now,
			LastSignIn: now,
		}
		switch err := sc.Collection(memberKind).Insert(ctx, m); {
		case errors.Is(err, ErrDuplicate) && attempt == 0:
			// The same address finished two sign-ins at once: look again.
			continue
		case err != nil:
			return Member{}, fmt.Errorf("add member: %w", err)
		}
		return m, sc.founderJoined(ctx, m)
	}
}

// addPendingIdentity records an identity waiting for approval on a member,
// once.
func (sc Scope) addPendingIdentity(ctx context.Context, memberID string, id Identity, now time.Time) error {
	var doc struct {
		Pending []pendingIdentity `bson:"pending_identities"`
	}
	if err := sc.Collection(memberKind).FindOne(ctx, bson.D{{Key: "_id", Value: memberID}}, &doc); err != nil {
		return err
	}
	for _, p := range doc.Pending {
		if p.Issuer == id.Issuer && p.Subject == id.Subject {
			return nil
		}
	}
	_, err := sc.Collection(memberKind).Update(ctx, bson.D{{Key: "_id", Value: memberID}},
		bson.D{{Key: "$push", Value: bson.D{{Key: "pending_identities", Value: pendingIdentity{Issuer: id.Issuer, Subject: id.Subject, SeenAt: now}}}}})
	return err
}

// oidcDisplayName is the provider's name for a new member when it is
// usable, else the address's local part.
func oidcDisplayName(name, email string) string {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxNameLen ||
		strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		local, _, _ := strings.Cut(email, "@")
		return local
	}
	return name
}
