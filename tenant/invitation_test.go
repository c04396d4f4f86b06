package tenant

import (
	"errors"
	"testing"
)

// Inviting an address with a pending invitation again resends that
// invitation, under the same limit as a resend.
func TestInviteAgainIsAResend(t *testing.T) {
	s, box := newTestService(t, newTestClock())
	sc, admin := verifiedInstance(t, s, "acme.example")
	var first Invitation
	for i := range maxResends + 1 {
		invs, err := s.Invite(t.Context(), sc, admin, []string{"a@acme.example"}, nil)
		if err != nil {
			t.Fatalf("invitation %d: %v", i+1, err)
		}
		if i == 0 {
			first = invs[0]
		}
		if len(invs) != 1 || invs[0].ID != first.ID || invs[0].Sent != i+1 {
			t.Fatalf("invitation %d: %+v, want the first invitation sent %d times", i+1, invs, i+1)
		}
	}
	_, err := s.Invite(t.Context(), sc, admin, []string{"b@acme.example", "a@acme.example"}, nil)
	var ie *InviteError
	if !errors.As(err, &ie) || len(ie.Errors) != 1 || ie.Errors[0].Field != "emails[1]" {
		t.Fatalf("inviting once more than resends allow: %v, want an InviteError naming emails[1]", err)
	}
	invs, err := s.Invitations(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != 1 {
		t.Errorf("%d invitations, want 1: %+v", len(invs), invs)
	}
	if n := len(box.List("a@acme.example")); n != maxResends+1 {
		t.Errorf("%d mails to a@acme.example, want %d", n, maxResends+1)
	}
	if n := len(box.List("b@acme.example")); n != 0 {
		t.Errorf("b@acme.example got %d mails from a refused request", n)
	}
}
