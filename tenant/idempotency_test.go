package tenant

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant/tenanttest"
)

// idempotencyRig runs one Idempotent handler that counts its runs.
type idempotencyRig struct {
	s     *Service
	clock *testClock
	runs  int
	h     HandlerFunc
}

func newIdempotencyRig(t *testing.T) *idempotencyRig {
	t.Helper()
	r := &idempotencyRig{clock: tenanttest.NewClock(time.Now().UTC())}
	r.s = NewService(Config{Store: newTestStore(t, r.clock), Now: r.clock.Now})
	r.h = r.s.Idempotent(func(c *gin.Context, _ Scope, _ Member) error {
		r.runs++
		c.Header("Location", "/things/x")
		c.String(http.StatusCreated, "run %d", r.runs)
		return nil
	})
	return r
}

// send sends body with key as me of sc and returns the answer, or the
// error for the adapter to answer.
func (r *idempotencyRig) send(t *testing.T, sc Scope, me Member, key, body string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequestWithContext(t.Context(), "POST", "/api/v1/things", strings.NewReader(body))
	c.Request.Header.Set("Idempotency-Key", key)
	return w, r.h(c, sc, me)
}

// post is send for a request that must not fail.
func (r *idempotencyRig) post(t *testing.T, sc Scope, me Member, key, body string) *httptest.ResponseRecorder {
	t.Helper()
	w, err := r.send(t, sc, me, key, body)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	return w
}

func TestIdempotencyRecordsAreTheInstancesAndExpire(t *testing.T) {
	r := newIdempotencyRig(t)
	a, b := newTestScope(t, r.s.Store, "acme.example"), newTestScope(t, r.s.Store, "globex.example")
	me := Member{ID: "m1"} // the same member ID in both instances: only the scope tells them apart
	if w := r.post(t, a, me, "k", "{}"); w.Body.String() != "run 1" || w.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	if w := r.post(t, a, me, "k", "{}"); w.Body.String() != "run 1" || w.Header().Get("Location") != "/things/x" || w.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat in A: %d %v %s, want run 1 replayed", w.Code, w.Header(), w.Body)
	}
	if w := r.post(t, b, me, "k", "{}"); w.Body.String() != "run 2" {
		t.Errorf("same member ID and key in B: %s, want a run of its own", w.Body)
	}
	if n, _ := b.Collection(idempotencyKind).Count(t.Context(), bson.D{}); n != 1 {
		t.Errorf("B holds %d records, want 1", n)
	}

	// Past the TTL the key is new again, and the sweep removes the records.
	r.clock.Add(IdempotencyTTL)
	if w := r.post(t, a, me, "k", `{"other":1}`); w.Body.String() != "run 3" {
		t.Errorf("after %s: %s, want a new run", IdempotencyTTL, w.Body)
	}
	r.clock.Add(IdempotencyTTL)
	if n, err := r.s.Store.SweepExpired(t.Context()); err != nil || n != 2 {
		t.Errorf("sweep: %d, %v, want the 2 records", n, err)
	}
}

// A claim whose request died is taken over once its lease is over; until
// then the key is in use.
func TestIdempotencyAbandonedClaim(t *testing.T) {
	r := newIdempotencyRig(t)
	sc := newTestScope(t, r.s.Store, "acme.example")
	me := Member{ID: "m1"}
	if _, _, err := r.s.claimKey(t.Context(), sc, me, "k", requestHash(httptest.NewRequest("POST", "/api/v1/things", nil), []byte("{}"))); err != nil {
		t.Fatal(err)
	}
	if _, err := r.send(t, sc, me, "k", "{}"); err != ErrKeyInUse {
		t.Errorf("while claimed: %v, want ErrKeyInUse", err)
	}
	if _, err := r.send(t, sc, me, "k", "{ }"); err != ErrKeyReused {
		t.Errorf("another body while claimed: %v, want ErrKeyReused", err)
	}
	r.clock.Add(idempotencyLease)
	if w := r.post(t, sc, me, "k", "{}"); w.Body.String() != "run 1" {
		t.Errorf("after the lease: %s, want run 1", w.Body)
	}
}
