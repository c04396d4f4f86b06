package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// SessionTTL is how long a session lives without a new sign-in.
const SessionTTL = 14 * 24 * time.Hour

// session is stored under the hash of its secret: a database dump holds no
// usable cookie.
type session struct {
	Hash       string    `bson:"_id"`
	InstanceID string    `bson:"instance_id"`
	MemberID   string    `bson:"member_id"`
	CreatedAt  time.Time `bson:"created_at"`
	ExpiresAt  time.Time `bson:"expires_at"`
	// OIDC is set when the session came from an identity provider.
	OIDC *sessionOIDC `bson:"oidc,omitempty"`
}

// sessionOIDC records which provider signed a session in, for logout.
type sessionOIDC struct {
	// Provider is providerGlobal or the ID of the instance whose own
	// provider it was.
	Provider string `bson:"provider"`
	// IDToken is the ID token, sealed (idTokenAD), kept as the logout's
	// id_token_hint; nil without a keyring.
	IDToken *Sealed `bson:"id_token,omitempty"`
}

// providerGlobal names the deployment's own identity provider in states
// and sessions; instances' providers are named by instance ID.
const providerGlobal = "global"

// idTokenAD binds a kept ID token to its instance and member.
func idTokenAD(instanceID, memberID string) []byte {
	return []byte("chorus:id_token\x00" + instanceID + "\x00" + memberID)
}

// newSecret returns 256 random bits, URL-safe.
func newSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// createSession starts a session for a member and returns its secret.
// o, when not nil, says which identity provider signed the member in.
func (s *Store) createSession(ctx context.Context, instanceID, memberID string, o *sessionOIDC) (string, error) {
	secret := newSecret()
	now := s.now().UTC()
	_, err := s.db.Collection(collSessions).InsertOne(ctx, session{
		Hash:       hashSecret(secret),
		InstanceID: instanceID,
		MemberID:   memberID,
		CreatedAt:  now,
		ExpiresAt:  now.Add(SessionTTL),
		OIDC:       o,
	})
	if err != nil {
		return "", fmt.Errorf("create session: %w", storeErr(err))
	}
	return secret, nil
}

// liveSession returns the unexpired session behind a cookie's secret, or
// ErrNoSession.
func (s *Store) liveSession(ctx context.Context, secret string) (session, error) {
	if secret == "" || len(secret) > 100 {
		return session{}, ErrNoSession
	}
	var ses session
	err := s.db.Collection(collSessions).FindOne(ctx, bson.D{
		{Key: "_id", Value: hashSecret(secret)},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: s.now().UTC()}}},
	}).Decode(&ses)
	switch err := storeErr(err); err {
	case nil:
		return ses, nil
	case ErrNotFound:
		return session{}, ErrNoSession
	default:
		return session{}, err
	}
}

// endSession deletes the session behind secret; ending an unknown session
// is not an error.
func (s *Store) endSession(ctx context.Context, secret string) error {
	if secret == "" {
		return nil
	}
	hash := hashSecret(secret)
	_, err := s.db.Collection(collSessions).DeleteOne(ctx, bson.D{{Key: "_id", Value: hash}})
	s.cache.dropSession(hash)
	return storeErr(err)
}

// endMemberSessions ends every session of a member.
func (s *Store) endMemberSessions(ctx context.Context, instanceID, memberID string) error {
	_, err := s.db.Collection(collSessions).DeleteMany(ctx, bson.D{{Key: "instance_id", Value: instanceID}, {Key: "member_id", Value: memberID}})
	s.cache.dropMember(instanceID, memberID)
	return storeErr(err)
}

// sessionInfo is a session as its member may see it: no secret.
type sessionInfo struct {
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	ExpiresAt time.Time `bson:"expires_at" json:"expires_at"`
}

// memberSessions lists a member's sessions.
func (s *Store) memberSessions(ctx context.Context, instanceID, memberID string) ([]sessionInfo, error) {
	cur, err := s.db.Collection(collSessions).Find(ctx, bson.D{{Key: "instance_id", Value: instanceID}, {Key: "member_id", Value: memberID}})
	if err != nil {
		return nil, storeErr(err)
	}
	out := []sessionInfo{}
	return out, storeErr(cur.All(ctx, &out))
}

// signInLinkInfo is a sign-in link as a person's export shows it: never
// its token (only its hash is stored anyway).
type signInLinkInfo struct {
	Used         bool      `bson:"used" json:"used"`
	CreatedAt    time.Time `bson:"created_at" json:"created_at"`
	ExpiresAt    time.Time `bson:"expires_at" json:"expires_at"`
	InvitationID string    `bson:"invitation_id,omitempty" json:"invitation_id,omitempty"`
}

// addressLinks lists the sign-in links mailed to email that are still
// kept (until they expire).
func (s *Store) addressLinks(ctx context.Context, email string) ([]signInLinkInfo, error) {
	cur, err := s.db.Collection(collSignIn).Find(ctx, bson.D{{Key: "email", Value: email}})
	if err != nil {
		return nil, storeErr(err)
	}
	out := []signInLinkInfo{}
	return out, storeErr(cur.All(ctx, &out))
}

// forgetAddress deletes the sign-in links and rate-limit counters of an
// email address.
func (s *Store) forgetAddress(ctx context.Context, email string) error {
	if _, err := s.db.Collection(collSignIn).DeleteMany(ctx, bson.D{{Key: "email", Value: email}}); err != nil {
		return storeErr(err)
	}
	prefix := "signin-email:" + hashSecret(email) + "|"
	_, err := s.db.Collection(collRateLimits).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{
		{Key: "$regex", Value: "^" + regexp.QuoteMeta(prefix)}}}})
	return storeErr(err)
}

// SweepExpired deletes expired sessions, sign-in tokens, rate-limit
// windows and every instance's idempotency records; the embedded server
// has no TTL indexes, so a job calls this.
func (s *Store) SweepExpired(ctx context.Context) (int64, error) {
	var total int64
	now := s.now().UTC()
	for _, coll := range []string{collSessions, collSignIn, collRateLimits, collOIDCStates} {
		res, err := s.db.Collection(coll).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now}}}})
		if err != nil {
			return total, fmt.Errorf("sweep %s: %w", coll, storeErr(err))
		}
		total += res.DeletedCount
	}
	n, err := s.sweepKind(ctx, idempotencyKind)
	return total + n, err
}

// sweepKind deletes every instance's documents of kind k whose expires_at
// has passed, and returns how many.
func (s *Store) sweepKind(ctx context.Context, k Kind) (int64, error) {
	var n int64
	err := s.EachInstance(ctx, func(sc Scope) error {
		d, err := sc.Collection(k).DeleteMany(ctx, bson.D{{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: s.now().UTC()}}}})
		n += d
		return err
	})
	return n, err
}

// SessionMember returns the instance and member of the live session
// behind a session cookie's secret (ErrNoSession if none): the click
// recorder tells a sharer's own visits of their links from others'. It
// reads through the process's session cache, as a request's session check
// does, so a sign-out in this process shows at once.
func (s *Store) SessionMember(ctx context.Context, secret string) (instanceID, memberID string, err error) {
	ses, err := s.cachedSession(ctx, secret)
	return ses.InstanceID, ses.MemberID, err
}

// SessionCookie is the name of the session cookie this service sets.
func (s *Service) SessionCookie() string { return s.cookie.name }
