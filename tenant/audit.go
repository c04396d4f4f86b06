package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Actor is who did something: a member, an operator of the deployment, or
// Chorus itself (a job).
type Actor struct {
	Kind string `bson:"kind" json:"kind"` // member, operator or system
	ID   string `bson:"id,omitempty" json:"id,omitempty"`
}

// Actors.
var (
	SystemActor   = Actor{Kind: "system"}
	OperatorActor = Actor{Kind: "operator"}
)

// MemberActor is a member acting.
func MemberActor(m Member) Actor { return Actor{Kind: "member", ID: m.ID} }

// AuditEntry records an admin, operator or system action in an instance.
// Entries form a hash chain: each one's Hash covers its content and the
// previous entry's hash, so an edited, removed or reordered entry breaks
// every hash after it. Entries hold opaque IDs, never personal data, so
// erasing a person never needs to touch the chain.
type AuditEntry struct {
	ID      string            `bson:"_id" json:"id"`
	Seq     int64             `bson:"seq" json:"seq"`
	At      time.Time         `bson:"at" json:"at"`
	Actor   Actor             `bson:"actor" json:"actor"`
	Action  string            `bson:"action" json:"action"`
	Target  string            `bson:"target,omitempty" json:"target,omitempty"`
	Details map[string]string `bson:"details,omitempty" json:"details,omitempty"`
	Prev    string            `bson:"prev" json:"prev"`
	Hash    string            `bson:"hash" json:"hash"`
}

var auditKind = Kind{
	Name:    "audit",
	Indexes: []Index{{Keys: bson.D{{Key: "seq", Value: 1}}, Unique: true}},
}

// ErrAuditTampered: the audit chain does not verify.
var ErrAuditTampered = errors.New("audit log does not verify")

// digest is the entry's hash: SHA-256 over the previous hash and the
// entry's content as canonical JSON (encoding/json sorts map keys).
func (e AuditEntry) digest() string {
	content, _ := json.Marshal(struct {
		ID      string            `json:"id"`
		Seq     int64             `json:"seq"`
		At      string            `json:"at"`
		Actor   Actor             `json:"actor"`
		Action  string            `json:"action"`
		Target  string            `json:"target"`
		Details map[string]string `json:"details"`
	}{e.ID, e.Seq, e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Target, e.Details})
	h := sha256.New()
	h.Write([]byte(e.Prev))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// Audit appends an entry to the scope's audit log. The unique sequence
// number makes concurrent appends take turns: a writer that loses the
// race reads the new head and tries again.
func (sc Scope) Audit(ctx context.Context, actor Actor, action, target string, details map[string]string) error {
	coll := sc.Collection(auditKind)
	for range 20 {
		var head []AuditEntry
		if err := coll.Find(ctx, bson.D{}, &head, options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(1)); err != nil {
			return err
		}
		e := AuditEntry{ID: newID(), Seq: 1, At: sc.store.now().UTC().Truncate(time.Millisecond), Actor: actor,
			Action: action, Target: target, Details: details}
		if len(head) == 1 {
			e.Seq, e.Prev = head[0].Seq+1, head[0].Hash
		}
		e.Hash = e.digest()
		switch err := coll.Insert(ctx, e); {
		case errors.Is(err, ErrDuplicate):
			continue
		case err != nil:
			return fmt.Errorf("audit %s: %w", action, err)
		}
		return nil
	}
	return fmt.Errorf("audit %s: %w", action, ErrConflict)
}

// AuditLog returns up to limit entries before sequence number before (0:
// the newest), newest first.
func (sc Scope) AuditLog(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	f := bson.D{}
	if before > 0 {
		f = bson.D{{Key: "seq", Value: bson.D{{Key: "$lt", Value: before}}}}
	}
	var es []AuditEntry
	opts := options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(int64(limit))
	if err := sc.Collection(auditKind).Find(ctx, f, &es, opts); err != nil {
		return nil, err
	}
	return es, nil
}

// VerifyAudit walks the whole chain and returns how many entries it
// checked, or ErrAuditTampered naming the first entry that does not fit.
func (sc Scope) VerifyAudit(ctx context.Context) (int, error) {
	prev, n := "", 0
	for {
		var es []AuditEntry
		opts := options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(500)
		if err := sc.Collection(auditKind).Find(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: int64(n)}}}}, &es, opts); err != nil {
			return n, err
		}
		for _, e := range es {
			switch {
			case e.Seq != int64(n+1):
				return n, fmt.Errorf("%w: entry %d is missing", ErrAuditTampered, n+1)
			case e.Prev != prev:
				return n, fmt.Errorf("%w: entry %d does not follow entry %d", ErrAuditTampered, e.Seq, n)
			case e.digest() != e.Hash:
				return n, fmt.Errorf("%w: entry %d was altered", ErrAuditTampered, e.Seq)
			}
			prev = e.Hash
			n++
		}
		if len(es) < 500 {
			return n, nil
		}
	}
}
