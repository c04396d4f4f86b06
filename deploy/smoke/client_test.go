//go:build smoke

package smoke

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chorushq/chorus/social/mastodon/mastodontest"
)

// client is an outside client of a running Chorus: a browser-like cookie
// jar that follows no redirects.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}

// do sends a request, body as JSON unless nil; headers are name, value pairs.
func (c *client) do(method, path string, body any, headers ...string) response {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (c *client) must(want int, method, path string, body any, headers ...string) response {
	c.t.Helper()
	res := c.do(method, path, body, headers...)
	if res.status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, res.status, res.body, want)
	}
	return res
}

// signIn signs email in through the sign-in mail in the dev mailbox: the
// link's GET leads to the confirmation page, whose POST signs in.
func (c *client) signIn(email string) {
	c.t.Helper()
	c.must(http.StatusAccepted, "POST", "/api/v1/auth/email", map[string]string{"email": email})
	var box struct {
		Items []struct{ Link string } `json:"items"`
	}
	c.must(http.StatusOK, "GET", "/api/v1/dev/mail?to="+url.QueryEscape(email), nil).json(c.t, &box)
	if len(box.Items) == 0 {
		c.t.Fatalf("no sign-in mail for %s", email)
	}
	u, err := url.Parse(box.Items[0].Link)
	if err != nil {
		c.t.Fatal(err)
	}
	c.must(http.StatusSeeOther, "GET", u.RequestURI(), nil)
	c.must(http.StatusNoContent, "POST", "/api/v1/auth/email/callback", map[string]string{"token": u.Query().Get("token")})
}

// connectMastodon connects the member's account on the fake: the start,
// the member's approval at the server, the callback.
func (c *client) connectMastodon(fake *mastodontest.Server) string {
	c.t.Helper()
	var out struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	c.must(http.StatusOK, "POST", "/api/v1/connections/mastodon/start", map[string]string{"instance_url": fake.URL}).json(c.t, &out)
	r, err := c.http.Get(out.AuthorizeURL)
	if err != nil {
		c.t.Fatal(err)
	}
	r.Body.Close()
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Host != strings.TrimPrefix(c.base, "http://") {
		c.t.Fatalf("the network sent the member to %q", r.Header.Get("Location"))
	}
	c.must(http.StatusSeeOther, "GET", loc.RequestURI(), nil)
	var conns struct{ Items []struct{ ID, Status string } }
	c.must(http.StatusOK, "GET", "/api/v1/connections", nil).json(c.t, &conns)
	if len(conns.Items) == 0 || conns.Items[0].Status != "active" {
		c.t.Fatalf("connections after the callback: %+v", conns.Items)
	}
	return conns.Items[0].ID
}

type share struct {
	ID, State, Error string
	PostURL          string `json:"post_url"`
}

// shareState returns the member's share id as the API lists it.
func (c *client) shareState(id string) share {
	c.t.Helper()
	var list struct{ Items []share }
	c.must(http.StatusOK, "GET", "/api/v1/shares", nil).json(c.t, &list)
	for _, s := range list.Items {
		if s.ID == id {
			return s
		}
	}
	c.t.Fatalf("share %s is not listed", id)
	return share{}
}

// waitPublished waits until the share is published and returns it.
func (c *client) waitPublished(id string, within time.Duration) share {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := c.shareState(id)
		switch {
		case s.State == "published":
			return s
		case s.State == "failed" || s.State == "cancelled":
			c.t.Fatalf("share %s ended %s: %s", id, s.State, s.Error)
		case time.Now().After(deadline):
			c.t.Fatalf("share %s is still %s after %s", id, s.State, within)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// world is what one deployment's walk-through sets up: an admin of a
// verified instance with Mastodon allowed, an employee connected to it.
type world struct {
	admin, employee *client
	connID          string
}

// setUp signs in as an outside client would, verifies the domain through
// the operator API, allows Mastodon and connects an employee's account.
func setUp(t *testing.T, base, operatorToken string, fake *mastodontest.Server) world {
	t.Helper()
	admin := newClient(t, base)
	admin.signIn("alice@acme.example") // the founder: admin of acme.example
	admin.must(http.StatusOK, "POST", "/ops/v1/domains/acme.example/verify", map[string]string{"reason": "deploy smoke test"},
		"Authorization", "Bearer "+operatorToken)
	admin.must(http.StatusOK, "PUT", "/api/v1/networks/mastodon", nil)
	employee := newClient(t, base)
	employee.signIn("carol@acme.example")
	return world{admin: admin, employee: employee, connID: employee.connectMastodon(fake)}
}

// post publishes content with a Mastodon text and has the employee share
// it; it returns the share's ID.
func (w world) post(t *testing.T, title, text string) string {
	t.Helper()
	var p struct{ ID string }
	w.admin.must(http.StatusCreated, "POST", "/api/v1/content", map[string]any{"url": "https://example.com/" + url.PathEscape(title), "title": title,
		"share_texts": map[string]string{"mastodon": text}}).json(t, &p)
	var out struct{ Items []share }
	w.employee.must(http.StatusAccepted, "POST", "/api/v1/content/"+p.ID+"/shares", map[string]any{"connections": []string{w.connID}},
		"Idempotency-Key", fmt.Sprintf("smoke-%s-%d", p.ID, time.Now().UnixNano())).json(t, &out)
	if len(out.Items) != 1 {
		t.Fatalf("shares made: %+v", out.Items)
	}
	return out.Items[0].ID
}

// statuses counts the fake's statuses with this text.
func statuses(fake *mastodontest.Server, text string) int {
	n := 0
	for _, s := range fake.Statuses() {
		if strings.Contains(s.Text, text) {
			n++
		}
	}
	return n
}
