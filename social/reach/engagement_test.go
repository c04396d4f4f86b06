package reach_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

// metrics is a MetricsSource that answers from a table and counts calls.
type metrics struct {
	mu     sync.Mutex
	counts map[string]social.Engagement
	busy   map[string]bool // networks that say "wait"
	capped map[string]bool // networks that refuse the deployment's app
	calls  map[string]int  // per network
}

func (m *metrics) PostMetrics(_ context.Context, _ tenant.Scope, sh social.Share) (social.Engagement, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[sh.Network]++
	if m.busy[sh.Network] {
		return social.Engagement{}, &social.Error{Network: sh.Network, Op: "metrics", Class: social.ErrRetryLater}
	}
	if m.capped[sh.Network] {
		return social.Engagement{}, &social.Error{Network: sh.Network, Op: "metrics", Class: social.ErrOperator, Status: 429}
	}
	e, ok := m.counts[sh.ID]
	if !ok {
		return social.Engagement{}, social.ErrNoMetrics
	}
	return e, nil
}

func (m *metrics) set(id string, e social.Engagement) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[id] = e
}

// Engagement differences are added once however many refreshes run, on
// the day the share was published; a network that says "wait", or
// refuses the deployment's app, is asked once per run; shares older than
// 30 days are not read.
func TestRefreshEngagement(t *testing.T) {
	store := openStore(t)
	sc := instance(t, store, "engage.example", "UTC")
	now := at("2026-06-15T12:00:00Z")
	day := func(d int) *time.Time { t := now.AddDate(0, 0, -d); return &t }
	shares := []any{
		social.Share{ID: "m1", ContentID: "p1", MemberID: "alice", Network: "mastodon", State: social.SharePublished, RemoteID: "1", PublishedAt: day(1), UpdatedAt: *day(1)},
		social.Share{ID: "m2", ContentID: "p1", MemberID: "bob", Network: "mastodon", State: social.SharePublished, RemoteID: "2", PublishedAt: day(3), UpdatedAt: *day(3)},
		social.Share{ID: "old", ContentID: "p1", MemberID: "bob", Network: "mastodon", State: social.SharePublished, RemoteID: "3", PublishedAt: day(31), UpdatedAt: *day(31)},
		social.Share{ID: "b1", ContentID: "p2", MemberID: "alice", Network: "bluesky", State: social.SharePublished, RemoteID: "at://1", PublishedAt: day(1), UpdatedAt: *day(1)},
		social.Share{ID: "b2", ContentID: "p2", MemberID: "alice", Network: "bluesky", State: social.SharePublished, RemoteID: "at://2", PublishedAt: day(2), UpdatedAt: *day(2)},
		social.Share{ID: "x1", ContentID: "p2", MemberID: "alice", Network: "x", State: social.SharePublished, RemoteID: "11", PublishedAt: day(1), UpdatedAt: *day(1)},
		social.Share{ID: "x2", ContentID: "p2", MemberID: "bob", Network: "x", State: social.SharePublished, RemoteID: "12", PublishedAt: day(2), UpdatedAt: *day(2)},
	}
	// Test data: shares are social's, written as social stores them.
	if err := sc.Collection(tenant.Kind{Name: "shares"}).InsertMany(t.Context(), shares); err != nil {
		t.Fatal(err)
	}
	src := &metrics{counts: map[string]social.Engagement{
		"m1": {Reactions: 5, Comments: 1, Reposts: 2}, "m2": {Reactions: 1}, "old": {Reactions: 100},
		"b1": {Reactions: 9}, "b2": {Reactions: 9},
	}, busy: map[string]bool{"bluesky": true}, capped: map[string]bool{"x": true}, calls: map[string]int{}}
	svc := reach.New(reach.Config{Now: func() time.Time { return now }})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := svc.RefreshEngagement(t.Context(), sc, src); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if src.calls["bluesky"] != 3 {
		t.Errorf("a busy network was asked %d times in 3 runs, want once per run", src.calls["bluesky"])
	}
	if src.calls["x"] != 3 {
		t.Errorf("a network refusing the deployment's app was asked %d times in 3 runs, want once per run", src.calls["x"])
	}
	p := reach.Period{From: "2026-05-01", To: "2026-06-30"}
	sum, err := svc.Summary(t.Context(), sc, p)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Reactions != 6 || sum.Comments != 1 || sum.Reposts != 2 {
		t.Errorf("after three concurrent refreshes: %+v, want 6 reactions, 1 comment, 2 reposts", sum)
	}
	// Likes withdrawn: the difference is negative.
	src.set("m1", social.Engagement{Reactions: 3, Comments: 1, Reposts: 2})
	if rep, err := svc.RefreshEngagement(t.Context(), sc, src); err != nil || rep.Changed != 1 {
		t.Fatalf("refresh: %+v %v", rep, err)
	}
	series, err := svc.Timeseries(t.Context(), sc, reach.Period{From: "2026-06-12", To: "2026-06-14"}, "engagement")
	if err != nil {
		t.Fatal(err)
	}
	if got := [3]int64{series[0].Value, series[1].Value, series[2].Value}; got != [3]int64{1, 0, 6} {
		t.Errorf("engagement by publication day: %v, want [1 0 6]", got)
	}
	mine, err := svc.Me(t.Context(), sc, tenant.Member{ID: "alice"}, p, false)
	if err != nil || mine.Engagement != 6 {
		t.Errorf("alice's engagement: %+v %v", mine, err)
	}
}
