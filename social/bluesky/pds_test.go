package bluesky_test

// These tests run against a real PDS (pdstest): what they check is what
// Bluesky's own server software does with Chorus's requests.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/bluesky"
	"github.com/chorushq/chorus/social/bluesky/pdstest"
)

const accountPassword = "correct horse battery staple"

func newNetwork() *bluesky.Network {
	return bluesky.New(bluesky.Options{AllowHTTP: true, UserAgent: "Chorus-test"})
}

// connect creates an account with an app password on pds and logs in with
// the app password, as a member connecting their account would.
func connect(t *testing.T, n *bluesky.Network, pds *pdstest.PDS, handle string) bluesky.Session {
	t.Helper()
	did := pds.CreateAccount(t, handle, accountPassword)
	appPassword := pds.AppPassword(t, handle, accountPassword, "chorus")
	server, err := n.Server(pds.URL)
	if err != nil {
		t.Fatal(err)
	}
	s, err := n.OpenSession(t.Context(), server, "@"+handle, social.Secret(appPassword))
	if err != nil {
		t.Fatalf("Login with an app password: %v", err)
	}
	if s.DID != did || s.Handle != handle || s.Server != pds.URL || s.Access == "" || s.Refresh == "" {
		t.Fatalf("Login = %+v, want %s (%s) on %s with both tokens", s, handle, did, pds.URL)
	}
	// Access tokens last two hours.
	if left := time.Until(s.Expires); left < 100*time.Minute || left > 121*time.Minute {
		t.Errorf("access token expires in %v, want about 2h", left)
	}
	return s
}

// postRecord is an app.bsky.feed.post record as the PDS stores it.
type postRecord struct {
	Type   string `json:"$type"`
	Text   string `json:"text"`
	Facets []struct {
		Index struct {
			ByteStart int `json:"byteStart"`
			ByteEnd   int `json:"byteEnd"`
		} `json:"index"`
		Features []map[string]string `json:"features"`
	} `json:"facets"`
	Embed *struct {
		Type     string            `json:"$type"`
		External map[string]string `json:"external"`
	} `json:"embed"`
	CreatedAt time.Time `json:"createdAt"`
}

func TestPublishOnceReadBackDelete(t *testing.T) {
	t.Parallel()
	pds := pdstest.Start(t)
	n := newNetwork()
	ctx := t.Context()
	s := connect(t, n, pds, "alice.test")
	// The profile record a Bluesky app writes; a bare PDS has no AppView
	// to count followers.
	pds.XRPC(t, http.MethodPost, "com.atproto.repo.putRecord", s.Access.Reveal(), map[string]any{
		"repo": s.DID, "collection": "app.bsky.actor.profile", "rkey": "self",
		"record": map[string]any{"$type": "app.bsky.actor.profile", "displayName": "Alice Example"},
	}, nil)
	prof, err := n.Profile(ctx, s.Account())
	if err != nil {
		t.Fatal(err)
	}
	want := social.Profile{RemoteID: s.DID, Handle: "@alice.test", DisplayName: "Alice Example",
		URL: "https://bsky.app/profile/alice.test", Followers: 0}
	if diff := cmp.Diff(prof, want); diff != "" {
		t.Errorf("Profile (-got +want):\n%s", diff)
	}

	link := "https://news.example/a?utm_source=chorus"
	prefix := "Läs det här 👍🏽: "
	post := social.Post{Text: prefix + link + " — worth it", Link: link, IdempotencyKey: "q3ffu7bzhmdlmhc2hawbaqcxxa"}
	pub, err := n.Publish(ctx, s.Account(), post)
	if err != nil {
		t.Fatal(err)
	}
	rkey := bluesky.RecordKey(post.IdempotencyKey)
	if pub.RemoteID != "at://"+s.DID+"/app.bsky.feed.post/"+rkey || pub.URL != "https://bsky.app/profile/alice.test/post/"+rkey {
		t.Errorf("Publish = %+v, want the post at %s", pub, rkey)
	}
	if d := time.Since(pub.At); d < 0 || d > time.Minute {
		t.Errorf("published at %v, want now", pub.At)
	}
	// A bare PDS has no AppView to count likes: no metrics, not a failure.
	if _, err := n.Metrics(ctx, s.Account(), pub.RemoteID); !errors.Is(err, social.ErrNoMetrics) {
		t.Errorf("Metrics on a PDS without an AppView: %v, want ErrNoMetrics", err)
	}

	rec, ok := pds.GetRecord(t, s.DID, bluesky.Collection, rkey)
	if !ok {
		t.Fatalf("no record at %s", rkey)
	}
	var got postRecord
	if err := json.Unmarshal(rec.Value, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != bluesky.Collection || got.Text != post.Text || !got.CreatedAt.Equal(pub.At) {
		t.Errorf("record = %s, want the text, created at %v", rec.Value, pub.At)
	}
	if len(got.Facets) != 1 || got.Facets[0].Index.ByteStart != len(prefix) || got.Facets[0].Index.ByteEnd != len(prefix)+len(link) ||
		post.Text[got.Facets[0].Index.ByteStart:got.Facets[0].Index.ByteEnd] != link ||
		!cmp.Equal(got.Facets[0].Features, []map[string]string{{"$type": "app.bsky.richtext.facet#link", "uri": link}}) {
		t.Errorf("facets = %+v, want one link facet over bytes %d–%d", got.Facets, len(prefix), len(prefix)+len(link))
	}
	if got.Embed == nil || got.Embed.Type != "app.bsky.embed.external" ||
		!cmp.Equal(got.Embed.External, map[string]string{"uri": link, "title": "news.example", "description": ""}) {
		t.Errorf("embed = %+v, want the link's card", got.Embed)
	}

	// A retry (the job ran twice, or after an ambiguous failure) finds the
	// post instead of posting again.
	again, err := n.Publish(ctx, s.Account(), post)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(again, pub); diff != "" {
		t.Errorf("retried Publish (-got +want):\n%s", diff)
	}
	if recs := pds.ListRecords(t, s.DID, bluesky.Collection); len(recs) != 1 || recs[0].CID != rec.CID {
		t.Errorf("after a retry the repo holds %d posts, want the one", len(recs))
	}
	other, err := n.Publish(ctx, s.Account(), social.Post{Text: "another share", IdempotencyKey: "share-2"})
	if err != nil {
		t.Fatal(err)
	}
	if recs := pds.ListRecords(t, s.DID, bluesky.Collection); len(recs) != 2 || other.RemoteID == pub.RemoteID {
		t.Errorf("another share made %+v; the repo holds %d posts, want 2", other, len(recs))
	}

	// Another account cannot delete Alice's post.
	bob := connect(t, n, pds, "bob.test")
	if err := n.Delete(ctx, bob.Account(), pub.RemoteID); !errors.Is(err, social.ErrPermanent) {
		t.Errorf("Bob deleting Alice's post: %v, want ErrPermanent", err)
	}
	if err := n.Delete(ctx, s.Account(), pub.RemoteID); err != nil {
		t.Fatal(err)
	}
	if _, ok := pds.GetRecord(t, s.DID, bluesky.Collection, rkey); ok {
		t.Error("the post is still there after Delete")
	}
	if err := n.Delete(ctx, s.Account(), pub.RemoteID); err != nil {
		t.Errorf("deleting a deleted post: %v, want nil", err)
	}
	if recs := pds.ListRecords(t, s.DID, bluesky.Collection); len(recs) != 1 || recs[0].URI != other.RemoteID {
		t.Errorf("after Delete the repo holds %+v, want only the other post", recs)
	}
}

func TestLoginRefusals(t *testing.T) {
	t.Parallel()
	pds := pdstest.Start(t)
	n := newNetwork()
	pds.CreateAccount(t, "carol.test", accountPassword)
	for _, tc := range []struct {
		name, identifier, password string
		class                      error
		status                     int
		message                    string
	}{
		{"wrong password", "carol.test", "wron-gpas-swor-dxxx", social.ErrReconnect, 401, "Invalid identifier or password"},
		{"unknown account", "nobody.test", "abcd-efgh-ijkl-mnop", social.ErrReconnect, 401, "Invalid identifier or password"},
		{"main password", "carol.test", accountPassword, social.ErrPermanent, 0, "create an app password"},
		{"no password", "carol.test", "", social.ErrPermanent, 0, "app password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.OpenSession(t.Context(), pds.URL, tc.identifier, social.Secret(tc.password))
			var e *social.Error
			if !errors.As(err, &e) || !errors.Is(err, tc.class) || e.Status != tc.status || !strings.Contains(e.Message, tc.message) {
				t.Errorf("Login = %v, want class %v, status %d, message with %q", err, tc.class, tc.status, tc.message)
			}
		})
	}
}

func TestExpiredAccessTokenIsRefreshed(t *testing.T) {
	t.Parallel()
	pds := pdstest.Start(t)
	n := newNetwork()
	ctx := t.Context()
	s := connect(t, n, pds, "dave.test")

	stale := s
	stale.Access = social.Secret(pds.Expired(t, s.Access.Reveal()))
	// The PDS itself refuses the token: 400 ExpiredToken.
	_, err := n.Profile(ctx, stale.Account())
	var e *social.Error
	if !errors.As(err, &e) || !errors.Is(err, social.ErrReconnect) || e.Status != 400 || e.Message != "Token has expired" {
		t.Fatalf("Profile with an expired token: %v, want 400 ExpiredToken (reconnect class)", err)
	}

	var (
		mu    sync.Mutex
		saved []bluesky.Session
	)
	save := func(_ context.Context, s bluesky.Session) error {
		mu.Lock()
		defer mu.Unlock()
		saved = append(saved, s)
		return nil
	}
	// stale.Expires still says the token is good: the PDS's refusal is
	// what triggers the renewal.
	c := n.Client(stale, save)
	post := social.Post{Text: "after a refresh", IdempotencyKey: "share-1"}
	pub, err := c.Publish(ctx, post)
	if err != nil {
		t.Fatalf("Publish with an expired access token: %v, want it refreshed transparently", err)
	}
	if len(saved) != 1 || saved[0].Access == stale.Access || saved[0].Refresh == s.Refresh || saved[0].DID != s.DID ||
		c.Session() != saved[0] {
		t.Fatalf("saved %d sessions; want the renewed one, with both tokens rotated, saved and in use", len(saved))
	}
	if _, ok := pds.GetRecord(t, s.DID, bluesky.Collection, bluesky.RecordKey(post.IdempotencyKey)); !ok || pub.RemoteID == "" {
		t.Errorf("Publish = %+v, but the post is not in the repo", pub)
	}

	// An access token known to be expiring is renewed before use.
	renewed := c.Session()
	renewed.Access = social.Secret(pds.Expired(t, renewed.Access.Reveal()))
	renewed.Expires = time.Now().Add(-time.Minute)
	c = n.Client(renewed, save)
	if _, err := c.Profile(ctx); err != nil {
		t.Fatal(err)
	}
	if len(saved) != 2 || saved[1].Refresh == renewed.Refresh {
		t.Errorf("saved %d sessions, want a second renewal", len(saved))
	}

	// A session ended at the server cannot be renewed: the member must
	// connect again.
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	ended := c.Session()
	ended.Access = social.Secret(pds.Expired(t, ended.Access.Reveal()))
	_, err = n.Client(ended, save).Publish(ctx, social.Post{Text: "never", IdempotencyKey: "share-3"})
	if !errors.As(err, &e) || !errors.Is(err, social.ErrReconnect) || e.Op != "token" {
		t.Errorf("Publish after Logout = %v, want ErrReconnect from the refresh", err)
	}
	if len(saved) != 2 {
		t.Errorf("saved %d sessions, want no more", len(saved))
	}
}

func TestRecordsThePDSRefuses(t *testing.T) {
	t.Parallel()
	pds := pdstest.Start(t)
	n := newNetwork()
	s := connect(t, n, pds, "erin.test")
	// 300 graphemes of 2 code points and 8 bytes each: Bluesky counts
	// graphemes, and so does Chorus.
	long := strings.Repeat("👍🏽", bluesky.MaxGraphemes)
	if _, err := n.Publish(t.Context(), s.Account(), social.Post{Text: long, IdempotencyKey: "share-1"}); err != nil {
		t.Errorf("Publish of %d graphemes: %v", bluesky.MaxGraphemes, err)
	}
	_, err := n.Publish(t.Context(), s.Account(), social.Post{Text: long + "!", IdempotencyKey: "share-2"})
	var e *social.Error
	if !errors.As(err, &e) || !errors.Is(err, social.ErrPermanent) || e.Status != 0 {
		t.Errorf("Publish of %d graphemes: %v, want ErrPermanent before sending", bluesky.MaxGraphemes+1, err)
	}
	// The PDS validates the record against its lexicon: 400 InvalidRequest.
	_, err = n.Publish(t.Context(), s.Account(), social.Post{Text: "a link", Link: "not a URL", IdempotencyKey: "share-3"})
	if !errors.As(err, &e) || !errors.Is(err, social.ErrPermanent) || e.Status != 400 || !strings.Contains(e.Message, "uri") {
		t.Errorf("Publish with a bad link: %v, want 400 InvalidRequest (permanent)", err)
	}
	if recs := pds.ListRecords(t, s.DID, bluesky.Collection); len(recs) != 1 {
		t.Errorf("the repo holds %d posts, want 1", len(recs))
	}
}

func TestRateLimitIsRetryLater(t *testing.T) {
	t.Parallel()
	pds := pdstest.StartWith(t, pdstest.Options{RateLimits: true})
	n := newNetwork()
	pds.CreateAccount(t, "frank.test", accountPassword)
	// createSession allows 30 attempts per identifier and IP in five
	// minutes; wrong passwords count.
	errs := make([]error, 35)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = n.OpenSession(t.Context(), pds.URL, "frank.test", "wron-gpas-swor-dxxx")
		})
	}
	wg.Wait()
	limited := 0
	for _, err := range errs {
		var e *social.Error
		switch {
		case errors.Is(err, social.ErrReconnect):
		case errors.As(err, &e) && errors.Is(err, social.ErrRetryLater) && e.Status == 429:
			limited++
			if e.RetryAfter <= 0 || e.RetryAfter > 5*time.Minute+time.Second {
				t.Errorf("rate limited with retry after %v, want up to five minutes", e.RetryAfter)
			}
		default:
			t.Errorf("Login = %v, want ErrReconnect or a 429", err)
		}
	}
	if limited != 5 {
		t.Errorf("%d of 35 logins rate limited, want 5", limited)
	}
}

func TestFindPost(t *testing.T) {
	t.Parallel()
	pds := pdstest.Start(t)
	n := newNetwork()
	s := connect(t, n, pds, "carol.test")
	post := social.Post{Text: "the unconfirmed one", Link: "https://chorus.example/r/abc", IdempotencyKey: "5bq2ye3fyq2kbujt7rhlqbxtmy"}
	since := time.Now().Add(-time.Minute)
	if pub, found, err := n.FindPost(t.Context(), s.Account(), post, since); err != nil || found {
		t.Fatalf("before publishing: %+v, %t, %v; want not found", pub, found, err)
	}
	pub, err := n.Publish(t.Context(), s.Account(), post)
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := n.FindPost(t.Context(), s.Account(), post, since)
	if err != nil || !found {
		t.Fatalf("after publishing: %t, %v; want found", found, err)
	}
	if diff := cmp.Diff(got, pub); diff != "" {
		t.Errorf("FindPost (-got +want):\n%s", diff)
	}
	// Another account's repo does not hold it.
	dave := connect(t, n, pds, "dave.test")
	if _, found, err := n.FindPost(t.Context(), dave.Account(), post, since); err != nil || found {
		t.Errorf("in another account: %t, %v; want not found", found, err)
	}
	if _, _, err := n.FindPost(t.Context(), s.Account(), social.Post{Link: post.Link}, since); !errors.Is(err, social.ErrPermanent) {
		t.Errorf("without an idempotency key: %v, want ErrPermanent", err)
	}
}
