package social

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/chorushq/chorus/tenant"
)

// Raw clicks are stored a batch per document: reading them back gives
// every click with its fields; the retention sweep deletes batches wholly
// past the cutoff, trims the one straddling it and counts clicks, not
// documents.
func TestClickBatchesAndSweep(t *testing.T) {
	ctx := context.Background()
	_, sc := testScope(t, "clicks.example")
	t0 := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	mk := func(share string, at time.Duration, visitor string) Click {
		return Click{ShareID: share, ContentID: "content-" + share, Network: "mastodon", At: t0.Add(at),
			IPPrefix: "192.0.2.0/24", Referrer: "news.example", Visitor: visitor}
	}
	old := []Click{mk("s1", -time.Hour, "v1"), mk("s2", -time.Hour+time.Second, "")}
	straddling := []Click{mk("s1", 2*time.Second, "v2"), mk("s2", -2*time.Second, "v3"), mk("s1", 0, "v4"), mk("s3", -time.Second, "v5")}
	recent := []Click{mk("s3", time.Hour, "v6")}
	for _, b := range [][]Click{old, straddling, recent} {
		if err := InsertClicks(ctx, sc, b); err != nil {
			t.Fatal(err)
		}
	}
	byTime := func(a, b Click) int { return a.At.Compare(b.At) }
	all, err := ClicksSince(ctx, sc, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(old, straddling, recent)
	slices.SortFunc(all, byTime)
	slices.SortFunc(want, byTime)
	if !slices.EqualFunc(all, want, func(a, b Click) bool {
		return a.At.Equal(b.At) && a.ShareID == b.ShareID && a.ContentID == b.ContentID &&
			a.Network == b.Network && a.IPPrefix == b.IPPrefix && a.Referrer == b.Referrer && a.Visitor == b.Visitor
	}) {
		t.Fatalf("stored %v\nread back %v", want, all)
	}
	// A range starting inside a batch leaves out that batch's earlier clicks.
	if since, _ := ClicksSince(ctx, sc, t0); len(since) != 3 {
		t.Errorf("clicks since t0: %d, want 3", len(since))
	}

	// Default retention: 395 days; the cutoff falls on t0, inside the
	// straddling batch, whose clicks at or after t0 stay.
	now := t0.AddDate(0, 0, tenant.DefaultRetentionDays)
	n, err := SweepClicks(ctx, sc, now)
	if err != nil || n != 4 {
		t.Fatalf("sweep deleted %d clicks (%v), want 4: two old, two of the straddling batch", n, err)
	}
	left, err := ClicksSince(ctx, sc, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(left, byTime)
	if len(left) != 3 || left[0].Visitor != "v4" || left[1].Visitor != "v2" || left[2].Visitor != "v6" {
		t.Errorf("after the sweep: %+v, want the clicks v4, v2, v6", left)
	}
	if n, err := SweepClicks(ctx, sc, now); err != nil || n != 0 {
		t.Errorf("a second sweep deleted %d (%v)", n, err)
	}
	if docs, err := sc.Collection(clickKind).Count(ctx, nil); err != nil || docs != 2 {
		t.Errorf("%d click documents left (%v), want 2 batches", docs, err)
	}
}
