package tenant

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestAuditChainVerifiesAndDetectsTampering(t *testing.T) {
	s := newTestStore(t, newTestClock())
	sc := newTestScope(t, s, "acme.example")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := sc.Audit(t.Context(), SystemActor, "test.concurrent", fmt.Sprint(i), nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n, err := sc.VerifyAudit(t.Context())
	if err != nil || n != 8 {
		t.Fatalf("VerifyAudit = %d, %v; want 8 entries, no error", n, err)
	}
	coll := s.db.Collection(collectionName(sc.InstanceID(), auditKind.Name))

	tests := []struct {
		name   string
		tamper bson.D
		filter bson.D
		remove bool
	}{
		{"altered action", bson.D{{Key: "$set", Value: bson.D{{Key: "action", Value: "nothing.happened"}}}}, bson.D{{Key: "seq", Value: 3}}, false},
		{"altered actor", bson.D{{Key: "$set", Value: bson.D{{Key: "actor.kind", Value: "member"}}}}, bson.D{{Key: "seq", Value: 5}}, false},
		{"removed entry", nil, bson.D{{Key: "seq", Value: 2}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before bson.M
			if err := coll.FindOne(t.Context(), tt.filter).Decode(&before); err != nil {
				t.Fatal(err)
			}
			if tt.remove {
				_, err = coll.DeleteOne(t.Context(), tt.filter)
			} else {
				_, err = coll.UpdateOne(t.Context(), tt.filter, tt.tamper)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sc.VerifyAudit(t.Context()); !errors.Is(err, ErrAuditTampered) {
				t.Errorf("VerifyAudit after tampering: %v, want ErrAuditTampered", err)
			}
			// Put it back: the chain verifies again.
			if tt.remove {
				_, err = coll.InsertOne(t.Context(), before)
			} else {
				_, err = coll.ReplaceOne(t.Context(), tt.filter, before)
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sc.VerifyAudit(t.Context()); err != nil {
				t.Errorf("restored chain: %v", err)
			}
		})
	}
}

func TestAuditRetentionKeepsTheChainVerifiable(t *testing.T) {
	clock := newTestClock()
	s := newTestStore(t, clock)
	sc := newTestScope(t, s, "acme.example")
	ctx := t.Context()
	audit := func(n int, action string) {
		t.Helper()
		for i := range n {
			if err := sc.Audit(ctx, SystemActor, action, fmt.Sprint(i), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	audit(5, "test.old")
	clock.Add(time.Duration(DefaultRetentionDays+5) * 24 * time.Hour)
	audit(2, "test.recent")

	n, err := SweepAudit(ctx, sc, clock.Now())
	if err != nil || n != 5 {
		t.Fatalf("SweepAudit = %d, %v; want the 5 old entries", n, err)
	}
	if n, err := SweepAudit(ctx, sc, clock.Now()); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want nothing more", n, err)
	}
	anchor, err := sc.AuditAnchor(ctx)
	if err != nil || anchor.Seq != 5 || anchor.Hash == "" {
		t.Fatalf("anchor %+v, %v; want the 5th entry's", anchor, err)
	}
	// 2 recent entries and the purge's own.
	if checked, err := sc.VerifyAudit(ctx); err != nil || checked != 3 {
		t.Fatalf("VerifyAudit after the purge = %d, %v; want 3 entries, no error", checked, err)
	}
	es, err := sc.AuditLog(ctx, 0, 100)
	if err != nil || len(es) != 3 || es[0].Action != "audit.purged" || es[0].Details["through_seq"] != "5" {
		t.Fatalf("log after the purge: %+v, %v", es, err)
	}

	coll := s.db.Collection(collectionName(sc.InstanceID(), auditKind.Name))
	tamper := func(name string, do func() (undo func())) {
		t.Run(name, func(t *testing.T) {
			undo := do()
			if _, err := sc.VerifyAudit(ctx); !errors.Is(err, ErrAuditTampered) {
				t.Errorf("VerifyAudit: %v, want ErrAuditTampered", err)
			}
			undo()
			if _, err := sc.VerifyAudit(ctx); err != nil {
				t.Errorf("restored: %v", err)
			}
		})
	}
	swap := func(filter bson.D, update bson.D) func() func() {
		return func() func() {
			var before bson.M
			if err := coll.FindOne(ctx, filter).Decode(&before); err != nil {
				t.Fatal(err)
			}
			if _, err := coll.UpdateOne(ctx, filter, update); err != nil {
				t.Fatal(err)
			}
			return func() {
				if _, err := coll.ReplaceOne(ctx, filter, before); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	tamper("entry after the anchor altered", swap(bson.D{{Key: "seq", Value: 6}}, bson.D{{Key: "$set", Value: bson.D{{Key: "action", Value: "nothing"}}}}))
	tamper("anchor's hash altered", swap(bson.D{{Key: "_id", Value: auditAnchorID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "hash", Value: "00"}}}}))
	tamper("anchor moved past an entry", swap(bson.D{{Key: "_id", Value: auditAnchorID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "anchor_seq", Value: 6}}}}))
	tamper("anchor removed", func() func() {
		var before bson.M
		if err := coll.FindOneAndDelete(ctx, bson.D{{Key: "_id", Value: auditAnchorID}}).Decode(&before); err != nil {
			t.Fatal(err)
		}
		return func() {
			if _, err := coll.InsertOne(ctx, before); err != nil {
				t.Fatal(err)
			}
		}
	})

	// Everything past retention: the chain goes on from the anchor.
	clock.Add(time.Duration(DefaultRetentionDays+5) * 24 * time.Hour)
	if n, err := SweepAudit(ctx, sc, clock.Now()); err != nil || n != 3 {
		t.Fatalf("second purge = %d, %v; want 3", n, err)
	}
	audit(1, "test.later")
	es, err = sc.AuditLog(ctx, 0, 100)
	if err != nil || len(es) != 2 || es[0].Seq != 10 || es[1].Seq != 9 {
		t.Fatalf("log after purging everything: %+v, %v; want entries 9 (purge) and 10", es, err)
	}
	if checked, err := sc.VerifyAudit(ctx); err != nil || checked != 2 {
		t.Errorf("VerifyAudit = %d, %v; want 2 entries after the anchor", checked, err)
	}
}

// The audit log keeps a year at least, whatever the instance's retention
// period: the shortest admins may set, or a shorter one stored before the
// minimum existed.
func TestAuditOutlivesAShortRetention(t *testing.T) {
	for _, days := range []int{1, MinRetentionDays} {
		t.Run(fmt.Sprint(days), func(t *testing.T) {
			clock := newTestClock()
			s := newTestStore(t, clock)
			sc := newTestScope(t, s, "acme.example")
			ctx := t.Context()
			if _, err := s.updateInstance(ctx, sc, "Acme", Settings{RetentionDays: days}); err != nil {
				t.Fatal(err)
			}
			sc, err := s.Open(ctx, sc.InstanceID())
			if err != nil {
				t.Fatal(err)
			}
			if err := sc.Audit(ctx, SystemActor, "test.entry", "", nil); err != nil {
				t.Fatal(err)
			}
			clock.Add(time.Duration(MinAuditRetentionDays-1) * 24 * time.Hour)
			if n, err := SweepAudit(ctx, sc, clock.Now()); err != nil || n != 0 {
				t.Errorf("sweep after %d days = %d, %v; want nothing purged", MinAuditRetentionDays-1, n, err)
			}
			clock.Add(2 * 24 * time.Hour)
			if n, err := SweepAudit(ctx, sc, clock.Now()); err != nil || n != 1 {
				t.Errorf("sweep after %d days = %d, %v; want the entry purged", MinAuditRetentionDays+1, n, err)
			}
		})
	}
}
