package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// seedCampaign gives sc a campaign of the last 30 days holding 20 posts,
// each shared five times in the window and clicked 100 times (the
// rollups and totals rebuilt from them, with whatever else sc holds). It
// returns the campaign's ID.
func seedCampaign(tb testing.TB, sc tenant.Scope, svc *content.Service, now time.Time) string {
	tb.Helper()
	ctx := context.Background()
	curator := tenant.Member{ID: "benchcurator", Role: tenant.RoleCurator}
	c, err := svc.CreateCampaign(ctx, sc, curator, content.CampaignDraft{Name: new("Bench"), Start: new(now.Add(-30 * 24 * time.Hour)),
		End: new(now.Add(24 * time.Hour)), Goal: &content.Goal{Metric: content.MetricClicks, Target: 5000}})
	if err != nil {
		tb.Fatal(err)
	}
	var shares []any
	var clicks []social.Click
	for p := range 20 {
		post, err := svc.Create(ctx, sc, curator, content.Draft{URL: new(fmt.Sprintf("https://news.example/c%d", p)), Title: new("C"), CampaignID: &c.ID})
		if err != nil {
			tb.Fatal(err)
		}
		for s := range 5 {
			at := now.Add(-time.Duration(28-p) * 24 * time.Hour).Add(time.Duration(s) * time.Hour).Truncate(time.Millisecond)
			sh := social.Share{ID: fmt.Sprintf("camp-share-%02d-%d", p, s), ContentID: post.ID, ConnectionID: fmt.Sprintf("camp-conn-%d", s),
				MemberID: fmt.Sprintf("camp-member-%d", s), Network: social.Mastodon, State: social.SharePublished, PublishAt: at,
				PublishedAt: new(at), RemoteID: fmt.Sprint(p*5 + s), Followers: 100, CreatedAt: at, UpdatedAt: at}
			shares = append(shares, sh)
			for k := range 20 {
				clicks = append(clicks, social.Click{ShareID: sh.ID, ContentID: post.ID, Network: sh.Network, At: at.Add(time.Duration(k) * time.Hour),
					IPPrefix: fmt.Sprintf("10.9.%d.0/24", k), Visitor: fmt.Sprintf("cv%d-%d", k, p)})
			}
		}
	}
	if err := sc.Collection(tenant.Kind{Name: "shares"}).InsertMany(ctx, shares); err != nil {
		tb.Fatal(err)
	}
	if err := social.InsertClicks(ctx, sc, clicks); err != nil {
		tb.Fatal(err)
	}
	if _, err := reach.New(reach.Config{Now: func() time.Time { return now }}).Rebuild(ctx, sc); err != nil {
		tb.Fatal(err)
	}
	return c.ID
}

// BenchmarkCampaignProgress reads a campaign's progress (GET
// /campaigns/{id}/progress's service call: the campaign, its posts' IDs,
// their daily and monthly content totals added up by the database) on an
// instance holding only the campaign and on one holding the same
// campaign and a year of other sharing (seedYear), interleaved in one
// run, and reports both times and their ratio (year / campaign only;
// ~1: the read does not grow with history).
//
//	go test -tags ferretdb_no_postgresql -run XXX -bench CampaignProgress -benchtime 200x ./cmd/chorus/
func BenchmarkCampaignProgress(b *testing.B) {
	ctx := context.Background()
	uri, db := tenanttest.Mongo(b)
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Kinds: storeKinds()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close(ctx)
	now := time.Now().UTC()
	svc := content.NewService(content.Config{CampaignCounts: reach.CampaignCounts})
	open := func(domain string) tenant.Scope {
		inst, err := store.EnsureInstance(ctx, domain, "admin@"+domain)
		if err != nil {
			b.Fatal(err)
		}
		sc, err := store.Open(ctx, inst.ID)
		if err != nil {
			b.Fatal(err)
		}
		return sc
	}
	empty, year := open("empty.example"), open("year.example")
	b.Log(seedYear(b, year, now, 2000, 50000))
	ids := map[string]string{"empty": seedCampaign(b, empty, svc, now), "year": seedCampaign(b, year, svc, now)}
	scopes := map[string]tenant.Scope{"empty": empty, "year": year}
	for _, k := range []string{"empty", "year"} {
		p, err := svc.CampaignProgress(ctx, scopes[k], ids[k])
		if err != nil {
			b.Fatal(err)
		}
		if p.Posts != 20 || p.Shares != 100 || p.Clicks != 2000 {
			b.Fatalf("%s: progress %+v, want 20 posts, 100 shares, 2000 clicks", k, p)
		}
	}
	took := map[string]time.Duration{}
	b.ResetTimer()
	for i := range b.N {
		// Both each round, in alternating order.
		order := []string{"empty", "year"}
		if i%2 == 1 {
			order = []string{"year", "empty"}
		}
		for _, k := range order {
			start := time.Now()
			if _, err := svc.CampaignProgress(ctx, scopes[k], ids[k]); err != nil {
				b.Fatal(err)
			}
			took[k] += time.Since(start)
		}
	}
	b.StopTimer()
	e, y := took["empty"]/time.Duration(b.N), took["year"]/time.Duration(b.N)
	b.ReportMetric(float64(e.Microseconds())/1000, "ms-campaign-only/op")
	b.ReportMetric(float64(y.Microseconds())/1000, "ms-year/op")
	b.ReportMetric(float64(y)/float64(e), "year/campaign-only")
}
