package tenant

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 7 * 24 * time.Hour

// Invitation errors.
var (
	// ErrNotInvited: the instance admits invited people only.
	ErrNotInvited = errors.New("this company admits invited colleagues only: ask an admin for an invitation")
	// ErrInvitationClosed: revoked, accepted or expired.
	ErrInvitationClosed = errors.New("the invitation is no longer open")
)

// Invitation is an admin's invitation of a colleague.
type Invitation struct {
	ID        string    `bson:"_id" json:"id"`
	Email     string    `bson:"email" json:"email"`
	InvitedBy string    `bson:"invited_by" json:"invited_by"`
	Message   string    `bson:"message" json:"message"`
	State     string    `bson:"state" json:"state"` // pending, accepted, revoked
	Sent      int       `bson:"sent" json:"sent"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	ExpiresAt time.Time `bson:"expires_at" json:"expires_at"`
	// TokenHash is the hash of the current link's secret.
	TokenHash string `bson:"token_hash" json:"-"`
}

var invitationKind = Kind{
	Name:    "invitations",
	Indexes: []Index{{Keys: bson.D{{Key: "email", Value: 1}}}},
}

const (
	maxInvitesPerRequest = 100
	maxResends           = 3
)

// Invite invites colleagues (admins of a verified instance): every address
// must be on one of the instance's verified domains, or nothing is sent.
// The mail carries the instance's invitation message unless message is set.
// An address with an open invitation is not invited twice: that
// invitation is resent (a fresh link, its own message), which counts
// against its resends, and an address past them refuses the request like
// a foreign one. A failure partway (a mail refused) returns the error and
// withdraws every invitation the request made, mailed or not, so nobody of
// it is invited; invitations it resent stay open.
func (s *Service) Invite(ctx context.Context, sc Scope, by Member, emails []string, message *string) ([]Invitation, error) {
	if err := RequireVerified(sc); err != nil {
		return nil, err
	}
	if len(emails) == 0 || len(emails) > maxInvitesPerRequest {
		return nil, &ValidationError{Field: "emails", Reason: fmt.Sprintf("must list 1 to %d addresses", maxInvitesPerRequest)}
	}
	msg := sc.Instance().Settings.InvitationMessage
	if message != nil {
		msg = strings.TrimSpace(*message)
		if e := controlCharError("message", msg, true); e != nil {
			return nil, e
		}
		if len([]rune(msg)) > maxInvitationMessage {
			return nil, &ValidationError{Field: "message", Reason: fmt.Sprintf("must be at most %d characters", maxInvitationMessage)}
		}
	}
	domains, err := s.Domains(ctx, sc)
	if err != nil {
		return nil, err
	}
	verified := map[string]bool{}
	for _, d := range domains {
		verified[d.Domain] = d.Verified
	}
	var (
		verr   ValidationErrors
		addrs  []string
		fields = map[string]string{}
	)
	for i, e := range emails {
		addr, domain, err := s.Policy.ParseEmail(e)
		field := fmt.Sprintf("emails[%d]", i)
		switch {
		case err != nil:
			verr = append(verr, &ValidationError{Field: field, Reason: "is not a usable work address"})
		case !verified[domain]:
			verr = append(verr, &ValidationError{Field: field, Reason: domain + " is not a verified domain of this instance"})
		case !slices.Contains(addrs, addr):
			addrs = append(addrs, addr)
			fields[addr] = field
		}
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	open, err := sc.openInvitations(ctx, addrs, now)
	if err != nil {
		return nil, err
	}
	for _, addr := range addrs {
		if inv, ok := open[addr]; ok && inv.Sent > maxResends {
			verr = append(verr, &ValidationError{Field: fields[addr],
				Reason: fmt.Sprintf("has an open invitation sent %d times already, the most allowed", inv.Sent)})
		}
	}
	if len(verr) > 0 {
		return nil, &InviteError{verr}
	}
	out := make([]Invitation, 0, len(addrs))
	var made []Invitation
	for _, addr := range addrs {
		inv, resend := open[addr]
		if !resend {
			inv = Invitation{ID: httpapi.NewID(), Email: addr, InvitedBy: by.ID, Message: msg, State: "pending",
				CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
			if err := sc.Collection(invitationKind).Insert(ctx, inv); err != nil {
				return nil, s.withdraw(ctx, sc, made, err)
			}
		}
		err := s.sendInvitation(ctx, sc, &inv)
		if !resend {
			made = append(made, inv)
		}
		if err != nil {
			return nil, s.withdraw(ctx, sc, made, fmt.Errorf("invite %s: %w", addr, err))
		}
		out = append(out, inv)
	}
	for _, inv := range out {
		action := "invitation.sent"
		if _, resend := open[inv.Email]; resend {
			action = "invitation.resent"
		}
		if err := sc.Audit(ctx, MemberActor(by), action, inv.ID, nil); err != nil {
			return nil, s.withdraw(ctx, sc, made, err)
		}
	}
	return out, nil
}

// withdraw takes back the invitations a failed Invite made, so that nobody
// of it is invited: their links die (some were mailed already) and they are
// deleted. It returns cause, with whatever failed here.
func (s *Service) withdraw(ctx context.Context, sc Scope, made []Invitation, cause error) error {
	ctx = context.WithoutCancel(ctx)
	var ids, hashes []string
	for _, inv := range made {
		ids = append(ids, inv.ID)
		if inv.TokenHash != "" {
			hashes = append(hashes, inv.TokenHash)
		}
	}
	errs := []error{cause}
	if len(hashes) > 0 {
		if _, err := s.Store.db.Collection(collSignIn).UpdateMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: hashes}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}}); err != nil {
			errs = append(errs, fmt.Errorf("withdraw invitation links: %w", storeErr(err)))
		}
	}
	if len(ids) > 0 {
		if _, err := sc.Collection(invitationKind).DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			errs = append(errs, fmt.Errorf("withdraw invitations: %w", err))
		}
	}
	return errors.Join(errs...)
}

// openInvitations returns the pending, unexpired invitations of addrs by
// address. No addresses ask nothing of the store: MongoDB refuses an $in
// of null, which a nil slice encodes to.
func (sc Scope) openInvitations(ctx context.Context, addrs []string, now time.Time) (map[string]Invitation, error) {
	if len(addrs) == 0 {
		return map[string]Invitation{}, nil
	}
	var invs []Invitation
	if err := sc.Collection(invitationKind).Find(ctx, bson.D{{Key: "email", Value: bson.D{{Key: "$in", Value: addrs}}},
		{Key: "state", Value: "pending"}, {Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}}, &invs); err != nil {
		return nil, err
	}
	open := make(map[string]Invitation, len(invs))
	for _, inv := range invs {
		open[inv.Email] = inv
	}
	return open, nil
}

// InviteError lists invitation addresses that cannot be invited (422).
type InviteError struct{ Errors ValidationErrors }

func (e *InviteError) Error() string { return "cannot invite: " + e.Errors.Error() }

// sendInvitation makes a new link for inv, replacing the previous one, and
// mails it.
func (s *Service) sendInvitation(ctx context.Context, sc Scope, inv *Invitation) error {
	secret := newSecret()
	now := s.Now().UTC()
	tok := signInToken{Hash: hashSecret(secret), Email: inv.Email, CreatedAt: now, ExpiresAt: inv.ExpiresAt,
		InstanceID: sc.InstanceID(), InvitationID: inv.ID}
	if _, err := s.Store.db.Collection(collSignIn).InsertOne(ctx, tok); err != nil {
		return fmt.Errorf("store invitation link: %w", storeErr(err))
	}
	// Only the newest link works.
	if inv.TokenHash != "" {
		s.Store.db.Collection(collSignIn).UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.TokenHash}}, bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}})
	}
	ok, err := sc.Collection(invitationKind).Update(ctx, bson.D{{Key: "_id", Value: inv.ID}, {Key: "state", Value: "pending"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "token_hash", Value: tok.Hash}}}, {Key: "$inc", Value: bson.D{{Key: "sent", Value: 1}}}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrInvitationClosed
	}
	inv.TokenHash = tok.Hash
	inv.Sent++
	link := s.BaseURL.JoinPath("/api/v1/auth/email/callback")
	link.RawQuery = url.Values{"token": {secret}}.Encode()
	text := inv.Message + "\n\nJoin " + sc.Instance().Name + " on Chorus:\n\n" + link.String() +
		"\n\nThe link works once, until " + inv.ExpiresAt.Format("2 January 2006") + ".\n"
	if sc.Instance().Settings.JoinPolicy == JoinSSO {
		// Email links do not sign in here: the invitee signs in through
		// the company's identity provider.
		link = s.BaseURL.JoinPath(oidcStartPath)
		link.RawQuery = url.Values{"email": {inv.Email}}.Encode()
		text = inv.Message + "\n\nJoin " + sc.Instance().Name + " on Chorus, signing in with your company account:\n\n" + link.String() + "\n"
	}
	return s.Mailer.Send(ctx, Mail{To: inv.Email, Subject: "You are invited to " + sc.Instance().Name + " on Chorus", Text: text, Link: link.String()})
}

// Invitations lists the instance's invitations, newest first.
func (s *Service) Invitations(ctx context.Context, sc Scope) ([]Invitation, error) {
	var invs []Invitation
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}}).SetLimit(500)
	if err := sc.Collection(invitationKind).Find(ctx, bson.D{}, &invs, opts); err != nil {
		return nil, err
	}
	if invs == nil {
		invs = []Invitation{}
	}
	return invs, nil
}

// RevokeInvitation closes a pending invitation; its link stops working.
func (s *Service) RevokeInvitation(ctx context.Context, sc Scope, by Member, id string) error {
	var inv Invitation
	if !httpapi.ValidID(id) {
		return ErrNotFound
	}
	if err := sc.Collection(invitationKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &inv); err != nil {
		return err
	}
	ok, err := sc.Collection(invitationKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: "pending"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: "revoked"}}}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrInvitationClosed
	}
	if _, err := s.Store.db.Collection(collSignIn).UpdateOne(ctx, bson.D{{Key: "_id", Value: inv.TokenHash}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: true}}}}); err != nil {
		return storeErr(err)
	}
	return sc.Audit(ctx, MemberActor(by), "invitation.revoked", id, nil)
}

// ResendInvitation mails a fresh link (the old one stops working), at most
// three times per invitation.
func (s *Service) ResendInvitation(ctx context.Context, sc Scope, by Member, id string) (Invitation, error) {
	var inv Invitation
	if !httpapi.ValidID(id) {
		return Invitation{}, ErrNotFound
	}
	if err := sc.Collection(invitationKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &inv); err != nil {
		return Invitation{}, err
	}
	if inv.State != "pending" || !inv.ExpiresAt.After(s.Now()) {
		return Invitation{}, ErrInvitationClosed
	}
	if inv.Sent > maxResends {
		return Invitation{}, &RateLimitError{What: "resends of this invitation", RetryAfter: inv.ExpiresAt.Sub(s.Now())}
	}
	if err := s.sendInvitation(ctx, sc, &inv); err != nil {
		return Invitation{}, err
	}
	return inv, sc.Audit(ctx, MemberActor(by), "invitation.resent", id, nil)
}

// acceptInvitation marks the invitation behind a sign-in link accepted.
func (sc Scope) acceptInvitation(ctx context.Context, id string) error {
	ok, err := sc.Collection(invitationKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: "pending"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: "accepted"}}}})
	if err == nil && !ok {
		return ErrInvitationClosed
	}
	return err
}

// invited reports whether email has an open invitation.
func (sc Scope) invited(ctx context.Context, email string, now time.Time) (bool, error) {
	n, err := sc.Collection(invitationKind).Count(ctx, bson.D{{Key: "email", Value: email}, {Key: "state", Value: "pending"},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}})
	return n > 0, err
}
