package content

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// pageFetcher answers previews from a fixed page; the real fetcher is
// tested in content/preview and end to end in cmd/chorus.
type pageFetcher struct{ fail bool }

func (f pageFetcher) Fetch(_ context.Context, rawURL string) (preview.Preview, error) {
	if f.fail {
		return preview.Preview{}, errors.New("unreachable")
	}
	return preview.Preview{Title: "Page of " + rawURL, Description: "d"}, nil
}

type fixture struct {
	svc    *Service
	clock  *tenanttest.Clock
	a, b   tenant.Scope
	curA   tenant.Member
	empA   tenant.Member
	curB   tenant.Member
	queued []string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	uri, db := tenanttest.Mongo(t)
	clock := tenanttest.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db, Kinds: Kinds(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close(context.Background()) })
	f := &fixture{clock: clock}
	var mu sync.Mutex
	f.svc = NewService(Config{Fetcher: pageFetcher{}, Now: clock.Now, RetryPreview: func(_ context.Context, sc tenant.Scope, id string) error {
		mu.Lock()
		defer mu.Unlock()
		f.queued = append(f.queued, sc.InstanceID()+"/"+id)
		return nil
	}})
	open := func(domain string) tenant.Scope {
		inst, err := store.EnsureInstance(t.Context(), domain, "founder@"+domain)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := store.Open(t.Context(), inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	f.a, f.b = open("acme.example"), open("globex.example")
	f.curA = tenant.Member{ID: httpapi.NewID(), Role: tenant.RoleCurator}
	f.empA = tenant.Member{ID: httpapi.NewID(), Role: tenant.RoleEmployee}
	f.curB = tenant.Member{ID: httpapi.NewID(), Role: tenant.RoleCurator}
	return f
}

func ptr[T any](v T) *T { return &v }

func (f *fixture) create(t *testing.T, sc tenant.Scope, title string) Post {
	t.Helper()
	p, err := f.svc.Create(t.Context(), sc, f.curA, Draft{URL: ptr("https://news.example/" + title), Title: ptr(title)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPostsAreIsolated(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	p := f.create(t, f.a, "acme-canary")
	if _, err := f.svc.Get(ctx, f.b, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B Get: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Edit(ctx, f.b, p.ID, Draft{Title: ptr("pwned")}, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("B Edit: %v, want ErrNotFound", err)
	}
	if err := f.svc.Archive(ctx, f.b, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B Archive: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Approve(ctx, f.b, f.curB, p.ID, Draft{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("B Approve: %v, want ErrNotFound", err)
	}
	if _, err := f.svc.Reject(ctx, f.b, f.curB, p.ID, "no"); !errors.Is(err, ErrNotFound) {
		t.Errorf("B Reject: %v, want ErrNotFound", err)
	}
	if err := f.svc.RefreshPreview(ctx, f.b, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B RefreshPreview: %v, want ErrNotFound", err)
	}
	for _, st := range []State{"", StateDraft, StateArchived} {
		posts, _, err := f.svc.List(ctx, f.b, f.curB, Query{State: st, Limit: 100})
		if err != nil || len(posts) != 0 {
			t.Errorf("B List(%q) = %d posts, %v; want none", st, len(posts), err)
		}
	}
	got, err := f.svc.Get(ctx, f.a, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, got); diff != "" {
		t.Errorf("A's post changed (-want +got):\n%s", diff)
	}
}

func TestScheduledAppearsOnTime(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	at := f.clock.Now().Add(time.Hour)
	p, err := f.svc.Create(ctx, f.a, f.curA, Draft{URL: ptr("https://news.example/later"), PublishAt: &at})
	if err != nil {
		t.Fatal(err)
	}
	if p.StateAt(f.clock.Now()) != StateScheduled {
		t.Errorf("state = %s, want scheduled", p.StateAt(f.clock.Now()))
	}
	feed := func() []Post {
		posts, _, err := f.svc.List(ctx, f.a, f.empA, Query{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return posts
	}
	if got := feed(); len(got) != 0 {
		t.Errorf("scheduled post in the feed an hour early: %v", got)
	}
	if _, err := f.svc.Shareable(ctx, f.a, p.ID); !errors.Is(err, ErrNotShareable) {
		t.Errorf("scheduled post shareable: %v", err)
	}
	f.clock.Add(time.Hour - time.Second)
	if got := feed(); len(got) != 0 {
		t.Errorf("scheduled post in the feed a second early")
	}
	f.clock.Add(time.Second)
	if got := feed(); len(got) != 1 || got[0].ID != p.ID {
		t.Errorf("feed at publish time = %v, want the post", got)
	}
	if _, err := f.svc.Shareable(ctx, f.a, p.ID); err != nil {
		t.Errorf("due post not shareable: %v", err)
	}
}

func TestExpiredIsHiddenAndNotShareable(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	exp := f.clock.Now().Add(time.Minute)
	p, err := f.svc.Create(ctx, f.a, f.curA, Draft{URL: ptr("https://news.example/brief"), ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Minute)
	if _, err := f.svc.Shareable(ctx, f.a, p.ID); !errors.Is(err, ErrNotShareable) {
		t.Errorf("expired post shareable: %v", err)
	}
	if posts, _, _ := f.svc.List(ctx, f.a, f.empA, Query{Limit: 10}); len(posts) != 0 {
		t.Errorf("expired post in the feed")
	}
	if posts, _, _ := f.svc.List(ctx, f.a, f.curA, Query{State: StateExpired, Limit: 10}); len(posts) != 1 {
		t.Errorf("curators' expired list = %d posts, want 1", len(posts))
	}
	if _, err := f.svc.Visible(ctx, f.a, f.empA, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("employee sees an expired post: %v", err)
	}
}

func TestApproveRaceHasOneWinner(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	s, err := f.svc.Suggest(ctx, f.a, f.empA, "https://news.example/idea", "look", nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if i%2 == 0 {
				_, errs[i] = f.svc.Approve(ctx, f.a, f.curA, s.ID, Draft{Title: ptr(fmt.Sprint("edit ", i))})
			} else {
				_, errs[i] = f.svc.Reject(ctx, f.a, f.curA, s.ID, fmt.Sprint("reason ", i))
			}
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrWrongState):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent reviews succeeded, want exactly 1", won, n)
	}
}

func TestFailedPreviewIsRetriedByAJob(t *testing.T) {
	f := newFixture(t)
	f.svc.fetcher = pageFetcher{fail: true}
	p := f.create(t, f.a, "offline")
	if p.Preview.Status != "failed" {
		t.Errorf("preview status = %q, want failed", p.Preview.Status)
	}
	if diff := cmp.Diff([]string{f.a.InstanceID() + "/" + p.ID}, f.queued); diff != "" {
		t.Errorf("queued retries (-want +got):\n%s", diff)
	}
	if err := f.svc.RefreshPreview(t.Context(), f.a, p.ID); err == nil {
		t.Error("refresh reported success while the page is still down")
	}
	f.svc.fetcher = pageFetcher{}
	if err := f.svc.RefreshPreview(t.Context(), f.a, p.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := f.svc.Get(t.Context(), f.a, p.ID)
	if got.Preview.Status != "ok" || !strings.HasPrefix(got.Preview.Title, "Page of") {
		t.Errorf("preview after refresh = %+v", got.Preview)
	}
}

// refusingFetcher fails every fetch with err.
type refusingFetcher struct{ err error }

func (f refusingFetcher) Fetch(context.Context, string) (preview.Preview, error) {
	return preview.Preview{}, f.err
}

// A preview the fetcher refuses (a private address, a page that is not
// HTML) fails the refresh for good; an unreachable page may come back.
func TestRefusedPreviewIsNotWorthRetrying(t *testing.T) {
	f := newFixture(t)
	p := f.create(t, f.a, "blocked")
	for _, tt := range []struct {
		name        string
		err         error
		wantRefused bool
	}{
		{"blocked destination", fmt.Errorf("%w: loopback address ::ffff:127.0.0.1", preview.ErrBlocked), true},
		{"not HTML", fmt.Errorf("%w: content type %q", preview.ErrNotHTML, "application/pdf"), true},
		{"unreachable", errors.New("connection refused"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.svc.fetcher = refusingFetcher{err: tt.err}
			err := f.svc.RefreshPreview(t.Context(), f.a, p.ID)
			if err == nil || errors.Is(err, ErrPreviewRefused) != tt.wantRefused || !errors.Is(err, tt.err) {
				t.Errorf("refresh: %v, want refused %v wrapping %v", err, tt.wantRefused, tt.err)
			}
		})
	}
}

func TestPaginationSeesEveryItemOnceWhileInserting(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	want := map[string]bool{}
	for i := range 12 {
		p := f.create(t, f.a, fmt.Sprint("p", i))
		want[p.ID] = true
		if i%3 == 0 {
			f.clock.Add(time.Second) // some share a publish time, some not
		}
	}
	seen := map[string]int{}
	var after *Cursor
	for page := 0; ; page++ {
		posts, next, err := f.svc.List(ctx, f.a, f.empA, Query{Limit: 5, After: after})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range posts {
			seen[p.ID]++
		}
		// New posts arriving meanwhile land before the cursor, not in it.
		f.clock.Add(time.Second)
		f.create(t, f.a, fmt.Sprint("new", page))
		if next == nil {
			break
		}
		if after != nil && !next.PublishAt.Before(after.PublishAt) && next.ID >= after.ID {
			t.Fatalf("cursor did not advance: %+v after %+v", next, after)
		}
		after = next
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("post %s seen %d times, want once", id, seen[id])
		}
	}
}

func TestEmployeesSeeOnlyTheFeed(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.svc.List(t.Context(), f.a, f.empA, Query{State: StateDraft, Limit: 10}); !errors.Is(err, tenant.ErrForbidden) {
		t.Errorf("employee listing drafts: %v, want ErrForbidden", err)
	}
	if _, _, err := f.svc.List(t.Context(), f.a, f.curA, Query{State: "bogus", Limit: 10}); err == nil {
		t.Error("an unknown state was accepted")
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add(httpapi.EncodeCursor(Cursor{PublishAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), ID: httpapi.NewID()}))
	f.Add("")
	f.Add("eyJ0IjoiJG5lIn0")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil || c == nil {
			return
		}
		if !httpapi.ValidID(c.ID) || c.PublishAt.IsZero() {
			t.Errorf("ParseCursor(%q) = %+v", s, c)
		}
		again, err := ParseCursor(httpapi.EncodeCursor(*c))
		if err != nil || !again.PublishAt.Equal(c.PublishAt) || again.ID != c.ID {
			t.Errorf("cursor %+v does not round-trip: %+v, %v", c, again, err)
		}
	})
}
