package tenant

import (
	"errors"
	"fmt"
	"sync"
	"testing"

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
