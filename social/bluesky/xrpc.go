package bluesky

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chorushq/chorus/social"
)

// call is one XRPC request.
type call struct {
	// post: a procedure (POST with an optional JSON body); else a query
	// (GET).
	post  bool
	nsid  string
	query url.Values
	body  any
	token string
	// publish: the call posts, so a failure after sending is ambiguous:
	// the post may exist, and Chorus never re-posts on its own. keyed: the
	// post's record key comes from its idempotency key, so once the server
	// answered, even with a 5xx, a repeat cannot duplicate the post (it
	// finds it). The other procedures Chorus calls are safe to repeat:
	// createSession, deleteRecord, deleteSession, and refreshSession (the
	// PDS answers a refresh token reused within two hours with the same
	// successor).
	publish, keyed bool
}

// failure is a failed call before it is classified: the server's XRPC
// error, or a transport error.
type failure struct {
	status     int
	name       string // the XRPC error name: ExpiredToken, InvalidRequest…
	message    string
	retryAfter time.Duration
	err        error
	// sent: the request was written, so the server may have acted on it.
	sent           bool
	publish, keyed bool
	// local: Chorus refused the request before sending it.
	local bool
}

func (f *failure) Error() string {
	switch {
	case f.err != nil && f.status != 0:
		return fmt.Sprintf("HTTP %d: %v", f.status, f.err)
	case f.err != nil:
		return f.err.Error()
	}
	return fmt.Sprintf("HTTP %d %s: %s", f.status, f.name, f.message)
}

func (f *failure) Unwrap() error { return f.err }

// auth reports a refusal of the token: 401, or 400 ExpiredToken or
// InvalidToken (the PDS answers a bad or expired JWT with 400).
func (f *failure) auth() bool {
	return f.err == nil && (f.status == http.StatusUnauthorized ||
		f.status == http.StatusBadRequest && (f.name == "ExpiredToken" || f.name == "InvalidToken"))
}

// classify turns a call's failure into the *social.Error of op. Other
// errors (already classified, or the caller's context) pass unchanged.
func classify(op string, err error) error {
	var f *failure
	if !errors.As(err, &f) {
		return err
	}
	e := &social.Error{Network: social.Bluesky, Op: op, Status: f.status, Message: f.message, Err: f.err}
	if e.Message == "" {
		e.Message = f.name
	}
	switch s := f.status; {
	case f.local:
		e.Class = social.ErrPermanent
	case f.err != nil:
		// No answer, or an unreadable one: the write may have happened.
		e.Class = social.ErrRetryLater
		if f.sent && f.publish {
			e.Class = social.ErrAmbiguous
		}
	case f.auth():
		e.Class = social.ErrReconnect
	case s >= 500 && f.publish && !f.keyed:
		// A gateway's 502 or 504 may come after the PDS posted.
		e.Class = social.ErrAmbiguous
	case s == http.StatusTooManyRequests || s >= 500 || s == http.StatusRequestTimeout:
		e.Class, e.RetryAfter = social.ErrRetryLater, f.retryAfter
	default:
		// 400 InvalidRequest (a record the lexicon refuses, a bad
		// parameter), 403, 404, 413…
		e.Class = social.ErrPermanent
	}
	return e
}

// xrpc sends c to server and decodes a 200 answer into out. It returns a
// *failure, or the context's error when the caller gave up.
func (n *Network) xrpc(ctx context.Context, server string, c call, out any) error {
	u := server + "/xrpc/" + c.nsid
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	method := http.MethodGet
	var body []byte
	if c.post {
		method = http.MethodPost
		if c.body != nil {
			var err error
			if body, err = json.Marshal(c.body); err != nil {
				return fmt.Errorf("encode %s: %w", c.nsid, err)
			}
		}
	}
	// sent records whether the request left: a failure after that may have
	// reached the server.
	var sent atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent.Store(true) }})
	req, err := n.api.NewRequest(ctx, social.Request{Method: method, URL: u, Token: c.token, JSON: body})
	if err != nil {
		return &failure{local: true, message: "bad server URL", err: err}
	}
	fail := func(status int, err error) error {
		return &failure{status: status, err: err, sent: sent.Load() || status != 0, publish: c.publish, keyed: c.keyed}
	}
	res, err := n.api.Client.Do(req)
	if err != nil {
		return fail(0, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, social.MaxBody))
	if err != nil {
		return fail(res.StatusCode, err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		json.Unmarshal(b, &e)
		return &failure{status: res.StatusCode, name: e.Error, message: e.Message, sent: true,
			publish: c.publish, keyed: c.keyed, retryAfter: retryAfter(res.Header, n.opts.Now())}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fail(res.StatusCode, fmt.Errorf("unreadable answer to %s: %w", c.nsid, err))
		}
	}
	return nil
}

// retryAfter reads Retry-After (seconds or a date), else the
// RateLimit-Reset that AT Protocol servers send (a Unix time in seconds);
// zero if neither says.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if wait, ok := social.RetryAfter(h, now); ok {
		return wait
	}
	if v := h.Get("RateLimit-Reset"); v != "" {
		if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && secs > 0 {
			return max(time.Unix(secs, 0).Sub(now), 0)
		}
	}
	return 0
}

// claims are the parts of a session JWT Chorus reads, without verifying
// it: the PDS verifies its tokens; Chorus only schedules refreshes by exp
// and tells an app password's session from the account password's.
type claims struct {
	Sub   string `json:"sub"`
	Scope string `json:"scope"`
	Exp   int64  `json:"exp"`
}

func decodeJWT(token string) (claims, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims{}, false
	}
	var c claims
	if json.Unmarshal(b, &c) != nil {
		return claims{}, false
	}
	return c, true
}
