package tenant

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/tenanttest"
)

// authRig is two processes on one database: s (the one the changes are
// made in) and other, each with its own cache, whose clock the test moves.
type authRig struct {
	s, other *Service
	clock    *testClock
	cacheNow *tenanttest.Clock
	finds    atomic.Int64 // find commands s's client sent
}

func newAuthRig(t *testing.T) *authRig {
	t.Helper()
	r := &authRig{clock: newTestClock(), cacheNow: tenanttest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	uri, db := tenanttest.Mongo(t)
	open := func(monitor *event.CommandMonitor) *Service {
		st, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Now: r.clock.Now, Monitor: monitor})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close(context.Background()) })
		st.cache.now = r.cacheNow.Now
		policy, err := NewDomainPolicy()
		if err != nil {
			t.Fatal(err)
		}
		base, _ := url.Parse("https://chorus.example")
		return NewService(Config{Store: st, Policy: policy, Now: r.clock.Now, BaseURL: base,
			Mailer: NewDevMailbox(100, slog.New(slog.DiscardHandler), r.clock.Now), AddressLimit: Limit{Max: 100, Window: time.Hour}, IPLimit: Limit{Max: 100, Window: time.Hour}})
	}
	r.s = open(&event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if e.CommandName == "find" {
			r.finds.Add(1)
		}
	}})
	r.other = open(nil)
	return r
}

// signIn signs email in through s and returns the session secret.
func (r *authRig) signIn(t *testing.T, email string) string {
	t.Helper()
	secret, err := r.s.SignInWithEmailLink(t.Context(), tokenOf(t, r.s, r.s.Mailer.(*DevMailbox), email), "")
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// auth authenticates secret with svc, which must succeed.
func auth(t *testing.T, svc *Service, secret string) (Scope, Member) {
	t.Helper()
	sc, m, err := svc.Authenticate(t.Context(), secret)
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	return sc, m
}

func TestAuthenticateReadsTheStoreOncePerTTL(t *testing.T) {
	r := newAuthRig(t)
	secret := r.signIn(t, "founder@acme.example")
	auth(t, r.s, secret)
	before := r.finds.Load()
	for range 20 {
		auth(t, r.s, secret)
	}
	if n := r.finds.Load() - before; n != 0 {
		t.Errorf("20 requests within the TTL sent %d finds, want 0", n)
	}
	r.cacheNow.Add(DefaultAuthCacheTTL)
	auth(t, r.s, secret)
	if n := r.finds.Load() - before; n != 3 {
		t.Errorf("a request past the TTL sent %d finds, want 3 (session, instance, member)", n)
	}
}

// Changes made in a process hold at once for its next request.
func TestAuthenticateSeesThisProcessChangesAtOnce(t *testing.T) {
	t.Run("sign-out", func(t *testing.T) {
		r := newAuthRig(t)
		secret := r.signIn(t, "founder@acme.example")
		auth(t, r.s, secret)
		if err := r.s.SignOut(t.Context(), secret); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.s.Authenticate(t.Context(), secret); !errors.Is(err, ErrNoSession) {
			t.Errorf("after sign-out: err = %v, want ErrNoSession", err)
		}
	})
	t.Run("sessions revoked", func(t *testing.T) {
		r := newAuthRig(t)
		secret := r.signIn(t, "founder@acme.example")
		sc, m := auth(t, r.s, secret)
		if err := r.s.Store.endMemberSessions(t.Context(), sc.InstanceID(), m.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.s.Authenticate(t.Context(), secret); !errors.Is(err, ErrNoSession) {
			t.Errorf("after revocation: err = %v, want ErrNoSession", err)
		}
	})
	t.Run("role change", func(t *testing.T) {
		r := newAuthRig(t)
		admin := r.signIn(t, "founder@acme.example")
		employee := r.signIn(t, "bob@acme.example")
		sc, _ := auth(t, r.s, admin)
		_, bob := auth(t, r.s, employee)
		if _, err := sc.SetRole(t.Context(), bob.ID, RoleCurator); err != nil {
			t.Fatal(err)
		}
		if _, m := auth(t, r.s, employee); m.Role != RoleCurator {
			t.Errorf("after the role change: role %s, want curator", m.Role)
		}
	})
	t.Run("removal", func(t *testing.T) {
		r := newAuthRig(t)
		admin := r.signIn(t, "founder@acme.example")
		employee := r.signIn(t, "bob@acme.example")
		sc, by := auth(t, r.s, admin)
		_, bob := auth(t, r.s, employee)
		if err := r.s.RemoveMember(t.Context(), sc, by, bob.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.s.Authenticate(t.Context(), employee); !errors.Is(err, ErrNoSession) {
			t.Errorf("after removal: err = %v, want ErrNoSession", err)
		}
	})
	t.Run("erasure", func(t *testing.T) {
		r := newAuthRig(t)
		r.signIn(t, "founder@acme.example")
		employee := r.signIn(t, "bob@acme.example")
		sc, bob := auth(t, r.s, employee)
		p := NewPrivacy(r.s)
		subject, err := p.SubjectByEmail(t.Context(), sc, bob.Email)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Erase(t.Context(), sc, MemberActor(bob), subject); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.s.Authenticate(t.Context(), employee); !errors.Is(err, ErrNoSession) {
			t.Errorf("after erasure: err = %v, want ErrNoSession", err)
		}
	})
	t.Run("settings", func(t *testing.T) {
		r := newAuthRig(t)
		secret := r.signIn(t, "founder@acme.example")
		sc, founder := auth(t, r.s, secret)
		name := "Acme Corp"
		if _, err := r.s.UpdateSettings(t.Context(), sc, founder, SettingsUpdate{Name: &name}); err != nil {
			t.Fatal(err)
		}
		if sc, _ := auth(t, r.s, secret); sc.Instance().Name != name {
			t.Errorf("after renaming: name %q, want %q", sc.Instance().Name, name)
		}
	})
}

// Another process sees a change within the TTL, not later.
func TestAuthenticateSeesOtherProcessChangesWithinTheTTL(t *testing.T) {
	r := newAuthRig(t)
	admin := r.signIn(t, "founder@acme.example")
	employee := r.signIn(t, "bob@acme.example")
	sc, by := auth(t, r.s, admin)
	_, bob := auth(t, r.s, employee)
	if _, m := auth(t, r.other, employee); m.Role != RoleEmployee {
		t.Fatalf("role %s, want employee", m.Role)
	}
	if _, err := sc.SetRole(t.Context(), bob.ID, RoleAnalyst); err != nil {
		t.Fatal(err)
	}
	r.cacheNow.Add(DefaultAuthCacheTTL)
	if _, m := auth(t, r.other, employee); m.Role != RoleAnalyst {
		t.Errorf("the other process, a TTL after the role change: role %s, want analyst", m.Role)
	}
	if err := r.s.RemoveMember(t.Context(), sc, by, bob.ID); err != nil {
		t.Fatal(err)
	}
	r.cacheNow.Add(DefaultAuthCacheTTL)
	if _, _, err := r.other.Authenticate(t.Context(), employee); !errors.Is(err, ErrNoSession) {
		t.Errorf("the other process, a TTL after the removal: err = %v, want ErrNoSession", err)
	}
}

// A read that began before a change and ends after it is not kept: the
// change holds for every request that starts after it returned.
func TestAuthCacheKeepsNoReadOlderThanAChange(t *testing.T) {
	r := newAuthRig(t)
	admin := r.signIn(t, "founder@acme.example")
	employee := r.signIn(t, "bob@acme.example")
	sc, _ := auth(t, r.s, admin)
	_, bob := auth(t, r.s, employee)
	r.cacheNow.Add(DefaultAuthCacheTTL) // the next read goes to the store
	var once sync.Once
	r.s.Store.cache.loaded = func(key string) {
		if key != memberKey(sc.InstanceID(), bob.ID) {
			return
		}
		// The member was read as an employee; the change lands before the
		// read is kept.
		once.Do(func() {
			if _, err := sc.SetRole(t.Context(), bob.ID, RoleCurator); err != nil {
				t.Error(err)
			}
		})
	}
	if _, m := auth(t, r.s, employee); m.Role != RoleEmployee {
		t.Fatalf("the read that began before the change: role %s, want employee", m.Role)
	}
	r.s.Store.cache.loaded = nil
	if _, m := auth(t, r.s, employee); m.Role != RoleCurator {
		t.Errorf("the next request: role %s, want curator", m.Role)
	}
}

func TestAuthCacheCanBeTurnedOff(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	var finds atomic.Int64
	st, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, AuthCacheTTL: -1,
		Monitor: &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if e.CommandName == "find" {
				finds.Add(1)
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	inst, err := st.EnsureInstance(t.Context(), "acme.example", "founder@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	before := finds.Load()
	for range 3 {
		if _, err := st.cachedInstance(t.Context(), inst.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := finds.Load() - before; n != 3 {
		t.Errorf("3 reads without a cache sent %d finds, want 3", n)
	}
	// A change written behind the store's back is seen at once.
	raw, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	if _, err := raw.Database(db).Collection(collInstances).UpdateOne(t.Context(), bson.D{{Key: "_id", Value: inst.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: "renamed"}}}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.cachedInstance(t.Context(), inst.ID); got.Name != "renamed" {
		t.Errorf("name %q, want renamed", got.Name)
	}
}
