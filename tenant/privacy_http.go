package tenant

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Handlers of the data-subject rights (mounted by Handlers.Routes).

func (h *Handlers) getExport(c *gin.Context, sc Scope, me Member) error {
	ex, err := h.privacy.Export(c.Request.Context(), sc, Subject{MemberID: me.ID, Email: me.Email})
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="chorus-export.json"`)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, ex)
	return nil
}

func (h *Handlers) deleteMe(c *gin.Context, sc Scope, me Member) error {
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
	if err := h.privacy.Erase(c.Request.Context(), sc, MemberActor(me), s); err != nil {
		return err
	}
	h.setCookie(c, "", -1)
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handlers) getConsents(c *gin.Context, sc Scope, me Member) error {
	current, ledger, err := h.privacy.Consents(c.Request.Context(), sc, me.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"current": current, "ledger": ledger})
	return nil
}

func (h *Handlers) putConsent(c *gin.Context, sc Scope, me Member) error {
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
	rec, err := h.privacy.SetConsent(c.Request.Context(), sc, me, c.Param("purpose"), *in.Granted, in.TextVersion)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, rec)
	return nil
}

func (h *Handlers) getSubject(c *gin.Context, sc Scope, me Member) error {
	s, err := h.privacy.SubjectByEmail(c.Request.Context(), sc, strings.TrimSpace(c.Query("email")))
	if err != nil {
		return err
	}
	ex, err := h.privacy.Export(c.Request.Context(), sc, s)
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

func (h *Handlers) postErase(c *gin.Context, sc Scope, me Member) error {
	var in struct {
		Email                string `json:"email"`
		DeletePublishedPosts bool   `json:"delete_published_posts"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	s, err := h.privacy.SubjectByEmail(c.Request.Context(), sc, in.Email)
	if err != nil {
		return err
	}
	s.DeletePosts = in.DeletePublishedPosts
	if err := h.privacy.Erase(c.Request.Context(), sc, MemberActor(me), s); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
