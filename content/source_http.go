package content

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// sourceIn is the body of POST and PATCH /sources.
type sourceIn struct {
	URL     *string   `json:"url"`
	Kind    *string   `json:"kind"`
	Title   *string   `json:"title"`
	Topics  *[]string `json:"topics"`
	Trusted *bool     `json:"trusted"`
}

func (in sourceIn) draft() SourceDraft {
	return SourceDraft(in)
}

// sourceRoutes mounts the curators' routes of content sources.
func (h *Handlers) sourceRoutes(r gin.IRouter, m func(f tenant.HandlerFunc, roles ...tenant.Role) gin.HandlerFunc) {
	r.GET("/sources", m(h.sources, curators...))
	r.POST("/sources", m(h.auth.Idempotent(h.createSource), curators...))
	r.GET("/sources/:id", m(h.getSource, curators...))
	r.PATCH("/sources/:id", m(h.editSource, curators...))
	r.DELETE("/sources/:id", m(h.deleteSource, curators...))
}

func (h *Handlers) sources(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	list, err := h.svc.Sources(c.Request.Context(), sc)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.List[Source]{Items: list})
	return nil
}

func (h *Handlers) createSource(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in sourceIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	src, err := h.svc.CreateSource(c.Request.Context(), sc, me, in.draft())
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, src)
	return nil
}

func (h *Handlers) getSource(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	src, err := h.svc.GetSource(c.Request.Context(), sc, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, src)
	return nil
}

func (h *Handlers) editSource(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	var in sourceIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	src, err := h.svc.EditSource(c.Request.Context(), sc, c.Param("id"), in.draft())
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, src)
	return nil
}

func (h *Handlers) deleteSource(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	if err := h.svc.DeleteSource(c.Request.Context(), sc, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
