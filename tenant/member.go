package tenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Role is what a member may do in their instance.
type Role string

// Roles.
const (
	RoleEmployee Role = "employee"
	RoleCurator  Role = "curator"
	RoleAnalyst  Role = "analyst"
	RoleAdmin    Role = "admin"
)

// Roles lists every role.
var Roles = []Role{RoleEmployee, RoleCurator, RoleAnalyst, RoleAdmin}

// Member is a person in an instance.
type Member struct {
	ID    string `bson:"_id" json:"id"`
	Email string `bson:"email" json:"email"`
	Name  string `bson:"name" json:"name"`
	Title string `bson:"title" json:"title"`
	Role  Role   `bson:"role" json:"role"`
	// Topics are the topics the member follows.
	Topics []string `bson:"topics" json:"topics"`
	// Identities are the verified sign-in identities of the member.
	Identities []Identity `bson:"identities" json:"-"`
	CreatedAt  time.Time  `bson:"created_at" json:"created_at"`
	LastSignIn time.Time  `bson:"last_sign_in" json:"-"`
	// OnboardingDismissed: the member closed the first-sign-in checklist.
	OnboardingDismissed bool `bson:"onboarding_dismissed,omitempty" json:"-"`
	// Attributes (department, location… see Attributes) select the
	// member into groups by their rules; Groups are the groups an admin
	// put them in by hand (group.go).
	Attributes map[string]string `bson:"attributes,omitempty" json:"-"`
	Groups     []string          `bson:"groups,omitempty" json:"-"`
}

// Identity is a sign-in identity: an OIDC issuer and subject, or the
// email-link issuer and the verified address.
type Identity struct {
	Issuer  string `bson:"issuer"`
	Subject string `bson:"subject"`
}

// EmailIssuer is the issuer of identities proven by a one-time email link.
const EmailIssuer = "chorus:email"

var memberKind = Kind{
	Name: "members",
	Indexes: []Index{
		{Keys: bson.D{{Key: "email", Value: 1}}, Unique: true},
		{Keys: bson.D{{Key: "identities.issuer", Value: 1}, {Key: "identities.subject", Value: 1}}},
	},
}

// ownKinds are the tenant kinds this package keeps.
func ownKinds() []Kind {
	return []Kind{memberKind, auditKind, invitationKind, consentKind, grantKind, exportKind, idempotencyKind, groupKind}
}

// Member returns a member of the scope's instance; ErrNotFound for an
// unknown ID or another instance's member.
func (sc Scope) Member(ctx context.Context, id string) (Member, error) {
	if !httpapi.ValidID(id) {
		return Member{}, ErrNotFound
	}
	var m Member
	err := sc.Collection(memberKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &m)
	return m, err
}

// Members returns up to limit members whose IDs follow after (an ID, or ""
// for the first page), in ID order.
func (sc Scope) Members(ctx context.Context, after string, limit int) ([]Member, error) {
	f := bson.D{}
	if after != "" {
		f = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}
	}
	var ms []Member
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit))
	if err := sc.Collection(memberKind).Find(ctx, f, &ms, opts); err != nil {
		return nil, err
	}
	return ms, nil
}

// MemberNames returns the names of the instance's members with the given
// IDs (one keyed read; unknown IDs are left out).
func (sc Scope) MemberNames(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	var ms []Member
	if err := sc.Collection(memberKind).Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}, &ms,
		options.Find().SetProjection(bson.D{{Key: "name", Value: 1}})); err != nil {
		return nil, err
	}
	for _, m := range ms {
		out[m.ID] = m.Name
	}
	return out, nil
}

// memberByEmail returns the member with a verified address of this instance.
func (sc Scope) memberByEmail(ctx context.Context, email string) (Member, error) {
	var m Member
	err := sc.Collection(memberKind).FindOne(ctx, bson.D{{Key: "email", Value: email}}, &m)
	return m, err
}

// joinByEmail returns the member signing in with a verified email address,
// adding them to the instance on their first sign-in. The instance's founder
// becomes its admin; everyone else starts as an employee.
func (sc Scope) joinByEmail(ctx context.Context, email string, now time.Time) (Member, error) {
	m, err := sc.memberByEmail(ctx, email)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Member{}, err
	}
	role, err := sc.newMemberRole(ctx, email)
	if err != nil {
		return Member{}, err
	}
	local, _, _ := strings.Cut(email, "@")
	m = Member{
		ID:         httpapi.NewID(),
		Email:      email,
		Name:       local,
		Role:       role,
		Topics:     []string{},
		Identities: []Identity{{Issuer: EmailIssuer, Subject: email}},
		CreatedAt:  now,
		LastSignIn: now,
	}
	switch err := sc.Collection(memberKind).Insert(ctx, m); {
	case errors.Is(err, ErrDuplicate):
		// The same person finished two sign-ins at once.
		return sc.memberByEmail(ctx, email)
	case err != nil:
		return Member{}, fmt.Errorf("add member: %w", err)
	}
	return m, sc.founderJoined(ctx, m)
}

// newMemberRole is the role of a person joining the instance: admin for
// its founder on the founding sign-in — while the instance record holds
// the founder's address and the instance has no admin yet — else
// employee. A founder who was removed or erased comes back as anyone else
// (an instance always keeps an admin, so the second condition holds even
// where an old record still names its founder).
func (sc Scope) newMemberRole(ctx context.Context, email string) (Role, error) {
	if email == "" || email != sc.inst.FounderEmail {
		return RoleEmployee, nil
	}
	n, err := sc.Collection(memberKind).Count(ctx, bson.D{{Key: "role", Value: RoleAdmin}})
	if err != nil {
		return "", err
	}
	if n > 0 {
		return RoleEmployee, nil
	}
	return RoleAdmin, nil
}

// founderJoined makes the instance record forget its founder's address
// once the founder joined as admin: the founder rule is used up, and the
// address is personal data the record no longer needs.
func (sc Scope) founderJoined(ctx context.Context, m Member) error {
	if m.Role != RoleAdmin || m.Email != sc.inst.FounderEmail {
		return nil
	}
	return sc.store.forgetFounder(ctx, sc.InstanceID(), m.Email)
}

// touchSignIn records a sign-in.
func (sc Scope) touchSignIn(ctx context.Context, id string, now time.Time) error {
	_, err := sc.Collection(memberKind).Update(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_sign_in", Value: now}}}})
	return err
}

// ProfileUpdate is a member's change to their own profile; nil fields stay.
type ProfileUpdate struct {
	Name  *string
	Title *string
	// Topics must have been validated by Config.CheckTopics.
	Topics *[]string
	// OnboardingDismissed closes (true) or reopens the first-sign-in
	// checklist.
	OnboardingDismissed *bool
}

// Profile limits.
const (
	maxNameLen  = 100
	maxTitleLen = 100
)

// UpdateProfile changes a member's name, title and topics: the member's
// own edit, or an admin's correction. ValidationErrors name every bad
// field; nothing is written then.
func (sc Scope) UpdateProfile(ctx context.Context, id string, u ProfileUpdate) (Member, error) {
	set, verr := profileSet(u)
	if len(verr) > 0 {
		return Member{}, verr
	}
	if len(set) > 0 {
		found, err := sc.Collection(memberKind).Update(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return Member{}, err
		}
		if !found {
			return Member{}, ErrNotFound
		}
	}
	return sc.Member(ctx, id)
}

// profileSet validates a profile update and returns its $set.
func profileSet(u ProfileUpdate) (bson.D, ValidationErrors) {
	set := bson.D{}
	var verr ValidationErrors
	if u.Name != nil {
		name := strings.TrimSpace(*u.Name)
		switch n, e := len([]rune(name)), controlCharError("name", name, false); {
		case e != nil:
			verr = append(verr, e)
		case n == 0:
			verr = append(verr, &ValidationError{Field: "name", Reason: "must not be empty"})
		case n > maxNameLen:
			verr = append(verr, &ValidationError{Field: "name", Reason: fmt.Sprintf("must be at most %d characters", maxNameLen)})
		}
		set = append(set, bson.E{Key: "name", Value: name})
	}
	if u.Title != nil {
		title := strings.TrimSpace(*u.Title)
		if e := controlCharError("title", title, false); e != nil {
			verr = append(verr, e)
		} else if len([]rune(title)) > maxTitleLen {
			verr = append(verr, &ValidationError{Field: "title", Reason: fmt.Sprintf("must be at most %d characters", maxTitleLen)})
		}
		set = append(set, bson.E{Key: "title", Value: title})
	}
	if u.Topics != nil {
		set = append(set, bson.E{Key: "topics", Value: *u.Topics})
	}
	if u.OnboardingDismissed != nil {
		set = append(set, bson.E{Key: "onboarding_dismissed", Value: *u.OnboardingDismissed})
	}
	return set, verr
}

// changedFields names the profile fields (name, title, topics) that differ
// between two versions of a member, for audit entries that must not hold
// the values themselves.
func changedFields(before, after Member) []string {
	var fields []string
	if before.Name != after.Name {
		fields = append(fields, "name")
	}
	if before.Title != after.Title {
		fields = append(fields, "title")
	}
	if !slices.Equal(before.Topics, after.Topics) {
		fields = append(fields, "topics")
	}
	return fields
}

// Allows reports whether the member's role is one of roles.
func (m Member) Allows(roles ...Role) bool {
	return slices.Contains(roles, m.Role)
}

// ErrLastAdmin: the change would leave the instance without an admin.
var ErrLastAdmin = errors.New("an instance needs at least one admin")

// leavingMark flags an admin whose demotion, removal or erasure is under
// way. Checking "another admin stays" and changing the admin cannot be one
// atomic operation (no multi-document transactions on FerretDB), so each
// change first marks its admin and then counts the unmarked admins: of two
// racing changes the later count sees the other's mark, so at least one is
// refused and an instance never loses its last admin, whichever processes
// make the changes. The final write is conditional on the mark.
type leavingMark struct {
	Token string    `bson:"token"`
	At    time.Time `bson:"at"`
}

// staleLeaving is the age after which a mark is deemed left by a change
// that never finished (a crashed process), so a new change may replace it.
// Until then the marked admin merely does not count as one that stays.
const staleLeaving = time.Minute

// leaveAdmins marks admin id as leaving and checks that an unmarked admin
// stays; it returns the mark's token for the final, conditional write.
// Errors: ErrLastAdmin (mark removed again), ErrConflict when id is no
// longer an admin or another change of it is under way.
func (sc Scope) leaveAdmins(ctx context.Context, id string) (string, error) {
	now := sc.store.now().UTC().Truncate(time.Millisecond)
	mark := leavingMark{Token: httpapi.NewID(), At: now}
	ok, err := sc.Collection(memberKind).Update(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "role", Value: RoleAdmin}, {Key: "$or", Value: bson.A{
			bson.D{{Key: "leaving", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "leaving.at", Value: bson.D{{Key: "$lt", Value: now.Add(-staleLeaving)}}}},
		}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "leaving", Value: mark}}}})
	switch {
	case err != nil:
		return "", err
	case !ok:
		return "", fmt.Errorf("admin %s: %w", id, ErrConflict)
	}
	n, err := sc.Collection(memberKind).Count(ctx, bson.D{{Key: "role", Value: RoleAdmin}, {Key: "leaving", Value: bson.D{{Key: "$exists", Value: false}}}})
	if err == nil && n == 0 {
		err = ErrLastAdmin
	}
	if err != nil {
		if uerr := sc.stayAdmin(context.WithoutCancel(ctx), id, mark.Token); uerr != nil {
			sc.store.log.WarnContext(ctx, "leaving mark not removed; it goes stale", "tenant_id", sc.InstanceID(), "member_id", id, "err", uerr)
		}
		return "", err
	}
	return mark.Token, nil
}

// stayAdmin removes the leaving mark token of admin id: the change did not
// happen.
func (sc Scope) stayAdmin(ctx context.Context, id, token string) error {
	_, err := sc.Collection(memberKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "leaving.token", Value: token}},
		bson.D{{Key: "$unset", Value: bson.D{{Key: "leaving", Value: ""}}}})
	return err
}

// leavingFilter selects member id holding role, and the leaving mark token
// when it is an admin's.
func leavingFilter(id string, role Role, token string) bson.D {
	f := bson.D{{Key: "_id", Value: id}, {Key: "role", Value: role}}
	if token != "" {
		f = append(f, bson.E{Key: "leaving.token", Value: token})
	}
	return f
}

// SetRole gives a member of the scope's instance a new role. Only admins
// may call it. It refuses to demote the last admin (ErrLastAdmin), also
// when admins are demoted concurrently, returns ErrConflict when the member
// changed meanwhile and ErrNotFound for another instance's member.
func (sc Scope) SetRole(ctx context.Context, id string, role Role) (Member, error) {
	if !slices.Contains(Roles, role) {
		return Member{}, &ValidationError{Field: "role", Reason: "must be employee, curator, analyst or admin"}
	}
	m, err := sc.Member(ctx, id)
	if err != nil {
		return Member{}, err
	}
	if m.Role == role {
		return m, nil
	}
	var token string
	if m.Role == RoleAdmin {
		if token, err = sc.leaveAdmins(ctx, id); err != nil {
			return Member{}, err
		}
	}
	// Conditional on the role read above (and the admin's mark), so two
	// concurrent changes cannot both pass the checks on stale data.
	ok, err := sc.Collection(memberKind).Update(ctx, leavingFilter(id, m.Role, token),
		bson.D{{Key: "$set", Value: bson.D{{Key: "role", Value: role}}}, {Key: "$unset", Value: bson.D{{Key: "leaving", Value: ""}}}})
	if err == nil && !ok {
		err = fmt.Errorf("set role of %s: %w", id, ErrConflict)
	}
	if err != nil {
		if token != "" {
			err = errors.Join(err, sc.stayAdmin(context.WithoutCancel(ctx), id, token))
		}
		return Member{}, err
	}
	m.Role = role
	return m, nil
}

// RemoveMember takes a member out of the instance (admins): their data is
// erased as a data-subject erasure does it (Privacy.Erase, once
// NewPrivacy was given this service: connections revoked at the networks
// and deleted, waiting shares cancelled and their tasks deleted, the
// profile last), so nothing of theirs stays live or out of the
// data-subject tools' reach. Without a Privacy only the profile goes and
// the sessions end. The last admin cannot be removed (ErrLastAdmin), also
// when admins change concurrently.
func (s *Service) RemoveMember(ctx context.Context, sc Scope, by Member, id string) error {
	m, err := sc.Member(ctx, id)
	if err != nil {
		return err
	}
	if s.privacy != nil {
		if err := s.privacy.Erase(ctx, sc, MemberActor(by), Subject{MemberID: m.ID, Email: m.Email}); err != nil {
			return err
		}
		return sc.Audit(ctx, MemberActor(by), "member.removed", id, map[string]string{"role": string(m.Role)})
	}
	var token string
	if m.Role == RoleAdmin {
		if token, err = sc.leaveAdmins(ctx, id); err != nil {
			return err
		}
	}
	ok, err := sc.Collection(memberKind).Delete(ctx, leavingFilter(id, m.Role, token))
	if err == nil && !ok {
		err = fmt.Errorf("remove %s: %w", id, ErrConflict)
	}
	if err != nil {
		if token != "" {
			err = errors.Join(err, sc.stayAdmin(context.WithoutCancel(ctx), id, token))
		}
		return err
	}
	if err := s.Store.endMemberSessions(ctx, sc.InstanceID(), id); err != nil {
		return err
	}
	if err := s.Store.forgetFounder(ctx, sc.InstanceID(), m.Email); err != nil {
		return err
	}
	return sc.Audit(ctx, MemberActor(by), "member.removed", id, map[string]string{"role": string(m.Role)})
}

// MemberIDsJoinedBy returns the IDs of the instance's members who joined
// before until. It reads the members kind whole (one document per
// employee, projected to its ID and join time): analytics' adoption
// figures count members, and their number is bounded by the company's.
func (sc Scope) MemberIDsJoinedBy(ctx context.Context, until time.Time) ([]string, error) {
	var ms []struct {
		ID string `bson:"_id"`
	}
	err := sc.Collection(memberKind).Find(ctx, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: until}}}}, &ms,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out, nil
}
