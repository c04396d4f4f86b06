package tenant

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// groupRoutes mounts the audiences' routes under r (the /api/v1 group):
// groups, their members, member attributes, the CSV import and the
// mapping of identity provider claims to attributes.
func (h *Handlers) groupRoutes(r gin.IRouter) {
	m := func(f HandlerFunc, roles ...Role) gin.HandlerFunc { return h.svc.Member(nil, f, roles...) }
	readers := []Role{RoleCurator, RoleAnalyst, RoleAdmin}
	r.GET("/groups", m(h.getGroups, readers...))
	r.POST("/groups", m(h.svc.Idempotent(h.postGroup), RoleAdmin))
	r.POST("/groups/import", m(h.postGroupImport, RoleAdmin))
	r.GET("/groups/:id", m(h.getGroup, readers...))
	r.PATCH("/groups/:id", m(h.patchGroup, RoleAdmin))
	r.DELETE("/groups/:id", m(h.deleteGroup, RoleAdmin))
	r.GET("/groups/:id/members", m(h.getGroupMembers, RoleAdmin))
	r.PUT("/groups/:id/members/:member", m(h.putGroupMember, RoleAdmin))
	r.DELETE("/groups/:id/members/:member", m(h.deleteGroupMember, RoleAdmin))
	r.GET("/members/:id/audience", m(h.getMemberAudience, RoleAdmin))
	r.PUT("/members/:id/attributes", m(h.putMemberAttributes, RoleAdmin))
	r.PUT("/instance/attribute-claims", m(h.putAttributeClaims, RoleAdmin))
}

// groupView is a group as the API shows it.
type groupView struct {
	Group
	// Attributes are the attribute names rules may test.
	Attributes []string `json:"attributes"`
}

func viewOfGroup(g Group) groupView {
	if g.Rules == nil {
		g.Rules = []Rule{}
	}
	for i := range g.Rules {
		if g.Rules[i].Values == nil {
			g.Rules[i].Values = []string{}
		}
	}
	return groupView{Group: g, Attributes: Attributes}
}

func (h *Handlers) getGroups(c *gin.Context, sc Scope, _ Member) error {
	gs, err := sc.Groups(c.Request.Context())
	if err != nil {
		return err
	}
	out := httpapi.List[groupView]{Items: make([]groupView, 0, len(gs))}
	for _, g := range gs {
		out.Items = append(out.Items, viewOfGroup(g))
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// groupIn is a new or changed group.
type groupIn struct {
	Name  *string `json:"name"`
	Rules *[]Rule `json:"rules"`
}

func (h *Handlers) postGroup(c *gin.Context, sc Scope, me Member) error {
	var in groupIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	name, rules := "", []Rule{}
	if in.Name != nil {
		name = *in.Name
	}
	if in.Rules != nil {
		rules = *in.Rules
	}
	g, err := sc.CreateGroup(c.Request.Context(), me, name, rules)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, viewOfGroup(g))
	return nil
}

func (h *Handlers) getGroup(c *gin.Context, sc Scope, _ Member) error {
	g, err := sc.Group(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, viewOfGroup(g))
	return nil
}

func (h *Handlers) patchGroup(c *gin.Context, sc Scope, me Member) error {
	var in groupIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if in.Name == nil && in.Rules == nil {
		if _, err := sc.Group(c.Request.Context(), c.Param("id")); err != nil {
			return err
		}
		return httpapi.Invalid(httpapi.FieldError{Field: "name", Message: "give name or rules"})
	}
	g, err := sc.UpdateGroup(c.Request.Context(), me, c.Param("id"), in.Name, in.Rules)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, viewOfGroup(g))
	return nil
}

func (h *Handlers) deleteGroup(c *gin.Context, sc Scope, me Member) error {
	if err := sc.DeleteGroup(c.Request.Context(), me, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// groupMemberView is a member of a group: whether by hand, by the rules,
// or both.
type groupMemberView struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Email      string            `json:"email"`
	Attributes map[string]string `json:"attributes"`
	ByHand     bool              `json:"by_hand"`
	ByRules    bool              `json:"by_rules"`
}

type groupMembersCursor struct {
	After string `json:"a"`
}

func (h *Handlers) getGroupMembers(c *gin.Context, sc Scope, _ Member) error {
	ctx := c.Request.Context()
	g, err := sc.Group(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	limit, err := httpapi.Limit(c)
	if err != nil {
		return err
	}
	cur, err := httpapi.ParseCursor(c.Query("cursor"), func(p groupMembersCursor) bool { return httpapi.ValidID(p.After) })
	if err != nil {
		return err
	}
	after := ""
	if cur != nil {
		after = cur.After
	}
	ms, err := sc.GroupMembers(ctx, g, after, limit+1)
	if err != nil {
		return err
	}
	var next *groupMembersCursor
	if len(ms) > limit {
		ms = ms[:limit]
		next = &groupMembersCursor{After: ms[len(ms)-1].ID}
	}
	items := make([]groupMemberView, 0, len(ms))
	for _, m := range ms {
		items = append(items, memberAudienceView(m, g))
	}
	c.JSON(http.StatusOK, httpapi.Page(items, next))
	return nil
}

func memberAudienceView(m Member, g Group) groupMemberView {
	attrs := m.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	v := groupMemberView{ID: m.ID, Name: m.Name, Email: m.Email, Attributes: attrs}
	for _, id := range m.Groups {
		if id == g.ID {
			v.ByHand = true
		}
	}
	v.ByRules = g.Matches(m.Attributes)
	return v
}

func (h *Handlers) putGroupMember(c *gin.Context, sc Scope, me Member) error {
	if err := httpapi.DecodeNone(c); err != nil {
		return err
	}
	if err := sc.SetGroupMembership(c.Request.Context(), me, c.Param("id"), c.Param("member"), true); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handlers) deleteGroupMember(c *gin.Context, sc Scope, me Member) error {
	if err := sc.SetGroupMembership(c.Request.Context(), me, c.Param("id"), c.Param("member"), false); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

// audienceView is a member's attributes and the groups they are in.
type audienceView struct {
	ID         string            `json:"id"`
	Attributes map[string]string `json:"attributes"`
	Groups     []groupMemberOf   `json:"groups"`
}

type groupMemberOf struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	ByHand  bool   `json:"by_hand"`
	ByRules bool   `json:"by_rules"`
}

func (h *Handlers) audienceOf(c *gin.Context, sc Scope, m Member) error {
	gs, err := sc.Groups(c.Request.Context())
	if err != nil {
		return err
	}
	v := audienceView{ID: m.ID, Attributes: m.Attributes, Groups: []groupMemberOf{}}
	if v.Attributes == nil {
		v.Attributes = map[string]string{}
	}
	for _, g := range gs {
		if g.Has(m) {
			mv := memberAudienceView(m, g)
			v.Groups = append(v.Groups, groupMemberOf{ID: g.ID, Name: g.Name, ByHand: mv.ByHand, ByRules: mv.ByRules})
		}
	}
	c.JSON(http.StatusOK, v)
	return nil
}

func (h *Handlers) getMemberAudience(c *gin.Context, sc Scope, _ Member) error {
	m, err := sc.Member(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return h.audienceOf(c, sc, m)
}

func (h *Handlers) putMemberAttributes(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Attributes map[string]string `json:"attributes"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if _, err := sc.Member(c.Request.Context(), c.Param("id")); err != nil {
		return err
	}
	if in.Attributes == nil {
		return httpapi.Invalid(httpapi.FieldError{Field: "attributes", Message: "is required"})
	}
	m, err := sc.SetAttributes(c.Request.Context(), me, c.Param("id"), in.Attributes)
	if err != nil {
		return err
	}
	return h.audienceOf(c, sc, m)
}

func (h *Handlers) postGroupImport(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		CSV string `json:"csv"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	rep, err := sc.ImportGroups(c.Request.Context(), me, in.CSV)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, rep)
	return nil
}

func (h *Handlers) putAttributeClaims(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Claims map[string]string `json:"attribute_claims"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if in.Claims == nil {
		return httpapi.Invalid(httpapi.FieldError{Field: "attribute_claims", Message: "is required"})
	}
	out, err := h.svc.SetAttributeClaims(c.Request.Context(), sc, me, in.Claims)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"attribute_claims": out})
	return nil
}
