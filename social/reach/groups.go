package reach

import (
	"cmp"
	"context"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant"
)

// OtherGroup is the ID of the line that merges the groups smaller than
// the instance's min_group_size.
const OtherGroup = "other"

// GroupRow is one group's figures in a period: the sums of its members'
// daily totals, by the group's members now.
type GroupRow struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Members int    `json:"members"`
	Figures
}

// GroupBreakdown is the analytics by group of a period.
type GroupBreakdown struct {
	From  string     `json:"from"`
	To    string     `json:"to"`
	Items []GroupRow `json:"items"`
	// Other merges the groups with fewer members than MinGroupSize
	// (Merged of them), counting each of their members once; nil when
	// there are none, or when together they still have fewer members than
	// MinGroupSize (OtherHidden: their figures are not shown at all).
	Other        *GroupRow `json:"other"`
	Merged       int       `json:"merged"`
	OtherHidden  bool      `json:"other_hidden"`
	MinGroupSize int       `json:"min_group_size"`
}

// ByGroup breaks the period's figures down by the instance's groups. It
// reads the period's member lines of the daily totals (as the leaderboard
// does: one line per sharing member), and the members once to know their
// groups (bounded by the company's employees): no share or click is read.
// Membership is the groups' now, not at the time of each event; a member
// in several groups counts in each, so the lines do not add up to the
// summary. Members who object to analytics attribution count in no group.
func (s *Service) ByGroup(ctx context.Context, sc tenant.Scope, p Period) (GroupBreakdown, error) {
	minSize := max(sc.Instance().Settings.MinGroupSize, 1)
	out := GroupBreakdown{From: p.From, To: p.To, Items: []GroupRow{}, MinGroupSize: minSize}
	gs, members, err := sc.GroupMemberIDs(ctx)
	if err != nil || len(gs) == 0 {
		return out, err
	}
	lines, err := s.groups(ctx, sc, p, dimMember, 0, 0)
	if err != nil {
		return out, err
	}
	byMember := make(map[string]Counters, len(lines))
	for _, l := range lines {
		if l.ID != "" {
			byMember[l.ID] = l.Counters
		}
	}
	sum := func(ids []string) Counters {
		var c Counters
		for _, id := range ids {
			c.add(byMember[id])
		}
		return c
	}
	var small []string
	for _, g := range gs {
		ids := members[g.ID]
		if len(ids) < minSize {
			out.Merged++
			for _, id := range ids {
				if !slices.Contains(small, id) {
					small = append(small, id)
				}
			}
			continue
		}
		out.Items = append(out.Items, GroupRow{ID: g.ID, Name: g.Name, Members: len(ids), Figures: figuresOf(sc, sum(ids))})
	}
	slices.SortFunc(out.Items, func(a, b GroupRow) int {
		return cmp.Or(cmp.Compare(b.Clicks, a.Clicks), cmp.Compare(b.Shares, a.Shares), cmp.Compare(a.Name, b.Name))
	})
	switch {
	case out.Merged == 0:
	case len(small) < minSize:
		out.OtherHidden = true
	default:
		out.Other = &GroupRow{ID: OtherGroup, Name: "Other groups", Members: len(small), Figures: figuresOf(sc, sum(small))}
	}
	return out, nil
}

func (h *Handlers) getGroups(c *gin.Context, sc tenant.Scope, _ tenant.Member) error {
	p, err := period(c, sc)
	if err != nil {
		return err
	}
	b, err := h.svc.ByGroup(c.Request.Context(), sc, p)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, b)
	return nil
}
