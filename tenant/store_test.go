package tenant

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

type testClock = tenanttest.Clock

func newTestClock() *testClock {
	return tenanttest.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
}

var noteKind = Kind{Name: "notes", Indexes: []Index{{Keys: bson.D{{Key: "title", Value: 1}}}}}

type note struct {
	ID    string `bson:"_id"`
	Title string `bson:"title"`
}

func newTestStore(t *testing.T, clock *testClock) *Store {
	t.Helper()
	uri, db := tenanttest.Mongo(t)
	s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Kinds: []Kind{noteKind}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(t.Context()) })
	return s
}

// newTestScope creates an instance for domain and returns its scope.
func newTestScope(t *testing.T, s *Store, domain string) Scope {
	t.Helper()
	inst, err := s.instanceForDomain(t.Context(), domain, "founder@"+domain)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.Open(t.Context(), inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestScopeIsolation(t *testing.T) {
	s := newTestStore(t, newTestClock())
	a := newTestScope(t, s, "acme.example")
	b := newTestScope(t, s, "globex.example")
	ctx := t.Context()

	want := note{ID: httpapi.NewID(), Title: "acme canary"}
	if err := a.Collection(noteKind).Insert(ctx, want); err != nil {
		t.Fatal(err)
	}
	byID := bson.D{{Key: "_id", Value: want.ID}}
	nb := b.Collection(noteKind)

	var got note
	if err := nb.FindOne(ctx, byID, &got); !errors.Is(err, ErrNotFound) {
		t.Errorf("B FindOne of A's note: err = %v, want ErrNotFound", err)
	}
	var all []note
	if err := nb.Find(ctx, bson.D{}, &all); err != nil || len(all) != 0 {
		t.Errorf("B Find: %v, %v; want nothing", all, err)
	}
	// A filter naming A's tenant_id is overridden by the scope's own.
	if err := nb.Find(ctx, bson.D{{Key: "tenant_id", Value: a.InstanceID()}}, &all); err != nil || len(all) != 0 {
		t.Errorf("B Find naming A's tenant_id: %v, %v; want nothing", all, err)
	}
	if n, err := nb.Count(ctx, bson.D{}); err != nil || n != 0 {
		t.Errorf("B Count = %d, %v; want 0", n, err)
	}
	if ok, err := nb.Update(ctx, byID, bson.D{{Key: "$set", Value: bson.D{{Key: "title", Value: "pwned"}}}}); err != nil || ok {
		t.Errorf("B Update = %v, %v; want no match", ok, err)
	}
	if err := nb.BulkUpdate(ctx, []Upsert{{Filter: byID, Update: bson.D{{Key: "$set", Value: bson.D{{Key: "title", Value: "pwned"}}}}}}); err != nil {
		t.Errorf("B BulkUpdate: %v", err)
	}
	if n, err := nb.Count(ctx, bson.D{}); err != nil || n != 0 {
		t.Errorf("B BulkUpdate inserted: count %d, %v; want 0", n, err)
	}
	if ok, err := nb.Delete(ctx, byID); err != nil || ok {
		t.Errorf("B Delete = %v, %v; want no match", ok, err)
	}
	if n, err := nb.DeleteMany(ctx, bson.D{}); err != nil || n != 0 {
		t.Errorf("B DeleteMany = %d, %v; want 0", n, err)
	}
	var agg []bson.M
	if err := nb.Aggregate(ctx, nil, &agg); err != nil || len(agg) != 0 {
		t.Errorf("B Aggregate = %v, %v; want nothing", agg, err)
	}
	// B cannot insert into A by naming A's tenant.
	err := nb.Insert(ctx, bson.D{{Key: "_id", Value: httpapi.NewID()}, {Key: "tenant_id", Value: a.InstanceID()}})
	if err == nil {
		t.Error("B Insert naming A's tenant_id succeeded")
	}

	if err := a.Collection(noteKind).FindOne(ctx, byID, &got); err != nil {
		t.Fatalf("A FindOne: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("A's note changed (-want +got):\n%s", diff)
	}
}

func TestScopeMembersIsolation(t *testing.T) {
	clock := newTestClock()
	s := newTestStore(t, clock)
	a := newTestScope(t, s, "acme.example")
	b := newTestScope(t, s, "globex.example")
	alice, err := a.joinByEmail(t.Context(), "alice@acme.example", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Member(t.Context(), alice.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B Member(alice) err = %v, want ErrNotFound", err)
	}
	if _, err := b.UpdateProfile(t.Context(), alice.ID, ProfileUpdate{Name: ptr("x")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("B UpdateProfile(alice) err = %v, want ErrNotFound", err)
	}
	ms, err := b.Members(t.Context(), "", 100)
	if err != nil || len(ms) != 0 {
		t.Errorf("B Members = %v, %v; want none", ms, err)
	}
	if names, err := b.MemberNames(t.Context(), []string{alice.ID}); err != nil || len(names) != 0 {
		t.Errorf("B MemberNames(alice) = %v, %v; want none", names, err)
	}
	if names, err := a.MemberNames(t.Context(), []string{alice.ID, "unknown"}); err != nil || len(names) != 1 || names[alice.ID] != "alice" {
		t.Errorf("A MemberNames(alice, unknown) = %v, %v; want alice's name only", names, err)
	}
	got, err := a.Member(t.Context(), alice.ID)
	if err != nil || got.Name != "alice" {
		t.Errorf("A Member(alice) = %+v, %v", got, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestZeroScopeReachesNothing(t *testing.T) {
	var sc Scope
	var n note
	if err := sc.Collection(noteKind).FindOne(t.Context(), bson.D{}, &n); !errors.Is(err, ErrNoScope) {
		t.Errorf("zero scope FindOne err = %v, want ErrNoScope", err)
	}
	if err := sc.Collection(noteKind).Insert(t.Context(), note{ID: "x"}); !errors.Is(err, ErrNoScope) {
		t.Errorf("zero scope Insert err = %v, want ErrNoScope", err)
	}
}

func TestUnregisteredKindRefused(t *testing.T) {
	s := newTestStore(t, newTestClock())
	a := newTestScope(t, s, "acme.example")
	err := a.Collection(Kind{Name: "unregistered"}).Insert(t.Context(), note{ID: httpapi.NewID()})
	if err == nil {
		t.Fatal("insert into an unregistered kind succeeded")
	}
}

func TestOpenUnknownInstance(t *testing.T) {
	s := newTestStore(t, newTestClock())
	for _, id := range []string{httpapi.NewID(), "", "../x", `{"$ne": ""}`} {
		if _, err := s.Open(t.Context(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) err = %v, want ErrNotFound", id, err)
		}
	}
}

func TestConcurrentFirstSignInsShareOneInstance(t *testing.T) {
	clock := newTestClock()
	s := newTestStore(t, clock)
	const n = 6
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			inst, err := s.instanceForDomain(t.Context(), "initech.example", fmt.Sprintf("p%d@initech.example", i))
			ids[i], errs[i] = inst.ID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("sign-in %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("sign-in %d landed in instance %s, sign-in 0 in %s", i, ids[i], ids[0])
		}
	}
	var insts []bson.M
	cur, err := s.db.Collection(collInstances).Find(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cur.All(t.Context(), &insts); err != nil {
		t.Fatal(err)
	}
	if len(insts) != 1 {
		t.Errorf("%d instance records remain, want 1", len(insts))
	}
}

func TestRateLimitSlidingWindow(t *testing.T) {
	clock := newTestClock()
	s := newTestStore(t, clock)
	l := Limit{Max: 3, Window: time.Hour}
	for i := range 3 {
		if ok, _, err := s.allow(t.Context(), "k", l); err != nil || !ok {
			t.Fatalf("event %d refused: %v", i+1, err)
		}
	}
	ok, wait, err := s.allow(t.Context(), "k", l)
	if err != nil || ok {
		t.Fatalf("4th event: ok=%v err=%v, want refused", ok, err)
	}
	if wait <= 0 || wait > 2*time.Hour {
		t.Errorf("retry after %v, want within (0, 2h]", wait)
	}
	if ok, _, _ := s.allow(t.Context(), "other", l); !ok {
		t.Error("another key was limited too")
	}
	// Two windows later nothing counts any more.
	clock.Add(2 * time.Hour)
	if ok, _, err := s.allow(t.Context(), "k", l); err != nil || !ok {
		t.Errorf("after two windows: ok=%v err=%v, want allowed", ok, err)
	}
}

func TestRetryAfter(t *testing.T) {
	w := time.Hour
	tests := []struct {
		name                   string
		prev, cur, limit       float64
		into, wantMin, wantMax time.Duration
	}{
		{"current window full", 0, 4, 3, 10 * time.Minute, 50 * time.Minute, 90 * time.Minute},
		{"previous window fades", 6, 1, 3, 0, 45 * time.Minute, 55 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := retryAfter(tt.prev, tt.cur, tt.limit, tt.into, w)
			if got < tt.wantMin || got > tt.wantMax {
				t.Errorf("retryAfter = %v, want within [%v, %v]", got, tt.wantMin, tt.wantMax)
			}
		})
	}
}

// An instance made before an index was declared gets it when a store
// opens again, and opening again once it has it changes nothing.
func TestMigrateAddsIndexesToExistingInstances(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	open := func(kinds ...Kind) *Store {
		t.Helper()
		s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Kinds: kinds})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(t.Context()) })
		if _, err := s.Migrate(t.Context(), nil, "test"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(Kind{Name: "notes"})
	inst, err := s.EnsureInstance(t.Context(), "acme.example", "founder@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	later := Kind{Name: "notes", Indexes: []Index{{Keys: bson.D{{Key: "title", Value: 1}, {Key: "at", Value: -1}}}}}
	for range 2 {
		s = open(later, Kind{Name: "labels"})
	}
	names := func(kind string) []string {
		t.Helper()
		specs, err := s.db.Collection(collectionName(inst.ID, kind)).Indexes().ListSpecifications(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sp := range specs {
			out = append(out, indexKeyOf(sp.KeysDocument))
		}
		return out
	}
	if got, want := names("notes"), []string{"_id+,", "tenant_id+,title+,at-,"}; !cmp.Equal(got, want) {
		t.Errorf("indexes of notes: %v, want %v", got, want)
	}
	if got := names("labels"); len(got) != 1 {
		t.Errorf("the new kind's collection has indexes %v, want only _id", got)
	}

	// A start with the same kinds checks nothing: its cost does not grow
	// with the number of instances.
	var lists atomic.Int64
	mon := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "listIndexes" || e.CommandName == "createIndexes" {
			lists.Add(1)
		}
	}}
	again, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Kinds: []Kind{later, {Name: "labels"}}, Monitor: mon})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(t.Context())
	if rep, err := again.Migrate(t.Context(), nil, "test"); err != nil || rep.Indexed != -1 {
		t.Errorf("migrating with unchanged kinds: %+v, %v; want no instance looked at", rep, err)
	}
	if n, global := lists.Load(), int64(6); n > global {
		t.Errorf("a start with unchanged kinds sent %d index commands, want only the %d global collections'", n, global)
	}
}
