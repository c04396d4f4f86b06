package tenant

import (
	"context"
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

// AuditEntry records an admin or operator action in an instance. Entries
// are only ever added.
type AuditEntry struct {
	ID      string            `bson:"_id" json:"id"`
	At      time.Time         `bson:"at" json:"at"`
	Actor   Actor             `bson:"actor" json:"actor"`
	Action  string            `bson:"action" json:"action"`
	Target  string            `bson:"target,omitempty" json:"target,omitempty"`
	Details map[string]string `bson:"details,omitempty" json:"details,omitempty"`
}

var auditKind = Kind{
	Name:    "audit",
	Indexes: []Index{{Keys: bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}}},
}

// Audit appends an entry to the scope's audit log.
func (sc Scope) Audit(ctx context.Context, actor Actor, action, target string, details map[string]string) error {
	e := AuditEntry{ID: newID(), At: sc.store.now().UTC().Truncate(time.Millisecond), Actor: actor,
		Action: action, Target: target, Details: details}
	return sc.Collection(auditKind).Insert(ctx, e)
}

// AuditLog returns up to limit entries older than before (zero: newest).
func (sc Scope) AuditLog(ctx context.Context, before time.Time, limit int) ([]AuditEntry, error) {
	f := bson.D{}
	if !before.IsZero() {
		f = bson.D{{Key: "at", Value: bson.D{{Key: "$lt", Value: before}}}}
	}
	var es []AuditEntry
	opts := options.Find().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit))
	if err := sc.Collection(auditKind).Find(ctx, f, &es, opts); err != nil {
		return nil, err
	}
	return es, nil
}
