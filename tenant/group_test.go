package tenant

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	dex "github.com/chorushq/chorus/tenant/oidctest"
)

func TestRules(t *testing.T) {
	sales := Group{ID: "g", Rules: []Rule{{Attribute: "department", Values: []string{"Sales", "Inside sales"}}}}
	salesParis := Group{ID: "g", Rules: []Rule{{Attribute: "department", Values: []string{"Sales"}}, {Attribute: "location", Values: []string{"Paris"}}}}
	for _, c := range []struct {
		name  string
		g     Group
		attrs map[string]string
		want  bool
	}{
		{"value in the list", sales, map[string]string{"department": "Sales"}, true},
		{"case and space ignored", sales, map[string]string{"department": " inside SALES "}, true},
		{"another value", sales, map[string]string{"department": "Engineering"}, false},
		{"no attribute", sales, nil, false},
		{"every rule holds", salesParis, map[string]string{"department": "sales", "location": "paris"}, true},
		{"one rule fails", salesParis, map[string]string{"department": "sales", "location": "Lyon"}, false},
		{"no rules: by hand only", Group{ID: "g"}, map[string]string{"department": "Sales"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.g.Matches(c.attrs); got != c.want {
				t.Errorf("Matches(%v) = %v, want %v", c.attrs, got, c.want)
			}
		})
	}
	if !(Group{ID: "g"}).Has(Member{Groups: []string{"g"}}) {
		t.Error("a member added by hand is not in the group")
	}
}

func TestCheckGroup(t *testing.T) {
	for _, c := range []struct {
		name   string
		gname  string
		rules  []Rule
		fields []string
	}{
		{"fine", "Sales", []Rule{{Attribute: "department", Values: []string{"Sales"}}}, nil},
		{"empty name", " ", nil, []string{"name"}},
		{"unknown attribute", "X", []Rule{{Attribute: "salary", Values: []string{"1"}}}, []string{"rules[0].attribute"}},
		{"two rules on one attribute", "X", []Rule{{Attribute: "location", Values: []string{"a"}}, {Attribute: "location", Values: []string{"b"}}}, []string{"rules[1].attribute"}},
		{"no values", "X", []Rule{{Attribute: "location"}}, []string{"rules[0].values"}},
		{"a control character", "X", []Rule{{Attribute: "location", Values: []string{"a\x00"}}}, []string{"rules[0].values"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, errs := checkGroup(c.gname, c.rules)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if diff := cmp.Diff(got, c.fields); diff != "" {
				t.Errorf("fields (-got +want):\n%s", diff)
			}
		})
	}
}

func TestClaimText(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
		ok   bool
	}{
		{"Sales", "Sales", true},
		{" Paris ", "Paris", true},
		{[]any{"", "R&D", "Ops"}, "R&D", true},
		{float64(42), "42", true},
		{"", "", false},
		{map[string]any{"a": "b"}, "", false},
		{nil, "", false},
	} {
		if got, ok := claimText(c.in); got != c.want || ok != c.ok {
			t.Errorf("claimText(%#v) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// Groups are tenant data: another instance reads, changes and uses none
// of them, and names are unique per instance only.
func TestGroupsAreTenantData(t *testing.T) {
	s := newTestStore(t, newTestClock())
	ctx := t.Context()
	a := newTestScope(t, s, "acme.example")
	b := newTestScope(t, s, "globex.example")
	adminA, err := a.joinByEmail(ctx, "founder@acme.example", s.now())
	if err != nil {
		t.Fatal(err)
	}
	adminB, err := b.joinByEmail(ctx, "founder@globex.example", s.now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.CreateGroup(ctx, adminA, "Sales", []Rule{{Attribute: "department", Values: []string{"Sales"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateGroup(ctx, adminA, "SALES", nil); !errors.Is(err, ErrGroupNameTaken) {
		t.Errorf("a taken name: %v, want ErrGroupNameTaken", err)
	}
	if _, err := b.CreateGroup(ctx, adminB, "Sales", nil); err != nil {
		t.Errorf("another instance's group name: %v", err)
	}
	if _, err := b.Group(ctx, g.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B reads A's group: %v", err)
	}
	name := "Hijacked"
	if _, err := b.UpdateGroup(ctx, adminB, g.ID, &name, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("B renames A's group: %v", err)
	}
	if err := b.DeleteGroup(ctx, adminB, g.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B deletes A's group: %v", err)
	}
	if err := b.SetGroupMembership(ctx, adminB, g.ID, adminB.ID, true); !errors.Is(err, ErrNotFound) {
		t.Errorf("B joins A's group: %v", err)
	}
	if _, err := b.SetAttributes(ctx, adminB, adminA.ID, map[string]string{"department": "Sales"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("B sets attributes of A's member: %v", err)
	}
	if unknown, err := b.UnknownGroups(ctx, []string{g.ID}); err != nil || !slices.Equal(unknown, []string{g.ID}) {
		t.Errorf("B may aim at A's group: %v, %v", unknown, err)
	}
	// A's member joins by attribute; the cached list follows each change.
	m, err := a.SetAttributes(ctx, adminA, adminA.ID, map[string]string{"department": "sales"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a.MemberGroups(ctx, m); !slices.Equal(got, []string{g.ID}) {
		t.Errorf("member groups = %v, want [%s]", got, g.ID)
	}
	if err := a.DeleteGroup(ctx, adminA, g.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.MemberGroups(ctx, m); len(got) != 0 {
		t.Errorf("member groups after deletion = %v", got)
	}
	if gs, _ := a.Groups(ctx); len(gs) != 0 {
		t.Errorf("A's groups after deletion = %+v", gs)
	}
}

// The instance's mapping of claims to attributes applies at each OIDC
// sign-in through a real provider (Dex: its name claim is the address's
// local part).
func TestAttributesFromClaims(t *testing.T) {
	r := newSSORig(t)
	idp := r.companyDex(t, dex.User{Email: "alice@acme.example", Password: "pw-alice", EmailVerified: true})
	acme, admin := r.verifiedInstance(t, "acme.example")
	ctx := t.Context()
	if _, err := r.s.ConfigureSSO(ctx, acme, admin, SSOUpdate{Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	var verr ValidationErrors
	if _, err := r.s.SetAttributeClaims(ctx, acme, admin, map[string]string{"salary": "x"}); !errors.As(err, &verr) || verr[0].Field != "salary" {
		t.Errorf("an unknown attribute: %v", err)
	}
	if _, err := r.s.SetAttributeClaims(ctx, acme, admin, map[string]string{"department": "name", "location": "office"}); err != nil {
		t.Fatal(err)
	}
	acme = r.reopen(t, acme)
	g, err := acme.CreateGroup(ctx, admin, "Alices", []Rule{{Attribute: "department", Values: []string{"alice"}}})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := r.signIn(t, idp, r.start(t, oidcStart{Email: "alice@acme.example"}), "alice@acme.example", "pw-alice")
	if err != nil {
		t.Fatal(err)
	}
	sc, m, err := r.s.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.Attributes, map[string]string{"department": "alice"}); diff != "" {
		t.Errorf("attributes from claims (-got +want), the absent office claim left out:\n%s", diff)
	}
	if got, _ := sc.MemberGroups(ctx, m); !slices.Equal(got, []string{g.ID}) {
		t.Errorf("groups = %v, want the rule's group", got)
	}
}
