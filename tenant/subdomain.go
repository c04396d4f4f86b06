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

	"github.com/chorushq/chorus/tenant/api"
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
func (s *Service) getLoginPage(c *gin.Context) error {
	host := c.Request.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	sub, ok := strings.CutSuffix(host, "."+s.BaseDomain)
	if s.BaseDomain == "" || !ok || strings.Contains(sub, ".") {
		return api.New(http.StatusNotFound, "not_found", "this host is no company's login page")
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
	defer cancel()
	inst, err := s.Store.instanceBySubdomain(ctx, sub)
	if errors.Is(err, ErrNotFound) {
		return api.New(http.StatusNotFound, "not_found", "this host is no company's login page")
	} else if err != nil {
		return err
	}
	sso := s.ssoOf(ctx, inst)
	c.JSON(http.StatusOK, gin.H{"instance": gin.H{"id": inst.ID, "name": inst.Name}, "sso": sso.Available, "sso_detail": sso})
	return nil
}
