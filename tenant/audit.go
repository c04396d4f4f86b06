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

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
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
		// The newest entry, or the anchor (seq 0) when retention purged
		// every entry: the chain goes on from it either way.
		var head []struct {
			Seq       int64  `bson:"seq"`
			Hash      string `bson:"hash"`
			AnchorSeq int64  `bson:"anchor_seq"`
		}
		if err := coll.Find(ctx, bson.D{}, &head, options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(1)); err != nil {
			return err
		}
		e := AuditEntry{ID: httpapi.NewID(), Seq: 1, At: sc.store.now().UTC().Truncate(time.Millisecond), Actor: actor,
			Action: action, Target: target, Details: details}
		if len(head) == 1 {
			e.Seq, e.Prev = max(head[0].Seq, head[0].AnchorSeq)+1, head[0].Hash
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
	seq := bson.D{{Key: "$gt", Value: int64(0)}} // not the anchor
	if before > 0 {
		seq = append(seq, bson.E{Key: "$lt", Value: before})
	}
	f := bson.D{{Key: "seq", Value: seq}}
	var es []AuditEntry
	opts := options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(int64(limit))
	if err := sc.Collection(auditKind).Find(ctx, f, &es, opts); err != nil {
		return nil, err
	}
	return es, nil
}

// VerifyAudit walks the chain — from its anchor when retention purged its
// beginning — and returns how many entries it checked, or ErrAuditTampered
// naming the first entry that does not fit.
func (sc Scope) VerifyAudit(ctx context.Context) (int, error) {
	prev, last, checked := "", int64(0), 0
	anchor, err := sc.AuditAnchor(ctx)
	switch {
	case err == nil:
		prev, last = anchor.Hash, anchor.Seq
	case !errors.Is(err, ErrNotFound):
		return 0, err
	}
	for {
		var es []AuditEntry
		opts := options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}).SetLimit(500)
		if err := sc.Collection(auditKind).Find(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: last}}}}, &es, opts); err != nil {
			return checked, err
		}
		for _, e := range es {
			switch {
			case e.Seq != last+1:
				return checked, fmt.Errorf("%w: entry %d is missing", ErrAuditTampered, last+1)
			case e.Prev != prev:
				return checked, fmt.Errorf("%w: entry %d does not follow entry %d", ErrAuditTampered, e.Seq, last)
			case e.digest() != e.Hash:
				return checked, fmt.Errorf("%w: entry %d was altered", ErrAuditTampered, e.Seq)
			}
			prev = e.Hash
			last = e.Seq
			checked++
		}
		if len(es) < 500 {
			return checked, nil
		}
	}
}

// AuditAnchor is where the chain starts after retention purged its
// beginning: the sequence number and hash of the last purged entry. It is
// kept in the audit collection under a fixed ID with seq 0, which no entry
// has.
type AuditAnchor struct {
	Seq      int64     `json:"seq"`
	Hash     string    `json:"hash"`
	PurgedAt time.Time `json:"purged_at"`
}

// auditAnchorID is the anchor's document ID.
const auditAnchorID = "anchor"

type auditAnchorDoc struct {
	ID        string    `bson:"_id"`
	Seq       int64     `bson:"seq"` // always 0
	AnchorSeq int64     `bson:"anchor_seq"`
	Hash      string    `bson:"hash"`
	PurgedAt  time.Time `bson:"purged_at"`
}

// AuditAnchor returns the chain's anchor; ErrNotFound while nothing was
// purged.
func (sc Scope) AuditAnchor(ctx context.Context) (AuditAnchor, error) {
	var d auditAnchorDoc
	if err := sc.Collection(auditKind).FindOne(ctx, bson.D{{Key: "_id", Value: auditAnchorID}}, &d); err != nil {
		return AuditAnchor{}, err
	}
	return AuditAnchor{Seq: d.AnchorSeq, Hash: d.Hash, PurgedAt: d.PurgedAt}, nil
}

// SweepAudit purges the scope's audit entries older than the instance's
// retention period (settings.retention_days), but never younger than
// MinAuditRetentionDays, keeping the chain
// verifiable: the anchor first moves to the newest purged entry, then the
// entries up to it go, so a crash in between leaves only entries the next
// sweep removes. The purge is itself audited. It returns how many entries
// went; run it again and it does nothing more.
func SweepAudit(ctx context.Context, sc Scope, now time.Time) (int64, error) {
	days := max(sc.Instance().Settings.RetentionPeriod(), MinAuditRetentionDays)
	cutoff := now.UTC().AddDate(0, 0, -days)
	coll := sc.Collection(auditKind)
	var last []AuditEntry
	if err := coll.Find(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: int64(0)}}}, {Key: "at", Value: bson.D{{Key: "$lt", Value: cutoff}}}},
		&last, options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(1)); err != nil {
		return 0, err
	}
	if len(last) == 0 {
		return 0, nil
	}
	head := last[0]
	anchor := auditAnchorDoc{ID: auditAnchorID, AnchorSeq: head.Seq, Hash: head.Hash, PurgedAt: now.UTC().Truncate(time.Millisecond)}
	switch err := coll.Insert(ctx, anchor); {
	case errors.Is(err, ErrDuplicate):
		if _, err := coll.Update(ctx, bson.D{{Key: "_id", Value: auditAnchorID}, {Key: "anchor_seq", Value: bson.D{{Key: "$lt", Value: head.Seq}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "anchor_seq", Value: head.Seq}, {Key: "hash", Value: head.Hash}, {Key: "purged_at", Value: anchor.PurgedAt}}}}); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, err
	}
	n, err := coll.DeleteMany(ctx, bson.D{{Key: "seq", Value: bson.D{{Key: "$gt", Value: int64(0)}, {Key: "$lte", Value: head.Seq}}}})
	if err != nil {
		return n, err
	}
	if n > 0 {
		err = sc.Audit(ctx, SystemActor, "audit.purged", "", map[string]string{"through_seq": fmt.Sprint(head.Seq), "retention_days": fmt.Sprint(days)})
	}
	return n, err
}

// AuditLine is an audit entry as admins read it: the entry, and the
// addresses of the people it names where they are still members or
// invitees of the instance (the entry itself holds opaque IDs only, so
// an erased person shows as an ID).
type AuditLine struct {
	AuditEntry
	// Actor repeats the entry's actor with the member's address.
	Actor struct {
		Actor
		Email string `json:"email,omitempty"`
	} `json:"actor"`
	// TargetEmail is the address of the member or invitation the entry
	// is about, if it is one.
	TargetEmail string `json:"target_email,omitempty"`
}

// AuditLines names the people of a page of entries by address: two
// keyed reads (members and invitations by ID), whatever the log's length.
// Only admins may call it: addresses are theirs to see.
func (sc Scope) AuditLines(ctx context.Context, es []AuditEntry) ([]AuditLine, error) {
	ids := map[string]bool{}
	for _, e := range es {
		if e.Actor.Kind == "member" && e.Actor.ID != "" {
			ids[e.Actor.ID] = true
		}
		if e.Target != "" {
			ids[e.Target] = true
		}
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	emails := map[string]string{}
	if len(list) > 0 {
		in := bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: list}}}}
		var ms []Member
		if err := sc.Collection(memberKind).Find(ctx, in, &ms, options.Find().SetProjection(bson.D{{Key: "email", Value: 1}})); err != nil {
			return nil, err
		}
		for _, m := range ms {
			emails[m.ID] = m.Email
		}
		var invs []Invitation
		if err := sc.Collection(invitationKind).Find(ctx, in, &invs, options.Find().SetProjection(bson.D{{Key: "email", Value: 1}})); err != nil {
			return nil, err
		}
		for _, inv := range invs {
			emails[inv.ID] = inv.Email
		}
	}
	out := make([]AuditLine, len(es))
	for i, e := range es {
		out[i].AuditEntry = e
		out[i].Actor.Actor = e.Actor
		if e.Actor.Kind == "member" {
			out[i].Actor.Email = emails[e.Actor.ID]
		}
		out[i].TargetEmail = emails[e.Target]
	}
	return out, nil
}
