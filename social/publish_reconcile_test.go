package social

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// Reconcile walks its shares in pages: every stale queued share and every
// due scheduled one is queued again exactly once however many pages they
// fill; shares scheduled later, or queued recently, are left alone.
func TestReconcileWalksEveryPage(t *testing.T) {
	ctx := context.Background()
	_, sc := testScope(t, "reconcile.example")
	now := time.Now().UTC().Truncate(time.Millisecond)
	old := now.Add(-time.Hour)
	var shares []any
	want := map[string]bool{}
	// More than two pages of stale queued shares, many with the same
	// updated_at (the walk's position needs the _id too).
	for i := range 2*walkBatch + 50 {
		id := fmt.Sprintf("q%04d", i)
		shares = append(shares, Share{ID: id, State: ShareQueued, PublishAt: old, UpdatedAt: old.Add(time.Duration(i%7) * time.Second)})
		want[id] = true
	}
	for i := range 3 {
		id := fmt.Sprintf("due%d", i)
		shares = append(shares, Share{ID: id, State: ShareScheduled, PublishAt: now.Add(-time.Duration(i+1) * time.Minute), UpdatedAt: old})
		want[id] = true
	}
	shares = append(shares,
		Share{ID: "later", State: ShareScheduled, PublishAt: now.Add(time.Hour), UpdatedAt: old},
		Share{ID: "fresh", State: ShareQueued, PublishAt: now, UpdatedAt: now},
		Share{ID: "done", State: SharePublished, PublishAt: old, UpdatedAt: old})
	if err := sc.Collection(shareKind).InsertMany(ctx, shares); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	svc := NewService(Config{Now: func() time.Time { return now }, Enqueue: func(_ context.Context, _ tenant.Scope, id string, _ time.Time) error {
		got[id]++
		return nil
	}})
	requeued, _, err := svc.Reconcile(ctx, sc, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for id := range want {
		if got[id] != 1 {
			t.Errorf("share %s queued %d times, want once", id, got[id])
		}
	}
	for id, n := range got {
		if !want[id] {
			t.Errorf("share %s queued %d times, want never", id, n)
		}
	}
	if requeued != len(want) {
		t.Errorf("requeued %d, want %d", requeued, len(want))
	}
}

// testScope opens a store of social's kinds on a fresh database and an
// instance of domain in it.
func testScope(tb testing.TB, domain string) (*tenant.Store, tenant.Scope) {
	tb.Helper()
	uri, db := tenanttest.Mongo(tb)
	return testScopeIn(tb, uri, db, domain)
}

// testScopeIn is testScope on database db of the server at uri.
func testScopeIn(tb testing.TB, uri, db, domain string) (*tenant.Store, tenant.Scope) {
	tb.Helper()
	ctx := context.Background()
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Kinds: Kinds()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close(ctx) })
	return store, instanceScope(tb, store, domain)
}

// instanceScope makes an instance of domain in store and opens it.
func instanceScope(tb testing.TB, store *tenant.Store, domain string) tenant.Scope {
	tb.Helper()
	ctx := context.Background()
	inst, err := store.EnsureInstance(ctx, domain, "a@"+domain)
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := store.Open(ctx, inst.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return sc
}
