package content

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// campaignIn is the body of POST and PATCH /campaigns. Times are strings
// so a bad one is reported with its field.
type campaignIn struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Start       *string `json:"start"`
	End         *string `json:"end"`
	Goal        *struct {
		Metric string `json:"metric"`
		Target int64  `json:"target"`
	} `json:"goal"`
}

func (in campaignIn) draft() (CampaignDraft, error) {
	d := CampaignDraft{Name: in.Name, Description: in.Description}
	var errs []httpapi.FieldError
	parse := func(field string, s *string) *time.Time {
		if s == nil {
			return nil
		}
		t, err := time.Parse(time.RFC3339, *s)
		if err != nil {
			errs = append(errs, httpapi.FieldError{Field: field, Message: "must be an RFC 3339 time such as 2026-12-01T09:00:00Z"})
			return nil
		}
		return &t
	}
	d.Start, d.End = parse("start", in.Start), parse("end", in.End)
	if in.Goal != nil {
		d.Goal = &Goal{Metric: in.Goal.Metric, Target: in.Goal.Target}
	}
	if len(errs) > 0 {
		return CampaignDraft{}, httpapi.Invalid(errs...)
	}
	return d, nil
}

// campaignView is a campaign as the API shows it: with its status now.
type campaignView struct {
	Campaign
	Status string `json:"status"`
}

func (h *Handlers) campaignView(c Campaign) campaignView {
	return campaignView{Campaign: c, Status: c.StatusAt(h.svc.now())}
}

// readers may see campaigns and their progress; members see the running
// ones (GET /campaigns/active).
var campaignReaders = []tenant.Role{tenant.RoleCurator, tenant.RoleAnalyst, tenant.RoleAdmin}

// campaignRoutes mounts the routes of campaigns.
func (h *Handlers) campaignRoutes(r gin.IRouter, m func(f tenant.HandlerFunc, roles ...tenant.Role) gin.HandlerFunc) {
	r.GET("/campaigns", m(h.campaigns, campaignReaders...))
	r.POST("/campaigns", m(h.auth.Idempotent(h.createCampaign), curators...))
	r.GET("/campaigns/active", m(h.activeCampaigns))
	r.GET("/campaigns/:id", m(h.getCampaign, campaignReaders...))
	r.PATCH("/campaigns/:id", m(h.editCampaign, curators...))
	r.DELETE("/campaigns/:id", m(h.archiveCampaign, curators...))
	r.GET("/campaigns/:id/progress", m(h.campaignProgress, campaignReaders...))
}

func (h *Handlers) campaigns(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	limit, err := httpapi.Limit(c)
	if err != nil {
		return err
	}
	after, err := ParseCampaignCursor(c.Query("cursor"))
	if err != nil {
		return err
	}
	var archived bool
	switch a := c.Query("archived"); a {
	case "", "0", "false":
	case "1", "true":
		archived = true
	default:
		return httpapi.Invalid(httpapi.FieldError{Field: "archived", Message: "must be 1 or 0"})
	}
	list, next, err := h.svc.Campaigns(c.Request.Context(), sc, archived, after, limit)
	if err != nil {
		return err
	}
	views := make([]campaignView, len(list))
	for i, cp := range list {
		views[i] = h.campaignView(cp)
	}
	c.JSON(http.StatusOK, httpapi.Page(views, next))
	return nil
}

func (h *Handlers) activeCampaigns(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	list, err := h.svc.ActiveCampaigns(c.Request.Context(), sc)
	if err != nil {
		return err
	}
	views := make([]campaignView, len(list))
	for i, cp := range list {
		views[i] = h.campaignView(cp)
	}
	c.JSON(http.StatusOK, httpapi.List[campaignView]{Items: views})
	return nil
}

func (h *Handlers) createCampaign(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in campaignIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	d, err := in.draft()
	if err != nil {
		return err
	}
	cp, err := h.svc.CreateCampaign(c.Request.Context(), sc, me, d)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, h.campaignView(cp))
	return nil
}

func (h *Handlers) getCampaign(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	cp, err := h.svc.GetCampaign(c.Request.Context(), sc, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.campaignView(cp))
	return nil
}

func (h *Handlers) editCampaign(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	// Another instance's campaign is 404 before the body is looked at.
	if _, err := h.svc.GetCampaign(c.Request.Context(), sc, c.Param("id")); err != nil {
		return err
	}
	var in campaignIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	d, err := in.draft()
	if err != nil {
		return err
	}
	cp, err := h.svc.EditCampaign(c.Request.Context(), sc, me, c.Param("id"), d)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, h.campaignView(cp))
	return nil
}

func (h *Handlers) archiveCampaign(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	if err := h.svc.ArchiveCampaign(c.Request.Context(), sc, me, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handlers) campaignProgress(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	p, err := h.svc.CampaignProgress(c.Request.Context(), sc, c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, p)
	return nil
}
