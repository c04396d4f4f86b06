package tenant

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// claimName is an ID token claim name an admin may map to an attribute.
var claimName = regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,100}$`)

// SetAttributeClaims stores which ID token claim gives each attribute
// (admins): applied at each sign-in through the instance's or the global
// identity provider; an attribute mapped to "" (or left out) is not taken
// from claims. ValidationErrors name bad fields. Audited.
func (s *Service) SetAttributeClaims(ctx context.Context, sc Scope, by Member, claims map[string]string) (map[string]string, error) {
	out := map[string]string{}
	var errs ValidationErrors
	for _, attr := range slices.Sorted(mapKeys(claims)) {
		c := strings.TrimSpace(claims[attr])
		switch {
		case !slices.Contains(Attributes, attr):
			errs = append(errs, &ValidationError{Field: attr, Reason: "is not an attribute: use " + strings.Join(Attributes, ", ")})
		case c == "":
		case !claimName.MatchString(c):
			errs = append(errs, &ValidationError{Field: attr, Reason: "must be a claim name of 1 to 100 letters, digits or _ . : / -"})
		default:
			out[attr] = c
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if _, err := s.Store.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: sc.InstanceID()}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "settings.attribute_claims", Value: out}}}}); err != nil {
		return nil, storeErr(err)
	}
	s.Store.cache.dropInstance(sc.InstanceID())
	return out, sc.Audit(ctx, MemberActor(by), "instance.attribute_claims_set", "", map[string]string{
		"attributes": strings.Join(slices.Sorted(mapKeys(out)), ",")})
}

// applyClaims sets the member's attributes from the verified ID token's
// claims, as the instance's AttributeClaims map them. A claim that is
// absent or not text leaves the attribute as it is (an admin may have set
// it); a list gives its first text value.
func (sc Scope) applyClaims(ctx context.Context, m Member, claims map[string]any) error {
	set := bson.D{}
	for _, attr := range Attributes {
		name := sc.inst.Settings.AttributeClaims[attr]
		if name == "" {
			continue
		}
		v, ok := claimText(claims[name])
		if !ok || v == m.Attributes[attr] {
			continue
		}
		set = append(set, bson.E{Key: "attributes." + attr, Value: v})
	}
	if len(set) == 0 {
		return nil
	}
	if _, err := sc.Collection(memberKind).Update(ctx, bson.D{{Key: "_id", Value: m.ID}}, bson.D{{Key: "$set", Value: set}}); err != nil {
		return fmt.Errorf("attributes from claims: %w", err)
	}
	return nil
}

// claimText is a claim's value as attribute text.
func claimText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		x = strings.TrimSpace(x)
		if x == "" || len([]rune(x)) > maxAttributeLen || controlCharError("claim", x, false) != nil {
			return "", false
		}
		return x, true
	case float64:
		return claimText(fmt.Sprint(x))
	case []any:
		for _, e := range x {
			if s, ok := claimText(e); ok {
				return s, true
			}
		}
	}
	return "", false
}

// audienceExport is a member's attributes and groups for their data
// export: every group they are in, and how.
func audienceExport(ctx context.Context, sc Scope, m Member) (map[string]any, error) {
	gs, err := sc.Groups(ctx)
	if err != nil {
		return nil, err
	}
	attrs := m.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	groups := []map[string]any{}
	for _, g := range gs {
		if g.Has(m) {
			groups = append(groups, map[string]any{"id": g.ID, "name": g.Name,
				"by_hand": slices.Contains(m.Groups, g.ID), "by_rules": g.Matches(m.Attributes)})
		}
	}
	return map[string]any{"attributes": attrs, "groups": groups}, nil
}
