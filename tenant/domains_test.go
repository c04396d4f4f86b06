package tenant

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// txtRecords is a TXTResolver answering from a map.
type txtRecords map[string][]string

func (r txtRecords) LookupTXT(_ context.Context, name string) ([]string, error) {
	return r[name], nil
}

// verifiedInstance signs the founder of domain in and verifies the domain
// without DNS; it returns the scope and the founder.
func verifiedInstance(t *testing.T, s *Service, domain string) (Scope, Member) {
	t.Helper()
	sc, m := signedIn(t, s, "founder@"+domain)
	if err := s.Store.markVerified(t.Context(), sc.InstanceID(), domain, s.Now()); err != nil {
		t.Fatal(err)
	}
	sc, err := s.Store.Open(t.Context(), sc.InstanceID())
	if err != nil {
		t.Fatal(err)
	}
	return sc, m
}

// signedIn signs email in by a mailed link and returns where it landed.
func signedIn(t *testing.T, s *Service, email string) (Scope, Member) {
	t.Helper()
	box := s.Mailer.(*DevMailbox)
	secret, err := s.SignInWithEmailLink(t.Context(), tokenOf(t, s, box, email), "")
	if err != nil {
		t.Fatalf("sign-in of %s: %v", email, err)
	}
	sc, m, err := s.Authenticate(t.Context(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return sc, m
}

// An added domain admits nobody until verified: a colleague of the
// domain gets a pending instance of their own, taking the claim over.
func TestUnverifiedAddedDomainAdmitsNobody(t *testing.T) {
	s, _ := newTestService(t, newTestClock())
	globex, admin := verifiedInstance(t, s, "globex.example")
	if _, err := s.AddDomain(t.Context(), globex, admin, "newco.example"); err != nil {
		t.Fatal(err)
	}
	sc, m := signedIn(t, s, "pat@newco.example")
	if sc.InstanceID() == globex.InstanceID() {
		t.Fatal("pat@newco.example landed in the instance that added newco.example without verifying it")
	}
	if sc.Instance().Verified || m.Role != RoleAdmin {
		t.Errorf("pat's instance verified = %v, role = %s; want a new pending instance with pat as admin-to-be", sc.Instance().Verified, m.Role)
	}
	colleague, _ := signedIn(t, s, "sam@newco.example")
	if colleague.InstanceID() != sc.InstanceID() {
		t.Error("a colleague did not join the pending instance created from newco.example")
	}
	ds, err := s.Domains(t.Context(), globex)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Domain != "globex.example" {
		t.Errorf("Globex's domains after the takeover = %+v, want only globex.example", ds)
	}
	after, err := s.Store.instance(t.Context(), globex.InstanceID())
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Domains) != 1 {
		t.Errorf("Globex's instance still lists %v", after.Domains)
	}
}

// A squatter's join policy sso on an unverified domain locks nobody out.
func TestUnverifiedAddedDomainDoesNotForceSSO(t *testing.T) {
	s, _ := newTestService(t, newTestClock())
	globex, admin := verifiedInstance(t, s, "globex.example")
	if _, err := s.AddDomain(t.Context(), globex, admin, "newco.example"); err != nil {
		t.Fatal(err)
	}
	st := globex.Instance().Settings
	st.JoinPolicy = JoinSSO
	if _, err := s.Store.updateInstance(t.Context(), globex, globex.Instance().Name, st); err != nil {
		t.Fatal(err)
	}
	if err := s.refuseEmailUnderSSO(t.Context(), "newco.example"); err != nil {
		t.Errorf("email sign-in on a domain another instance added but never verified: %v", err)
	}
	if inst, err := s.Store.oidcDomainInstance(t.Context(), "newco.example"); err != nil || inst.ID != "" {
		t.Errorf("oidcDomainInstance(newco.example) = %q, %v; want none", inst.ID, err)
	}
	if err := s.refuseEmailUnderSSO(t.Context(), "globex.example"); !errors.Is(err, ErrSSORequired) {
		t.Errorf("Globex's own verified domain: err = %v, want ErrSSORequired", err)
	}
}

// The real owner adds and verifies a domain another instance squats on:
// the squatter's unverified claim is removed.
func TestVerifiedOwnerTakesOverSquattedDomain(t *testing.T) {
	s, _ := newTestService(t, newTestClock())
	acme, acmeAdmin := verifiedInstance(t, s, "acme.example")
	globex, globexAdmin := verifiedInstance(t, s, "globex.example")
	if _, err := s.AddDomain(t.Context(), globex, globexAdmin, "sub.acme.example"); err != nil {
		t.Fatal(err)
	}
	d, err := s.AddDomain(t.Context(), acme, acmeAdmin, "sub.acme.example")
	if err != nil {
		t.Fatalf("the real owner adding a squatted domain: %v", err)
	}
	// A verification of Globex's that was under way when the claim went
	// finds it gone.
	if err := s.Store.markVerified(t.Context(), globex.InstanceID(), "sub.acme.example", s.Now()); !errors.Is(err, ErrNotFound) {
		t.Errorf("verifying a claim taken over meanwhile: %v, want ErrNotFound", err)
	}
	// Taken back and forth, each instance's record stays the same, so a
	// published record keeps working.
	if _, err := s.AddDomain(t.Context(), globex, globexAdmin, "sub.acme.example"); err != nil {
		t.Fatal(err)
	}
	again, err := s.AddDomain(t.Context(), acme, acmeAdmin, "sub.acme.example")
	if err != nil || again.TXT != d.TXT {
		t.Fatalf("re-adding: %+v, %v; want the same record %+v", again, err, d.TXT)
	}
	s.Resolver = txtRecords{"sub.acme.example": {d.TXT.Value}}
	if _, err := s.VerifyDomain(t.Context(), acme, acmeAdmin, "sub.acme.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDomain(t.Context(), globex, globexAdmin, "sub.acme.example"); !errors.Is(err, ErrDomainTaken) {
		t.Errorf("adding another instance's verified domain: err = %v, want ErrDomainTaken", err)
	}
	if ds, _ := s.Domains(t.Context(), globex); len(ds) != 1 {
		t.Errorf("Globex still lists %+v", ds)
	}
	sc, _ := signedIn(t, s, "kim@sub.acme.example")
	if sc.InstanceID() != acme.InstanceID() {
		t.Error("a person of the verified domain did not land in its owner's instance")
	}
	// A pending instance's founding domain is not taken over by adding.
	pending, _ := signedIn(t, s, "lee@initech.example")
	if _, err := s.AddDomain(t.Context(), acme, acmeAdmin, "initech.example"); !errors.Is(err, ErrDomainTaken) {
		t.Errorf("adding a pending instance's founding domain: err = %v, want ErrDomainTaken", err)
	}
	if sc, _ := signedIn(t, s, "max@initech.example"); sc.InstanceID() != pending.InstanceID() {
		t.Error("a colleague did not join the pending instance")
	}
}

// Adding a domain the instance already claims finishes what an earlier
// attempt left undone: the instance lists the domain again.
func TestAddDomainAgainFinishesTheList(t *testing.T) {
	s, _ := newTestService(t, newTestClock())
	acme, admin := verifiedInstance(t, s, "acme.example")
	if _, err := s.AddDomain(t.Context(), acme, admin, "acme.de"); err != nil {
		t.Fatal(err)
	}
	// An earlier attempt that stopped after the claim.
	if _, err := s.Store.db.Collection(collInstances).UpdateOne(t.Context(), bson.D{{Key: "_id", Value: acme.InstanceID()}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "domains", Value: "acme.de"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddDomain(t.Context(), acme, admin, "acme.de"); err != nil {
		t.Fatalf("adding it again: %v", err)
	}
	inst, err := s.Store.instance(t.Context(), acme.InstanceID())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(inst.Domains, "acme.de") {
		t.Errorf("domains after adding again: %v, want acme.de listed", inst.Domains)
	}
}

// Domains lists by name, whatever order they were added in or the store
// returns them in.
func TestDomainsSortedByName(t *testing.T) {
	s, _ := newTestService(t, newTestClock())
	sc, admin := verifiedInstance(t, s, "zeta.example")
	for _, d := range []string{"mid.example", "alpha.example", "zz.example"} {
		if _, err := s.AddDomain(t.Context(), sc, admin, d); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.Domains(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.Domain)
	}
	if want := []string{"alpha.example", "mid.example", "zeta.example", "zz.example"}; !slices.Equal(got, want) {
		t.Errorf("Domains = %v, want %v", got, want)
	}
}
