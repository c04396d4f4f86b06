package tenant

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Subject is a person whose data is exported or erased: a member, or
// someone known to the instance by email only (an invitee).
type Subject struct {
	MemberID string // "" when the person is not a member
	Email    string
	// DeletePosts asks to delete the person's published posts at the
	// networks too, while their tokens still work (erasure only).
	DeletePosts bool
}

// PrivacySource is a domain's part of data-subject requests: content,
// social connections, shares… register one each, so an export misses no
// kind of data and an erasure leaves none behind.
type PrivacySource interface {
	// Export returns what the domain stores about the subject, and the
	// collections (kinds) it searched, for the export's manifest.
	Export(ctx context.Context, sc Scope, s Subject) (kinds []string, data map[string]any, err error)
	// Erase deletes or de-identifies the subject's data, replacing their
	// member ID with pseudonym where records must stay (published posts,
	// counted shares). It must be idempotent: a replay after a backup
	// restore runs it again.
	Erase(ctx context.Context, sc Scope, s Subject, pseudonym string) error
}

// TaskHolder is a PrivacySource whose data has background tasks waiting
// (queued or scheduled), each task's ID being its object's ID: erasure
// deletes them from the queue by ID once the objects are cancelled.
type TaskHolder interface {
	// PendingTasks returns the queue and ID of each of the subject's
	// waiting tasks.
	PendingTasks(ctx context.Context, sc Scope, s Subject) ([]TaskRef, error)
}

// TaskRef names a background task by its queue and ID.
type TaskRef struct {
	Queue string
	ID    string
}

// Privacy answers data-subject requests: access and portability (export),
// erasure, consent, and keeps the erasure ledger.
type Privacy struct {
	svc     *Service
	sources []PrivacySource
	log     *slog.Logger
	// deleteTasks removes waiting tasks from the queue (cmd gives it the
	// task queue's inspector; tenant knows no queue). Nil: the tasks stay
	// and find their objects cancelled.
	deleteTasks func(ctx context.Context, tasks []TaskRef) error
}

// DeleteTasksWith makes erasure delete the subject's waiting tasks with
// f, which must treat a task that is already gone as deleted.
func (p *Privacy) DeleteTasksWith(f func(ctx context.Context, tasks []TaskRef) error) *Privacy {
	p.deleteTasks = f
	return p
}

// NewPrivacy returns the privacy service over tenant's own data and the
// given domains' sources. It becomes svc's way to remove members
// (Service.RemoveMember erases them through it), so a removal and an
// erasure leave the same behind.
func NewPrivacy(svc *Service, sources ...PrivacySource) *Privacy {
	p := &Privacy{svc: svc, sources: sources, log: svc.Log}
	svc.privacy = p
	return p
}

// Consent purposes. Tracking (view pixels, non-essential cookies) and
// push notifications are off until granted; analytics attribution and
// digest mails are on until the member objects.
const (
	PurposeTracking             = "tracking"
	PurposeAnalyticsAttribution = "analytics_attribution"
	PurposeDigestMail           = "digest_mail"
	// PurposePush: notifications of new content on the member's devices
	// (Web Push). Withdrawing it deletes the member's push subscriptions.
	PurposePush = "push"
)

var purposeDefaults = map[string]bool{
	PurposeTracking:             false,
	PurposeAnalyticsAttribution: true,
	PurposeDigestMail:           true,
	PurposePush:                 false,
}

// ConsentRecord is one grant or withdrawal, kept as a ledger.
type ConsentRecord struct {
	ID       string `bson:"_id" json:"id"`
	MemberID string `bson:"member_id" json:"-"`
	// Seq orders one member's records, even within one millisecond.
	Seq         int64     `bson:"seq" json:"seq"`
	Purpose     string    `bson:"purpose" json:"purpose"`
	Granted     bool      `bson:"granted" json:"granted"`
	TextVersion string    `bson:"text_version" json:"text_version"`
	At          time.Time `bson:"at" json:"at"`
}

var consentKind = Kind{
	Name:    "consents",
	Indexes: []Index{{Keys: bson.D{{Key: "member_id", Value: 1}, {Key: "seq", Value: 1}}, Unique: true}},
}

// SetConsent records a grant or withdrawal of purpose by a member.
func (p *Privacy) SetConsent(ctx context.Context, sc Scope, m Member, purpose string, granted bool, textVersion string) (ConsentRecord, error) {
	if _, ok := purposeDefaults[purpose]; !ok {
		return ConsentRecord{}, ErrNotFound
	}
	if len(textVersion) > 40 {
		return ConsentRecord{}, &ValidationError{Field: "text_version", Reason: "must be at most 40 characters"}
	}
	coll := sc.Collection(consentKind)
	for range 10 {
		n, err := coll.Count(ctx, bson.D{{Key: "member_id", Value: m.ID}})
		if err != nil {
			return ConsentRecord{}, err
		}
		r := ConsentRecord{ID: httpapi.NewID(), MemberID: m.ID, Seq: n + 1, Purpose: purpose, Granted: granted,
			TextVersion: textVersion, At: p.svc.Now().UTC().Truncate(time.Millisecond)}
		switch err := coll.Insert(ctx, r); {
		case errors.Is(err, ErrDuplicate):
			continue // a concurrent change took the number
		case err != nil:
			return ConsentRecord{}, err
		}
		for _, src := range p.sources {
			if o, ok := src.(ConsentObserver); ok {
				if err := o.ConsentChanged(ctx, sc, m.ID, purpose, granted); err != nil {
					return ConsentRecord{}, err
				}
			}
		}
		return r, nil
	}
	return ConsentRecord{}, ErrConflict
}

// Consents returns the member's current choice per purpose and the ledger.
func (p *Privacy) Consents(ctx context.Context, sc Scope, memberID string) (map[string]bool, []ConsentRecord, error) {
	var recs []ConsentRecord
	err := sc.Collection(consentKind).Find(ctx, bson.D{{Key: "member_id", Value: memberID}}, &recs,
		options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
	if err != nil {
		return nil, nil, err
	}
	now := map[string]bool{}
	for k, v := range purposeDefaults {
		now[k] = v
	}
	for _, r := range recs {
		now[r.Purpose] = r.Granted
	}
	if recs == nil {
		recs = []ConsentRecord{}
	}
	return now, recs, nil
}

// Consented reports the member's current choice for purpose: their last
// grant or withdrawal, else the purpose's default. Background jobs (the
// digest mail) ask it before acting for a member; an unknown purpose is
// ErrNotFound.
func (sc Scope) Consented(ctx context.Context, memberID, purpose string) (bool, error) {
	def, ok := purposeDefaults[purpose]
	if !ok {
		return false, ErrNotFound
	}
	var last []ConsentRecord
	err := sc.Collection(consentKind).Find(ctx, bson.D{{Key: "member_id", Value: memberID}, {Key: "purpose", Value: purpose}}, &last,
		options.Find().SetSort(bson.D{{Key: "seq", Value: -1}}).SetLimit(1))
	if err != nil {
		return false, err
	}
	if len(last) == 0 {
		return def, nil
	}
	return last[0].Granted, nil
}

// Export is everything stored about a person in one instance.
type Export struct {
	GeneratedAt time.Time `json:"generated_at"`
	Instance    struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		// Region names where the instance's data is stored.
		Region string `json:"region"`
	} `json:"instance"`
	// StoredIn says where the data is stored, in words.
	StoredIn string `json:"stored_in"`
	// Manifest lists every collection searched, found or not.
	Manifest []string       `json:"manifest"`
	Data     map[string]any `json:"data"`
	// Counts says, per part of Data, how many records it holds: a list's
	// length, 1 for a record, 0 for nothing. It is counted from Data as
	// it is written out, so the two always agree.
	Counts map[string]int `json:"counts"`
}

// Export gathers everything about s in the scope's instance.
func (p *Privacy) Export(ctx context.Context, sc Scope, s Subject) (Export, error) {
	ex := Export{GeneratedAt: p.svc.Now().UTC(), Data: map[string]any{}}
	ex.Instance.ID, ex.Instance.Name, ex.Instance.Region = sc.InstanceID(), sc.Instance().Name, sc.Region()
	ex.StoredIn = fmt.Sprintf("The company's data is stored in the region %s; the directory (instances, domains, sign-in and sessions) in the deployment's home database.", ex.Instance.Region)
	ex.Manifest = []string{memberKind.Name, consentKind.Name, invitationKind.Name, auditKind.Name, exportKind.Name, collSessions,
		collSignIn, idempotencyKind.Name, collInstances}
	links, err := p.svc.Store.addressLinks(ctx, s.Email)
	if err != nil {
		return Export{}, err
	}
	ex.Data["sign_in_links"] = links
	if ex.Data["instance_record"], err = p.svc.Store.founderRecord(ctx, sc.InstanceID(), s.Email); err != nil {
		return Export{}, err
	}

	if s.MemberID != "" {
		m, err := sc.Member(ctx, s.MemberID)
		if err != nil {
			return Export{}, err
		}
		ex.Data["profile"] = map[string]any{
			"id": m.ID, "email": m.Email, "name": m.Name, "title": m.Title, "role": m.Role,
			"topics": m.Topics, "created_at": m.CreatedAt, "last_sign_in": m.LastSignIn,
			"onboarding_dismissed": m.OnboardingDismissed,
		}
		ids := make([]map[string]string, len(m.Identities))
		for i, id := range m.Identities {
			ids[i] = map[string]string{"issuer": id.Issuer, "subject": id.Subject}
		}
		ex.Data["identities"] = ids
		if ex.Data["audience"], err = audienceExport(ctx, sc, m); err != nil {
			return Export{}, err
		}
		current, ledger, err := p.Consents(ctx, sc, m.ID)
		if err != nil {
			return Export{}, err
		}
		ex.Data["consents"] = map[string]any{"current": current, "ledger": ledger}
		sessions, err := p.svc.Store.memberSessions(ctx, sc.InstanceID(), m.ID)
		if err != nil {
			return Export{}, err
		}
		ex.Data["sessions"] = sessions
		var audit []AuditEntry
		if err := sc.Collection(auditKind).Find(ctx, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "actor.id", Value: m.ID}}, bson.D{{Key: "target", Value: m.ID}},
		}}}, &audit, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}})); err != nil {
			return Export{}, err
		}
		ex.Data["audit_entries"] = nonNil(audit)
		// Answers kept for a repeated request (Idempotency-Key, 24 h):
		// what was asked and answered, the answer itself as stored.
		var kept []idempotencyRecord
		if err := sc.Collection(idempotencyKind).Find(ctx, bson.D{{Key: "member_id", Value: m.ID}}, &kept); err != nil {
			return Export{}, err
		}
		answers := make([]map[string]any, len(kept))
		for i, r := range kept {
			var answer any = string(r.Body)
			if json.Valid(r.Body) {
				answer = json.RawMessage(r.Body)
			}
			answers[i] = map[string]any{"status": r.Status, "answer": answer, "location": r.Location,
				"created_at": r.CreatedAt, "expires_at": r.ExpiresAt}
		}
		ex.Data["kept_answers"] = answers
	}
	var invs []Invitation
	if err := sc.Collection(invitationKind).Find(ctx, bson.D{{Key: "email", Value: s.Email}}, &invs); err != nil {
		return Export{}, err
	}
	ex.Data["invitations"] = nonNil(invs)
	for _, src := range p.sources {
		kinds, data, err := src.Export(ctx, sc, s)
		if err != nil {
			return Export{}, err
		}
		ex.Manifest = append(ex.Manifest, kinds...)
		for k, v := range data {
			ex.Data[k] = v
		}
	}
	counts, err := countRecords(ex.Data)
	if err != nil {
		return Export{}, fmt.Errorf("export: %w", err)
	}
	ex.Counts = counts
	return ex, nil
}

// countRecords counts each part of an export's data as JSON shows it: a
// list counts its items, an object (a profile) or any other value
// counts 1 unless it is empty or null.
func countRecords(data map[string]any) (map[string]int, error) {
	out := make(map[string]int, len(data))
	for k, v := range data {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", k, err)
		}
		var shape any
		if err := json.Unmarshal(b, &shape); err != nil {
			return nil, fmt.Errorf("count %s: %w", k, err)
		}
		switch s := shape.(type) {
		case nil:
			out[k] = 0
		case []any:
			out[k] = len(s)
		case map[string]any:
			out[k] = min(len(s), 1)
		default:
			out[k] = 1
		}
	}
	return out, nil
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// SubjectByEmail finds a person known to the instance by address: a
// member, or an invitee. Unknown is ErrNotFound.
func (p *Privacy) SubjectByEmail(ctx context.Context, sc Scope, email string) (Subject, error) {
	addr, _, err := p.svc.Policy.ParseEmail(email)
	var de *DomainError
	if errors.As(err, &de) {
		addr, err = email, nil // freemail suggesters may appear in content later
	}
	if err != nil {
		return Subject{}, &ValidationError{Field: "email", Reason: "must be an email address"}
	}
	s := Subject{Email: addr}
	if m, err := sc.memberByEmail(ctx, addr); err == nil {
		s.MemberID = m.ID
		return s, nil
	} else if !errors.Is(err, ErrNotFound) {
		return Subject{}, err
	}
	n, err := sc.Collection(invitationKind).Count(ctx, bson.D{{Key: "email", Value: addr}})
	if err != nil {
		return Subject{}, err
	}
	if n == 0 {
		return Subject{}, ErrNotFound
	}
	return s, nil
}

// erasure is one erased person in the ledger: only their member ID (an
// opaque random value) and the pseudonym that replaced it.
type erasure struct {
	ID         string    `bson:"_id"` // instance ID + member ID
	InstanceID string    `bson:"instance_id"`
	MemberID   string    `bson:"member_id"`
	Pseudonym  string    `bson:"pseudonym"`
	ErasedAt   time.Time `bson:"erased_at"`
}

// Erase erases a person from the instance: sessions killed, every domain's
// data deleted or de-identified under a fresh pseudonym (not derivable
// from the person), consents and invitations deleted, the profile last;
// the ledger keeps the member ID so a backup restore can be cleaned again
// (ReplayErasures). The last admin cannot be erased.
func (p *Privacy) Erase(ctx context.Context, sc Scope, by Actor, s Subject) error {
	pseudonym := "erased-" + randomHex(8)
	if s.MemberID != "" {
		m, err := sc.Member(ctx, s.MemberID)
		if err != nil {
			return err
		}
		// An admin stays marked as leaving once the erasure is in the
		// ledger: a replay finishes it if anything below fails.
		var token string
		if m.Role == RoleAdmin {
			if token, err = sc.leaveAdmins(ctx, m.ID); err != nil {
				return err
			}
		}
		// The ledger first: if anything below fails, a replay finishes it.
		e := erasure{ID: sc.InstanceID() + ":" + m.ID, InstanceID: sc.InstanceID(), MemberID: m.ID, Pseudonym: pseudonym,
			ErasedAt: p.svc.Now().UTC().Truncate(time.Millisecond)}
		if _, err := p.svc.Store.ledger().InsertOne(ctx, e); err != nil && !errors.Is(storeErr(err), ErrDuplicate) {
			err = fmt.Errorf("erasure ledger: %w", storeErr(err))
			if token != "" {
				err = errors.Join(err, sc.stayAdmin(context.WithoutCancel(ctx), m.ID, token))
			}
			return err
		}
	}
	if err := p.erase(ctx, sc, s, pseudonym); err != nil {
		return err
	}
	return sc.Audit(ctx, by, "privacy.erased", pseudonym, nil)
}

func (p *Privacy) erase(ctx context.Context, sc Scope, s Subject, pseudonym string) error {
	if s.MemberID != "" {
		if err := p.svc.Store.endMemberSessions(ctx, sc.InstanceID(), s.MemberID); err != nil {
			return err
		}
	}
	// The waiting tasks are listed before the sources cancel and
	// de-identify their objects, and deleted after.
	var tasks []TaskRef
	if p.deleteTasks != nil {
		for _, src := range p.sources {
			if th, ok := src.(TaskHolder); ok {
				ts, err := th.PendingTasks(ctx, sc, s)
				if err != nil {
					return err
				}
				tasks = append(tasks, ts...)
			}
		}
	}
	for _, src := range p.sources {
		if err := src.Erase(ctx, sc, s, pseudonym); err != nil {
			return err
		}
	}
	if len(tasks) > 0 {
		if err := p.deleteTasks(ctx, tasks); err != nil {
			return fmt.Errorf("delete the subject's waiting tasks: %w", err)
		}
	}
	// Answers kept for Idempotency-Key replays may name the subject (an
	// invitation's address, a post): they all go, at worst a retried
	// request is not recognised.
	if _, err := sc.Collection(idempotencyKind).DeleteMany(ctx, bson.D{}); err != nil {
		return err
	}
	if s.MemberID != "" {
		if _, err := sc.Collection(consentKind).DeleteMany(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}); err != nil {
			return err
		}
		if _, err := sc.Collection(exportKind).DeleteMany(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}); err != nil {
			return err
		}
	}
	if s.Email != "" {
		if _, err := sc.Collection(invitationKind).DeleteMany(ctx, bson.D{{Key: "email", Value: s.Email}}); err != nil {
			return err
		}
		if err := p.svc.Store.forgetAddress(ctx, s.Email); err != nil {
			return err
		}
		if err := p.svc.Store.forgetFounder(ctx, sc.InstanceID(), s.Email); err != nil {
			return err
		}
	}
	if s.MemberID != "" {
		if _, err := sc.Collection(memberKind).Delete(ctx, bson.D{{Key: "_id", Value: s.MemberID}}); err != nil {
			return err
		}
	}
	return nil
}

// eraseEveryone erases every member of the instance as an erasure does,
// without the ledger or the last-admin rule (the instance goes): the
// domains' sources revoke connections at the networks, cancel waiting
// shares and their tasks are deleted. Offboarding calls it before it
// drops the instance's data; it is idempotent.
func (p *Privacy) eraseEveryone(ctx context.Context, sc Scope) error {
	for {
		// Each erased member leaves the list: the first page is the next.
		ms, err := sc.Members(ctx, "", 100)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if err := p.erase(ctx, sc, Subject{MemberID: m.ID, Email: m.Email}, "offboarded-"+randomHex(8)); err != nil {
				return fmt.Errorf("offboard member %s: %w", m.ID, err)
			}
		}
		if len(ms) < 100 {
			return nil
		}
	}
}

// Offboard is the operator's offboarding of an instance: every member is
// erased first, as DELETE /api/v1/instance does (connections revoked at
// the networks, waiting shares cancelled and their tasks deleted), then
// the instance's data goes and a ledger entry stays. It is idempotent
// until the data is gone; afterwards the instance is ErrNotFound.
func (p *Privacy) Offboard(ctx context.Context, instanceID, by, reason string) error {
	sc, err := p.svc.Store.Open(ctx, instanceID)
	if err != nil {
		return err
	}
	if err := p.eraseEveryone(ctx, sc); err != nil {
		return err
	}
	return p.svc.Store.DeleteInstance(ctx, instanceID, by, reason)
}

// ReplayErasures erases again, in every instance, each person in the
// ledger whose data came back (a backup restore). It returns how many it
// found and erased again.
func (p *Privacy) ReplayErasures(ctx context.Context) (int, error) {
	cur, err := p.svc.Store.ledger().Find(ctx, bson.D{})
	if err != nil {
		return 0, storeErr(err)
	}
	var es []erasure
	if err := cur.All(ctx, &es); err != nil {
		return 0, storeErr(err)
	}
	n := 0
	for _, e := range es {
		sc, err := p.svc.Store.Open(ctx, e.InstanceID)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return n, err
		}
		m, err := sc.Member(ctx, e.MemberID)
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return n, err
		}
		if err := p.erase(ctx, sc, Subject{MemberID: m.ID, Email: m.Email}, e.Pseudonym); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
