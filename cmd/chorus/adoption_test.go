package main

import (
	"net/http"
	"testing"
	"time"
)

// TestAnalyticsSummaryCountsAdoption: the summary says how many members
// there are, how many have connected an account and how many shared in
// the period.
func TestAnalyticsSummaryCountsAdoption(t *testing.T) {
	a, carol, connID, postID := shareSetup(t)
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	dave := a.client(t)
	dave.signIn("dave@acme.example")
	type adoption struct {
		Members          int64 `json:"members"`
		MembersConnected int64 `json:"members_connected"`
		MembersSharing   int64 `json:"members_sharing"`
	}
	summary := func(from, to time.Time) adoption {
		t.Helper()
		res := admin.do("GET", "/api/v1/analytics/summary?from="+from.Format(time.DateOnly)+"&to="+to.Format(time.DateOnly), nil)
		if res.status != http.StatusOK {
			t.Fatalf("summary: %d %s", res.status, res.body)
		}
		var out adoption
		res.json(t, &out)
		return out
	}
	today := a.clock.Now().UTC()
	if got, want := summary(today, today), (adoption{Members: 3, MembersConnected: 1}); got != want {
		t.Errorf("before sharing: %+v, want %+v", got, want)
	}
	if res := carol.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}); res.status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	runPublishTasks(t, a)
	if got, want := summary(today.AddDate(0, 0, -6), today), (adoption{Members: 3, MembersConnected: 1, MembersSharing: 1}); got != want {
		t.Errorf("after a share: %+v, want %+v", got, want)
	}
	// A period that ended before anyone joined counts no one.
	week := today.AddDate(0, 0, -7)
	if got, want := summary(week.AddDate(0, 0, -6), week), (adoption{}); got != want {
		t.Errorf("a week ago: %+v, want %+v", got, want)
	}
	if res := carol.do("GET", "/api/v1/analytics/summary?from="+today.Format(time.DateOnly)+"&to="+today.Format(time.DateOnly), nil); res.status != http.StatusForbidden {
		t.Errorf("an employee's summary: %d, want 403", res.status)
	}
}
