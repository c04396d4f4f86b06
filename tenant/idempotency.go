package tenant

// Idempotency-Key for creating POSTs: a client that did not hear the
// answer sends the same request again with the same key and gets the first
// answer back instead of a second object. A record per (member, key) in the
// instance's own collection holds the hash of the request and, once it
// succeeded, its answer; the unique _id of that record is the claim, so two
// requests racing with one key create one object on MongoDB and FerretDB
// alike.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// IdempotencyTTL is how long a key's answer is kept for replay.
const IdempotencyTTL = 24 * time.Hour

// idempotencyLease is how long a claimed key waits for its request: a
// claim older than that belongs to a request that died (a crash, a lost
// connection to the store) and is taken over. Requests end long before.
const idempotencyLease = 5 * time.Minute

// maxIdempotencyKey bounds the header, as for shares.
const maxIdempotencyKey = 200

var idempotencyKind = Kind{Name: "idempotency", Indexes: []Index{
	// Export and erasure of a member's records.
	{Keys: bson.D{{Key: "member_id", Value: 1}}},
	// The expiry sweep.
	{Keys: bson.D{{Key: "expires_at", Value: 1}}},
}}

// idempotencyRecord is one member's use of one key.
type idempotencyRecord struct {
	// ID is the hash of the member's ID and the key.
	ID       string `bson:"_id"`
	MemberID string `bson:"member_id"`
	// Request is the hash of method, path, query and body.
	Request string `bson:"request"`
	// Done: the request succeeded and its answer follows; else it is in
	// flight.
	Done        bool      `bson:"done"`
	Status      int       `bson:"status,omitempty"`
	ContentType string    `bson:"content_type,omitempty"`
	Location    string    `bson:"location,omitempty"`
	Body        []byte    `bson:"body,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
	ExpiresAt   time.Time `bson:"expires_at"`
}

// Idempotent makes h, a creating POST, honour an Idempotency-Key header
// (at most 200 characters). Without the header h runs as it is. With it,
// per member and for IdempotencyTTL: the first request runs h and, when it
// succeeds (2xx), its status, Content-Type, Location and body are kept; a
// repeat with the same method, path and body gets them back (with
// Idempotent-Replayed: true) and h does not run; the same key with another
// request is 422 idempotency_key_reused; a repeat while the first is still
// running is 409 idempotency_key_in_use. A request that fails leaves the key
// free, since it created nothing. Keys of other members and instances are
// unrelated.
func (s *Service) Idempotent(h HandlerFunc) HandlerFunc {
	return func(c *gin.Context, sc Scope, me Member) error {
		key := strings.TrimSpace(c.GetHeader("Idempotency-Key"))
		if key == "" {
			return h(c, sc, me)
		}
		if len(key) > maxIdempotencyKey {
			return httpapi.Invalid(httpapi.FieldError{Field: "Idempotency-Key", Message: fmt.Sprintf("must be at most %d characters", maxIdempotencyKey)})
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			// Too large or cut off: h's decoder answers with what it
			// reads.
			c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
			return h(c, sc, me)
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		ctx := c.Request.Context()
		claim, done, err := s.claimKey(ctx, sc, me, key, requestHash(c.Request, body))
		if err != nil {
			return err
		}
		if done != nil {
			replay(c, done)
			return nil
		}
		rec := &bodyRecorder{ResponseWriter: c.Writer}
		c.Writer = rec
		err = h(c, sc, me)
		c.Writer = rec.ResponseWriter
		s.settleKey(context.WithoutCancel(ctx), sc, claim, err == nil, c.Writer, rec.body.Bytes())
		return err
	}
}

// claimKey claims key for me's request of hash: the claim to settle, or
// the finished record to replay. Errors: ErrKeyReused, ErrKeyInUse, or a
// store failure.
func (s *Service) claimKey(ctx context.Context, sc Scope, me Member, key, hash string) (claim, done *idempotencyRecord, err error) {
	coll := sc.Collection(idempotencyKind)
	now := s.Now().UTC().Truncate(time.Millisecond)
	id := sha256.Sum256([]byte(me.ID + "\x00" + key))
	claim = &idempotencyRecord{ID: hex.EncodeToString(id[:]), MemberID: me.ID, Request: hash,
		CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL)}
	for range 2 {
		err := coll.Insert(ctx, claim)
		if !errors.Is(err, ErrDuplicate) {
			return claim, nil, err
		}
		var old idempotencyRecord
		switch err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: claim.ID}}, &old); {
		case errors.Is(err, ErrNotFound):
			continue // settled as failed meanwhile
		case err != nil:
			return nil, nil, err
		}
		abandoned := !old.ExpiresAt.After(now) || (!old.Done && !old.CreatedAt.After(now.Add(-idempotencyLease)))
		switch {
		case abandoned:
			// Removed only as it was read, so of two requests taking
			// it over one claims it.
			if _, err := coll.Delete(ctx, bson.D{{Key: "_id", Value: old.ID}, {Key: "created_at", Value: old.CreatedAt}}); err != nil {
				return nil, nil, err
			}
		case old.Request != hash:
			return nil, nil, ErrKeyReused
		case !old.Done:
			return nil, nil, ErrKeyInUse
		default:
			return nil, &old, nil
		}
	}
	return nil, nil, ErrKeyInUse
}

// settleKey keeps a successful answer for replay, or frees the key of a
// request that failed. A failure to do so is logged: the answer is sent
// anyway, and the claim lapses after idempotencyLease.
func (s *Service) settleKey(ctx context.Context, sc Scope, claim *idempotencyRecord, ok bool, w gin.ResponseWriter, body []byte) {
	coll := sc.Collection(idempotencyKind)
	mine := bson.D{{Key: "_id", Value: claim.ID}, {Key: "created_at", Value: claim.CreatedAt}, {Key: "done", Value: false}}
	var err error
	if ok && w.Status() >= 200 && w.Status() < 300 {
		_, err = coll.Update(ctx, mine, bson.D{{Key: "$set", Value: bson.D{
			{Key: "done", Value: true}, {Key: "status", Value: w.Status()},
			{Key: "content_type", Value: w.Header().Get("Content-Type")},
			{Key: "location", Value: w.Header().Get("Location")}, {Key: "body", Value: body}}}})
	} else {
		_, err = coll.Delete(ctx, mine)
	}
	if err != nil {
		s.Log.WarnContext(ctx, "idempotency key not settled", "err", err)
	}
}

// replay answers as the request that stored rec did.
func replay(c *gin.Context, rec *idempotencyRecord) {
	if rec.Location != "" {
		c.Header("Location", rec.Location)
	}
	c.Header("Idempotent-Replayed", "true")
	c.Data(rec.Status, rec.ContentType, rec.Body)
}

// requestHash identifies a request by method, path, query and body.
func requestHash(r *http.Request, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", r.Method, r.URL.Path, r.URL.RawQuery)
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// bodyRecorder keeps a copy of what the handler writes.
type bodyRecorder struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (r *bodyRecorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *bodyRecorder) WriteString(s string) (int, error) {
	r.body.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
