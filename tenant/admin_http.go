package tenant

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Handlers of the admin console: roles, domains, invitations, audit, and
// the operator API.

// patchMember is an admin's change to a member: their role, and the
// correction of their name or title (rectification). Each change is
// audited; the audit entry names the fields, never their values.
func (h *Handlers) patchMember(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Role  *Role   `json:"role"`
		Name  *string `json:"name"`
		Title *string `json:"title"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	ctx := c.Request.Context()
	before, err := sc.Member(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if in.Role == nil && in.Name == nil && in.Title == nil {
		return httpapi.Invalid(httpapi.FieldError{Field: "role", Message: "give role, name or title"})
	}
	profile := ProfileUpdate{Name: in.Name, Title: in.Title}
	if _, verr := profileSet(profile); len(verr) > 0 {
		return verr // before anything is written
	}
	m := before
	if in.Role != nil {
		prev := m.Role
		if m, err = sc.SetRole(ctx, before.ID, *in.Role); err != nil {
			return err
		}
		if prev != m.Role {
			if err := sc.Audit(ctx, MemberActor(me), "member.role_changed", m.ID,
				map[string]string{"from": string(prev), "to": string(m.Role)}); err != nil {
				return err
			}
		}
	}
	if in.Name != nil || in.Title != nil {
		corrected, err := sc.UpdateProfile(ctx, before.ID, profile)
		if err != nil {
			return err
		}
		if fields := changedFields(m, corrected); len(fields) > 0 {
			if err := sc.Audit(ctx, MemberActor(me), "member.profile_corrected", m.ID, map[string]string{"fields": strings.Join(fields, ",")}); err != nil {
				return err
			}
		}
		m = corrected
	}
	c.JSON(http.StatusOK, viewOf(m, true))
	return nil
}

func (h *Handlers) deleteMember(c *gin.Context, sc Scope, me Member) error {
	if err := h.svc.RemoveMember(c.Request.Context(), sc, me, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handlers) getDomains(c *gin.Context, sc Scope, _ Member) error {
	ds, err := h.svc.Domains(c.Request.Context(), sc)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.List[Domain]{Items: ds})
	return nil
}

func (h *Handlers) postDomain(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Domain string `json:"domain"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	d, err := h.svc.AddDomain(c.Request.Context(), sc, me, in.Domain)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, d)
	return nil
}

func (h *Handlers) postVerifyDomain(c *gin.Context, sc Scope, me Member) error {
	d, err := h.svc.VerifyDomain(c.Request.Context(), sc, me, c.Param("domain"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}

func (h *Handlers) getInvitations(c *gin.Context, sc Scope, _ Member) error {
	invs, err := h.svc.Invitations(c.Request.Context(), sc)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.List[Invitation]{Items: invs})
	return nil
}

func (h *Handlers) postInvitations(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Emails  []string `json:"emails"`
		Message *string  `json:"message"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	invs, err := h.svc.Invite(c.Request.Context(), sc, me, in.Emails, in.Message)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, httpapi.List[Invitation]{Items: invs})
	return nil
}

func (h *Handlers) deleteInvitation(c *gin.Context, sc Scope, me Member) error {
	if err := h.svc.RevokeInvitation(c.Request.Context(), sc, me, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handlers) postResend(c *gin.Context, sc Scope, me Member) error {
	if err := httpapi.DecodeNone(c); err != nil {
		return err
	}
	inv, err := h.svc.ResendInvitation(c.Request.Context(), sc, me, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, inv)
	return nil
}

// auditCursor is where a page of the audit log starts: before the
// sequence number of the last entry seen.
type auditCursor struct {
	Seq int64 `json:"s"`
}

func (h *Handlers) getAudit(c *gin.Context, sc Scope, _ Member) error {
	limit, err := httpapi.Limit(c)
	if err != nil {
		return err
	}
	after, err := httpapi.ParseCursor(c.Query("cursor"), func(p auditCursor) bool { return p.Seq >= 1 })
	if err != nil {
		return err
	}
	var before int64
	if after != nil {
		before = after.Seq
	}
	es, err := sc.AuditLog(c.Request.Context(), before, limit+1)
	if err != nil {
		return err
	}
	var next *auditCursor
	if len(es) > limit {
		es, next = es[:limit], &auditCursor{Seq: es[limit-1].Seq}
	}
	lines, err := sc.AuditLines(c.Request.Context(), es)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.Page(lines, next))
	return nil
}

func (h *Handlers) requireOperator(c *gin.Context) {
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(h.svc.OperatorToken)) != 1 {
		httpapi.Write(c, httpapi.ErrUnauthenticated.With("the operator API needs the operator token as a bearer token"))
		return
	}
	c.Next()
}

func (h *Handlers) opsInstances(c *gin.Context) error {
	insts, err := h.svc.Store.Instances(c.Request.Context())
	if err != nil {
		return err
	}
	out := make([]instanceView, len(insts))
	for i, inst := range insts {
		out[i] = h.instanceViewOf(inst)
	}
	c.JSON(http.StatusOK, httpapi.List[instanceView]{Items: out})
	return nil
}

func (h *Handlers) opsVerifyDomain(c *gin.Context) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if strings.TrimSpace(in.Reason) == "" {
		return httpapi.Invalid(httpapi.FieldError{Field: "reason", Message: "say why the domain is verified without DNS (it goes into the instance's audit log)"})
	}
	d, err := h.svc.ForceVerify(c.Request.Context(), c.Param("domain"), in.Reason)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, d)
	return nil
}
