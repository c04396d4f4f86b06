package networktest

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
)

// NewConnector builds a connector with build (x.New…) from opts, changed
// by mod if it is not nil, and fails the test if build refuses them.
func NewConnector[O, N any](t testing.TB, build func(O) (N, error), opts O, mod func(*O)) N {
	t.Helper()
	if mod != nil {
		mod(&opts)
	}
	n, err := build(opts)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Login runs the authorisation code flow of cfg against a fake as the
// member's browser and the social service would: the fake's authorisation
// page approves at once, and the code it redirects with, next to the
// state, is exchanged for the token Login returns. With pkce the flow
// carries an S256 challenge and its verifier.
func Login(t testing.TB, cfg *oauth2.Config, pkce bool) *oauth2.Token {
	t.Helper()
	var authorize, exchange []oauth2.AuthCodeOption
	if pkce {
		verifier := oauth2.GenerateVerifier()
		authorize = append(authorize, oauth2.S256ChallengeOption(verifier))
		exchange = append(exchange, oauth2.VerifierOption(verifier))
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := browser.Get(cfg.AuthCodeURL("st", authorize...))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if loc.Query().Get("state") != "st" || loc.Query().Get("code") == "" {
		t.Fatalf("authorisation page answered %d, redirect %q; want a code and the state", res.StatusCode, loc)
	}
	tok, err := cfg.Exchange(t.Context(), loc.Query().Get("code"), exchange...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// PublishFailure is a way publishing must fail, and how the connector
// must classify it.
type PublishFailure struct {
	Name    string
	Setup   func()          // flips the fake's switches first, if set
	Account *social.Account // instead of the connected account, if set
	Network social.Network  // instead of the connector under test, if set
	Text    string          // "" is "hello " and the name
	// Class, Status and RetryAfter are the *social.Error's; Message is a
	// part of its message.
	Class      error
	Status     int
	RetryAfter time.Duration
	Message    string
}

// CheckPublishFailures publishes each case's text with link (if any) as a
// with n, one case after the other, and checks that the publication fails
// as the case says.
func CheckPublishFailures(t *testing.T, n social.Network, a social.Account, link string, cases []PublishFailure) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			if tc.Setup != nil {
				tc.Setup()
			}
			acct, net, text := a, n, tc.Text
			if tc.Account != nil {
				acct = *tc.Account
			}
			if tc.Network != nil {
				net = tc.Network
			}
			if text == "" {
				text = "hello " + tc.Name
			}
			_, err := net.Publish(t.Context(), acct, social.Post{Text: text, Link: link})
			var e *social.Error
			if !errors.As(err, &e) {
				t.Fatalf("Publish error = %v, want *social.Error", err)
			}
			if !errors.Is(err, tc.Class) || e.Status != tc.Status || e.RetryAfter != tc.RetryAfter || !strings.Contains(e.Message, tc.Message) {
				t.Errorf("Publish error = %+v, want class %v, status %d, retry after %v, message with %q", e, tc.Class, tc.Status, tc.RetryAfter, tc.Message)
			}
		})
	}
}

// CheckDeleteAndRevoke deletes the post remoteID with n, which the fake
// must then show as deleted, and deletes it again, which must succeed (a
// post already gone is not an error). It then revokes a, which the fake
// must have seen, after which reading the profile must be ErrReconnect.
func CheckDeleteAndRevoke(t testing.TB, n social.Network, a social.Account, remoteID string, deleted, revoked func() bool) {
	t.Helper()
	ctx := t.Context()
	if err := n.Delete(ctx, a, remoteID); err != nil {
		t.Fatal(err)
	}
	if !deleted() {
		t.Error("post not deleted")
	}
	if err := n.Delete(ctx, a, remoteID); err != nil {
		t.Errorf("deleting a deleted post: %v, want nil", err)
	}
	if err := n.Revoke(ctx, a); err != nil {
		t.Fatal(err)
	}
	if !revoked() {
		t.Error("access not revoked at the network")
	}
	if _, err := n.Profile(ctx, a); !errors.Is(err, social.ErrReconnect) {
		t.Errorf("profile after revocation: %v, want ErrReconnect", err)
	}
}

// Lookup is a post FindPost is asked for, and what it must answer.
type Lookup struct {
	Name  string
	Link  string // the post's tracked link
	Since time.Time
	Found bool
	Want  *social.Published // the post found, if set
	Pages int               // listing requests FindPost makes
}

// CheckFindPost asks n for each case's post as a, one case after the
// other, and checks its answer and, with listings (the listing requests
// the fake has received so far), how many pages it read.
func CheckFindPost(t *testing.T, n social.PostFinder, a social.Account, listings func() int, cases []Lookup) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			before := listings()
			pub, found, err := n.FindPost(t.Context(), a, social.Post{Text: "whatever", Link: tc.Link}, tc.Since)
			if err != nil || found != tc.Found {
				t.Fatalf("FindPost = %+v, %t, %v; want found %t", pub, found, err, tc.Found)
			}
			if tc.Want != nil {
				if diff := cmp.Diff(pub, *tc.Want); diff != "" {
					t.Errorf("found post (-got +want):\n%s", diff)
				}
			}
			if got := listings() - before; got != tc.Pages {
				t.Errorf("%d listing pages read, want %d", got, tc.Pages)
			}
		})
	}
}

// CheckStalledPublish publishes post as a with n, a connector whose HTTP
// client gives up soon, while the fake records the post and never answers
// (its stall switch is on). The publication must be ErrAmbiguous, and
// posts, what the fake holds, must count the one post.
func CheckStalledPublish(t testing.TB, n social.Network, a social.Account, post social.Post, posts func() int) {
	t.Helper()
	if _, err := n.Publish(t.Context(), a, post); !errors.Is(err, social.ErrAmbiguous) {
		t.Errorf("Publish error = %v, want ErrAmbiguous", err)
	}
	if got := posts(); got != 1 {
		t.Errorf("%d posts exist, want the one the network accepted", got)
	}
}

// CheckLongestText publishes, with link, the longest text of repeated
// "a" that Chorus's length check accepts for network on an account whose
// limit is max (0: the network's default), and expects the network to
// take it: what the composer lets through, the network must accept.
func CheckLongestText(t *testing.T, n social.Network, a social.Account, network, link string, max int) {
	t.Helper()
	text := ""
	for i := 10000; i > 0; i-- {
		if content.CheckShareText(network, strings.Repeat("a", i), max) == nil {
			text = strings.Repeat("a", i)
			break
		}
	}
	if text == "" {
		t.Fatalf("no text fits %s", network)
	}
	if _, err := n.Publish(t.Context(), a, social.Post{Text: text, Link: link}); err != nil {
		t.Errorf("publishing the longest text the check accepts (%d characters): %v", len(text), err)
	}
}
