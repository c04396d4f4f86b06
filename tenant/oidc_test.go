package tenant

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/coreos/go-oidc/v3/oidc/oidctest"
	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/oauth2"

	dex "github.com/chorushq/chorus/tenant/oidctest"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

func TestOIDCIdentify(t *testing.T) {
	const (
		iss      = "https://idp.example"
		entraIss = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
	)
	policy := newDomainPolicy(t)
	tests := []struct {
		name    string
		iss     string
		claims  oidcClaims
		want    oidcIdentity
		wantErr error
	}{
		{
			name:   "verified address",
			iss:    iss,
			claims: oidcClaims{Email: "Alice@ACME.example", EmailVerified: true, Name: "Alice A."},
			want:   oidcIdentity{Identity: Identity{Issuer: iss, Subject: "sub-1"}, Email: "alice@acme.example", Domain: "acme.example", Name: "Alice A."},
		},
		{name: "email_verified false", iss: iss, claims: oidcClaims{Email: "alice@acme.example"}, wantErr: ErrEmailUnverified},
		{name: "no email", iss: iss, claims: oidcClaims{EmailVerified: true}, wantErr: ErrEmailUnverified},
		{name: "freemail", iss: iss, claims: oidcClaims{Email: "alice@gmail.com", EmailVerified: true}, wantErr: &DomainError{}},
		{
			name:   "Google Workspace with hd",
			iss:    "https://accounts.google.com",
			claims: oidcClaims{Email: "alice@acme.example", EmailVerified: true, HD: "acme.example"},
			want:   oidcIdentity{Identity: Identity{Issuer: "https://accounts.google.com", Subject: "sub-1"}, Email: "alice@acme.example", Domain: "acme.example"},
		},
		{
			// A consumer Google account can carry any verified address;
			// only hd says Google vouches for the company's domain.
			name:    "Google without hd",
			iss:     "https://accounts.google.com",
			claims:  oidcClaims{Email: "alice@acme.example", EmailVerified: true},
			wantErr: ErrEmailUnverified,
		},
		{
			name:    "Google with another domain's hd",
			iss:     "accounts.google.com",
			claims:  oidcClaims{Email: "alice@acme.example", EmailVerified: true, HD: "globex.example"},
			wantErr: ErrEmailUnverified,
		},
		{
			name:    "Google hd without email_verified",
			iss:     "https://accounts.google.com",
			claims:  oidcClaims{Email: "alice@acme.example", HD: "acme.example"},
			wantErr: ErrEmailUnverified,
		},
		{
			name:   "Entra with xms_edov: keyed by tid and oid",
			iss:    entraIss,
			claims: oidcClaims{Email: "alice@acme.example", TID: "9188040d-6c67-4c5b-b112-36a304b66dad", OID: "oid-7", XMSEdov: true},
			want: oidcIdentity{
				Identity: Identity{Issuer: entraIss, Subject: "oid-7"},
				Email:    "alice@acme.example", Domain: "acme.example",
			},
		},
		{
			name:   "Entra v1 issuer gives the same identity",
			iss:    "https://sts.windows.net/9188040d-6c67-4c5b-b112-36a304b66dad/",
			claims: oidcClaims{Email: "alice@acme.example", TID: "9188040d-6c67-4c5b-b112-36a304b66dad", OID: "oid-7", XMSEdov: true},
			want: oidcIdentity{
				Identity: Identity{Issuer: entraIss, Subject: "oid-7"},
				Email:    "alice@acme.example", Domain: "acme.example",
			},
		},
		{
			name:    "Entra without xms_edov",
			iss:     entraIss,
			claims:  oidcClaims{Email: "alice@acme.example", EmailVerified: true, TID: "t", OID: "o"},
			wantErr: ErrEmailUnverified,
		},
		{
			name:    "Entra without oid",
			iss:     entraIss,
			claims:  oidcClaims{Email: "alice@acme.example", TID: "t", XMSEdov: true},
			wantErr: ErrInvalidIDToken,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oidcIdentify(tt.iss, "sub-1", tt.claims, policy)
			if tt.wantErr != nil {
				var de *DomainError
				if errors.As(tt.wantErr, &de) {
					if !errors.As(err, &de) {
						t.Fatalf("got %+v, %v; want a *DomainError", got, err)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got %+v, %v; want %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOIDCClaimBool(t *testing.T) {
	tests := []struct {
		json string
		want bool
	}{
		{`{"email_verified": true}`, true},
		{`{"email_verified": "true"}`, true},
		{`{"email_verified": false}`, false},
		{`{"email_verified": "false"}`, false},
		{`{"email_verified": 1}`, false},
		{`{"email_verified": null}`, false},
		{`{}`, false},
	}
	for _, tt := range tests {
		var cl oidcClaims
		if err := json.Unmarshal([]byte(tt.json), &cl); err != nil {
			t.Fatalf("%s: %v", tt.json, err)
		}
		if got := bool(cl.EmailVerified); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.json, got, tt.want)
		}
	}
}

// testIDTokens signs ID tokens the way a provider would, for a client whose
// verifier trusts only key.
type testIDTokens struct {
	key    *rsa.PrivateKey
	client *oidcClient
	now    time.Time
}

func newTestIDTokens(t *testing.T) *testIDTokens {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	ks := &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{key.Public()}}
	return &testIDTokens{
		key:    key,
		now:    now,
		client: &oidcClient{issuer: "https://idp.example", verifier: oidc.NewVerifier("https://idp.example", ks, &oidc.Config{ClientID: "chorus", Now: func() time.Time { return now }})},
	}
}

// token returns a token response whose ID token has the standard claims,
// changed by edit.
func (p *testIDTokens) token(t *testing.T, key *rsa.PrivateKey, accessToken string, edit func(map[string]any)) *oauth2.Token {
	t.Helper()
	claims := map[string]any{
		"iss": "https://idp.example", "aud": "chorus", "sub": "sub-1",
		"iat": p.now.Unix(), "exp": p.now.Add(time.Hour).Unix(),
		"nonce": "the-nonce", "email": "alice@acme.example", "email_verified": true,
	}
	if edit != nil {
		edit(claims)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	raw := oidctest.SignIDToken(key, "k1", oidc.RS256, string(b))
	return (&oauth2.Token{AccessToken: accessToken, TokenType: "Bearer"}).WithExtra(map[string]any{"id_token": raw})
}

func atHash(accessToken string) string {
	h := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(h[:len(h)/2])
}

func TestOIDCVerifyIDToken(t *testing.T) {
	p := newTestIDTokens(t)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     *rsa.PrivateKey
		edit    func(map[string]any)
		noToken bool
		wantErr bool
	}{
		{name: "valid"},
		{name: "valid with at_hash", edit: func(c map[string]any) { c["at_hash"] = atHash("access-1") }},
		{name: "missing nonce", edit: func(c map[string]any) { delete(c, "nonce") }, wantErr: true},
		{name: "wrong nonce", edit: func(c map[string]any) { c["nonce"] = "another-nonce" }, wantErr: true},
		{name: "empty nonce", edit: func(c map[string]any) { c["nonce"] = "" }, wantErr: true},
		{name: "at_hash of another access token", edit: func(c map[string]any) { c["at_hash"] = atHash("access-2") }, wantErr: true},
		{name: "another audience", edit: func(c map[string]any) { c["aud"] = "someone-else" }, wantErr: true},
		{name: "another issuer", edit: func(c map[string]any) { c["iss"] = "https://evil.example" }, wantErr: true},
		{name: "expired", edit: func(c map[string]any) { c["exp"] = p.now.Add(-time.Minute).Unix() }, wantErr: true},
		{name: "signed by another key", key: otherKey, wantErr: true},
		{name: "no ID token", noToken: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			if key == nil {
				key = p.key
			}
			tok := p.token(t, key, "access-1", tt.edit)
			if tt.noToken {
				tok = &oauth2.Token{AccessToken: "access-1"}
			}
			idt, err := p.client.verify(t.Context(), tok, "the-nonce")
			switch {
			case tt.wantErr && !errors.Is(err, ErrInvalidIDToken):
				t.Fatalf("got %v, want ErrInvalidIDToken", err)
			case !tt.wantErr && err != nil:
				t.Fatalf("got %v, want a verified token", err)
			case !tt.wantErr && idt.Subject != "sub-1":
				t.Errorf("subject %q, want sub-1", idt.Subject)
			}
		})
	}
}

func TestOIDCDisplayName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"Alice Example", "Alice Example"},
		{"  Alice \t Example ", "Alice Example"},
		{"", "alice"},
		{"bad\x00name", "alice"},
		{string(make([]rune, 101)), "alice"},
		{"\xff", "alice"},
	}
	for _, tt := range tests {
		if got := oidcDisplayName(tt.name, "alice@acme.example"); got != tt.want {
			t.Errorf("oidcDisplayName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestOIDCProblem(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantCode   string
	}{
		{ErrOIDCDisabled, 404, "oidc_not_configured"},
		{ErrInvalidState, 400, "invalid_state"},
		{errors.Join(errors.New("x"), ErrOIDCRefused), 400, "oidc_refused"},
		{ErrInvalidIDToken, 400, "invalid_id_token"},
		{ErrEmailUnverified, 403, "email_unverified"},
		{ErrIdentityPending, 403, "identity_pending"},
		{ErrWrongInstance, 403, "wrong_instance"},
		{ErrOIDCUnavailable, 502, "idp_unavailable"},
	}
	for _, tt := range tests {
		p := Problems.Problem(tt.err)
		if p == nil || p.Status != tt.wantStatus || p.Code != tt.wantCode {
			t.Errorf("Problems.Problem(%v) = %+v, want %d %s", tt.err, p, tt.wantStatus, tt.wantCode)
		}
	}
	if p := Problems.Problem(&DomainError{Domain: "gmail.com", Reason: ReasonFreemail}); p == nil || p.Code != "invalid_email_domain" {
		t.Errorf("Problems.Problem(domain error) = %+v, want invalid_email_domain", p)
	}
}

func TestOIDCDisabled(t *testing.T) {
	s := NewService(Config{Policy: newDomainPolicy(t)})
	if _, err := s.startOIDC(t.Context(), oidcStart{Email: "alice@acme.example", Browser: "b"}); !errors.Is(err, ErrOIDCDisabled) {
		t.Errorf("start: got %v, want ErrOIDCDisabled", err)
	}
	if _, err := s.signInWithOIDC(t.Context(), oidcCallback{State: "s", Code: "c", Browser: "b"}, ""); !errors.Is(err, ErrOIDCDisabled) {
		t.Errorf("callback: got %v, want ErrOIDCDisabled", err)
	}
}

// The tests below run against a real Dex and a real MongoDB-compatible
// server.

// oidcRig is a Service with OIDC enabled against Dex.
type oidcRig struct {
	s     *Service
	dex   *dex.Dex
	clock *testClock
}

func newOIDCRig(t *testing.T, users ...dex.User) *oidcRig {
	t.Helper()
	base, _ := url.Parse("http://127.0.0.1:9") // never served: the tests take the callback from Dex
	d := dex.Start(t, base.JoinPath(oidcCallbackPath).String(), users...)
	// Dex's tokens carry real times.
	clock := tenanttest.NewClock(time.Now().UTC())
	s := NewService(Config{Store: newTestStore(t, clock), Policy: newDomainPolicy(t), BaseURL: base, Now: clock.Now})
	if err := s.EnableOIDC(t.Context(), OIDCProvider{Issuer: d.Issuer, ClientID: d.ClientID, ClientSecret: d.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	return &oidcRig{s: s, dex: d, clock: clock}
}

// login starts a sign-in for email in browser and signs in at Dex; it
// returns the callback's query.
func (r *oidcRig) login(t *testing.T, email, password, browser string) url.Values {
	t.Helper()
	u, err := r.s.startOIDC(t.Context(), oidcStart{Email: email, IP: netip.MustParseAddr("192.0.2.1"), Browser: browser})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := url.Parse(r.dex.Login(t, u, email, password))
	if err != nil {
		t.Fatal(err)
	}
	return cb.Query()
}

func (r *oidcRig) callback(t *testing.T, q url.Values, browser string) (string, error) {
	t.Helper()
	return r.s.signInWithOIDC(t.Context(), oidcCallback{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), Browser: browser}, "")
}

// tamper changes the stored state of the sign-in whose callback is q.
func (r *oidcRig) tamper(t *testing.T, q url.Values, set bson.D) {
	t.Helper()
	res, err := r.s.Store.db.Collection(collOIDCStates).UpdateOne(t.Context(),
		bson.D{{Key: "_id", Value: hashSecret(q.Get("state"))}}, bson.D{{Key: "$set", Value: set}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("tamper with the state: %v, %d matched", err, res.MatchedCount)
	}
}

func TestOIDCStartStoresStateServerSide(t *testing.T) {
	r := newOIDCRig(t)
	u, err := r.s.startOIDC(t.Context(), oidcStart{Email: "Alice@Acme.example", Browser: "browser-1"})
	if err != nil {
		t.Fatal(err)
	}
	au, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := au.Query()
	var st oidcState
	if err := r.s.Store.db.Collection(collOIDCStates).FindOne(t.Context(), bson.D{{Key: "_id", Value: hashSecret(q.Get("state"))}}).Decode(&st); err != nil {
		t.Fatalf("the state is not stored under its hash: %v", err)
	}
	challenge := sha256.Sum256([]byte(st.Verifier))
	got := map[string]string{
		"response_type":         q.Get("response_type"),
		"scope":                 q.Get("scope"),
		"code_challenge_method": q.Get("code_challenge_method"),
		"code_challenge":        q.Get("code_challenge"),
		"nonce":                 q.Get("nonce"),
		"login_hint":            q.Get("login_hint"),
		"client_id":             q.Get("client_id"),
		"redirect_uri":          q.Get("redirect_uri"),
	}
	want := map[string]string{
		"response_type":         "code",
		"scope":                 "openid email profile",
		"code_challenge_method": "S256",
		"code_challenge":        base64.RawURLEncoding.EncodeToString(challenge[:]),
		"nonce":                 st.Nonce,
		"login_hint":            "alice@acme.example",
		"client_id":             r.dex.ClientID,
		"redirect_uri":          "http://127.0.0.1:9/api/v1/auth/oidc/callback",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("authorization request (-want +got):\n%s", diff)
	}
	if st.Browser != hashSecret("browser-1") || st.Issuer != r.dex.Issuer || st.Used || st.InstanceID != "" {
		t.Errorf("stored state %+v", st)
	}
	if want := r.clock.Now().Add(OIDCStateTTL); !st.ExpiresAt.Equal(want.Truncate(time.Millisecond)) {
		t.Errorf("expires at %v, want %v", st.ExpiresAt, want)
	}
}

func TestOIDCSignInChecksNonceAndPKCE(t *testing.T) {
	r := newOIDCRig(t, dex.User{Email: "alice@acme.example", Password: "pw-alice", EmailVerified: true})
	tests := []struct {
		name    string
		set     bson.D
		wantErr error
	}{
		// Dex signs the nonce it was sent into the ID token; a stored
		// nonce that differs must fail the sign-in.
		{"wrong nonce", bson.D{{Key: "nonce", Value: "not-the-nonce-sent"}}, ErrInvalidIDToken},
		// Dex checks the verifier against the challenge it was sent.
		{"PKCE verifier mismatch", bson.D{{Key: "verifier", Value: oauth2.GenerateVerifier()}}, ErrOIDCRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := r.login(t, "alice@acme.example", "pw-alice", "browser-1")
			r.tamper(t, q, tt.set)
			secret, err := r.callback(t, q, "browser-1")
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %q, %v; want %v", secret, err, tt.wantErr)
			}
			t.Logf("refused: %v", err)
		})
	}
	// Untampered, the same user signs in.
	if _, err := r.callback(t, r.login(t, "alice@acme.example", "pw-alice", "browser-1"), "browser-1"); err != nil {
		t.Fatalf("untampered sign-in: %v", err)
	}
}

func TestOIDCStateIsBoundToBrowserAndExpires(t *testing.T) {
	r := newOIDCRig(t, dex.User{Email: "alice@acme.example", Password: "pw-alice", EmailVerified: true})

	q := r.login(t, "alice@acme.example", "pw-alice", "victim")
	if _, err := r.callback(t, q, "attacker"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("callback in another browser: %v, want ErrInvalidState", err)
	}
	if _, err := r.callback(t, q, ""); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("callback without the binding cookie: %v, want ErrInvalidState", err)
	}
	// Neither used the state up.
	if _, err := r.callback(t, q, "victim"); err != nil {
		t.Fatalf("callback in the browser that started: %v", err)
	}

	q = r.login(t, "alice@acme.example", "pw-alice", "victim")
	r.clock.Add(OIDCStateTTL + time.Second)
	if _, err := r.callback(t, q, "victim"); !errors.Is(err, ErrInvalidState) {
		t.Fatalf("callback after %v: %v, want ErrInvalidState", OIDCStateTTL, err)
	}
}

func TestOIDCNewSubjectForKnownEmailIsPending(t *testing.T) {
	alice := dex.User{Email: "alice@acme.example", Password: "pw-alice", EmailVerified: true, UserID: "alice-1"}
	r := newOIDCRig(t, alice)
	if _, err := r.callback(t, r.login(t, alice.Email, alice.Password, "b"), "b"); err != nil {
		t.Fatal(err)
	}
	// The provider now has another account with the same address.
	alice.UserID = "alice-2"
	r.dex.Restart(t, alice)
	for range 2 {
		secret, err := r.callback(t, r.login(t, alice.Email, alice.Password, "b"), "b")
		if !errors.Is(err, ErrIdentityPending) || secret != "" {
			t.Fatalf("got %q, %v; want ErrIdentityPending and no session", secret, err)
		}
	}

	claim, err := r.s.Store.oidcDomainInstance(t.Context(), "acme.example")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := r.s.Store.Open(t.Context(), claim.ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Identities []Identity        `bson:"identities"`
		Pending    []pendingIdentity `bson:"pending_identities"`
	}
	if err := sc.Collection(memberKind).FindOne(t.Context(), bson.D{{Key: "email", Value: alice.Email}}, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Identities) != 1 || len(doc.Pending) != 1 {
		t.Fatalf("identities %+v, pending %+v; want one of each", doc.Identities, doc.Pending)
	}
	if doc.Pending[0].Issuer != r.dex.Issuer || doc.Pending[0].Subject == doc.Identities[0].Subject || doc.Pending[0].SeenAt.IsZero() {
		t.Errorf("pending %+v next to %+v; want the new subject of %s", doc.Pending[0], doc.Identities[0], r.dex.Issuer)
	}
	var sessions int64
	if sessions, err = r.s.Store.db.Collection(collSessions).CountDocuments(t.Context(), bson.D{}); err != nil || sessions != 1 {
		t.Errorf("%d sessions (%v), want only the first sign-in's", sessions, err)
	}
}
