package tenant

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A pending export is answered again instead of a new one, unless it has
// waited too long for its job; an export the queue refused leaves nothing
// behind that no job would ever prepare.
func TestRequestExportOncePending(t *testing.T) {
	clock := newTestClock()
	s, _ := newTestService(t, clock)
	p := NewPrivacy(s)
	sc := newTestScope(t, s.Store, "acme.example")
	m, err := sc.joinByEmail(t.Context(), "founder@acme.example", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	queueDown := errors.New("queue down")
	var queued []string
	enqueue := func(_ context.Context, _ Scope, id string) error {
		if len(queued) == 0 && queueDown != nil {
			return queueDown
		}
		queued = append(queued, id)
		return nil
	}
	if _, err := p.RequestExport(t.Context(), sc, m, enqueue); !errors.Is(err, queueDown) {
		t.Fatalf("export with the queue down: %v, want the queue's error", err)
	}
	if n, err := sc.Collection(exportKind).Count(t.Context(), bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d exports stored after the queue refused, want 0 (%v)", n, err)
	}
	queueDown = nil
	first, err := p.RequestExport(t.Context(), sc, m, enqueue)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.RequestExport(t.Context(), sc, m, enqueue)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || len(queued) != 1 {
		t.Errorf("second request while pending: job %s (first %s), %d queued; want the first job, queued once", again.ID, first.ID, len(queued))
	}
	clock.Add(exportStuckAfter)
	stuck, err := p.RequestExport(t.Context(), sc, m, enqueue)
	if err != nil {
		t.Fatal(err)
	}
	if stuck.ID == first.ID || len(queued) != 2 {
		t.Errorf("a request after the pending job was given up on: job %s, %d queued; want a new job", stuck.ID, len(queued))
	}
	first = stuck
	if err := p.PrepareExport(t.Context(), sc, first.ID); err != nil {
		t.Fatal(err)
	}
	next, err := p.RequestExport(t.Context(), sc, m, enqueue)
	if err != nil {
		t.Fatal(err)
	}
	if next.ID == first.ID {
		t.Error("a request after the export was ready got the old job")
	}
}
