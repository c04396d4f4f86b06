package content

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chorushq/chorus/tenant"
)

func TestWeighProgress(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := Campaign{Start: start, End: start.Add(10 * 24 * time.Hour), Goal: Goal{Metric: MetricClicks, Target: 200}}
	for _, tc := range []struct {
		name          string
		now           time.Time
		shares, click int64
		want          Progress
	}{
		{"before the start", start.Add(-time.Hour), 0, 0,
			Progress{Value: 0, Percent: 0, ElapsedPercent: 0, Expected: 0, OnTrack: true}},
		{"behind at 40%", start.Add(4 * 24 * time.Hour), 9, 50,
			Progress{Shares: 9, Clicks: 50, Value: 50, Percent: 25, ElapsedPercent: 40, Expected: 80, OnTrack: false}},
		{"ahead at 40%", start.Add(4 * 24 * time.Hour), 9, 90,
			Progress{Shares: 9, Clicks: 90, Value: 90, Percent: 45, ElapsedPercent: 40, Expected: 80, OnTrack: true}},
		{"passed the goal after the end", start.Add(20 * 24 * time.Hour), 1, 300,
			Progress{Shares: 1, Clicks: 300, Value: 300, Percent: 150, ElapsedPercent: 100, Expected: 200, OnTrack: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := weigh(Progress{Shares: tc.shares, Clicks: tc.click, Target: 200}, c, tc.now)
			tc.want.Target = 200
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	// A shares goal weighs the shares.
	c.Goal = Goal{Metric: MetricShares, Target: 10}
	if got := weigh(Progress{Shares: 5, Clicks: 99, Target: 10}, c, start.Add(5*24*time.Hour)); got.Value != 5 || got.Percent != 50 || !got.OnTrack {
		t.Errorf("shares goal = %+v", got)
	}
}

// Campaigns of instance A are not found from B: read, edit, archive,
// progress, or given to B's post; A's campaign stays as it was.
func TestCampaignIsolation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	now := f.clock.Now()
	c, err := f.svc.CreateCampaign(ctx, f.a, f.curA, CampaignDraft{Name: ptr("A's"), Start: ptr(now), End: ptr(now.Add(time.Hour)),
		Goal: &Goal{Metric: MetricShares, Target: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetCampaign(ctx, f.b, c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B reads A's campaign: %v", err)
	}
	if _, err := f.svc.EditCampaign(ctx, f.b, f.curB, c.ID, CampaignDraft{Name: ptr("B was here")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("B edits A's campaign: %v", err)
	}
	if err := f.svc.ArchiveCampaign(ctx, f.b, f.curB, c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B archives A's campaign: %v", err)
	}
	if _, err := f.svc.CampaignProgress(ctx, f.b, c.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B reads A's progress: %v", err)
	}
	if _, err := f.svc.Create(ctx, f.b, f.curB, Draft{URL: ptr("https://b.example/x"), CampaignID: &c.ID}); !errors.Is(err, ErrNotFound) {
		t.Errorf("B's post into A's campaign: %v", err)
	}
	list, _, err := f.svc.Campaigns(ctx, f.b, false, nil, 10)
	if err != nil || len(list) != 0 {
		t.Errorf("B's campaigns = %v, %v", list, err)
	}
	if active, err := f.svc.ActiveCampaigns(ctx, f.b); err != nil || len(active) != 0 {
		t.Errorf("B's active campaigns = %v, %v", active, err)
	}
	got, err := f.svc.GetCampaign(ctx, f.a, c.ID)
	if err != nil || got.Name != "A's" || got.Archived {
		t.Errorf("A's campaign after B's attempts = %+v, %v", got, err)
	}
	var ve tenant.ValidationErrors
	if _, err := f.svc.CreateCampaign(ctx, f.a, f.curA, CampaignDraft{Name: ptr(""), Start: ptr(now), End: ptr(now),
		Goal: &Goal{Metric: "likes"}}); !errors.As(err, &ve) || len(ve) != 4 {
		t.Errorf("bad campaign = %v, want name, end, goal.metric and goal.target", err)
	}
}

// Edits of one campaign at once each stand: each is made over the
// campaign as the others left it, never over a copy read before them.
func TestConcurrentCampaignEditsAllStand(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	now := f.clock.Now()
	c, err := f.svc.CreateCampaign(ctx, f.a, f.curA, CampaignDraft{Name: ptr("Launch"), Start: ptr(now), End: ptr(now.Add(time.Hour)),
		Goal: &Goal{Metric: MetricShares, Target: 3}})
	if err != nil {
		t.Fatal(err)
	}
	edits := []CampaignDraft{
		{Name: ptr("Launch, renamed")},
		{Description: ptr("Tell everyone")},
		{End: ptr(now.Add(48 * time.Hour))},
		{Goal: &Goal{Metric: MetricClicks, Target: 40}},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(edits))
	for i, d := range edits {
		wg.Go(func() { _, errs[i] = f.svc.EditCampaign(ctx, f.a, f.curA, c.ID, d) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("edit %d: %v", i, err)
		}
	}
	got, err := f.svc.GetCampaign(ctx, f.a, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Launch, renamed" || got.Description != "Tell everyone" || !got.End.Equal(now.Add(48*time.Hour).UTC().Truncate(time.Millisecond)) ||
		got.Goal != (Goal{Metric: MetricClicks, Target: 40}) || got.Rev != int64(len(edits)) {
		t.Errorf("after %d edits at once: %+v; want every edit in it", len(edits), got)
	}
}
