package social

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// A member's list of shares reads through windows of created_at
// (tenant.Newest): paged at any size, it holds exactly the member's shares
// newest first (then by ID), over a history that is dense, has gaps of
// months and years, shares at one time on a window bound, and a share
// made by a process whose clock ran ahead of this one's.
func TestMemberShareListThroughWindowsIsTheOpenQuery(t *testing.T) {
	r := newFeedRig(t)
	sc := r.instance(t, "shares.example")
	const me = "member-me"
	day := 24 * time.Hour
	var times []time.Time
	for i := range 60 {
		times = append(times, r.now.Add(-time.Duration(i)*3*time.Hour))
	}
	for range 6 {
		times = append(times, r.now.Add(-14*day))
	}
	for i := range 10 {
		times = append(times, r.now.Add(-300*day-time.Duration(i)*day), r.now.Add(-4*365*day-time.Duration(i)*day))
	}
	times = append(times, r.now.Add(2*time.Second))
	var mine []Share
	var docs []any
	for _, at := range times {
		for _, member := range []string{me, "member-other"} {
			sh := Share{ID: httpapi.NewID(), ContentID: "c", ConnectionID: "k", MemberID: member, Network: "mastodon", State: SharePublished,
				PublishAt: at, CreatedAt: at.Truncate(time.Millisecond), UpdatedAt: at}
			docs = append(docs, sh)
			if member == me {
				mine = append(mine, sh)
			}
		}
	}
	if err := sc.Collection(shareKind).InsertMany(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(mine, func(x, y Share) int {
		if c := y.CreatedAt.Compare(x.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(y.ID, x.ID)
	})
	var want []string
	for _, sh := range mine {
		want = append(want, sh.ID)
	}
	member := tenant.Member{ID: me, Role: tenant.RoleEmployee}
	for _, limit := range []int{1, 4, 25, 200} {
		var got []string
		var after *content.Cursor
		for range 500 {
			page, next, err := r.social.Shares(t.Context(), sc, member, false, limit, after)
			if err != nil {
				t.Fatal(err)
			}
			for _, sh := range page {
				got = append(got, sh.ID)
			}
			if next == nil {
				break
			}
			after = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: pages hold %d shares, want %d", limit, len(got), len(want))
		}
	}
}
