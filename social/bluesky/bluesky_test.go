package bluesky_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/bluesky"
)

func TestServer(t *testing.T) {
	strict := bluesky.New(bluesky.Options{})
	loose := bluesky.New(bluesky.Options{AllowHTTP: true})
	for _, tc := range []struct {
		n    *bluesky.Network
		in   string
		want string // "" means an error
	}{
		{strict, "", "https://bsky.social"},
		{strict, "  ", "https://bsky.social"},
		{strict, "bsky.social", "https://bsky.social"},
		{strict, "https://PDS.Example.com/", "https://pds.example.com"},
		{strict, "https://pds.example.com:8443", "https://pds.example.com:8443"},
		{strict, "http://pds.example.com", ""},
		{loose, "http://127.0.0.1:2583", "http://127.0.0.1:2583"},
		{strict, "https://user:pw@pds.example.com", ""},
		{strict, "https://bsky.app/profile/alice.bsky.social", ""},
		{strict, "https://bsky.social/?x=1", ""},
		{strict, "ftp://bsky.social", ""},
	} {
		got, err := tc.n.Server(tc.in)
		if tc.want == "" && err == nil {
			t.Errorf("Server(%q) = %q, want an error", tc.in, got)
		}
		if tc.want != "" && (err != nil || got != tc.want) {
			t.Errorf("Server(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

var tidRE = regexp.MustCompile(`^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`)

// tidTime decodes a TID's timestamp.
func tidTime(t *testing.T, tid string) time.Time {
	t.Helper()
	var v uint64
	for _, c := range tid {
		i := strings.IndexRune("234567abcdefghijklmnopqrstuvwxyz", c)
		if i < 0 {
			t.Fatalf("%q is not base32-sortable", tid)
		}
		v = v<<5 | uint64(i)
	}
	return time.UnixMicro(int64(v >> 10)).UTC()
}

func TestRecordKey(t *testing.T) {
	// Frozen: a changed derivation would let a retry that straddles an
	// upgrade post twice.
	for key, want := range map[string]string{
		"share-1":                    "3jom7yjre6spg",
		"q3ffu7bzhmdlmhc2hawbaqcxxa": "3jwhdvrezvqjs",
	} {
		if got := bluesky.RecordKey(key); got != want {
			t.Errorf("RecordKey(%q) = %q, want %q", key, got, want)
		}
	}
	from := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add((1 << 45) * time.Microsecond)
	seen := map[string]string{}
	for i := range 20000 {
		key := fmt.Sprintf("share-%d", i)
		k := bluesky.RecordKey(key)
		if !tidRE.MatchString(k) {
			t.Fatalf("RecordKey(%q) = %q, not a TID", key, k)
		}
		if at := tidTime(t, k); at.Before(from) || !at.Before(to) {
			t.Fatalf("RecordKey(%q) = %q dates from %v, want within [%v, %v)", key, k, at, from, to)
		}
		if other, dup := seen[k]; dup {
			t.Fatalf("RecordKey(%q) = RecordKey(%q) = %q", key, other, k)
		}
		seen[k] = key
	}
}

// fakePDS answers getSession for did:plc:alice and hands putRecord and
// deleteRecord to h: the failures a real PDS cannot be made to produce
// on demand.
func fakePDS(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/xrpc/com.atproto.server.getSession" {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"did":"did:plc:alice","handle":"alice.test","active":true}`)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func xrpcError(status int, name, message string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":%q,"message":%q}`, name, message)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	n := bluesky.New(bluesky.Options{AllowHTTP: true, Now: func() time.Time { return now }})
	keyed := social.Post{Text: "hi", IdempotencyKey: "share-1"}
	unkeyed := social.Post{Text: "hi"}
	for _, tc := range []struct {
		name       string
		h          http.HandlerFunc
		server     string
		post       social.Post
		class      error
		status     int
		retryAfter time.Duration
		message    string
	}{
		{name: "rate limited", post: keyed, class: social.ErrRetryLater, status: 429, retryAfter: 90 * time.Second,
			h:       xrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded", "RateLimit-Reset", fmt.Sprint(now.Add(90*time.Second).Unix())),
			message: "Rate Limit Exceeded"},
		{name: "retry-after wins", post: keyed, class: social.ErrRetryLater, status: 429, retryAfter: 30 * time.Second,
			h: xrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded", "Retry-After", "30", "RateLimit-Reset", fmt.Sprint(now.Add(90*time.Second).Unix()))},
		{name: "unavailable", post: keyed, class: social.ErrRetryLater, status: 503, h: xrpcError(503, "UpstreamFailure", "down")},
		{name: "gateway error without key", post: unkeyed, class: social.ErrAmbiguous, status: 502, h: xrpcError(502, "UpstreamFailure", "bad gateway")},
		{name: "invalid record", post: keyed, class: social.ErrPermanent, status: 400,
			h:       xrpcError(400, "InvalidRequest", "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"),
			message: "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes"},
		{name: "too large", post: keyed, class: social.ErrPermanent, status: 413, h: xrpcError(413, "PayloadTooLarge", "request entity too large")},
		{name: "expired token", post: keyed, class: social.ErrReconnect, status: 400, h: xrpcError(400, "ExpiredToken", "Token has expired")},
		{name: "taken down", post: keyed, class: social.ErrReconnect, status: 401, h: xrpcError(401, "AccountTakedown", "Account has been taken down")},
		{name: "server down", server: "http://127.0.0.1:1", post: keyed, class: social.ErrRetryLater},
		{name: "text too long", post: social.Post{Text: strings.Repeat("é", bluesky.MaxGraphemes+1)}, class: social.ErrPermanent,
			h: func(http.ResponseWriter, *http.Request) { t.Error("a text too long was sent") }},
		// 150 graphemes of 25 bytes each.
		{name: "text too large", post: social.Post{Text: strings.Repeat("👨‍👩‍👧‍👦", 150)}, class: social.ErrPermanent,
			h: func(http.ResponseWriter, *http.Request) { t.Error("a text too large was sent") }, message: "the text takes 3750 bytes; Bluesky allows 3000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server := tc.server
			if server == "" {
				server = fakePDS(t, tc.h)
			}
			_, err := n.Publish(t.Context(), social.Account{Server: server, AccessToken: "t"}, tc.post)
			var e *social.Error
			if !errors.As(err, &e) {
				t.Fatalf("Publish error = %v, want *social.Error", err)
			}
			if !errors.Is(err, tc.class) || e.Status != tc.status || e.RetryAfter != tc.retryAfter ||
				(tc.message != "" && e.Message != tc.message) || e.Network != social.Bluesky || e.Op != "publish" {
				t.Errorf("Publish error = %+v, want class %v, status %d, retry after %v, message %q", e, tc.class, tc.status, tc.retryAfter, tc.message)
			}
		})
	}
}

func TestTimeoutAfterSendingIsAmbiguous(t *testing.T) {
	release := make(chan struct{})
	// getSession answers; putRecord is read and never answered.
	server := fakePDS(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) }) // before the server closes
	n := bluesky.New(bluesky.Options{AllowHTTP: true, HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
	a := social.Account{Server: server, AccessToken: "t"}
	for _, p := range []social.Post{{Text: "hi", IdempotencyKey: "share-1"}, {Text: "hi"}} {
		if _, err := n.Publish(t.Context(), a, p); !errors.Is(err, social.ErrAmbiguous) {
			t.Errorf("Publish(%+v) after a timeout: %v, want ErrAmbiguous", p, err)
		}
	}
	// A delete can be repeated: a timeout is retry-later.
	if err := n.Delete(t.Context(), a, "at://did:plc:alice/app.bsky.feed.post/3jxgvakv6x2zm"); !errors.Is(err, social.ErrRetryLater) {
		t.Errorf("Delete after a timeout: %v, want ErrRetryLater", err)
	}
}

func TestDeleteRefusesOtherURIs(t *testing.T) {
	server := fakePDS(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("%s was sent", r.URL.Path) })
	n := bluesky.New(bluesky.Options{AllowHTTP: true})
	a := social.Account{Server: server, AccessToken: "t"}
	for _, id := range []string{
		"at://did:plc:bob/app.bsky.feed.post/3jxgvakv6x2zm", // another account's
		"at://did:plc:alice/app.bsky.feed.like/3jxgvakv6x2zm",
		"https://bsky.app/profile/alice.test/post/3jxgvakv6x2zm",
		"at://did:plc:alice/app.bsky.feed.post/",
		"",
	} {
		if err := n.Delete(t.Context(), a, id); !errors.Is(err, social.ErrPermanent) {
			t.Errorf("Delete(%q) = %v, want ErrPermanent", id, err)
		}
	}
}

// Metrics follow app.bsky.feed.getPosts as the AppView answers it
// (through the PDS): likes, replies, reposts + quotes.
func TestMetricsFromTheAppView(t *testing.T) {
	uri := "at://did:plc:alice/app.bsky.feed.post/3kabc"
	server := fakePDS(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/xrpc/app.bsky.feed.getPosts" || r.Header.Get("Authorization") != "Bearer t" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("uris") != uri {
			fmt.Fprint(w, `{"posts":[]}`)
			return
		}
		fmt.Fprintf(w, `{"posts":[{"uri":%q,"cid":"bafy","author":{"did":"did:plc:alice","handle":"alice.test"},"record":{},
			"replyCount":2,"repostCount":3,"likeCount":7,"quoteCount":1,"indexedAt":"2026-11-23T10:00:00.000Z"}]}`, uri)
	})
	n := bluesky.New(bluesky.Options{AllowHTTP: true})
	a := social.Account{Server: server, AccessToken: "t"}
	e, err := n.Metrics(t.Context(), a, uri)
	if err != nil || e != (social.Engagement{Reactions: 7, Comments: 2, Reposts: 4}) {
		t.Errorf("Metrics = %+v, %v", e, err)
	}
	if _, err := n.Metrics(t.Context(), a, uri+"gone"); !errors.Is(err, social.ErrPermanent) {
		t.Errorf("Metrics of a deleted post: %v, want ErrPermanent", err)
	}
	limited := fakePDS(t, xrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded"))
	if _, err := n.Metrics(t.Context(), social.Account{Server: limited, AccessToken: "t"}, uri); !errors.Is(err, social.ErrRetryLater) {
		t.Errorf("Metrics when limited: %v, want ErrRetryLater", err)
	}
}
