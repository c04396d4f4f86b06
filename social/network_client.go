package social

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// MaxBody bounds what Chorus reads of a network's answer.
const MaxBody = 1 << 20

// API is a connector's client of its network's HTTP API: it builds the
// requests, sends them through the client cmd hands the connector (the
// guarded one) and classifies their failures as *Error. NewAPI makes one.
type API struct {
	// Network names the network in errors (one of Names).
	Network   string
	Client    *http.Client
	UserAgent string
	// Refused classifies an answer of status 300 or more from its body
	// (at most MaxBody bytes), where the network explains itself. It
	// usually starts from Refusal. Do needs it; a connector that reads
	// its answers itself leaves it nil.
	Refused func(op string, res *http.Response, body []byte) *Error
}

// NewAPI returns network's API through client (nil: a client with a 30 s
// timeout) as userAgent ("": "Chorus"), whose refusals refused classifies.
func NewAPI(network string, client *http.Client, userAgent string,
	refused func(op string, res *http.Response, body []byte) *Error) API {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	if userAgent == "" {
		userAgent = "Chorus"
	}
	return API{Network: network, Client: client, UserAgent: userAgent, Refused: refused}
}

// BaseURL is a connector's endpoint option: configured without a
// trailing slash, or production when configured is empty.
func BaseURL(configured, production string) string {
	if configured == "" {
		configured = production
	}
	return strings.TrimSuffix(configured, "/")
}

// Request is one request of a connector to its network.
type Request struct {
	// Op is what the request is for (profile, publish…): its errors' Op.
	Op     string
	Method string
	URL    string
	// Token, when not empty, is sent as a bearer token.
	Token string
	// Header is sent too; NewRequest sets Accept, User-Agent,
	// Authorization and Content-Type over it.
	Header http.Header
	// The body: JSON when not nil (application/json), else Form when not
	// nil (application/x-www-form-urlencoded).
	JSON []byte
	Form url.Values
}

// NewRequest builds r: its header and body, Accept: application/json,
// Chorus's User-Agent and r.Token as a bearer token. It fails only on a
// URL that does not parse.
func (a API) NewRequest(ctx context.Context, r Request) (*http.Request, error) {
	var body io.Reader
	contentType := ""
	switch {
	case r.JSON != nil:
		body, contentType = bytes.NewReader(r.JSON), "application/json"
	case r.Form != nil:
		body, contentType = strings.NewReader(r.Form.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", a.UserAgent)
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	return req, nil
}

// Do sends r and decodes the body of a successful answer (status below
// 300) into out unless out is nil; it returns the answer's header. Its
// errors are *Error of a.Network and r.Op, but for a context cancelled
// before sending, which comes back as is:
//   - a request that cannot be built is ErrPermanent;
//   - one that fails in transit, or whose answer is cut off, is classified
//     by whether it had left (see send);
//   - an answer of status 300 or more is what a.Refused makes of it;
//   - a successful answer whose body does not decode is ErrRetryLater for
//     a GET and ErrAmbiguous for anything else, which the network may
//     have carried out.
func (a API) Do(ctx context.Context, r Request, out any) (http.Header, error) {
	fail := func(class error, status int, msg string, err error) *Error {
		return &Error{Network: a.Network, Op: r.Op, Class: class, Status: status, Message: msg, Err: err}
	}
	req, err := a.NewRequest(ctx, r)
	if err != nil {
		return nil, fail(ErrPermanent, 0, "bad request URL", err)
	}
	res, b, err := a.send(req, r.Op)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 300 {
		return nil, a.Refused(r.Op, res, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			class := ErrRetryLater
			if r.Method != http.MethodGet {
				class = ErrAmbiguous
			}
			return nil, fail(class, res.StatusCode, "unreadable answer", err)
		}
	}
	return res.Header, nil
}

// send sends req and reads the answer, up to MaxBody bytes. What it
// cannot deliver it classifies by whether the request had left: failing
// before that is ErrRetryLater; failing after it was written — or a
// success whose body was cut off — is ErrAmbiguous for a request that
// changes something (the network may have acted), and ErrRetryLater for
// a GET. A context cancelled before sending comes back as is. Errors are
// *Error of a.Network and op; the caller classifies the status codes of
// the answers it does get.
func (a API) send(req *http.Request, op string) (*http.Response, []byte, error) {
	fail := func(class error, status int, err error) *Error {
		return &Error{Network: a.Network, Op: op, Class: class, Status: status, Err: err}
	}
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(),
		&httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }}))
	changes := req.Method != http.MethodGet && req.Method != http.MethodHead
	res, err := a.Client.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) && !wrote.Load() {
			return nil, nil, err
		}
		if wrote.Load() && changes {
			return nil, nil, fail(ErrAmbiguous, 0, err)
		}
		return nil, nil, fail(ErrRetryLater, 0, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxBody))
	if err != nil {
		if changes && res.StatusCode < 300 {
			return res, nil, fail(ErrAmbiguous, res.StatusCode, err)
		}
		return res, nil, fail(ErrRetryLater, res.StatusCode, err)
	}
	return res, b, nil
}

// Refusal is the *Error of an answer of status 300 or more as most
// networks mean it, msg being the network's own explanation: 401 is
// ErrReconnect (the token is refused); 429, 408 and 5xx are
// ErrRetryLater, to which the connector adds how long to wait; anything
// else is ErrPermanent.
func (a API) Refusal(op string, status int, msg string) *Error {
	e := &Error{Network: a.Network, Op: op, Class: ErrPermanent, Status: status, Message: msg}
	switch {
	case status == http.StatusUnauthorized:
		e.Class = ErrReconnect
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		e.Class = ErrRetryLater
	}
	return e
}

// RetryAfter reads an answer's Retry-After header, in seconds or as an
// HTTP date (one past is zero). ok is false when the header is absent or
// unreadable: the network's own rate-limit headers may then say.
func RetryAfter(h http.Header, now time.Time) (wait time.Duration, ok bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
