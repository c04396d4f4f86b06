package reach_test

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// readsOf returns the read commands fn sends and the documents they
// return.
func readsOf(t *testing.T, r *tenanttest.Reads, fn func() error) [2]int {
	t.Helper()
	r.Reset()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
	cmds, docs := r.Count()
	return [2]int{cmds, docs}
}

// The reads of a click flush, of each analytics widget and of the
// publishing hook do not grow with the instance's history: the same
// commands return the same number of documents on a small instance and
// on one with ten times the rollups (more shares, contents and days of
// clicks, and more rollups in the period read). Each count is logged with
// the rollups a read of every rollup of the period would return.
func TestReadsDoNotGrowWithData(t *testing.T) {
	counter, monitor := tenanttest.NewReads()
	store := openStoreWith(t, monitor)
	sc := instance(t, store, "reads.example", "UTC")
	ctx := t.Context()
	start := at("2026-03-01T00:00:00Z") // the period read: 30 days from here
	period := reach.Period{From: "2026-03-01", To: "2026-03-30"}
	now := func() time.Time { return at("2026-04-01T12:00:00Z") }
	n := 0
	// seed publishes shares of new contents (five members, two networks)
	// and clicks each of them once a day on days days from first.
	seed := func(shares int, first time.Time, days int) {
		t.Helper()
		var docs []any
		var ids []social.Share
		for range shares {
			n++
			sh := social.Share{ID: fmt.Sprintf("s%05d", n), ContentID: fmt.Sprintf("c%05d", n), MemberID: fmt.Sprintf("m%d", n%5),
				Network: []string{"mastodon", "bluesky"}[n%2], State: social.SharePublished, PublishedAt: new(first.Add(-time.Hour)),
				UpdatedAt: first.Add(-time.Hour), Followers: 100}
			docs, ids = append(docs, sh), append(ids, sh)
		}
		if err := sc.Collection(tenant.Kind{Name: "shares"}).InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
		for d := range days {
			var clicks []social.Click
			for i, sh := range ids {
				clicks = append(clicks, social.Click{ShareID: sh.ID, ContentID: sh.ContentID, Network: sh.Network,
					At: first.AddDate(0, 0, d).Add(time.Duration(i) * time.Second), IPPrefix: "192.0.2.0/24"})
			}
			if err := social.InsertClicks(ctx, sc, clicks); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := reach.New(reach.Config{Now: now}).Rebuild(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	var fresh int
	measure := func() map[string][2]int {
		t.Helper()
		svc := reach.New(reach.Config{Now: now}) // a cold cache, as after a start
		out := map[string][2]int{}
		// A flush of 40 clicks on 8 shares never clicked before (read by
		// key, then cached).
		fresh++
		var docs []any
		var clicks []social.Click
		for i := range 8 {
			sh := social.Share{ID: fmt.Sprintf("f%d-%d", fresh, i), ContentID: fmt.Sprintf("c%05d", i+1), MemberID: fmt.Sprintf("m%d", i%5),
				Network: "mastodon", State: social.SharePublished, PublishedAt: new(start), UpdatedAt: start}
			docs = append(docs, sh)
			for j := range 5 {
				clicks = append(clicks, social.Click{ShareID: sh.ID, ContentID: sh.ContentID, Network: sh.Network,
					At: start.AddDate(0, 0, 10).Add(time.Duration(j) * time.Minute), IPPrefix: fmt.Sprintf("198.51.%d.0/24", j), Code: sh.ID})
			}
		}
		if err := sc.Collection(tenant.Kind{Name: "shares"}).InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
		out["click flush"] = readsOf(t, counter, func() error {
			svc.PrepareClicks(ctx, sc, clicks)
			svc.ClicksRecorded(ctx, sc, clicks)
			return nil
		})
		out["click flush, cached"] = readsOf(t, counter, func() error {
			svc.PrepareClicks(ctx, sc, clicks)
			svc.ClicksRecorded(ctx, sc, clicks)
			return nil
		})
		out["summary"] = readsOf(t, counter, func() error { _, err := svc.Summary(ctx, sc, period); return err })
		out["timeseries"] = readsOf(t, counter, func() error { _, err := svc.Timeseries(ctx, sc, period, "clicks"); return err })
		// A page that is not the last on either instance: a last page holds
		// fewer rows by nature, which is not growth.
		out["content page"] = readsOf(t, counter, func() error { _, _, err := svc.Page(ctx, sc, period, reach.ByContent, 2, 5); return err })
		out["networks"] = readsOf(t, counter, func() error { _, _, err := svc.Page(ctx, sc, period, reach.ByNetwork, 0, 20); return err })
		out["leaderboard"] = readsOf(t, counter, func() error { _, err := svc.Top(ctx, sc, period, reach.ByMember); return err })
		out["me"] = readsOf(t, counter, func() error {
			_, err := svc.Me(ctx, sc, tenant.Member{ID: "m1"}, period, false)
			return err
		})
		pub := social.Share{ID: fmt.Sprintf("p%d", fresh), ContentID: "c00001", MemberID: "m1", Network: "mastodon",
			State: social.SharePublished, PublishedAt: new(start.AddDate(0, 0, 3)), UpdatedAt: start.AddDate(0, 0, 3)}
		if err := sc.Collection(tenant.Kind{Name: "shares"}).Insert(ctx, pub); err != nil {
			t.Fatal(err)
		}
		out["publish hook"] = readsOf(t, counter, func() error { svc.SharePublished(ctx, sc, pub.ID); return nil })
		if svc.GroupsInGo() {
			// FerretDB v1 sums one field per $group: the lists are added
			// up here from every line of the period, which grows.
			delete(out, "content page")
			delete(out, "networks")
			delete(out, "leaderboard")
			t.Log("the engine sums one field per $group (FerretDB v1): the lists' reads are not compared")
		}
		return out
	}
	seed(10, start, 30)
	small := measure()
	rowsSmall, _ := reach.New(reach.Config{}).Rollups(ctx, sc, period)
	// Ten times the history: older contents clicked for 40 days before
	// the period, and more contents shared within it.
	seed(60, start.AddDate(0, 0, -40), 40)
	seed(20, start, 30)
	large := measure()
	rowsLarge, _ := reach.New(reach.Config{}).Rollups(ctx, sc, period)
	var count = func(kind string) int64 {
		c, _ := sc.Collection(tenant.Kind{Name: kind}).Count(ctx, bson.D{})
		return c
	}
	t.Logf("rollups of the period: %d small, %d large (what one widget read before daily totals); stored: %d shares, %d rollups, %d totals",
		len(rowsSmall), len(rowsLarge), count("shares"), count("rollups"), count("rollup_totals"))
	// The content table of a recent period reads, beside its pages, the
	// key of each content active within the period and before it (its
	// span starts earlier): here every content seeded at the period's
	// start, published the evening before (10 small, 30 large). Those
	// keys are the table's own lines, not history.
	for m, across := range map[*map[string][2]int]int{&small: 10, &large: 30} {
		if c, ok := (*m)["content page"]; ok {
			(*m)["content page"] = [2]int{c[0], c[1] - across}
		}
	}
	for op, s := range small {
		l := large[op]
		t.Logf("%-20s reads: small %d commands/%d documents, large %d/%d", op, s[0], s[1], l[0], l[1])
		if l[0] > s[0] || l[1] > s[1] {
			t.Errorf("%s reads grew with the data: %d commands returning %d documents, then %d returning %d", op, s[0], s[1], l[0], l[1])
		}
	}
}
