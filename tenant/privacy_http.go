package tenant

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Routes mounts the data-subject rights under r (the /api/v1 group).
func (p *Privacy) Routes(r gin.IRouter) {
	r.GET("/me/export", p.svc.Member(nil, p.getExport))
	r.DELETE("/me", p.svc.Member(nil, p.deleteMe))
	r.GET("/me/consents", p.svc.Member(nil, p.getConsents))
	r.PUT("/me/consents/:purpose", p.svc.Member(nil, p.putConsent))
	r.GET("/privacy/subjects", p.svc.Member(nil, p.getSubject, RoleAdmin))
	r.POST("/privacy/subjects/erase", p.svc.Member(nil, p.postErase, RoleAdmin))
}

func (p *Privacy) getExport(c *gin.Context, sc Scope, me Member) error {
	ex, err := p.Export(c.Request.Context(), sc, Subject{MemberID: me.ID, Email: me.Email})
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="chorus-export.json"`)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, ex)
	return nil
}

func (p *Privacy) deleteMe(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		DeletePublishedPosts bool `json:"delete_published_posts"`
	}
	// The body is optional.
	if c.Request.ContentLength != 0 {
		if err := httpapi.Decode(c, &in); err != nil {
			return err
		}
	}
	s := Subject{MemberID: me.ID, Email: me.Email, DeletePosts: in.DeletePublishedPosts}
	if err := p.Erase(c.Request.Context(), sc, MemberActor(me), s); err != nil {
		return err
	}
	p.svc.setCookie(c, "", -1)
	c.Status(http.StatusNoContent)
	return nil
}

func (p *Privacy) getConsents(c *gin.Context, sc Scope, me Member) error {
	current, ledger, err := p.Consents(c.Request.Context(), sc, me.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"current": current, "ledger": ledger})
	return nil
}

func (p *Privacy) putConsent(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Granted     *bool  `json:"granted"`
		TextVersion string `json:"text_version"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if in.Granted == nil {
		return httpapi.Invalid(httpapi.FieldError{Field: "granted", Message: "is required (true or false)"})
	}
	rec, err := p.SetConsent(c.Request.Context(), sc, me, c.Param("purpose"), *in.Granted, in.TextVersion)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, rec)
	return nil
}

func (p *Privacy) getSubject(c *gin.Context, sc Scope, me Member) error {
	s, err := p.SubjectByEmail(c.Request.Context(), sc, strings.TrimSpace(c.Query("email")))
	if err != nil {
		return err
	}
	ex, err := p.Export(c.Request.Context(), sc, s)
	if err != nil {
		return err
	}
	if err := sc.Audit(c.Request.Context(), MemberActor(me), "privacy.subject_viewed", s.MemberID, nil); err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, ex)
	return nil
}

func (p *Privacy) postErase(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Email                string `json:"email"`
		DeletePublishedPosts bool   `json:"delete_published_posts"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	s, err := p.SubjectByEmail(c.Request.Context(), sc, in.Email)
	if err != nil {
		return err
	}
	s.DeletePosts = in.DeletePublishedPosts
	if err := p.Erase(c.Request.Context(), sc, MemberActor(me), s); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
