package tenant

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/net/publicsuffix"
)

// An instance may claim a subdomain of the deployment's base domain
// (acme.chorus.example): it selects that instance's login page, nothing
// more — a request's instance still comes only from its session.

const collSubdomains = "subdomains"

// ErrSubdomainTaken: another instance uses the subdomain.
var ErrSubdomainTaken = errors.New("this subdomain is taken")

// reservedSubdomains name the deployment's own hosts and confusing words.
var reservedSubdomains = []string{"admin", "api", "app", "assets", "auth", "blog", "cdn", "chorus", "dev", "docs",
	"help", "login", "mail", "ops", "r", "smtp", "sso", "staging", "static", "status", "support", "test", "www"}

// checkSubdomain validates a subdomain label; "" clears it.
func checkSubdomain(s string) (string, *ValidationError) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	bad := &ValidationError{Field: "subdomain", Reason: "must be 3 to 40 lower-case letters, digits or inner hyphens"}
	if len(s) < 3 || len(s) > 40 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return "", bad
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return "", bad
		}
	}
	if slices.Contains(reservedSubdomains, s) {
		return "", &ValidationError{Field: "subdomain", Reason: "is reserved"}
	}
	return s, nil
}

// checkSubdomainOwned returns a ValidationError unless sub is a label of
// one of the instance's verified domains (its public suffix left out):
// mail.acme.co.uk offers mail and acme. A name an instance cannot show to
// be its own would let it pose as another company on that login page.
func (s *Service) checkSubdomainOwned(ctx context.Context, sc Scope, sub string) (*ValidationError, error) {
	domains, err := s.Domains(ctx, sc)
	if err != nil {
		return nil, err
	}
	var offered []string
	for _, d := range domains {
		if !d.Verified {
			continue
		}
		for _, l := range subdomainLabels(d.Domain) {
			if l == sub {
				return nil, nil
			}
			if !slices.Contains(offered, l) {
				offered = append(offered, l)
			}
		}
	}
	reason := "must be a name from one of your verified domains"
	if len(offered) > 0 {
		reason += ": " + strings.Join(offered, ", ")
	}
	return &ValidationError{Field: "subdomain", Reason: reason}, nil
}

// subdomainLabels returns the labels of a normalised domain that may name
// its login page: those before its public suffix that are valid,
// unreserved subdomains.
func subdomainLabels(domain string) []string {
	suffix, _ := publicsuffix.PublicSuffix(domain)
	rest, ok := strings.CutSuffix(domain, "."+suffix)
	if !ok {
		return nil
	}
	var out []string
	for l := range strings.SplitSeq(rest, ".") {
		if sub, ve := checkSubdomain(l); ve == nil && sub != "" {
			out = append(out, sub)
		}
	}
	return out
}

// claimSubdomain moves the instance's subdomain claim from old to s.
func (s *Store) claimSubdomain(ctx context.Context, instanceID, old, sub string) error {
	if sub == old {
		return nil
	}
	if sub != "" {
		_, err := s.db.Collection(collSubdomains).InsertOne(ctx, bson.D{{Key: "_id", Value: sub},
			{Key: "instance_id", Value: instanceID}, {Key: "created_at", Value: s.now().UTC()}})
		if err := storeErr(err); errors.Is(err, ErrDuplicate) {
			return ErrSubdomainTaken
		} else if err != nil {
			return err
		}
	}
	if old != "" {
		if _, err := s.db.Collection(collSubdomains).DeleteOne(ctx, bson.D{{Key: "_id", Value: old}, {Key: "instance_id", Value: instanceID}}); err != nil {
			return storeErr(err)
		}
	}
	return nil
}

// ReserveSubdomain gives an instance a login subdomain none of its
// verified domains offers, such as a company's name that is not its
// domain's (operators; audited in the instance's log with the reason).
// Errors: *ValidationError for a malformed or reserved name,
// ErrSubdomainTaken, ErrNotFound for an unknown instance.
func (s *Store) ReserveSubdomain(ctx context.Context, instanceID, name, reason string) (string, error) {
	sub, ve := checkSubdomain(name)
	if ve != nil {
		return "", ve
	}
	if sub == "" {
		return "", &ValidationError{Field: "subdomain", Reason: "must not be empty"}
	}
	sc, err := s.Open(ctx, instanceID)
	if err != nil {
		return "", err
	}
	old := sc.Instance().Settings.Subdomain
	if err := s.claimSubdomain(ctx, instanceID, old, sub); err != nil {
		return "", err
	}
	if _, err := s.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: instanceID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "settings.subdomain", Value: sub}}}}); err != nil {
		return "", storeErr(err)
	}
	return sub, sc.Audit(ctx, OperatorActor, "subdomain.reserved", sub, map[string]string{"reason": reason, "previous": old})
}

// instanceBySubdomain returns the instance that claimed sub.
func (s *Store) instanceBySubdomain(ctx context.Context, sub string) (Instance, error) {
	var claim struct {
		InstanceID string `bson:"instance_id"`
	}
	if err := storeErr(s.db.Collection(collSubdomains).FindOne(ctx, bson.D{{Key: "_id", Value: sub}}).Decode(&claim)); err != nil {
		return Instance{}, err
	}
	return s.instance(ctx, claim.InstanceID)
}

// getLoginPage is GET /auth/login-page: which instance's login page the
// request's host shows (acme.<base domain>), if any.
func (h *Handlers) getLoginPage(c *gin.Context) error {
	host := c.Request.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	sub, ok := strings.CutSuffix(host, "."+h.svc.BaseDomain)
	if h.svc.BaseDomain == "" || !ok || strings.Contains(sub, ".") {
		return errNoLoginPage
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	inst, err := h.svc.Store.instanceBySubdomain(ctx, sub)
	if err == nil && !inst.Verified {
		// Claimed while pending instances could claim names: not shown.
		err = ErrNotFound
	}
	if errors.Is(err, ErrNotFound) {
		return errNoLoginPage
	} else if err != nil {
		return err
	}
	sso := h.svc.ssoOf(ctx, inst)
	c.JSON(http.StatusOK, gin.H{"instance": gin.H{"id": inst.ID, "name": inst.Name}, "sso": sso.Available, "sso_detail": sso})
	return nil
}
