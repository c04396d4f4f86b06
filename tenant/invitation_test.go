package tenant

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"
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

// failingMailer fails every mail to one address.
type failingMailer struct {
	Mailer
	to string
}

func (m failingMailer) Send(ctx context.Context, mail Mail) error {
	if mail.To == m.to {
		return errors.New("mail server refused " + mail.To)
	}
	return m.Mailer.Send(ctx, mail)
}

// A mail failing partway through a request leaves nobody of it invited:
// the invitations it made are withdrawn and their mailed links dead.
func TestInviteMailFailureInvitesNobody(t *testing.T) {
	s, box := newTestService(t, newTestClock())
	sc, admin := verifiedInstance(t, s, "acme.example")
	s.Mailer = failingMailer{Mailer: box, to: "b@acme.example"}
	_, err := s.Invite(t.Context(), sc, admin, []string{"a@acme.example", "b@acme.example", "c@acme.example"}, nil)
	if err == nil {
		t.Fatal("a failed mail went unreported")
	}
	invs, err := s.Invitations(t.Context(), sc)
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) != 0 {
		t.Errorf("invitations after the failed request: %+v, want none", invs)
	}
	mails := box.List("a@acme.example")
	if len(mails) != 1 {
		t.Fatalf("%d mails to a@acme.example", len(mails))
	}
	u, err := url.Parse(mails[0].Link)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignInWithEmailLink(t.Context(), u.Query().Get("token"), ""); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("the withdrawn invitation's link: %v, want ErrInvalidToken", err)
	}
	if n := len(box.List("c@acme.example")); n != 0 {
		t.Errorf("c@acme.example got %d mails after the request failed", n)
	}
}

// With no addresses left to invite (every one refused), openInvitations
// asks nothing of the store: MongoDB refuses the $in of null a nil slice
// encodes to, and the request answered 500 instead of naming the
// refused addresses. A closed store proves no query is made.
func TestOpenInvitationsOfNoAddressesAsksNothing(t *testing.T) {
	s := newTestStore(t, newTestClock())
	sc := newTestScope(t, s, "acme.example")
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	open, err := sc.openInvitations(t.Context(), nil, time.Now())
	if err != nil || len(open) != 0 {
		t.Errorf("openInvitations(nil) = %v, %v; want none and no query", open, err)
	}
}
