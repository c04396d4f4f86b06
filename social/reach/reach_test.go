package reach_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// instance opens a fresh instance in zone tz on a real MongoDB-compatible
// server.
func instance(t testing.TB, store *tenant.Store, domain, tz string) tenant.Scope {
	t.Helper()
	inst, err := store.EnsureInstance(t.Context(), domain, "admin@"+domain)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := store.Open(t.Context(), inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tenant.NewService(tenant.Config{Store: store}).UpdateSettings(t.Context(), sc, tenant.Member{}, tenant.SettingsUpdate{TimeZone: &tz}); err != nil {
		t.Fatal(err)
	}
	if sc, err = store.Open(t.Context(), inst.ID); err != nil {
		t.Fatal(err)
	}
	return sc
}

func openStore(t testing.TB) *tenant.Store {
	t.Helper()
	return openStoreWith(t, nil)
}

// openStoreWith opens the store with a command monitor.
func openStoreWith(t testing.TB, mon *event.CommandMonitor) *tenant.Store {
	t.Helper()
	uri, db := tenanttest.Mongo(t)
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db,
		Kinds: append(social.Kinds(), reach.Kinds()...), Monitor: mon})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	return store
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// record passes clicks through the hooks as the recorder does.
func record(t *testing.T, svc *reach.Service, sc tenant.Scope, clicks ...social.Click) {
	t.Helper()
	svc.PrepareClicks(t.Context(), sc, clicks)
	if err := social.InsertClicks(t.Context(), sc, clicks); err != nil {
		t.Fatal(err)
	}
	svc.ClicksRecorded(t.Context(), sc, clicks)
}

func click(when, ua string) social.Click {
	return social.Click{ShareID: "share1", ContentID: "post1", Network: "mastodon", At: at(when),
		IPPrefix: "192.0.2.0/24", Code: "code1", UserAgent: ua}
}

// The same instants fall on other days in Helsinki than in UTC, across
// the spring DST change (2026-03-29 03:00 EET → 04:00 EEST).
func TestDaysFollowTheInstanceTimeZone(t *testing.T) {
	store := openStore(t)
	svc := reach.New(reach.Config{})
	events := []social.Click{
		click("2026-03-28T21:59:59Z", "a"), // Helsinki 23:59:59 EET, 28th
		click("2026-03-28T22:00:00Z", "b"), // Helsinki 00:00 EET, 29th
		click("2026-03-29T00:59:59Z", "c"), // 02:59:59 EET, just before the change
		click("2026-03-29T01:00:00Z", "d"), // 04:00 EEST
		click("2026-03-29T20:59:59Z", "e"), // 23:59:59 EEST, still the 29th
		click("2026-03-29T21:00:00Z", "f"), // 00:00 EEST, the 30th
	}
	p := reach.Period{From: "2026-03-27", To: "2026-03-30"}
	for _, tc := range []struct {
		tz   string
		want []int64
	}{
		{"Europe/Helsinki", []int64{0, 1, 4, 1}},
		{"UTC", []int64{0, 2, 4, 0}},
	} {
		t.Run(tc.tz, func(t *testing.T) {
			sc := instance(t, store, strings.ToLower(strings.ReplaceAll(tc.tz, "/", "-"))+".example", tc.tz)
			evs := append([]social.Click(nil), events...)
			record(t, svc, sc, evs...)
			series, err := svc.Timeseries(t.Context(), sc, p, "clicks")
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, d := range series {
				got = append(got, d.Value)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("clicks per day (-want +got):\n%s", diff)
			}
			rep, err := reach.New(reach.Config{Now: func() time.Time { return at("2026-04-01T12:00:00Z") }}).Rebuild(t.Context(), sc)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := svc.Timeseries(t.Context(), sc, p, "clicks")
			if diff := cmp.Diff(series, again); diff != "" || rep.Clicks != len(events) {
				t.Errorf("rebuild (%+v) moved days (-before +after):\n%s", rep, diff)
			}
		})
	}
}

// publish stores a share of post1 by alice, published at when.
func publish(t *testing.T, sc tenant.Scope, id, when string) {
	t.Helper()
	// Test data: shares are social's, written as social stores them.
	if err := sc.Collection(tenant.Kind{Name: "shares"}).Insert(t.Context(), social.Share{ID: id, ContentID: "post1",
		MemberID: "alice", Network: "mastodon", State: social.SharePublished, PublishedAt: new(at(when))}); err != nil {
		t.Fatal(err)
	}
}

// A visitor (same link and IP prefix) counts once a day, whatever their
// User-Agent; the next day's salt makes them new again, unlinkable to the
// day before. Another link, or another address, is another visitor.
func TestUniqueClicks(t *testing.T) {
	store := openStore(t)
	opt := jobstest.Redis(t)
	rdb := opt.MakeRedisClient().(redis.UniversalClient)
	t.Cleanup(func() { rdb.Close() })
	for name, svc := range map[string]*reach.Service{
		"memory": reach.New(reach.Config{}),
		"redis":  reach.New(reach.Config{Redis: rdb}),
	} {
		t.Run(name, func(t *testing.T) {
			sc := instance(t, store, name+"-unique.example", "UTC")
			publish(t, sc, "share1", "2026-05-01T09:00:00Z")
			publish(t, sc, "share2", "2026-05-01T09:00:00Z")
			first := []social.Click{click("2026-05-01T10:00:00Z", "Firefox"), click("2026-05-01T11:00:00Z", "Firefox"),
				click("2026-05-01T12:00:00Z", "Safari")}
			record(t, svc, sc, first...)
			// Another batch, same visitor, same day: not unique.
			record(t, svc, sc, click("2026-05-01T13:00:00Z", "Firefox"))
			next := []social.Click{click("2026-05-02T10:00:00Z", "Firefox")}
			record(t, svc, sc, next...)
			elsewhere := click("2026-05-01T14:00:00Z", "Firefox")
			elsewhere.IPPrefix = "198.51.100.0/24"
			other := click("2026-05-01T14:00:00Z", "Firefox")
			other.ShareID, other.Code = "share2", "code2"
			record(t, svc, sc, elsewhere, other)
			if first[0].Visitor == "" || first[0].Visitor != first[1].Visitor || first[0].Visitor != first[2].Visitor || first[0].Visitor == next[0].Visitor {
				t.Errorf("visitor hashes: %q %q %q, next day %q", first[0].Visitor, first[1].Visitor, first[2].Visitor, next[0].Visitor)
			}
			sum, err := svc.Summary(t.Context(), sc, reach.Period{From: "2026-05-01", To: "2026-05-02"})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Clicks != 7 || sum.UniqueClicks != 4 {
				t.Errorf("clicks %d unique %d, want 7 and 4", sum.Clicks, sum.UniqueClicks)
			}
		})
	}
	if keys, _ := rdb.Keys(t.Context(), "chorus:reach:*").Result(); len(keys) == 0 {
		t.Error("no salts or seen sets in Redis")
	} else {
		for _, k := range keys {
			if ttl := rdb.TTL(t.Context(), k).Val(); ttl <= 0 || ttl > 72*time.Hour {
				t.Errorf("%s lives %s, want at most 72h", k, ttl)
			}
		}
	}
}

// Points cannot be farmed: clicks before the share was published, and
// clicks that came with the sharer's own session, are clicks but never
// unique clicks, and they do not use up the address's unique click for a
// colleague; 25 User-Agents from one address are one visitor. The
// rebuild applies the same rule.
func TestPointsNotFarmable(t *testing.T) {
	store := openStore(t)
	svc := reach.New(reach.Config{})
	sc := instance(t, store, "farm.example", "UTC")
	publish(t, sc, "share1", "2026-05-01T10:00:00Z")
	early := click("2026-05-01T09:00:00Z", "Firefox")
	early.IPPrefix = "203.0.113.0/24"
	own := click("2026-05-01T11:00:00Z", "Firefox")
	own.SessionMember = "alice"
	colleague := click("2026-05-01T11:05:00Z", "Firefox")
	colleague.SessionMember = "bob"
	clicks := []social.Click{early, own, colleague}
	for i := range 25 {
		c := click("2026-05-01T12:00:00Z", fmt.Sprintf("Agent/%d", i))
		c.IPPrefix = "198.51.100.0/24"
		clicks = append(clicks, c)
	}
	record(t, svc, sc, clicks...)
	if !clicks[1].Own || clicks[0].Own || clicks[2].Own {
		t.Errorf("own visits: %v %v %v, want only the sharer's session's", clicks[0].Own, clicks[1].Own, clicks[2].Own)
	}
	p := reach.Period{From: "2026-05-01", To: "2026-05-01"}
	check := func(when string) {
		t.Helper()
		mine, err := svc.Me(t.Context(), sc, tenant.Member{ID: "alice"}, p, false)
		if err != nil {
			t.Fatal(err)
		}
		w := sc.Instance().Settings.PointWeights()
		if mine.Clicks != 28 || mine.UniqueClicks != 2 || mine.Points != mine.Shares*w.PerShare+2*w.PerUniqueClick {
			t.Errorf("%s: clicks %d unique %d points %d, want 28 clicks, 2 unique (the colleague and the 25 agents' address)",
				when, mine.Clicks, mine.UniqueClicks, mine.Points)
		}
	}
	check("recorded")
	if _, err := reach.New(reach.Config{Now: func() time.Time { return at("2026-05-02T12:00:00Z") }}).Rebuild(t.Context(), sc); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}

func TestParsePeriod(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		ok       bool
	}{
		{"2026-01-01", "2026-03-31", true},
		{"2026-01-01", "2026-01-01", true},
		{"2024-01-01", "2025-12-31", true},
		{"2024-01-01", "2026-01-01", false}, // two years
		{"2026-02-01", "2026-01-31", false},
		{"", "2026-01-31", false},
		{"2026-01-01", "", false},
		{"2026-1-1", "2026-01-31", false},
		{"2026-02-30", "2026-03-01", false},
		{"2026-01-01T00:00:00Z", "2026-01-02", false},
	} {
		_, err := reach.ParsePeriod(tc.from, tc.to)
		if (err == nil) != tc.ok {
			t.Errorf("ParsePeriod(%q, %q) = %v, want ok=%v", tc.from, tc.to, err, tc.ok)
		}
		// A refusal is a problem whose title says its status.
		var p *httpapi.Problem
		if err != nil && (!errors.As(err, &p) || p.Status != http.StatusUnprocessableEntity || p.Title != http.StatusText(p.Status)) {
			t.Errorf("ParsePeriod(%q, %q) = %+v, want a 422 problem titled %q", tc.from, tc.to, err, http.StatusText(http.StatusUnprocessableEntity))
		}
	}
}

// The formula-injection corpus: whatever a name or title holds, a
// spreadsheet must see text, and the CSV must read back to the same cells
// (apostrophe aside).
func TestCSVIsSafeAndRoundTrips(t *testing.T) {
	corpus := []string{
		"=1+1", "=HYPERLINK(\"http://evil.example\",\"click\")", "+1", "-1+2", "@SUM(A1:A2)", "\t=1", "\r=1",
		"=cmd|' /C calc'!A0", "-2", "42", "plain, with comma", "quote \" inside", "line\nbreak", "", "ÄÖ ünïcode 🎉",
		" =leading space", "'already quoted",
	}
	want := map[string]string{
		"=1+1": "'=1+1", "=HYPERLINK(\"http://evil.example\",\"click\")": "'=HYPERLINK(\"http://evil.example\",\"click\")",
		"+1": "'+1", "-1+2": "'-1+2", "@SUM(A1:A2)": "'@SUM(A1:A2)", "\t=1": "'\t=1", "\r=1": "'\r=1",
		"=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
	}
	var buf bytes.Buffer
	rows := [][]string{{"n", "head"}}
	for _, c := range corpus {
		rows = append(rows, []string{"1", c})
	}
	if err := reach.WriteCSV(&buf, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(buf.String(), "\r\n") {
		t.Error("lines do not end in CRLF (RFC 4180)")
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(corpus)+1 {
		t.Fatalf("%d rows read back, want %d", len(got), len(corpus)+1)
	}
	// encoding/csv reads line breaks inside quotes as \n: compare without.
	flat := strings.NewReplacer("\r", "", "\n", "").Replace
	for i, c := range corpus {
		w, ok := want[c]
		if !ok {
			w = c
		}
		if cell := got[i+1][1]; flat(cell) != flat(w) {
			t.Errorf("cell %q read back as %q, want %q", c, cell, w)
		}
	}
	for _, c := range corpus {
		if s := reach.SafeCell(c); s != "" && strings.ContainsRune("=+@\t\r", rune(s[0])) {
			t.Errorf("cell %q starts a formula: %q", c, s)
		}
	}
}
