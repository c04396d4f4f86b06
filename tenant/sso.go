package tenant

// An instance's own identity provider: configured by the instance's
// admins (issuer, client ID, client secret, the domains it vouches for),
// the secret kept encrypted under the keyring. The provider may vouch only
// for verified domains of its own instance; people of those domains then
// sign in through it, and under the join policy sso only through it.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// collSSO holds each instance's identity provider, under the instance ID.
const collSSO = "sso_providers"

// Errors of instance identity providers.
var (
	// ErrSSORequired: the instance signs people in only through its own
	// identity provider (join policy sso).
	ErrSSORequired = errors.New("this company signs in only through its identity provider")
	// ErrSSOInUse: the provider cannot go while the join policy is sso.
	ErrSSOInUse = errors.New("the join policy sso needs the identity provider")
	// ErrSSONotConfigured: the join policy sso without a provider.
	ErrSSONotConfigured = errors.New("the join policy sso needs the instance's own identity provider")
)

// IdPError says why an identity provider's configuration was refused
// (discovery failed, wrong issuer, no PKCE S256).
type IdPError struct{ Reason string }

func (e *IdPError) Error() string { return "identity provider: " + e.Reason }

// ssoRecord is an instance's identity provider as stored.
type ssoRecord struct {
	InstanceID string   `bson:"_id"`
	Issuer     string   `bson:"issuer"`
	ClientID   string   `bson:"client_id"`
	Secret     Sealed   `bson:"secret"`
	Domains    []string `bson:"domains"`
	// EndSession is the provider's end_session_endpoint at configuration.
	EndSession string    `bson:"end_session,omitempty"`
	UpdatedAt  time.Time `bson:"updated_at"`
}

// ssoAD binds a client secret to its instance and its client at its
// issuer: copied to another instance or client, it does not open.
func ssoAD(instanceID, issuer, clientID string) []byte {
	return []byte("chorus:sso\x00" + instanceID + "\x00" + issuer + "\x00" + clientID)
}

// SSOConfig is an instance's identity provider as its admins see it: the
// client secret never leaves the server.
type SSOConfig struct {
	Configured bool     `json:"configured"`
	Issuer     string   `json:"issuer,omitempty"`
	ClientID   string   `json:"client_id,omitempty"`
	HasSecret  bool     `json:"has_secret"`
	Domains    []string `json:"domains"`
	// RedirectURI is what to register at the provider.
	RedirectURI string `json:"redirect_uri"`
	// PostLogoutRedirectURI is what to register for logout, when the
	// provider ends its sessions too.
	PostLogoutRedirectURI string     `json:"post_logout_redirect_uri"`
	EndSessionSupported   bool       `json:"end_session_supported"`
	UpdatedAt             *time.Time `json:"updated_at,omitempty"`
}

// SSOUpdate configures an instance's identity provider. ClientSecret may
// be empty to keep the stored one, as long as issuer and client stay.
// Domains empty means every verified domain of the instance.
type SSOUpdate struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	Domains      []string
}

func (s *Service) ssoView(rec *ssoRecord) SSOConfig {
	v := SSOConfig{Domains: []string{}}
	if s.BaseURL != nil {
		v.RedirectURI = s.BaseURL.JoinPath(oidcCallbackPath).String()
		v.PostLogoutRedirectURI = s.BaseURL.JoinPath("/").String()
	}
	if rec == nil {
		return v
	}
	v.Configured, v.Issuer, v.ClientID, v.HasSecret = true, rec.Issuer, rec.ClientID, len(rec.Secret.Data) > 0
	v.Domains, v.EndSessionSupported = rec.Domains, rec.EndSession != ""
	at := rec.UpdatedAt
	v.UpdatedAt = &at
	return v
}

// ssoRecord returns an instance's identity provider; ErrNotFound if it has
// none.
func (s *Store) ssoRecord(ctx context.Context, instanceID string) (ssoRecord, error) {
	var rec ssoRecord
	err := s.db.Collection(collSSO).FindOne(ctx, bson.D{{Key: "_id", Value: instanceID}}).Decode(&rec)
	return rec, storeErr(err)
}

// SSO returns the scope's identity provider configuration (admins of a
// verified instance).
func (s *Service) SSO(ctx context.Context, sc Scope) (SSOConfig, error) {
	if err := RequireVerified(sc); err != nil {
		return SSOConfig{}, err
	}
	rec, err := s.Store.ssoRecord(ctx, sc.InstanceID())
	switch {
	case errors.Is(err, ErrNotFound):
		return s.ssoView(nil), nil
	case err != nil:
		return SSOConfig{}, err
	}
	return s.ssoView(&rec), nil
}

// maxIssuerLen bounds issuer URLs and client IDs.
const maxIssuerLen = 500

// checkIssuer validates an issuer URL: https (http only where the service
// allows it, for tests), a host, no user info, query or fragment.
func (s *Service) checkIssuer(raw string) (string, *ValidationError) {
	raw = strings.TrimSpace(raw)
	bad := &ValidationError{Field: "issuer", Reason: "must be the provider's https issuer URL, such as https://accounts.google.com"}
	if raw == "" || len(raw) > maxIssuerLen {
		return "", bad
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", bad
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && s.AllowHTTPIssuers) {
		return "", bad
	}
	return raw, nil
}

// ConfigureSSO stores the scope's identity provider (admins of a verified
// instance) after discovering it through the guarded IdP client, and
// returns the configuration as stored. Errors: ErrDomainUnverified,
// ValidationErrors (issuer, client_id, client_secret, domains — which must
// be verified domains of this instance), *IdPError when discovery fails,
// ErrNoKeys without a keyring, or a store failure. Audited.
func (s *Service) ConfigureSSO(ctx context.Context, sc Scope, by Member, u SSOUpdate) (SSOConfig, error) {
	if err := RequireVerified(sc); err != nil {
		return SSOConfig{}, err
	}
	if s.Keys == nil {
		return SSOConfig{}, ErrNoKeys
	}
	old, err := s.Store.ssoRecord(ctx, sc.InstanceID())
	if err != nil && !errors.Is(err, ErrNotFound) {
		return SSOConfig{}, err
	}
	var verr ValidationErrors
	issuer, ve := s.checkIssuer(u.Issuer)
	if ve != nil {
		verr = append(verr, ve)
	}
	clientID := strings.TrimSpace(u.ClientID)
	if clientID == "" || len(clientID) > maxIssuerLen {
		verr = append(verr, &ValidationError{Field: "client_id", Reason: "must be the client ID the provider gave Chorus"})
	}
	secret := u.ClientSecret
	keep := secret == "" && old.InstanceID != "" && old.Issuer == issuer && old.ClientID == clientID
	if len(secret) > 2000 || (secret == "" && !keep) {
		verr = append(verr, &ValidationError{Field: "client_secret", Reason: "give the client secret (it is kept only when issuer and client ID stay the same)"})
	}
	claims, err := s.Store.claims(ctx, bson.D{{Key: "instance_id", Value: sc.InstanceID()}})
	if err != nil {
		return SSOConfig{}, err
	}
	var verified []string
	for _, c := range claims {
		if c.Verified {
			verified = append(verified, c.Domain)
		}
	}
	domains := verified
	if len(u.Domains) > 0 {
		domains = nil
		for _, raw := range u.Domains {
			d, err := NormalizeDomain(raw)
			if err != nil || !slices.Contains(verified, d) {
				verr = append(verr, &ValidationError{Field: "domains", Reason: fmt.Sprintf("%q is not a verified domain of this instance: an instance's identity provider vouches only for its own verified domains", raw)})
				continue
			}
			if !slices.Contains(domains, d) {
				domains = append(domains, d)
			}
		}
	}
	if len(domains) == 0 && len(verr) == 0 {
		verr = append(verr, &ValidationError{Field: "domains", Reason: "name at least one verified domain"})
	}
	if len(verr) > 0 {
		return SSOConfig{}, verr
	}
	slices.Sort(domains)

	if keep {
		plain, err := s.Keys.Open(old.Secret, ssoAD(sc.InstanceID(), old.Issuer, old.ClientID))
		if err != nil {
			return SSOConfig{}, &ValidationError{Field: "client_secret", Reason: "the stored secret cannot be decrypted any more: give it again"}
		}
		secret = plain.Reveal()
	}
	c, err := s.discover(ctx, s.idpHTTP(), OIDCProvider{Issuer: issuer, ClientID: clientID, ClientSecret: secret})
	if err != nil {
		s.Log.InfoContext(ctx, "identity provider refused", "issuer", issuer, "err", err)
		return SSOConfig{}, &IdPError{Reason: idpReason(err)}
	}
	sealed, err := s.Keys.Seal(Secret(secret), ssoAD(sc.InstanceID(), issuer, clientID))
	if err != nil {
		return SSOConfig{}, err
	}
	rec := ssoRecord{InstanceID: sc.InstanceID(), Issuer: issuer, ClientID: clientID, Secret: sealed, Domains: domains,
		UpdatedAt: s.Now().UTC().Truncate(time.Millisecond)}
	if c.endSession != nil {
		rec.EndSession = c.endSession.String()
	}
	if _, err := s.Store.db.Collection(collSSO).ReplaceOne(ctx, bson.D{{Key: "_id", Value: rec.InstanceID}}, rec,
		options.Replace().SetUpsert(true)); err != nil {
		return SSOConfig{}, storeErr(err)
	}
	s.sso.forget(rec.InstanceID)
	if err := sc.Audit(ctx, MemberActor(by), "sso.configured", issuer, map[string]string{
		"client_id": clientID, "domains": strings.Join(domains, ","), "secret_changed": fmt.Sprint(!keep)}); err != nil {
		return SSOConfig{}, err
	}
	return s.ssoView(&rec), nil
}

// idpReason is what the admin is told when discovery fails: the cause
// without any response body.
func idpReason(err error) string {
	msg := err.Error()
	var ee *endpointError
	switch {
	case errors.As(err, &ee):
		return fmt.Sprintf("the discovery document's %s (%s) is not on the issuer's host: Chorus sends browsers only to the issuer's own https host", ee.Name, ee.URL)
	case strings.Contains(msg, "issuer did not match"):
		return "the discovery document names another issuer: give the issuer exactly as the provider spells it"
	case strings.Contains(msg, "PKCE"):
		return "the provider does not support PKCE with S256"
	case strings.Contains(msg, "not allowed"), strings.Contains(msg, "blocked"):
		return "the issuer's address is not reachable from Chorus (private, loopback and link-local addresses are refused)"
	}
	return "no OpenID Connect discovery document could be read at the issuer's /.well-known/openid-configuration"
}

// RemoveSSO deletes the scope's identity provider (admins of a verified
// instance); ErrSSOInUse while the join policy is sso. Audited.
func (s *Service) RemoveSSO(ctx context.Context, sc Scope, by Member) error {
	if err := RequireVerified(sc); err != nil {
		return err
	}
	if sc.Instance().Settings.JoinPolicy == JoinSSO {
		return ErrSSOInUse
	}
	res, err := s.Store.db.Collection(collSSO).DeleteOne(ctx, bson.D{{Key: "_id", Value: sc.InstanceID()}})
	if err != nil {
		return storeErr(err)
	}
	s.sso.forget(sc.InstanceID())
	if res.DeletedCount == 0 {
		return nil
	}
	return sc.Audit(ctx, MemberActor(by), "sso.removed", "", nil)
}

// idpHTTP is the client for instances' identity providers: the guarded
// one cmd configures (no private addresses), else a plain one.
func (s *Service) idpHTTP() *http.Client {
	if s.IdPHTTPClient != nil {
		return s.IdPHTTPClient
	}
	return &http.Client{Timeout: oidcHTTPTimeout}
}

// ssoClients caches instances' discovered providers, each valid for the
// configuration it was built from.
type ssoClients struct {
	mu sync.Mutex
	m  map[string]ssoCached
}

type ssoCached struct {
	updatedAt time.Time
	client    *oidcClient
}

func (c *ssoClients) get(id string, at time.Time) *oidcClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok && e.updatedAt.Equal(at) {
		return e.client
	}
	return nil
}

func (c *ssoClients) put(id string, at time.Time, cl *oidcClient) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]ssoCached{}
	}
	c.m[id] = ssoCached{updatedAt: at, client: cl}
}

func (c *ssoClients) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// instanceClient returns the client of an instance's identity provider and
// its record; ErrNotFound when the instance has none, ErrOIDCUnavailable
// when it cannot be discovered now.
func (s *Service) instanceClient(ctx context.Context, instanceID string) (*oidcClient, ssoRecord, error) {
	if s.Keys == nil {
		return nil, ssoRecord{}, ErrNotFound
	}
	rec, err := s.Store.ssoRecord(ctx, instanceID)
	if err != nil {
		return nil, ssoRecord{}, err
	}
	if c := s.sso.get(instanceID, rec.UpdatedAt); c != nil {
		return c, rec, nil
	}
	secret, err := s.Keys.Open(rec.Secret, ssoAD(instanceID, rec.Issuer, rec.ClientID))
	if err != nil {
		return nil, ssoRecord{}, fmt.Errorf("%w: the client secret of %s cannot be decrypted: %v", ErrOIDCUnavailable, rec.Issuer, err)
	}
	c, err := s.discover(ctx, s.idpHTTP(), OIDCProvider{Issuer: rec.Issuer, ClientID: rec.ClientID, ClientSecret: secret.Reveal()})
	if err != nil {
		return nil, ssoRecord{}, fmt.Errorf("%w: %v", ErrOIDCUnavailable, err)
	}
	s.sso.put(instanceID, rec.UpdatedAt, c)
	return c, rec, nil
}

// ssoAvailable reports whether people of an instance can sign in with an
// identity provider: its own, or the deployment's.
func (s *Service) ssoAvailable(ctx context.Context, instanceID string) (instance, global bool) {
	if s.Keys != nil {
		if _, err := s.Store.ssoRecord(ctx, instanceID); err == nil {
			instance = true
		}
	}
	return instance, s.oidc.p.Load() != nil
}

func (h *Handlers) getSSO(c *gin.Context, sc Scope, _ Member) error {
	v, err := h.svc.SSO(c.Request.Context(), sc)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

func (h *Handlers) putSSO(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Issuer       string   `json:"issuer"`
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		Domains      []string `json:"domains"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	v, err := h.svc.ConfigureSSO(c.Request.Context(), sc, me, SSOUpdate{Issuer: in.Issuer, ClientID: in.ClientID,
		ClientSecret: in.ClientSecret, Domains: in.Domains})
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

func (h *Handlers) deleteSSO(c *gin.Context, sc Scope, me Member) error {
	if err := h.svc.RemoveSSO(c.Request.Context(), sc, me); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// endSessionURL returns where to send the browser so the identity provider
// that signed the session of secret in ends its own session too: its
// end_session_endpoint with client_id, post_logout_redirect_uri (the app)
// and, when kept, id_token_hint. "" when the session did not come from a
// provider or the provider offers no end-session endpoint.
func (s *Service) endSessionURL(ctx context.Context, secret string) string {
	ses, err := s.Store.liveSession(ctx, secret)
	if err != nil || ses.OIDC == nil {
		return ""
	}
	var c *oidcClient
	if ses.OIDC.Provider == providerGlobal {
		c = s.oidc.p.Load()
	} else if ic, _, err := s.instanceClient(ctx, ses.OIDC.Provider); err == nil {
		c = ic
	}
	if c == nil || c.endSession == nil {
		return ""
	}
	u := *c.endSession
	q := u.Query()
	q.Set("client_id", c.oauth.ClientID)
	if s.BaseURL != nil {
		q.Set("post_logout_redirect_uri", s.BaseURL.JoinPath("/").String())
	}
	if ses.OIDC.IDToken != nil && s.Keys != nil {
		if raw, err := s.Keys.Open(*ses.OIDC.IDToken, idTokenAD(ses.InstanceID, ses.MemberID)); err == nil {
			q.Set("id_token_hint", raw.Reveal())
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// RotateSSOSecrets re-encrypts every instance's identity provider secret
// under the keyring's current key (chorus keys rotate). It returns how
// many it re-encrypted, how many were on the current key already, and how
// many no key of the ring opens (left as they are: keep the old key).
// A secret changed meanwhile by its admins is left to that change.
func (s *Store) RotateSSOSecrets(ctx context.Context, keys *Keyring) (rotated, current, broken int, err error) {
	if keys == nil {
		return 0, 0, 0, ErrNoKeys
	}
	cur, err := s.db.Collection(collSSO).Find(ctx, bson.D{})
	if err != nil {
		return 0, 0, 0, storeErr(err)
	}
	var recs []ssoRecord
	if err := cur.All(ctx, &recs); err != nil {
		return 0, 0, 0, storeErr(err)
	}
	for _, rec := range recs {
		if rec.Secret.KeyID == keys.Current() {
			current++
			continue
		}
		ad := ssoAD(rec.InstanceID, rec.Issuer, rec.ClientID)
		plain, err := keys.Open(rec.Secret, ad)
		if err != nil {
			broken++
			s.log.WarnContext(ctx, "identity provider secret undecryptable", "tenant_id", rec.InstanceID, "key_id", rec.Secret.KeyID)
			continue
		}
		sealed, err := keys.Seal(plain, ad)
		if err != nil {
			return rotated, current, broken, err
		}
		if _, err := s.db.Collection(collSSO).UpdateOne(ctx,
			bson.D{{Key: "_id", Value: rec.InstanceID}, {Key: "secret.key_id", Value: rec.Secret.KeyID}, {Key: "updated_at", Value: rec.UpdatedAt}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "secret", Value: sealed}}}}); err != nil {
			return rotated, current, broken, storeErr(err)
		}
		rotated++
	}
	return rotated, current, broken, nil
}
