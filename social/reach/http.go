package reach

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Handlers serve the analytics API.
type Handlers struct {
	svc  *Service
	auth *tenant.Service
	// titles names contents for the content list (nil: IDs only).
	titles func(ctx context.Context, sc tenant.Scope, ids []string) map[string]string
}

// NewHandlers returns the analytics handlers; titles (optional) looks up
// contents' titles.
func NewHandlers(svc *Service, auth *tenant.Service, titles func(ctx context.Context, sc tenant.Scope, ids []string) map[string]string) *Handlers {
	return &Handlers{svc: svc, auth: auth, titles: titles}
}

// Routes mounts the analytics API under r (the /api/v1 group): the
// instance-wide figures for analysts and admins of a verified instance,
// and every member's own.
func (h *Handlers) Routes(r gin.IRouter) {
	analysts := []tenant.Role{tenant.RoleAnalyst, tenant.RoleAdmin}
	r.GET("/analytics/summary", h.auth.Member(nil, h.getSummary, analysts...))
	r.GET("/analytics/timeseries", h.auth.Member(nil, h.getTimeseries, analysts...))
	r.GET("/analytics/content", h.auth.Member(nil, h.list(ByContent), analysts...))
	r.GET("/analytics/members", h.auth.Member(nil, h.list(ByMember), analysts...))
	r.GET("/analytics/networks", h.auth.Member(nil, h.list(ByNetwork), analysts...))
	r.GET("/analytics/groups", h.auth.Member(nil, h.getGroups, analysts...))
	r.GET("/analytics/me", h.auth.Member(nil, h.getMe))
}

// period checks the instance (instance-wide analytics are an admin power:
// the domain must be verified) and reads ?from=&to=.
func period(c *gin.Context, sc tenant.Scope) (Period, error) {
	if !sc.Instance().Verified {
		return Period{}, tenant.ErrDomainUnverified
	}
	return ParsePeriod(c.Query("from"), c.Query("to"))
}

func (h *Handlers) getSummary(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	p, err := period(c, sc)
	if err != nil {
		return err
	}
	sum, err := h.svc.Summary(c.Request.Context(), sc, p)
	if err != nil {
		return err
	}
	adoption, err := h.svc.Adoption(c.Request.Context(), sc, p)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, struct {
		Summary
		Adoption
	}{sum, adoption})
	return nil
}

func (h *Handlers) getTimeseries(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	p, err := period(c, sc)
	if err != nil {
		return err
	}
	metric := c.DefaultQuery("metric", "clicks")
	series, err := h.svc.Timeseries(c.Request.Context(), sc, p, metric)
	if err != nil {
		return err
	}
	if c.Query("format") == "csv" {
		rows := [][]string{{"day", metric}}
		for _, d := range series {
			rows = append(rows, []string{d.Day, strconv.FormatInt(d.Value, 10)})
		}
		return writeCSV(c, "timeseries-"+metric+"-"+p.From+"-"+p.To, rows)
	}
	out := gin.H{"from": p.From, "to": p.To, "metric": metric, "time_zone": sc.Instance().Settings.Location().String(), "items": series}
	if metric == "emv" {
		out["currency"] = emv(sc, 0).Currency
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
	return nil
}

// list serves a top list: JSON pages (?limit=, ?cursor=) or, with
// ?format=csv, every row as CSV.
func (h *Handlers) list(by string) tenant.HandlerFunc {
	return func(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
		p, err := period(c, sc)
		if err != nil {
			return err
		}
		format := c.Query("format")
		if format != "" && format != "csv" && format != "json" {
			return httpapi.Invalid(httpapi.FieldError{Field: "format", Message: "must be csv or json"})
		}
		limit, err := httpapi.Limit(c)
		if err != nil {
			return err
		}
		after, err := httpapi.ParseCursor(c.Query("cursor"), func(p offsetCursor) bool { return p.Offset >= 0 && p.Offset <= 1<<30 })
		if err != nil {
			return err
		}
		var offset int
		if after != nil {
			offset = after.Offset
		}
		ctx := c.Request.Context()
		out := struct {
			httpapi.List[Row]
			Suppressed bool `json:"suppressed,omitempty"`
		}{List: httpapi.List[Row]{Items: []Row{}}}
		var page []Row
		more := false
		if by == ByMember || format == "csv" {
			rows, err := h.svc.Top(ctx, sc, p, by)
			if err != nil {
				return err
			}
			// Per-member figures of a group smaller than the instance's
			// minimum are not shown.
			if by == ByMember && len(rows) > 0 && len(rows) < sc.Instance().Settings.GroupSize() {
				rows, out.Suppressed = nil, true
			}
			if format == "csv" {
				h.name(ctx, sc, by, rows)
				return writeCSV(c, by+"-"+p.From+"-"+p.To, csvRows(by, rows))
			}
			page, more = rows[min(offset, len(rows)):min(offset+limit, len(rows))], offset+limit < len(rows)
		} else if page, more, err = h.svc.Page(ctx, sc, p, by, offset, limit); err != nil {
			return err
		}
		h.name(ctx, sc, by, page)
		var next *offsetCursor
		if more {
			next = &offsetCursor{Offset: offset + limit}
		}
		out.List = httpapi.Page(page, next)
		c.Header("Cache-Control", "no-store")
		c.JSON(http.StatusOK, out)
		return nil
	}
}

// name fills in content titles.
func (h *Handlers) name(ctx context.Context, sc tenant.Scope, by string, rows []Row) {
	if by != ByContent || h.titles == nil || len(rows) == 0 {
		return
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	titles := h.titles(ctx, sc, ids)
	for i := range rows {
		rows[i].Name = titles[rows[i].ID]
	}
}

func (h *Handlers) getMe(c *gin.Context, sc tenant.Scope, me tenant.Member) error {
	var p Period
	var err error
	if c.Query("from") == "" && c.Query("to") == "" {
		// Without a period: the last 30 days, today included.
		now := h.svc.now().In(sc.Instance().Settings.Location())
		p = Period{From: now.AddDate(0, 0, -29).Format(time.DateOnly), To: now.Format(time.DateOnly)}
	} else if p, err = ParsePeriod(c.Query("from"), c.Query("to")); err != nil {
		return err
	}
	rank := sc.Instance().Settings.LeaderboardVisible || me.Allows(tenant.RoleAnalyst, tenant.RoleAdmin)
	mine, err := h.svc.Me(c.Request.Context(), sc, me, p, rank)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, mine)
	return nil
}

// offsetCursor is where a page of a ranked list starts: its offset.
type offsetCursor struct {
	Offset int `json:"o"`
}

func csvRows(by string, rows []Row) [][]string {
	id := map[string]string{ByContent: "content_id", ByMember: "member_id", ByNetwork: "network"}[by]
	head := []string{id}
	switch by {
	case ByContent:
		head = append(head, "title")
	case ByMember:
		head = append([]string{"rank"}, id, "name", "points")
	}
	head = append(head, "shares", "clicks", "unique_clicks", "potential_reach", "reactions", "comments", "reposts",
		"engagement", "earned_media_value", "currency")
	out := [][]string{head}
	i := strconv.FormatInt
	for _, r := range rows {
		line := []string{r.ID}
		switch by {
		case ByContent:
			line = append(line, r.Name)
		case ByMember:
			line = []string{strconv.Itoa(r.Rank), r.ID, r.Name, i(r.Points, 10)}
		}
		line = append(line, i(r.Shares, 10), i(r.Clicks, 10), i(r.UniqueClicks, 10), i(r.PotentialReach, 10),
			i(r.Reactions, 10), i(r.Comments, 10), i(r.Reposts, 10), i(r.Engagement, 10),
			i(r.EarnedMediaValue.Amount, 10), r.EarnedMediaValue.Currency)
		out = append(out, line)
	}
	return out
}

// writeCSV sends rows as an RFC 4180 CSV download (CRLF line ends), every
// cell made safe to open in a spreadsheet.
func writeCSV(c *gin.Context, name string, rows [][]string) error {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "chorus-"+name+".csv"))
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	return WriteCSV(c.Writer, rows)
}

// WriteCSV writes rows as RFC 4180 CSV with CRLF line ends, each cell
// passed through SafeCell.
func WriteCSV(w interface{ Write([]byte) (int, error) }, rows [][]string) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	for _, r := range rows {
		safe := make([]string, len(r))
		for i, cell := range r {
			safe[i] = SafeCell(cell)
		}
		if err := cw.Write(safe); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// SafeCell keeps a spreadsheet from reading a cell as a formula (CSV
// injection): a value starting with = + - @, a tab or a carriage return
// gets a leading apostrophe. Plain numbers, negative ones included, stay
// as they are.
func SafeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		if _, err := strconv.ParseInt(s, 10, 64); err == nil && s[0] == '-' {
			return s
		}
		return "'" + s
	}
	return s
}
