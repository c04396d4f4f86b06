package content

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/tenant"
)

// feedServer serves an RSS or Atom feed on loopback with an ETag and a
// Last-Modified, answering 304 to a request that carries them.
type feedServer struct {
	*httptest.Server
	mu       sync.Mutex
	body     string
	ctype    string
	status   int
	requests atomic.Int64
	// conditional counts the requests answered 304.
	conditional atomic.Int64
}

const lastModified = "Mon, 23 Nov 2026 09:00:00 GMT"

func newFeedServer(t *testing.T, ctype, body string) *feedServer {
	t.Helper()
	fs := &feedServer{body: body, ctype: ctype, status: http.StatusOK}
	fs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.requests.Add(1)
		fs.mu.Lock()
		body, status := fs.body, fs.status
		fs.mu.Unlock()
		if status != http.StatusOK {
			http.Error(w, "down", status)
			return
		}
		etag := fmt.Sprintf(`"%x"`, len(body))
		if r.Header.Get("If-None-Match") == etag && r.Header.Get("If-Modified-Since") == lastModified {
			fs.conditional.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastModified)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(fs.Close)
	return fs
}

func (fs *feedServer) set(status int, body string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.status = status
	if body != "" {
		fs.body = body
	}
}

// loopbackClient is the preview fetcher's outbound client, allowed to
// reach the test servers' loopback address and ports only.
func loopbackClient(t testing.TB, servers ...*httptest.Server) *http.Client {
	t.Helper()
	cfg := preview.Config{Timeout: 5 * time.Second}
	for _, s := range servers {
		ap := netip.MustParseAddrPort(strings.TrimPrefix(s.URL, "http://"))
		cfg.Ports = append(cfg.Ports, int(ap.Port()))
		cfg.AllowPrefixes = append(cfg.AllowPrefixes, netip.PrefixFrom(ap.Addr(), ap.Addr().BitLen()))
	}
	return preview.New(cfg).Client()
}

func rssFeed(base string, n int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Acme News</title><link>` + base + `/</link>`)
	for i := range n {
		fmt.Fprintf(&b, `<item><title>Story %d</title><link>%s/story/%d?utm_source=rss&amp;utm_medium=feed</link><description>About story %d</description></item>`, i, base, i, i)
	}
	b.WriteString(`</channel></rss>`)
	return b.String()
}

func atomFeed(base string, paths ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Acme Blog</title><id>urn:acme</id><updated>2026-11-23T09:00:00Z</updated>`)
	for i, p := range paths {
		fmt.Fprintf(&b, `<entry><title>Post %d</title><id>urn:acme:%d</id><updated>2026-11-23T09:00:00Z</updated><link href="%s%s"/></entry>`, i, i, base, p)
	}
	b.WriteString(`</feed>`)
	return b.String()
}

// sourceFixture is a fixture whose service polls through a client that
// reaches the given servers.
func sourceFixture(t testing.TB, maxBody int64, servers ...*httptest.Server) *fixture {
	t.Helper()
	f := newFixture(t)
	f.svc = NewService(Config{Fetcher: pageFetcher{}, Now: f.clock.Now, FeedClient: loopbackClient(t, servers...), MaxFeedBody: maxBody})
	return f
}

func (f *fixture) postsOf(t *testing.T, sc tenant.Scope, srcID string) []Post {
	t.Helper()
	var ps []Post
	if err := sc.Collection(postKind).Find(t.Context(), bson.D{{Key: "source_id", Value: srcID}}, &ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestSourcePollRSSConditionalAndDedupe(t *testing.T) {
	rss := newFeedServer(t, "application/rss+xml", "")
	rss.set(http.StatusOK, rssFeed(rss.URL, 3))
	atom := newFeedServer(t, "application/atom+xml", "")
	// The Atom feed links story 1 of the RSS feed (other case, a fragment)
	// and one of its own.
	atom.set(http.StatusOK, atomFeed("HTTP://"+strings.TrimPrefix(rss.URL, "http://"), "/story/1#top", "/own"))
	f := sourceFixture(t, 0, rss.Server, atom.Server)
	ctx := t.Context()

	// A manual post of story 2, with tracking parameters of its own.
	if _, err := f.svc.Create(ctx, f.a, f.curA, Draft{URL: ptr(rss.URL + "/story/2?utm_campaign=x"), Title: ptr("by hand")}); err != nil {
		t.Fatal(err)
	}
	srcRSS, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(rss.URL + "/feed.xml"), Title: ptr("News")})
	if err != nil {
		t.Fatal(err)
	}
	srcAtom, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(atom.URL + "/atom.xml"), Trusted: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.svc.PollDue(ctx, f.a)
	if err != nil {
		t.Fatal(err)
	}
	// RSS: stories 0 and 1 (2 was posted by hand). Atom: /own only (story
	// 1 came from RSS, polled first or not: one of them has it).
	if rep.Polled != 2 || rep.Failed != 0 || rep.Added != 3 {
		t.Fatalf("first poll = %+v, want 2 polled, 3 added", rep)
	}
	got := map[string]State{}
	for _, id := range []string{srcRSS.ID, srcAtom.ID} {
		for _, p := range f.postsOf(t, f.a, id) {
			got[strings.TrimPrefix(strings.TrimPrefix(p.CanonicalURL, rss.URL), atom.URL)] = p.State
			if strings.Contains(p.CanonicalURL, "utm_") {
				t.Errorf("canonical URL %s keeps utm parameters", p.CanonicalURL)
			}
		}
	}
	if got["/story/0"] != StateDraft || got["/own"] != StatePublished || len(got) != 3 {
		t.Errorf("posts by canonical path = %v, want /story/0 and /story/1 drafts (untrusted RSS), /own published (trusted Atom)", got)
	}

	// Not due yet: nothing is fetched.
	if rep, err := f.svc.PollDue(ctx, f.a); err != nil || rep.Polled != 0 {
		t.Fatalf("poll before due = %+v, %v; want none polled", rep, err)
	}
	// Due again: conditional GET, 304, no new items even though the feed
	// would give some if parsed again.
	f.clock.Add(PollInterval)
	rep, err = f.svc.PollDue(ctx, f.a)
	if err != nil || rep.Polled != 2 || rep.Unchanged != 2 || rep.Added != 0 {
		t.Fatalf("second poll = %+v, %v; want 2 unchanged", rep, err)
	}
	if rss.conditional.Load() != 1 || atom.conditional.Load() != 1 {
		t.Errorf("304 answers = %d, %d; want 1 each", rss.conditional.Load(), atom.conditional.Load())
	}
	// A new item: only it is added.
	rss.set(http.StatusOK, rssFeed(rss.URL, 4))
	f.clock.Add(PollInterval)
	if rep, err = f.svc.PollDue(ctx, f.a); err != nil || rep.Added != 1 {
		t.Fatalf("third poll = %+v, %v; want 1 added", rep, err)
	}
	src, err := f.svc.GetSource(ctx, f.a, srcRSS.ID)
	if err != nil || src.ItemsAdded < 2 || src.Failing || src.ConsecutiveFailures != 0 {
		t.Errorf("source after polls = %+v, %v", src, err)
	}
}

func TestSourceBackoffAndFlagging(t *testing.T) {
	rss := newFeedServer(t, "application/rss+xml", "")
	rss.set(http.StatusInternalServerError, rssFeed(rss.URL, 1))
	f := sourceFixture(t, 0, rss.Server)
	ctx := t.Context()
	src, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(rss.URL + "/feed")})
	if err != nil {
		t.Fatal(err)
	}
	start := f.clock.Now()
	var waits []time.Duration
	for i := range FailingAfter {
		rep, err := f.svc.PollDue(ctx, f.a)
		if err != nil || rep.Failed != 1 {
			t.Fatalf("poll %d = %+v, %v; want one failure", i, rep, err)
		}
		s, err := f.svc.GetSource(ctx, f.a, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.ConsecutiveFailures != i+1 || s.Failing != (i+1 >= FailingAfter) || !strings.Contains(s.LastError, "500") {
			t.Errorf("after failure %d: failures %d, failing %v, last error %q", i+1, s.ConsecutiveFailures, s.Failing, s.LastError)
		}
		waits = append(waits, s.NextPollAt.Sub(f.clock.Now().UTC().Truncate(time.Millisecond)))
		f.clock.Add(s.NextPollAt.Sub(f.clock.Now()))
	}
	if want := []time.Duration{PollInterval, 2 * PollInterval, 4 * PollInterval}; fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Errorf("backoff = %v, want %v", waits, want)
	}
	if f.clock.Now().Sub(start) < 7*PollInterval {
		t.Errorf("clock advanced only %v", f.clock.Now().Sub(start))
	}
	// Listed first, flagged; recovers on the next good poll.
	other, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(rss.URL + "/a-other"), Title: ptr("A")})
	if err != nil {
		t.Fatal(err)
	}
	list, err := f.svc.Sources(ctx, f.a)
	if err != nil || len(list) != 2 || list[0].ID != src.ID || list[1].ID != other.ID {
		t.Fatalf("sources = %+v, %v; want the failing one first", list, err)
	}
	rss.set(http.StatusOK, "")
	if _, err := f.svc.PollDue(ctx, f.a); err != nil {
		t.Fatal(err)
	}
	s, err := f.svc.GetSource(ctx, f.a, src.ID)
	if err != nil || s.Failing || s.ConsecutiveFailures != 0 || s.LastError != "" {
		t.Errorf("after recovery = %+v, %v", s, err)
	}
}

func TestSourceSizeCapAndSSRF(t *testing.T) {
	rss := newFeedServer(t, "application/rss+xml", "")
	rss.set(http.StatusOK, rssFeed(rss.URL, 50))
	f := sourceFixture(t, 2048, rss.Server)
	ctx := t.Context()
	big, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(rss.URL + "/big")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.svc.PollSource(ctx, f.a, big)
	if err != nil || !errors.Is(res.Err, ErrFeedTooLarge) || res.Added != 0 {
		t.Errorf("oversized feed = %+v, %v; want ErrFeedTooLarge", res, err)
	}

	// The real policy (no allow-list): loopback and private addresses are
	// refused before any request.
	strict := NewService(Config{Now: f.clock.Now})
	before := rss.requests.Load()
	for _, u := range []string{rss.URL + "/feed", "http://10.0.0.1/feed", "http://169.254.169.254/latest/meta-data"} {
		src, err := strict.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr(u)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := strict.PollSource(ctx, f.a, src)
		if err != nil || !errors.Is(res.Err, preview.ErrBlocked) {
			t.Errorf("poll of %s = %+v, %v; want ErrBlocked", u, res, err)
		}
	}
	if got := rss.requests.Load() - before; got != 0 {
		t.Errorf("blocked loopback server got %d requests", got)
	}
}

func TestSourceIsolationAndValidation(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	src, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr("https://news.example/feed")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr("https://news.example/feed")}); !errors.Is(err, ErrSourceExists) {
		t.Errorf("same URL again = %v, want ErrSourceExists", err)
	}
	// The other instance may add the same URL; it never sees A's source.
	if _, err := f.svc.CreateSource(ctx, f.b, f.curB, SourceDraft{URL: ptr("https://news.example/feed")}); err != nil {
		t.Errorf("same URL in B = %v", err)
	}
	if _, err := f.svc.GetSource(ctx, f.b, src.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B reads A's source: %v", err)
	}
	if _, err := f.svc.EditSource(ctx, f.b, src.ID, SourceDraft{Trusted: ptr(true)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("B edits A's source: %v", err)
	}
	if err := f.svc.DeleteSource(ctx, f.b, src.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("B deletes A's source: %v", err)
	}
	if got, err := f.svc.GetSource(ctx, f.a, src.ID); err != nil || got.Trusted {
		t.Errorf("A's source after B's attempts = %+v, %v", got, err)
	}
	var ve tenant.ValidationErrors
	if _, err := f.svc.CreateSource(ctx, f.a, f.curA, SourceDraft{URL: ptr("ftp://x"), Topics: &[]string{"nope"}}); !errors.As(err, &ve) || len(ve) != 2 {
		t.Errorf("bad source = %v, want two field errors", err)
	}
	if err := f.svc.DeleteSource(ctx, f.a, src.ID); err != nil {
		t.Errorf("delete = %v", err)
	}
}

func TestCanonicalURL(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://News.Example:443/A?utm_source=x&b=2&a=1#frag": "https://news.example/A?a=1&b=2",
		"http://news.example:80":                               "http://news.example/",
		"http://news.example:8080/x/?UTM_Medium=y":             "http://news.example:8080/x/",
		"https://news.example/x?":                              "https://news.example/x",
	} {
		if got := CanonicalURL(in); got != want {
			t.Errorf("CanonicalURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// A poll that read its source before the source's creator was erased
// stores its posts with the creator's pseudonym, not their member ID:
// the erasure renames the source first, and the poll reads it again after
// storing the posts.
func TestSourcePostsOfACreatorErasedMeanwhile(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	now := f.clock.Now()
	src := Source{ID: "src-erased-meanwhile", Kind: SourceFeed, URL: "https://news.example/feed", Topics: []string{}, CreatedBy: f.curA.ID,
		Trusted: true, CreatedAt: now, UpdatedAt: now, NextPollAt: now}
	if err := f.a.Collection(sourceKind).Insert(ctx, src); err != nil {
		t.Fatal(err)
	}
	// The poll has read src; the erasure runs before it stores its posts.
	if err := f.svc.PrivacySource().Erase(ctx, f.a, tenant.Subject{MemberID: f.curA.ID}, "erased-curator"); err != nil {
		t.Fatal(err)
	}
	p := src.post("https://news.example/a", "https://news.example/a", "A", Preview{Status: "ok"}, now)
	if err := insertSourcePosts(ctx, f.a, src, []Post{p}); err != nil {
		t.Fatal(err)
	}
	var got Post
	if err := f.a.Collection(postKind).FindOne(ctx, bson.D{{Key: "_id", Value: p.ID}}, &got); err != nil {
		t.Fatal(err)
	}
	if got.AuthorID != "erased-curator" {
		t.Errorf("the poll's post is by %q, want the pseudonym", got.AuthorID)
	}
}
