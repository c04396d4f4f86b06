package social

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// An Idempotency-Key's claim: one holder at a time, a replay of its
// complete set once done, a takeover once its holder is presumed dead;
// shares of an incomplete or replaced attempt are never published.
func TestKeyClaim(t *testing.T) {
	ctx := context.Background()
	uri, db := tenanttest.Mongo(t)
	clock := tenanttest.NewClock(time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC))
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Kinds: Kinds(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(ctx)
	inst, err := store.EnsureInstance(ctx, "keys.example", "a@keys.example")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := store.Open(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := NewService(Config{Now: clock.Now})
	me := tenant.Member{ID: "m1"}
	share := func(key string) Share {
		sh := Share{ID: httpapi.NewID(), MemberID: me.ID, State: ShareQueued, RequestKey: key, PublishAt: clock.Now(),
			CreatedAt: clock.Now().Add(-time.Hour), UpdatedAt: clock.Now().Add(-time.Hour)}
		if err := sc.Collection(shareKind).Insert(ctx, sh); err != nil {
			t.Fatal(err)
		}
		return sh
	}
	waiting := func() int {
		t.Helper()
		requeued, _, err := s.Reconcile(ctx, sc, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return requeued
	}

	first, prev, err := s.claimKey(ctx, sc, me, "k", "h1")
	if err != nil || prev != nil {
		t.Fatalf("first claim: %v %v", prev, err)
	}
	if _, _, err := s.claimKey(ctx, sc, me, "k", "h1"); !errors.Is(err, ErrKeyInUse) {
		t.Errorf("the key while its request is in flight: %v, want ErrKeyInUse", err)
	}
	if _, _, err := s.claimKey(ctx, sc, me, "k", "h2"); !errors.Is(err, ErrKeyReused) {
		t.Errorf("the key with another request: %v, want ErrKeyReused", err)
	}
	if _, _, err := s.claimKey(ctx, sc, tenant.Member{ID: "m2"}, "k", "h1"); err != nil {
		t.Errorf("another member's key: %v", err)
	}
	// The first request wrote one share, with its tracked link, and died.
	dead := share("k")
	if err := CreateLink(ctx, sc, TrackedLink{Code: "deadcode00000000", ShareID: dead.ID, Destination: "https://news.example/"}); err != nil {
		t.Fatal(err)
	}
	if err := CreateLink(ctx, sc, TrackedLink{Code: "livecode00000000", ShareID: "another-share", Destination: "https://news.example/"}); err != nil {
		t.Fatal(err)
	}
	if n := waiting(); n != 0 {
		t.Errorf("the reconciler queued %d shares of an incomplete request, want 0", n)
	}
	clock.Add(claimTimeout + time.Second)
	second, prev, err := s.claimKey(ctx, sc, me, "k", "h1")
	if err != nil || prev != nil {
		t.Fatalf("takeover: %v %v", prev, err)
	}
	if n, _ := sc.Collection(shareKind).Count(ctx, bson.D{{Key: "request_key", Value: "k"}}); n != 0 {
		t.Errorf("%d shares of the abandoned request left, want 0", n)
	}
	if _, err := ResolveLink(ctx, store, "deadcode00000000"); !errors.Is(err, tenant.ErrNotFound) {
		t.Errorf("the abandoned share's tracked link: %v, want it deleted", err)
	}
	if _, err := ResolveLink(ctx, store, "livecode00000000"); err != nil {
		t.Errorf("another share's tracked link: %v, want it kept", err)
	}
	if ok, err := s.completeClaim(ctx, sc, first, nil); ok || err != nil {
		t.Errorf("the replaced request completed the claim: %v %v", ok, err)
	}
	a, b := share("k"), share("k")
	if ok, err := s.completeClaim(ctx, sc, second, []Share{b, a}); !ok || err != nil {
		t.Fatalf("complete: %v %v", ok, err)
	}
	stray := share("k") // a late write of the replaced request
	if n := waiting(); n != 2 {
		t.Errorf("the reconciler queued %d shares, want the 2 of the complete set", n)
	}
	_, prev, err = s.claimKey(ctx, sc, me, "k", "h1")
	if err != nil || len(prev) != 2 || prev[0].ID != b.ID || prev[1].ID != a.ID {
		t.Errorf("replay: %v %v, want [%s %s] (not %s)", prev, err, b.ID, a.ID, stray.ID)
	}
}
