package main

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Points cannot be farmed by the sharer (security finding: clicks,
// points and earned media value inflated by their owner): the sharer's
// own visits (their session cookie comes with the click), clicks on a
// link whose share is not published yet, and one address sending many
// User-Agents earn no more than one unique click per link, address and
// day. The clicks themselves are still counted.
func TestClicksDoNotFarmPoints(t *testing.T) {
	f := newReachFixture(t, 1)
	a := f.a
	post := f.post(t, "farm", nil)
	link := f.share(t, 0, post)
	// The sharer, signed in, clicks their own link with 25 User-Agents.
	for i := range 25 {
		f.employees[0].do("GET", link, nil, "User-Agent", fmt.Sprintf("Mozilla/5.0 own %d", i))
	}
	// A visitor from one address with 25 User-Agents: one unique click.
	visitor := a.client(t)
	for i := range 25 {
		visitor.do("GET", link, nil, "User-Agent", fmt.Sprintf("Mozilla/5.0 visitor %d", i))
	}
	// A scheduled share's link clicked before it is published.
	var out struct{ Items []shareDoc }
	later := a.clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	res := f.employees[0].do("POST", "/api/v1/content/"+f.post(t, "later", nil)+"/shares",
		map[string]any{"connections": []string{f.conns[0]}, "publish_at": later})
	if res.status != http.StatusAccepted {
		t.Fatalf("scheduled share: %d %s", res.status, res.body)
	}
	res.json(t, &out)
	if out.Items[0].State != "scheduled" {
		t.Fatalf("share: %+v, want scheduled", out.Items[0])
	}
	u, _ := url.Parse(out.Items[0].TrackedURL)
	for i := range 3 {
		a.client(t).do("GET", u.Path, nil, "User-Agent", fmt.Sprintf("Mozilla/5.0 early %d", i))
	}
	f.waitClicks(t, 53)

	var mine struct {
		Shares       int64 `json:"shares"`
		Clicks       int64 `json:"clicks"`
		UniqueClicks int64 `json:"unique_clicks"`
		Points       int64 `json:"points"`
	}
	f.employees[0].do("GET", "/api/v1/analytics/me", nil).json(t, &mine)
	if mine.Clicks != 53 || mine.UniqueClicks != 1 || mine.Shares != 1 || mine.Points != 10+1 {
		t.Errorf("me: %d clicks, %d unique, %d shares, %d points; want 53 clicks, 1 unique click (the visitor's), 1 share, 11 points",
			mine.Clicks, mine.UniqueClicks, mine.Shares, mine.Points)
	}
}
