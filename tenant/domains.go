package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TXTResolver looks up TXT records; *net.Resolver is one.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Domain ownership errors.
var (
	// ErrDomainUnverified: the action needs a verified domain (admin
	// powers of a pending instance).
	ErrDomainUnverified = errors.New("verify your company's domain first")
	// ErrDomainTaken: another instance owns the domain.
	ErrDomainTaken = errors.New("the domain belongs to another instance")
	// ErrRecordMissing: the verification TXT record was not found.
	ErrRecordMissing = errors.New("verification record not found")
)

// TXTPrefix starts the value of a verification record.
const TXTPrefix = "chorus-verification="

// Domain is one of an instance's domains as its admins see it.
type Domain struct {
	// Domain is the ASCII (punycode) form.
	Domain        string     `json:"domain"`
	Verified      bool       `json:"verified"`
	VerifiedAt    *time.Time `json:"verified_at"`
	LastCheckedAt *time.Time `json:"last_checked_at"`
	// RecordMissing: the record was gone at the last periodic check. The
	// domain stays verified; admins should publish the record again.
	RecordMissing bool      `json:"record_missing"`
	TXT           TXTRecord `json:"txt"`
}

// TXTRecord is the DNS record that proves ownership.
type TXTRecord struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

func (c domainClaim) view() Domain {
	return Domain{Domain: c.Domain, Verified: c.Verified, VerifiedAt: c.VerifiedAt, LastCheckedAt: c.CheckedAt,
		RecordMissing: c.Missing, TXT: TXTRecord{Name: c.Domain, Type: "TXT", Value: TXTPrefix + c.Token}}
}

// Domains lists the scope's domains with their state and records, sorted
// by domain name (an instance has a handful: sorted here, not by an index).
func (s *Service) Domains(ctx context.Context, sc Scope) ([]Domain, error) {
	claims, err := s.Store.claims(ctx, bson.D{{Key: "instance_id", Value: sc.InstanceID()}})
	if err != nil {
		return nil, err
	}
	out := make([]Domain, len(claims))
	for i, c := range claims {
		out[i] = c.view()
	}
	slices.SortFunc(out, func(a, b Domain) int { return strings.Compare(a.Domain, b.Domain) })
	return out, nil
}

func (s *Store) claims(ctx context.Context, f bson.D) ([]domainClaim, error) {
	cur, err := s.db.Collection(collDomains).Find(ctx, f)
	if err != nil {
		return nil, storeErr(err)
	}
	var cs []domainClaim
	if err := cur.All(ctx, &cs); err != nil {
		return nil, storeErr(err)
	}
	return cs, nil
}

// claimOf returns the claim of a domain owned by the scope's instance;
// another instance's domain is ErrNotFound.
func (s *Store) claimOf(ctx context.Context, sc Scope, domain string) (domainClaim, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return domainClaim{}, ErrNotFound
	}
	var c domainClaim
	err = s.db.Collection(collDomains).FindOne(ctx, bson.D{{Key: "_id", Value: d}, {Key: "instance_id", Value: sc.InstanceID()}}).Decode(&c)
	return c, storeErr(err)
}

// routes reports whether a claim decides where people of its domain land
// (email links, OIDC sign-ins, a join policy of sso): when the domain is
// verified, or when it is the domain a still-pending instance was created
// from — a pending instance cannot add domains, so that is its only one. A
// domain an admin added to a verified instance admits nobody until it is
// verified.
func (c domainClaim) routes(holder Instance) bool { return c.Verified || !holder.Verified }

// claimOwner returns the claim of a normalised domain and the instance
// holding it; ok is false when no instance claims the domain.
func (s *Store) claimOwner(ctx context.Context, domain string) (c domainClaim, holder Instance, ok bool, err error) {
	err = s.db.Collection(collDomains).FindOne(ctx, bson.D{{Key: "_id", Value: domain}}).Decode(&c)
	switch err := storeErr(err); {
	case errors.Is(err, ErrNotFound):
		return domainClaim{}, Instance{}, false, nil
	case err != nil:
		return domainClaim{}, Instance{}, false, fmt.Errorf("look up domain %s: %w", domain, err)
	}
	holder, err = s.instance(ctx, c.InstanceID)
	if err != nil {
		return domainClaim{}, Instance{}, false, fmt.Errorf("instance of domain %s: %w", domain, err)
	}
	return c, holder, true, nil
}

// claim stores c. When another instance holds the domain by a claim that
// routes nobody (a verified instance's added domain, unverified), c
// replaces it: the domain leaves that instance, whose audit log records
// why (reason). A squatter thus blocks nobody, and whoever verifies the domain
// first keeps it. It returns ErrDuplicate when the domain is held for good
// or by c's own instance.
func (s *Store) claim(ctx context.Context, c domainClaim, reason string) error {
	_, err := s.db.Collection(collDomains).InsertOne(ctx, c)
	if err := storeErr(err); !errors.Is(err, ErrDuplicate) {
		return err
	}
	old, holder, ok, err := s.claimOwner(ctx, c.Domain)
	switch {
	case err != nil:
		return err
	case !ok || old.InstanceID == c.InstanceID || old.routes(holder):
		return ErrDuplicate
	}
	res, err := s.db.Collection(collDomains).ReplaceOne(ctx,
		bson.D{{Key: "_id", Value: old.Domain}, {Key: "instance_id", Value: old.InstanceID}, {Key: "verified", Value: false}}, c)
	switch {
	case err != nil:
		return storeErr(err)
	case res.MatchedCount == 0:
		return ErrDuplicate // verified or taken a moment ago
	}
	// The domain is c's from here on, so what follows cannot undo the
	// claim: a failure is logged (the old instance lists a domain it no
	// longer holds, which routes nobody) and c's caller goes on.
	_, err = s.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: old.InstanceID}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "domains", Value: old.Domain}}}})
	s.cache.dropInstance(old.InstanceID)
	if err != nil {
		s.log.ErrorContext(ctx, "domain taken over but still listed by its former instance", "domain", old.Domain, "tenant_id", old.InstanceID, "err", storeErr(err))
	}
	if err := (Scope{store: s, inst: holder}).Audit(ctx, SystemActor, "domain.taken_over", old.Domain, map[string]string{"reason": reason}); err != nil {
		s.log.ErrorContext(ctx, "domain takeover not audited", "domain", old.Domain, "tenant_id", old.InstanceID, "err", err)
	}
	return nil
}

// addedClaimToken is the verification token of a domain an instance adds:
// the same every time that instance adds that domain, so a record it
// published stays valid if another instance takes the unverified claim
// over and it adds the domain again.
func addedClaimToken(instanceID, domain string) string {
	sum := sha256.Sum256([]byte("chorus domain claim\x00" + instanceID + "\x00" + domain))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

// hasRecord looks for the claim's TXT record at the domain.
func hasRecord(ctx context.Context, r TXTResolver, c domainClaim) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	txts, err := r.LookupTXT(ctx, c.Domain)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up TXT records of %s: %w", c.Domain, err)
	}
	want := TXTPrefix + c.Token
	for _, t := range txts {
		if strings.TrimSpace(t) == want {
			return true, nil
		}
	}
	return false, nil
}

// VerifyDomain checks the domain's TXT record now (admins). Found, the
// domain and its instance become verified; not found is ErrRecordMissing.
func (s *Service) VerifyDomain(ctx context.Context, sc Scope, by Member, domain string) (Domain, error) {
	c, err := s.Store.claimOf(ctx, sc, domain)
	if err != nil {
		return Domain{}, err
	}
	ok, err := hasRecord(ctx, s.Resolver, c)
	if err != nil {
		return Domain{}, err
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	if !ok {
		if err := s.Store.setChecked(ctx, c.Domain, now, c.Verified); err != nil {
			return Domain{}, err
		}
		return Domain{}, fmt.Errorf("%w: publish a TXT record %q at %s and try again (DNS changes can take a while)", ErrRecordMissing, TXTPrefix+c.Token, c.Domain)
	}
	if err := s.Store.markVerified(ctx, sc.InstanceID(), c.Domain, now); err != nil {
		return Domain{}, err
	}
	if err := sc.Audit(ctx, MemberActor(by), "domain.verified", c.Domain, map[string]string{"method": "dns"}); err != nil {
		return Domain{}, err
	}
	c, err = s.Store.claimOf(ctx, sc, c.Domain)
	return c.view(), err
}

// ForceVerify verifies a domain without DNS, for operators of on-prem
// installs; the instance's audit log records it. It returns ErrNotFound
// for a domain no instance owns.
func (s *Service) ForceVerify(ctx context.Context, domain, reason string) (Domain, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Domain{}, ErrNotFound
	}
	var c domainClaim
	if err := storeErr(s.Store.db.Collection(collDomains).FindOne(ctx, bson.D{{Key: "_id", Value: d}}).Decode(&c)); err != nil {
		return Domain{}, err
	}
	sc, err := s.Store.Open(ctx, c.InstanceID)
	if err != nil {
		return Domain{}, err
	}
	now := s.Now().UTC().Truncate(time.Millisecond)
	if err := s.Store.markVerified(ctx, c.InstanceID, d, now); err != nil {
		return Domain{}, err
	}
	if err := sc.Audit(ctx, OperatorActor, "domain.verified", d, map[string]string{"method": "operator", "reason": reason}); err != nil {
		return Domain{}, err
	}
	c, err = s.Store.claimOf(ctx, sc, d)
	return c.view(), err
}

// markVerified verifies the instance's claim of domain and the instance;
// ErrNotFound when the claim left the instance (taken over) meanwhile.
func (s *Store) markVerified(ctx context.Context, instanceID, domain string, now time.Time) error {
	res, err := s.db.Collection(collDomains).UpdateOne(ctx, bson.D{{Key: "_id", Value: domain}, {Key: "instance_id", Value: instanceID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "verified", Value: true}, {Key: "verified_at", Value: now},
			{Key: "checked_at", Value: now}, {Key: "missing", Value: false}}}})
	if err != nil {
		return storeErr(err)
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	_, err = s.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: instanceID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "verified", Value: true}}}})
	s.cache.dropInstance(instanceID)
	return storeErr(err)
}

func (s *Store) setChecked(ctx context.Context, domain string, now time.Time, missing bool) error {
	_, err := s.db.Collection(collDomains).UpdateOne(ctx, bson.D{{Key: "_id", Value: domain}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "checked_at", Value: now}, {Key: "missing", Value: missing}}}})
	return storeErr(err)
}

// AddDomain claims another domain for the scope's instance (admins of a
// verified instance); it is pending, and admits nobody, until verified.
// Another instance's unverified added claim of the domain is taken over
// (see Store.claim); a domain another instance owns for good is
// ErrDomainTaken. Adding a domain the instance holds already is a no-op.
func (s *Service) AddDomain(ctx context.Context, sc Scope, by Member, domain string) (Domain, error) {
	if !sc.Instance().Verified {
		return Domain{}, ErrDomainUnverified
	}
	d, err := s.Policy.CheckDomain(domain)
	if err != nil {
		return Domain{}, err
	}
	c := domainClaim{Domain: d, InstanceID: sc.InstanceID(), Token: addedClaimToken(sc.InstanceID(), d), CreatedAt: s.Now().UTC().Truncate(time.Millisecond)}
	added := true
	switch err := s.Store.claim(ctx, c, "added by another instance"); {
	case errors.Is(err, ErrDuplicate):
		owned, _ := s.Store.claimOf(ctx, sc, d)
		if owned.Domain == "" {
			return Domain{}, ErrDomainTaken
		}
		// Already ours: idempotent, and a retry finishes what a failure
		// below left undone.
		c, added = owned, false
	case err != nil:
		return Domain{}, err
	}
	_, err = s.Store.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: sc.InstanceID()}},
		bson.D{{Key: "$addToSet", Value: bson.D{{Key: "domains", Value: d}}}})
	s.Store.cache.dropInstance(sc.InstanceID())
	if err != nil {
		return Domain{}, storeErr(err)
	}
	if added {
		if err := sc.Audit(ctx, MemberActor(by), "domain.added", d, nil); err != nil {
			return Domain{}, err
		}
	}
	return c.view(), nil
}

// RecheckDomains checks every verified domain's record again (a periodic
// job). A missing record flags the domain, never unverifies it, is written
// to the instance's audit log and, when m is not nil, mailed to each of
// the instance's admins — once, when the record goes missing, not at every
// check while it stays missing. A failed mail is logged; the check goes on.
func (s *Store) RecheckDomains(ctx context.Context, r TXTResolver, m Mailer) (checked, missing int, err error) {
	claims, err := s.claims(ctx, bson.D{{Key: "verified", Value: true}})
	if err != nil {
		return 0, 0, err
	}
	for _, c := range claims {
		if c.Token == "" {
			continue
		}
		ok, err := hasRecord(ctx, r, c)
		if err != nil {
			s.log.WarnContext(ctx, "domain re-check failed", "domain", c.Domain, "err", err)
			continue
		}
		checked++
		now := s.now().UTC().Truncate(time.Millisecond)
		if err := s.setChecked(ctx, c.Domain, now, !ok); err != nil {
			return checked, missing, err
		}
		if ok || c.Missing {
			continue
		}
		missing++
		sc, err := s.Open(ctx, c.InstanceID)
		if err != nil {
			continue
		}
		if err := sc.Audit(ctx, SystemActor, "domain.record_missing", c.Domain, nil); err != nil {
			return checked, missing, err
		}
		if m != nil {
			if err := tellAdminsRecordMissing(ctx, sc, m, c); err != nil {
				s.log.WarnContext(ctx, "admins not told of a missing verification record", "tenant_id", sc.InstanceID(), "domain", c.Domain, "err", err)
			}
		}
	}
	return checked, missing, nil
}

// tellAdminsRecordMissing mails every admin of sc that the verification
// record of c disappeared.
func tellAdminsRecordMissing(ctx context.Context, sc Scope, m Mailer, c domainClaim) error {
	var admins []Member
	if err := sc.Collection(memberKind).Find(ctx, bson.D{{Key: "role", Value: RoleAdmin}}, &admins); err != nil {
		return err
	}
	var errs []error
	for _, a := range admins {
		err := m.Send(ctx, Mail{
			To:      a.Email,
			Subject: "Chorus: the verification record of " + c.Domain + " is gone",
			Text: "The DNS TXT record that proves your company owns " + c.Domain + " was not found at Chorus's last check:\n\n" +
				"    " + c.Domain + "  TXT  \"" + TXTPrefix + c.Token + "\"\n\n" +
				"The domain stays verified for now. Publish the record again (Admin → Domains shows it), " +
				"or tell your DNS administrator; whoever controls the domain's DNS controls who may administer your company's Chorus.\n",
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RequireVerified returns ErrDomainUnverified for a pending instance.
func RequireVerified(sc Scope) error {
	if !sc.Instance().Verified {
		return ErrDomainUnverified
	}
	return nil
}
