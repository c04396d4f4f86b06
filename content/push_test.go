package content

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
)

func TestQuietHours(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		q    QuietHours
		t    time.Time
		loc  *time.Location
		want bool
	}{
		{QuietHours{"22:00", "07:00"}, at("2026-12-07T23:30:00Z"), time.UTC, true},
		{QuietHours{"22:00", "07:00"}, at("2026-12-07T06:59:00Z"), time.UTC, true},
		{QuietHours{"22:00", "07:00"}, at("2026-12-07T07:00:00Z"), time.UTC, false},
		{QuietHours{"22:00", "07:00"}, at("2026-12-07T21:59:00Z"), time.UTC, false},
		// 21:30 UTC is 22:30 in Paris in winter.
		{QuietHours{"22:00", "07:00"}, at("2026-12-07T21:30:00Z"), paris, true},
		{QuietHours{"12:00", "14:00"}, at("2026-12-07T13:00:00Z"), time.UTC, true},
		{QuietHours{"12:00", "14:00"}, at("2026-12-07T14:00:00Z"), time.UTC, false},
		{QuietHours{"12:00", "12:00"}, at("2026-12-07T12:00:00Z"), time.UTC, false},
		{QuietHours{"24:00", "07:00"}, at("2026-12-07T03:00:00Z"), time.UTC, false},
	} {
		if got := tc.q.Quiet(tc.t, tc.loc); got != tc.want {
			t.Errorf("%v at %v in %v: %v, want %v", tc.q, tc.t, tc.loc, got, tc.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{"Mon, 07 Dec 2026 06:00:30 GMT", 30 * time.Second},
		{"Mon, 07 Dec 2026 05:00:00 GMT", 0},
		{"999999", time.Hour},
		{"soon", 0},
	} {
		if got := retryAfter(tc.v, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestFollows(t *testing.T) {
	for _, tc := range []struct {
		member, post []string
		want         bool
	}{
		{nil, nil, true},
		{nil, []string{"a"}, true},
		{[]string{"a"}, []string{"b", "a"}, true},
		{[]string{"a"}, []string{"b"}, false},
		{[]string{"a"}, nil, false},
	} {
		if got := follows(tenant.Member{Topics: tc.member}, Post{Topics: tc.post}); got != tc.want {
			t.Errorf("member %v, post %v: %v, want %v", tc.member, tc.post, got, tc.want)
		}
	}
}

func TestVAPIDKeys(t *testing.T) {
	k, err := GenerateVAPIDKeys("mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseVAPIDKeys(k.Private+"=", "mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got != k {
		t.Errorf("parsed %+v, want the generated %+v (the public key derived)", got, k)
	}
	for _, tc := range []struct{ key, subject string }{
		{"short", "mailto:ops@example.com"},
		{k.Private, "ops@example.com"},
		{k.Private, "http://example.com"},
		// The order of P-256 and above is no private key.
		{"_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE", "mailto:ops@example.com"},
	} {
		if _, err := ParseVAPIDKeys(tc.key, tc.subject); err == nil {
			t.Errorf("ParseVAPIDKeys(%q, %q) accepted", tc.key, tc.subject)
		}
	}
}

func TestCheckSubscription(t *testing.T) {
	k, _ := GenerateVAPIDKeys("mailto:x@example.com") // any P-256 point will do as a device key
	auth := "AAAAAAAAAAAAAAAAAAAAAA"
	in := func(endpoint, p256, auth string) SubscriptionIn {
		var s SubscriptionIn
		s.Endpoint, s.Keys.P256DH, s.Keys.Auth = endpoint, p256, auth
		return s
	}
	strict := &Service{}
	loose := &Service{push: PushConfig{AllowHTTPLoopback: true}}
	for _, tc := range []struct {
		svc  *Service
		in   SubscriptionIn
		okay bool
	}{
		{strict, in("https://fcm.googleapis.com/fcm/send/abc", k.Public, auth), true},
		{strict, in("http://127.0.0.1:8090/notify/abc", k.Public, auth), false},
		{loose, in("http://127.0.0.1:8090/notify/abc", k.Public, auth), true},
		{loose, in("http://push.example/notify/abc", k.Public, auth), false},
		{strict, in("https://user:pw@push.example/x", k.Public, auth), false},
		{strict, in("https://push.example/x", k.Public[:40], auth), false},
		{strict, in("https://push.example/x", k.Public, "AAAA"), false},
	} {
		_, err := tc.svc.checkSubscription(tc.in)
		if (err == nil) != tc.okay {
			t.Errorf("%+v: err %v, want ok %v", tc.in, err, tc.okay)
		}
	}
}

// TestSweepPushSent: marks older than PushMarkDays go, in batches, and
// their posts are marked as notified; recent marks stay, and so do
// another instance's old ones.
func TestSweepPushSent(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	now := f.clock.Now()
	old, recent := f.create(t, f.a, "old-post"), f.create(t, f.a, "recent-post")
	other := f.create(t, f.b, "other-post")
	mark := func(p Post, member string, at time.Time) any {
		return pushSent{ID: p.ID + ":" + member, PostID: p.ID, MemberID: member, State: pushDone, At: at}
	}
	// More old marks than one batch deletes.
	var marks []any
	for i := range pushSweepBatch + 20 {
		marks = append(marks, mark(old, fmt.Sprintf("member-%04d", i), now.AddDate(0, 0, -PushMarkDays-1-i%3)))
	}
	marks = append(marks, mark(recent, "member-0001", now.AddDate(0, 0, -PushMarkDays+1)))
	if err := f.a.Collection(pushSentKind).InsertMany(ctx, marks); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Collection(pushSentKind).Insert(ctx, mark(other, "member-0001", now.AddDate(0, 0, -PushMarkDays-10))); err != nil {
		t.Fatal(err)
	}

	n, err := SweepPushSent(ctx, f.a, now)
	if err != nil || n != int64(pushSweepBatch+20) {
		t.Fatalf("SweepPushSent = %d, %v; want %d", n, err, pushSweepBatch+20)
	}
	var left []pushSent
	if err := f.a.Collection(pushSentKind).Find(ctx, bson.D{}, &left); err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].PostID != recent.ID {
		t.Errorf("marks left: %+v, want only the recent one", left)
	}
	if c, err := f.b.Collection(pushSentKind).Count(ctx, bson.D{}); err != nil || c != 1 {
		t.Errorf("the other instance's marks: %d, %v; want its 1 untouched", c, err)
	}
	for _, tc := range []struct {
		sc   tenant.Scope
		p    Post
		want bool
	}{{f.a, old, true}, {f.a, recent, false}, {f.b, other, false}} {
		got, err := f.svc.Get(ctx, tc.sc, tc.p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.PushSwept != tc.want {
			t.Errorf("%s: push_swept %v, want %v", got.Title, got.PushSwept, tc.want)
		}
	}
	// Nothing left to sweep: a second run deletes nothing.
	if n, err := SweepPushSent(ctx, f.a, now); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want 0", n, err)
	}
}
