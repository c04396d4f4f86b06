package content

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Handlers serves content's routes.
type Handlers struct {
	svc  *Service
	auth *tenant.Service
	log  *slog.Logger
	// sharedTo, when set, says to which networks the member shared each
	// post (social provides it: content knows no shares).
	sharedTo func(ctx context.Context, sc tenant.Scope, memberID string, postIDs []string) (map[string][]string, error)
	// clicks, when set, counts the clicks on each post's tracked links
	// (reach measurement provides it from its totals: content knows no
	// clicks, and the click recorder writes no post).
	clicks func(ctx context.Context, sc tenant.Scope, postIDs []string) (map[string]int64, error)
}

// WithSharedTo lets the feed say where the member shared each post.
func (h *Handlers) WithSharedTo(f func(ctx context.Context, sc tenant.Scope, memberID string, postIDs []string) (map[string][]string, error)) *Handlers {
	h.sharedTo = f
	return h
}

// WithClicks lets the posts shown say how often their links were
// clicked.
func (h *Handlers) WithClicks(f func(ctx context.Context, sc tenant.Scope, postIDs []string) (map[string]int64, error)) *Handlers {
	h.clicks = f
	return h
}

// decorate fills in what the posts shown need beside the posts: where
// the member shared them, their clicks and who suggested them; a read
// each for the whole page.
func (h *Handlers) decorate(ctx context.Context, sc tenant.Scope, me tenant.Member, views []postView) error {
	if err := h.withShared(ctx, sc, me, views); err != nil {
		return err
	}
	if err := h.withClicks(ctx, sc, views); err != nil {
		return err
	}
	return h.withAuthors(ctx, sc, views)
}

// withClicks fills in the posts' clicks: the larger of the counter
// stored on the post (kept by releases before the totals counted them,
// and by chorus counters recount) and the totals' count.
func (h *Handlers) withClicks(ctx context.Context, sc tenant.Scope, views []postView) error {
	if h.clicks == nil || len(views) == 0 {
		return nil
	}
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	counted, err := h.clicks(ctx, sc, ids)
	if err != nil {
		return err
	}
	for i := range views {
		views[i].Clicks = max(views[i].Clicks, counted[views[i].ID])
	}
	return nil
}

// withShared fills in the networks the member shared the posts to.
func (h *Handlers) withShared(ctx context.Context, sc tenant.Scope, me tenant.Member, views []postView) error {
	if h.sharedTo == nil || len(views) == 0 {
		return nil
	}
	ids := make([]string, len(views))
	for i, v := range views {
		ids[i] = v.ID
	}
	shared, err := h.sharedTo(ctx, sc, me.ID, ids)
	if err != nil {
		return err
	}
	for i := range views {
		if ns := shared[views[i].ID]; ns != nil {
			views[i].SharedTo = ns
			// The member's own share is not a colleague's.
			views[i].ColleaguesShared = max(views[i].ColleaguesShared-1, 0)
		}
	}
	return nil
}

// withAuthors names who suggested the suggested posts (one read of the
// page's authors).
func (h *Handlers) withAuthors(ctx context.Context, sc tenant.Scope, views []postView) error {
	var ids []string
	for _, v := range views {
		if v.Suggested && v.AuthorID != "" && !slices.Contains(ids, v.AuthorID) {
			ids = append(ids, v.AuthorID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	names, err := sc.MemberNames(ctx, ids)
	if err != nil {
		return err
	}
	for i := range views {
		if views[i].Suggested {
			views[i].AuthorName = names[views[i].AuthorID]
		}
	}
	return nil
}

// NewHandlers returns content's HTTP handlers.
func NewHandlers(svc *Service, auth *tenant.Service, log *slog.Logger) *Handlers {
	return &Handlers{svc: svc, auth: auth, log: log}
}

var curators = []tenant.Role{tenant.RoleCurator, tenant.RoleAdmin}

// Routes mounts content's routes under r (the /api/v1 group).
func (h *Handlers) Routes(r gin.IRouter) {
	m := func(f tenant.HandlerFunc, roles ...tenant.Role) gin.HandlerFunc {
		return h.auth.Member(Problems, f, roles...)
	}
	r.POST("/content", m(h.auth.Idempotent(h.create), curators...))
	r.GET("/content", m(h.list))
	r.GET("/content/review-count", m(h.reviewCount, curators...))
	r.GET("/content/:id", m(h.get))
	r.PATCH("/content/:id", m(h.edit, curators...))
	r.DELETE("/content/:id", m(h.archive, curators...))
	r.POST("/content/:id/approve", m(h.approve, curators...))
	r.POST("/content/:id/reject", m(h.reject, curators...))
	r.POST("/suggestions", m(h.auth.Idempotent(h.suggest)))
	r.GET("/suggestions", m(h.mySuggestions))
	r.GET("/topics", m(h.topics))
	r.POST("/topics", m(h.auth.Idempotent(h.createTopic), tenant.RoleAdmin))
	r.DELETE("/topics/:id", m(h.deleteTopic, tenant.RoleAdmin))
	h.sourceRoutes(r, m)
	h.pushRoutes(r, m)
	h.campaignRoutes(r, m)
}

// postView is a post as the API shows it.
type postView struct {
	ID         string            `json:"id"`
	State      State             `json:"state"`
	URL        string            `json:"url"`
	Title      string            `json:"title"`
	Commentary string            `json:"commentary"`
	ShareTexts map[string]string `json:"share_texts"`
	Topics     []string          `json:"topics"`
	ImageURL   string            `json:"image_url"`
	Language   string            `json:"language"`
	PublishAt  time.Time         `json:"publish_at"`
	ExpiresAt  *time.Time        `json:"expires_at"`
	AuthorID   string            `json:"author_id"`
	Suggested  bool              `json:"suggested"`
	Reason     string            `json:"reason,omitempty"`
	Preview    Preview           `json:"preview"`
	// CampaignID names the post's campaign ("" for none).
	CampaignID string `json:"campaign_id"`
	// AuthorName names who suggested a suggested post.
	AuthorName string `json:"author_name,omitempty"`
	// SharedTo lists the networks the member shared this post to.
	SharedTo []string `json:"shared_to"`
	// ColleaguesShared counts the other members who shared it; Shares
	// and Clicks are its shares (not cancelled) and their links' clicks.
	// Audience is the groups the post is aimed at; [] is everyone.
	Audience         []string  `json:"audience"`
	ColleaguesShared int64     `json:"colleagues_shared"`
	Shares           int64     `json:"shares"`
	Clicks           int64     `json:"clicks"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func (h *Handlers) view(p Post) postView {
	v := postView{ID: p.ID, State: p.StateAt(h.svc.now()), URL: p.URL, Title: p.Title, Commentary: p.Commentary,
		ShareTexts: p.ShareTexts, Topics: p.Topics, ImageURL: p.ImageURL, Language: p.Language,
		PublishAt: p.PublishAt, ExpiresAt: p.ExpiresAt, AuthorID: p.AuthorID, Suggested: p.Suggested,
		Reason: p.Reason, Preview: p.Preview, SharedTo: []string{}, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
		ColleaguesShared: max(p.SharedBy, 0), Shares: max(p.Shares, 0), Clicks: p.Clicks, Audience: nonNil(p.Audience), CampaignID: p.CampaignID}
	if v.ShareTexts == nil {
		v.ShareTexts = map[string]string{}
	}
	if v.Topics == nil {
		v.Topics = []string{}
	}
	return v
}

// draftIn is the JSON of a new or edited post. Times are strings so a bad
// one is reported with its field.
type draftIn struct {
	URL        *string           `json:"url"`
	Title      *string           `json:"title"`
	Commentary *string           `json:"commentary"`
	ShareTexts map[string]string `json:"share_texts"`
	Topics     *[]string         `json:"topics"`
	ImageURL   *string           `json:"image_url"`
	Language   *string           `json:"language"`
	PublishAt  *string           `json:"publish_at"`
	ExpiresAt  *string           `json:"expires_at"`
	CampaignID *string           `json:"campaign_id"`
	// Draft (create only) keeps a new post unpublished; State (edit only)
	// moves a post between draft and published.
	Draft *bool  `json:"draft"`
	State *State `json:"state"`
	// Audience aims the post at groups; [] is everyone.
	Audience *[]string `json:"audience"`
}

// only refuses the fields an endpoint does not take.
func (in draftIn) only(draft, state bool) error {
	var errs []httpapi.FieldError
	if in.Draft != nil && !draft {
		errs = append(errs, httpapi.FieldError{Field: "draft", Message: "unknown field"})
	}
	if in.State != nil && !state {
		errs = append(errs, httpapi.FieldError{Field: "state", Message: "unknown field"})
	}
	if len(errs) > 0 {
		return httpapi.Invalid(errs...)
	}
	return nil
}

func (in draftIn) draft() (Draft, error) {
	d := Draft{URL: in.URL, Title: in.Title, Commentary: in.Commentary, ShareTexts: in.ShareTexts,
		Topics: in.Topics, ImageURL: in.ImageURL, Language: in.Language, Audience: in.Audience, CampaignID: in.CampaignID}
	d.AsDraft = in.Draft != nil && *in.Draft
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
	d.PublishAt = parse("publish_at", in.PublishAt)
	if in.ExpiresAt != nil && *in.ExpiresAt == "" {
		d.NoExpiry = true // "" removes the expiry
	} else {
		d.ExpiresAt = parse("expires_at", in.ExpiresAt)
	}
	if len(errs) > 0 {
		return Draft{}, httpapi.Invalid(errs...)
	}
	return d, nil
}

func (h *Handlers) create(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in draftIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if err := in.only(true, false); err != nil {
		return err
	}
	d, err := in.draft()
	if err != nil {
		return err
	}
	p, err := h.svc.Create(c.Request.Context(), sc, me, d)
	if err != nil {
		return err
	}
	h.log.InfoContext(c.Request.Context(), "content created", "post_id", p.ID, "state", p.State)
	c.JSON(http.StatusCreated, h.view(p))
	return nil
}

func (h *Handlers) suggest(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in struct {
		URL        string   `json:"url"`
		Commentary string   `json:"commentary"`
		Topics     []string `json:"topics"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	p, err := h.svc.Suggest(c.Request.Context(), sc, me, in.URL, in.Commentary, in.Topics)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, h.view(p))
	return nil
}

func (h *Handlers) list(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	q, err := h.query(c)
	if err != nil {
		return err
	}
	q.State = State(c.Query("state"))
	q.Topic = c.Query("topic")
	if q.Campaign = c.Query("campaign"); q.Campaign != "" && !httpapi.ValidID(q.Campaign) {
		return httpapi.Invalid(httpapi.FieldError{Field: "campaign", Message: "is not a campaign ID"})
	}
	switch f := c.Query("followed"); f {
	case "", "0", "false":
	case "1", "true":
		q.Followed = true
	default:
		return httpapi.Invalid(httpapi.FieldError{Field: "followed", Message: "must be 1 or 0"})
	}
	return h.page(c, sc, me, q)
}

func (h *Handlers) mySuggestions(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	q, err := h.query(c)
	if err != nil {
		return err
	}
	q.MineSuggested = true
	return h.page(c, sc, me, q)
}

func (h *Handlers) query(c *gin.Context) (Query, error) {
	limit, err := httpapi.Limit(c)
	if err != nil {
		return Query{}, err
	}
	after, err := ParseCursor(c.Query("cursor"))
	if err != nil {
		return Query{}, err
	}
	return Query{Limit: limit, After: after}, nil
}

func (h *Handlers) page(c *gin.Context, sc tenant.Scope, me tenant.Member, q Query) error {
	posts, next, err := h.svc.List(c.Request.Context(), sc, me, q)
	if err != nil {
		return err
	}
	out := httpapi.List[postView]{Items: make([]postView, 0, len(posts))}
	for _, p := range posts {
		out.Items = append(out.Items, h.view(p))
	}
	if err := h.decorate(c.Request.Context(), sc, me, out.Items); err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.Page(out.Items, next))
	return nil
}

func (h *Handlers) get(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	p, err := h.svc.Visible(c.Request.Context(), sc, me, c.Param("id"))
	if err != nil {
		return err
	}
	return h.respond(c, sc, me, p)
}

// respond answers 200 with the post as the composer shows it.
func (h *Handlers) respond(c *gin.Context, sc tenant.Scope, me tenant.Member, p Post) error {
	v := []postView{h.view(p)}
	if err := h.decorate(c.Request.Context(), sc, me, v); err != nil {
		return err
	}
	c.JSON(http.StatusOK, v[0])
	return nil
}

func (h *Handlers) edit(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in draftIn
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	if err := in.only(false, true); err != nil {
		return err
	}
	d, err := in.draft()
	if err != nil {
		return err
	}
	p, err := h.svc.Edit(c.Request.Context(), sc, c.Param("id"), d, in.State)
	if err != nil {
		return err
	}
	return h.respond(c, sc, me, p)
}

func (h *Handlers) archive(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	if err := h.svc.Archive(c.Request.Context(), sc, c.Param("id")); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (h *Handlers) approve(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in draftIn
	// The body is optional: approving as is sends none.
	if c.Request.ContentLength != 0 {
		if err := httpapi.Decode(c, &in); err != nil {
			return err
		}
		if err := in.only(false, false); err != nil {
			return err
		}
	}
	d, err := in.draft()
	if err != nil {
		return err
	}
	p, err := h.svc.Approve(c.Request.Context(), sc, me, c.Param("id"), d)
	if err != nil {
		return err
	}
	return h.respond(c, sc, me, p)
}

func (h *Handlers) reject(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var in struct {
		Reason string `json:"reason"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	p, err := h.svc.Reject(c.Request.Context(), sc, me, c.Param("id"), in.Reason)
	if err != nil {
		return err
	}
	return h.respond(c, sc, me, p)
}

// reviewCount says how many suggestions wait for review, up to
// MaxReviewCount (more: true beyond).
func (h *Handlers) reviewCount(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	n, more, err := h.svc.PendingCount(c.Request.Context(), sc)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"pending": n, "more": more})
	return nil
}

func (h *Handlers) topics(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	ts, err := h.svc.Topics(c.Request.Context(), sc)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, httpapi.List[Topic]{Items: ts})
	return nil
}

func (h *Handlers) createTopic(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	var in struct {
		Name string `json:"name"`
	}
	if err := httpapi.Decode(c, &in); err != nil {
		return err
	}
	t, err := h.svc.CreateTopic(c.Request.Context(), sc, in.Name)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, t)
	return nil
}

func (h *Handlers) deleteTopic(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	if err := h.svc.DeleteTopic(c.Request.Context(), sc, strings.TrimSpace(c.Param("id"))); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
