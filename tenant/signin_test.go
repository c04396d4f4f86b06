package tenant

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func newTestService(t *testing.T, clock *testClock) (*Service, *DevMailbox) {
	t.Helper()
	policy, err := NewDomainPolicy()
	if err != nil {
		t.Fatal(err)
	}
	box := NewDevMailbox(100, slog.New(slog.DiscardHandler), clock.Now)
	base, _ := url.Parse("https://chorus.example")
	return NewService(Config{
		Store: newTestStore(t, clock), Policy: policy, Mailer: box, BaseURL: base, Now: clock.Now,
		AddressLimit: Limit{Max: 10, Window: time.Hour}, IPLimit: Limit{Max: 30, Window: time.Hour},
	}), box
}

// tokenOf requests a link and returns its token.
func tokenOf(t *testing.T, s *Service, box *DevMailbox, email string) string {
	t.Helper()
	if err := s.RequestEmailLink(t.Context(), email, netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(box.List(email)[0].Link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func TestMailboxKey(t *testing.T) {
	for _, tc := range []struct{ addr, want string }{
		{"victim@acme.example", "victim@acme.example"},
		{"victim+0@acme.example", "victim@acme.example"},
		{"victim+a+b@acme.example", "victim@acme.example"},
		{"vic.tim@acme.example", "victim@acme.example"},
		{"v.i.c.t.i.m+news@acme.example", "victim@acme.example"},
		{"victim@mail.acme.example", "victim@mail.acme.example"},
		{"+tag@acme.example", "@acme.example"},
	} {
		if got := mailboxKey(tc.addr); got != tc.want {
			t.Errorf("mailboxKey(%q) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestSignInLinkRaceHasOneWinner(t *testing.T) {
	clock := newTestClock()
	s, box := newTestService(t, clock)
	token := tokenOf(t, s, box, "alice@acme.example")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = s.SignInWithEmailLink(t.Context(), token, "") })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrInvalidToken):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent uses of one link signed in, want 1", won, n)
	}
}

func TestSignInLinkExpiresAfter15Minutes(t *testing.T) {
	clock := newTestClock()
	s, box := newTestService(t, clock)
	token := tokenOf(t, s, box, "alice@acme.example")
	clock.Add(SignInLinkTTL + time.Second)
	if _, err := s.SignInWithEmailLink(t.Context(), token, ""); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired link: err = %v, want ErrInvalidToken", err)
	}
}

func TestLinkStoredHashed(t *testing.T) {
	clock := newTestClock()
	s, box := newTestService(t, clock)
	token := tokenOf(t, s, box, "alice@acme.example")
	n, err := s.Store.db.Collection(collSignIn).CountDocuments(t.Context(), map[string]any{"_id": token})
	if err != nil || n != 0 {
		t.Errorf("the raw token is stored as a key (%d, %v)", n, err)
	}
	secret, err := s.SignInWithEmailLink(t.Context(), token, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err = s.Store.db.Collection(collSessions).CountDocuments(t.Context(), map[string]any{"_id": secret})
	if err != nil || n != 0 {
		t.Errorf("the raw session secret is stored as a key (%d, %v)", n, err)
	}
}

func TestSessionExpiresAndSweeps(t *testing.T) {
	clock := newTestClock()
	s, box := newTestService(t, clock)
	secret, err := s.SignInWithEmailLink(t.Context(), tokenOf(t, s, box, "alice@acme.example"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(t.Context(), secret); err != nil {
		t.Fatalf("fresh session: %v", err)
	}
	tokenOf(t, s, box, "carol@acme.example") // an unused link to sweep
	clock.Add(SessionTTL + time.Minute)
	if _, _, err := s.Authenticate(t.Context(), secret); !errors.Is(err, ErrNoSession) {
		t.Errorf("expired session: err = %v, want ErrNoSession", err)
	}
	n, err := s.Store.SweepExpired(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 { // the session, two links (one used), rate-limit windows
		t.Errorf("swept %d records, want at least 3", n)
	}
	for _, coll := range []string{collSessions, collSignIn} {
		if left, _ := s.Store.db.Collection(coll).CountDocuments(t.Context(), map[string]any{}); left != 0 {
			t.Errorf("%d records left in %s", left, coll)
		}
	}
}

func TestAuthenticateRefusesGarbage(t *testing.T) {
	s, _ := newTestService(t, newTestClock())
	for _, secret := range []string{"", "x", string(make([]byte, 500))} {
		if _, _, err := s.Authenticate(t.Context(), secret); !errors.Is(err, ErrNoSession) {
			t.Errorf("Authenticate(%q): err = %v, want ErrNoSession", secret, err)
		}
	}
}

func TestCookieFor(t *testing.T) {
	tests := []struct {
		base       string
		wantName   string
		wantSecure bool
	}{
		{"https://chorus.example", "__Host-chorus_session", true},
		{"http://127.0.0.1:8080", "chorus_session", false},
		{"http://localhost:8080", "chorus_session", false},
		{"http://[::1]:8080", "chorus_session", false},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.base)
		if got := cookieFor(u); got.name != tt.wantName || got.secure != tt.wantSecure {
			t.Errorf("cookieFor(%s) = %+v, want %s secure=%v", tt.base, got, tt.wantName, tt.wantSecure)
		}
	}
}

func TestSetRoleKeepsAnAdmin(t *testing.T) {
	clock := newTestClock()
	s := newTestStore(t, clock)
	sc := newTestScope(t, s, "acme.example")
	admin, err := sc.joinByEmail(t.Context(), "founder@acme.example", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if admin.Role != RoleAdmin {
		t.Fatalf("founder's role = %s, want admin", admin.Role)
	}
	if _, err := sc.SetRole(t.Context(), admin.ID, RoleEmployee); !errors.Is(err, ErrLastAdmin) {
		t.Errorf("demoting the last admin: err = %v, want ErrLastAdmin", err)
	}
	carol, _ := sc.joinByEmail(t.Context(), "carol@acme.example", clock.Now())
	if _, err := sc.SetRole(t.Context(), carol.ID, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if m, err := sc.SetRole(t.Context(), admin.ID, RoleEmployee); err != nil || m.Role != RoleEmployee {
		t.Errorf("demoting one of two admins: %+v, %v", m, err)
	}
	if _, err := sc.SetRole(t.Context(), carol.ID, "owner"); err == nil {
		t.Error("an unknown role was accepted")
	}
}

// Two admins demoting, removing or erasing each other at the same moment
// must not leave the instance without an admin: at least one change is
// refused.
func TestConcurrentDemotionsKeepAnAdmin(t *testing.T) {
	clock := newTestClock()
	s, _ := newTestService(t, clock)
	sc := newTestScope(t, s.Store, "acme.example")
	a, err := sc.joinByEmail(t.Context(), "founder@acme.example", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	privacy := NewPrivacy(s)
	for round := range 30 {
		b, err := sc.joinByEmail(t.Context(), fmt.Sprintf("b%d@acme.example", round), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{a.ID, b.ID} {
			if _, err := sc.SetRole(t.Context(), id, RoleAdmin); err != nil {
				t.Fatal(err)
			}
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		wg.Go(func() { _, errs[0] = sc.SetRole(t.Context(), a.ID, RoleEmployee) })
		switch round % 3 {
		case 0:
			wg.Go(func() { _, errs[1] = sc.SetRole(t.Context(), b.ID, RoleCurator) })
		case 1:
			wg.Go(func() { errs[1] = s.RemoveMember(t.Context(), sc, a, b.ID) })
		default:
			wg.Go(func() {
				errs[1] = privacy.Erase(t.Context(), sc, MemberActor(a), Subject{MemberID: b.ID, Email: b.Email})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && !errors.Is(err, ErrLastAdmin) && !errors.Is(err, ErrConflict) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		n, err := sc.Collection(memberKind).Count(t.Context(), bson.D{{Key: "role", Value: RoleAdmin}})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("round %d: no admin left (errors %v)", round, errs)
		}
		if errs[0] == nil && errs[1] == nil {
			t.Fatalf("round %d: both changes succeeded", round)
		}
		// Next round starts again from a and a new b as the only admins.
		if _, err := sc.SetRole(t.Context(), a.ID, RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveMember(t.Context(), sc, a, b.ID); err != nil && !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}
}
