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

// Group is an audience of an instance: the members an admin put in it by
// hand, and those whose attributes satisfy its rules. Curators aim
// content at groups; analytics break down by them.
type Group struct {
	ID   string `bson:"_id" json:"id"`
	Name string `bson:"name" json:"name"`
	// NameKey is the name folded for uniqueness (case-insensitive).
	NameKey string `bson:"name_key" json:"-"`
	// Rules select members by attribute: a member belongs when every rule
	// holds. No rules: only the members added by hand.
	Rules     []Rule    `bson:"rules" json:"rules"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
}

// Rule holds for a member whose attribute is one of Values (compared
// without regard to case and surrounding space).
type Rule struct {
	Attribute string   `bson:"attribute" json:"attribute"`
	Values    []string `bson:"values" json:"values"`
}

// Attributes are the member attributes rules may test, set by an admin,
// a CSV import or the identity provider's claims at sign-in. Adding a
// name here is all it takes to offer another one.
var Attributes = []string{"department", "location"}

// Limits of groups.
const (
	MaxGroups          = 200
	maxGroupNameLen    = 80
	maxRuleValues      = 50
	maxAttributeLen    = 100
	maxGroupsPerMember = 100
)

// Errors of groups.
var (
	// ErrGroupNameTaken: another group of the instance has this name.
	ErrGroupNameTaken = errors.New("another group has this name")
	// ErrTooManyGroups: the instance has MaxGroups groups.
	ErrTooManyGroups = errors.New("too many groups")
)

var groupKind = Kind{
	Name: "groups",
	Indexes: []Index{
		{Keys: bson.D{{Key: "name_key", Value: 1}}, Unique: true},
	},
}

// groupNameKey folds a group name for uniqueness.
func groupNameKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// foldValue folds an attribute value for comparison.
func foldValue(v string) string { return strings.ToLower(strings.TrimSpace(v)) }

// Holds reports whether the rule holds for attributes.
func (r Rule) Holds(attrs map[string]string) bool {
	v := foldValue(attrs[r.Attribute])
	if v == "" {
		return false
	}
	for _, want := range r.Values {
		if foldValue(want) == v {
			return true
		}
	}
	return false
}

// Matches reports whether a member with attrs belongs to g by its rules.
func (g Group) Matches(attrs map[string]string) bool {
	if len(g.Rules) == 0 {
		return false
	}
	for _, r := range g.Rules {
		if !r.Holds(attrs) {
			return false
		}
	}
	return true
}

// Has reports whether member m belongs to g: by hand or by its rules.
func (g Group) Has(m Member) bool {
	return slices.Contains(m.Groups, g.ID) || g.Matches(m.Attributes)
}

// checkGroup validates a group's name and rules, returning them cleaned.
func checkGroup(name string, rules []Rule) (string, []Rule, ValidationErrors) {
	var errs ValidationErrors
	name = strings.TrimSpace(name)
	switch n := len([]rune(name)); {
	case n == 0:
		errs = append(errs, &ValidationError{Field: "name", Reason: "must not be empty"})
	case n > maxGroupNameLen:
		errs = append(errs, &ValidationError{Field: "name", Reason: fmt.Sprintf("must be at most %d characters", maxGroupNameLen)})
	default:
		if e := controlCharError("name", name, false); e != nil {
			errs = append(errs, e)
		}
	}
	out := make([]Rule, 0, len(rules))
	if len(rules) > len(Attributes) {
		errs = append(errs, &ValidationError{Field: "rules", Reason: fmt.Sprintf("must be at most %d rules, one per attribute", len(Attributes))})
		return name, out, errs
	}
	seen := map[string]bool{}
	for i, r := range rules {
		field := fmt.Sprintf("rules[%d]", i)
		if !slices.Contains(Attributes, r.Attribute) {
			errs = append(errs, &ValidationError{Field: field + ".attribute", Reason: "must be one of " + strings.Join(Attributes, ", ")})
			continue
		}
		if seen[r.Attribute] {
			errs = append(errs, &ValidationError{Field: field + ".attribute", Reason: "has a rule already: put every value in one rule"})
			continue
		}
		seen[r.Attribute] = true
		var values []string
		for _, v := range r.Values {
			v = strings.TrimSpace(v)
			if v == "" || len([]rune(v)) > maxAttributeLen || controlCharError("value", v, false) != nil {
				errs = append(errs, &ValidationError{Field: field + ".values", Reason: fmt.Sprintf("each value must be 1 to %d characters of text", maxAttributeLen)})
				break
			}
			if !slices.ContainsFunc(values, func(x string) bool { return foldValue(x) == foldValue(v) }) {
				values = append(values, v)
			}
		}
		switch {
		case len(values) == 0 && len(r.Values) == 0:
			errs = append(errs, &ValidationError{Field: field + ".values", Reason: "must list at least one value"})
		case len(values) > maxRuleValues:
			errs = append(errs, &ValidationError{Field: field + ".values", Reason: fmt.Sprintf("must list at most %d values", maxRuleValues)})
		}
		out = append(out, Rule{Attribute: r.Attribute, Values: values})
	}
	return name, out, errs
}

// Groups returns the instance's groups by name. The list is kept per
// process like the members (see authCache) and dropped by every write to
// the groups, so the feed resolves a member's groups without a read.
func (sc Scope) Groups(ctx context.Context) ([]Group, error) {
	if sc.store == nil {
		return nil, ErrNoScope
	}
	c := sc.store.cache
	var list struct {
		Items []Group `bson:"items"`
	}
	if raw, ok := c.get(c.groups, sc.inst.ID); ok {
		if err := bson.Unmarshal(raw, &list); err == nil {
			return list.Items, nil
		}
	}
	gen := c.begin()
	if err := sc.Collection(groupKind).Find(ctx, bson.D{}, &list.Items,
		options.Find().SetSort(bson.D{{Key: "name_key", Value: 1}}).SetLimit(MaxGroups+1)); err != nil {
		return nil, err
	}
	if list.Items == nil {
		list.Items = []Group{}
	}
	raw, err := bson.Marshal(list)
	if err == nil {
		c.put(c.groups, sc.inst.ID, gen, cacheEntry{raw: raw})
	}
	return list.Items, nil
}

// Group returns one group of the instance; ErrNotFound for an unknown ID
// or another instance's group.
func (sc Scope) Group(ctx context.Context, id string) (Group, error) {
	if !httpapi.ValidID(id) {
		return Group{}, ErrNotFound
	}
	var g Group
	err := sc.Collection(groupKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &g)
	return g, err
}

// MemberGroups returns the IDs of the groups m belongs to (by hand or by
// rule), in name order. It reads nothing but the cached group list.
func (sc Scope) MemberGroups(ctx context.Context, m Member) ([]string, error) {
	gs, err := sc.Groups(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, g := range gs {
		if g.Has(m) {
			out = append(out, g.ID)
		}
	}
	return out, nil
}

// UnknownGroups returns the IDs among ids that name no group of the
// instance (for validating a post's audience).
func (sc Scope) UnknownGroups(ctx context.Context, ids []string) ([]string, error) {
	gs, err := sc.Groups(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if !slices.ContainsFunc(gs, func(g Group) bool { return g.ID == id }) {
			out = append(out, id)
		}
	}
	return out, nil
}

// CreateGroup adds a group (admins). ValidationErrors name bad fields;
// ErrGroupNameTaken, ErrTooManyGroups. Audited.
func (sc Scope) CreateGroup(ctx context.Context, by Member, name string, rules []Rule) (Group, error) {
	name, rules, errs := checkGroup(name, rules)
	if len(errs) > 0 {
		return Group{}, errs
	}
	n, err := sc.Collection(groupKind).Count(ctx, bson.D{})
	if err != nil {
		return Group{}, err
	}
	if n >= MaxGroups {
		return Group{}, ErrTooManyGroups
	}
	now := sc.store.now().UTC().Truncate(time.Millisecond)
	g := Group{ID: httpapi.NewID(), Name: name, NameKey: groupNameKey(name), Rules: rules, CreatedAt: now, UpdatedAt: now}
	switch err := sc.Collection(groupKind).Insert(ctx, g); {
	case errors.Is(err, ErrDuplicate):
		return Group{}, ErrGroupNameTaken
	case err != nil:
		return Group{}, err
	}
	return g, sc.Audit(ctx, MemberActor(by), "group.created", g.ID, map[string]string{"name": g.Name})
}

// UpdateGroup renames a group or replaces its rules (admins); nil fields
// stay. Errors as CreateGroup, and ErrNotFound.
func (sc Scope) UpdateGroup(ctx context.Context, by Member, id string, name *string, rules *[]Rule) (Group, error) {
	g, err := sc.Group(ctx, id)
	if err != nil {
		return Group{}, err
	}
	newName, newRules := g.Name, g.Rules
	if name != nil {
		newName = *name
	}
	if rules != nil {
		newRules = *rules
	}
	newName, newRules, errs := checkGroup(newName, newRules)
	if len(errs) > 0 {
		return Group{}, errs
	}
	now := sc.store.now().UTC().Truncate(time.Millisecond)
	ok, err := sc.Collection(groupKind).Update(ctx, bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "name", Value: newName}, {Key: "name_key", Value: groupNameKey(newName)}, {Key: "rules", Value: newRules}, {Key: "updated_at", Value: now},
	}}})
	switch {
	case errors.Is(err, ErrDuplicate):
		return Group{}, ErrGroupNameTaken
	case err != nil:
		return Group{}, err
	case !ok:
		return Group{}, ErrNotFound
	}
	g.Name, g.NameKey, g.Rules, g.UpdatedAt = newName, groupNameKey(newName), newRules, now
	return g, sc.Audit(ctx, MemberActor(by), "group.updated", g.ID, map[string]string{"name": g.Name})
}

// DeleteGroup removes a group and every member's by-hand membership of it
// (admins). Posts aimed at it keep its ID and are seen by no member until
// a curator aims them again. ErrNotFound.
func (sc Scope) DeleteGroup(ctx context.Context, by Member, id string) error {
	if !httpapi.ValidID(id) {
		return ErrNotFound
	}
	ok, err := sc.Collection(groupKind).Delete(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	if _, err := sc.Collection(memberKind).UpdateMany(ctx, bson.D{{Key: "groups", Value: id}},
		bson.D{{Key: "$pull", Value: bson.D{{Key: "groups", Value: id}}}}); err != nil {
		return err
	}
	return sc.Audit(ctx, MemberActor(by), "group.deleted", id, nil)
}

// SetGroupMembership adds member memberID to group groupID by hand (in) or
// takes them out (!in); idempotent. A member in the group by its rules
// stays in it. ErrNotFound for an unknown group or member.
func (sc Scope) SetGroupMembership(ctx context.Context, by Member, groupID, memberID string, in bool) error {
	if _, err := sc.Group(ctx, groupID); err != nil {
		return err
	}
	if !httpapi.ValidID(memberID) {
		return ErrNotFound
	}
	f := bson.D{{Key: "_id", Value: memberID}}
	update := bson.D{{Key: "$pull", Value: bson.D{{Key: "groups", Value: groupID}}}}
	action := "group.member_removed"
	if in {
		// The size bound is part of the condition: one conditional update.
		f = append(f, bson.E{Key: "groups." + fmt.Sprint(maxGroupsPerMember-1), Value: bson.D{{Key: "$exists", Value: false}}})
		update = bson.D{{Key: "$addToSet", Value: bson.D{{Key: "groups", Value: groupID}}}}
		action = "group.member_added"
	}
	ok, err := sc.Collection(memberKind).Update(ctx, f, update)
	if err != nil {
		return err
	}
	if !ok {
		m, err := sc.Member(ctx, memberID)
		if err != nil {
			return err
		}
		if !slices.Contains(m.Groups, groupID) {
			return &ValidationError{Field: "groups", Reason: fmt.Sprintf("a member is in at most %d groups by hand", maxGroupsPerMember)}
		}
	}
	return sc.Audit(ctx, MemberActor(by), action, memberID, map[string]string{"group": groupID})
}

// checkAttributes validates member attributes: known names, text values;
// "" removes an attribute.
func checkAttributes(attrs map[string]string) (set, unset bson.D, errs ValidationErrors) {
	for _, name := range slices.Sorted(mapKeys(attrs)) {
		v := strings.TrimSpace(attrs[name])
		field := "attributes." + name
		switch {
		case !slices.Contains(Attributes, name):
			errs = append(errs, &ValidationError{Field: field, Reason: "is not an attribute: use " + strings.Join(Attributes, ", ")})
		case len([]rune(v)) > maxAttributeLen || controlCharError(field, v, false) != nil:
			errs = append(errs, &ValidationError{Field: field, Reason: fmt.Sprintf("must be at most %d characters of text", maxAttributeLen)})
		case v == "":
			unset = append(unset, bson.E{Key: field, Value: ""})
		default:
			set = append(set, bson.E{Key: field, Value: v})
		}
	}
	return set, unset, errs
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// SetAttributes sets a member's attributes (admins; "" removes one),
// leaving the others as they are. ValidationErrors, ErrNotFound. Audited
// with the attribute names, not their values.
func (sc Scope) SetAttributes(ctx context.Context, by Member, memberID string, attrs map[string]string) (Member, error) {
	set, unset, errs := checkAttributes(attrs)
	if len(errs) > 0 {
		return Member{}, errs
	}
	if !httpapi.ValidID(memberID) {
		return Member{}, ErrNotFound
	}
	update := bson.D{}
	if len(set) > 0 {
		update = append(update, bson.E{Key: "$set", Value: set})
	}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	if len(update) > 0 {
		ok, err := sc.Collection(memberKind).Update(ctx, bson.D{{Key: "_id", Value: memberID}}, update)
		if err != nil {
			return Member{}, err
		}
		if !ok {
			return Member{}, ErrNotFound
		}
		if err := sc.Audit(ctx, MemberActor(by), "member.attributes_set", memberID,
			map[string]string{"attributes": strings.Join(slices.Sorted(mapKeys(attrs)), ",")}); err != nil {
			return Member{}, err
		}
	}
	return sc.Member(ctx, memberID)
}

// GroupMembers returns up to limit members of group g whose IDs follow
// after, in ID order: those added by hand and those its rules select. The
// query reads the members kind (bounded by the company's employees).
func (sc Scope) GroupMembers(ctx context.Context, g Group, after string, limit int) ([]Member, error) {
	if len(g.Rules) > 0 {
		// Values compare without regard to case: the rules are checked
		// here, over the members in pages.
		var ms []Member
		if err := sc.membersPaged(ctx, bson.D{}, after, func(page []Member) bool {
			for _, m := range page {
				if g.Has(m) {
					ms = append(ms, m)
				}
			}
			return len(ms) < limit
		}); err != nil {
			return nil, err
		}
		return ms[:min(len(ms), limit)], nil
	}
	f := bson.D{{Key: "groups", Value: g.ID}}
	if after != "" {
		f = append(f, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
	}
	var ms []Member
	err := sc.Collection(memberKind).Find(ctx, f, &ms, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	return ms, err
}

// membersPaged walks the members matching f after an ID in pages of 500,
// while each returns true.
func (sc Scope) membersPaged(ctx context.Context, f bson.D, after string, each func([]Member) bool) error {
	for {
		q := slices.Clone(f)
		if after != "" {
			q = append(q, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
		}
		var ms []Member
		if err := sc.Collection(memberKind).Find(ctx, q, &ms, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(500)); err != nil {
			return err
		}
		if len(ms) == 0 || !each(ms) || len(ms) < 500 {
			return nil
		}
		after = ms[len(ms)-1].ID
	}
}

// GroupMemberIDs returns, for every group of the instance, the IDs of its
// members, and the instance's groups: one walk of the members (bounded by
// the company's employees), for analytics by group.
func (sc Scope) GroupMemberIDs(ctx context.Context) ([]Group, map[string][]string, error) {
	gs, err := sc.Groups(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := map[string][]string{}
	if len(gs) == 0 {
		return gs, out, nil
	}
	err = sc.membersPaged(ctx, bson.D{}, "", func(ms []Member) bool {
		for _, m := range ms {
			for _, g := range gs {
				if g.Has(m) {
					out[g.ID] = append(out[g.ID], m.ID)
				}
			}
		}
		return true
	})
	return gs, out, err
}
