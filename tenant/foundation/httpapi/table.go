package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Rule answers the errors it matches with one kind of problem: a row of a
// domain's error table. The code is stable (clients switch on it), and
// every code of every table is in the OpenAPI document's enum and in
// docs/api.md.
type Rule struct {
	// Err is the sentinel the rule matches with errors.Is. A typed rule
	// (Typed) matches by type instead.
	Err    error
	Status int
	Code   string
	// Detail is the problem's detail, unless Refine says more.
	Detail string
	// Refine, when set, completes the problem from the matched error: a
	// detail naming the culprit, field errors, Retry-After.
	Refine func(err error, p *Problem)

	is func(error) bool
}

// Typed returns r matching errors of type T (errors.As) instead of a
// sentinel; refine, when not nil, completes the problem from the error.
func Typed[T error](r Rule, refine func(e T, p *Problem)) Rule {
	r.is = func(err error) bool {
		var e T
		return errors.As(err, &e)
	}
	if refine != nil {
		r.Refine = func(err error, p *Problem) {
			var e T
			errors.As(err, &e)
			refine(e, p)
		}
	}
	return r
}

func (r Rule) matches(err error) bool {
	if r.is != nil {
		return r.is(err)
	}
	return r.Err != nil && errors.Is(err, r.Err)
}

// Problem returns the rule's problem for err.
func (r Rule) Problem(err error) *Problem {
	p := New(r.Status, r.Code, r.Detail)
	if r.Refine != nil {
		r.Refine(err, p)
	}
	return p
}

// Table is a domain's error table, walked in order: the first rule that
// matches answers.
type Table []Rule

// Problem returns the problem of the first rule matching err, or nil.
func (t Table) Problem(err error) *Problem {
	for _, r := range t {
		if r.matches(err) {
			return r.Problem(err)
		}
	}
	return nil
}

// ProblemOf is the problem that answers err: a *Problem anywhere in the
// chain as it is, else the first match in tables, walked in order, else
// nil (an internal error).
func ProblemOf(err error, tables ...Table) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	for _, t := range tables {
		if p := t.Problem(err); p != nil {
			return p
		}
	}
	return nil
}

// Conventions are the problems of the HTTP conventions themselves —
// sign-in, roles, routing, request bodies and queries, start-up — which
// every domain's table extends.
var Conventions = []*Problem{
	ErrUnauthenticated, ErrForbidden, ErrNotFound, ErrMethodNotAllowed, ErrCrossOrigin,
	errInvalid, errMalformedJSON, errMalformedQuery, errBodyTooLarge, errUnsupportedMediaType,
	errUnsupportedEncoding, Internal, ErrStarting, ErrNotReady,
}

// Problems of the conventions, each declared once; With gives one a
// detail of its own.
var (
	ErrUnauthenticated  = New(http.StatusUnauthorized, "unauthenticated", "sign in first")
	ErrForbidden        = New(http.StatusForbidden, "forbidden", "your role does not allow this")
	ErrNotFound         = New(http.StatusNotFound, "not_found", "no such object")
	ErrMethodNotAllowed = New(http.StatusMethodNotAllowed, "method_not_allowed", "this resource does not accept this method")
	// ErrCrossOrigin: a cross-site request that would change something.
	ErrCrossOrigin = New(http.StatusForbidden, "cross_origin_request", "cross-site requests cannot change anything")
	// ErrStarting: the process is starting (migrations may be running).
	ErrStarting = &Problem{Type: TypePrefix + "starting", Title: http.StatusText(http.StatusServiceUnavailable),
		Status: http.StatusServiceUnavailable, Code: "starting", RetryAfter: 5 * time.Second,
		Detail: "Chorus is starting (migrations may be running; the log says which)"}
	// ErrNotReady: a server Chorus needs does not answer (/readyz).
	ErrNotReady = New(http.StatusServiceUnavailable, "not_ready", "a server Chorus needs did not answer")

	errInvalid              = New(http.StatusBadRequest, "validation_failed", "the request has invalid fields")
	errMalformedJSON        = New(http.StatusBadRequest, "malformed_json", "the body is not valid JSON for this request")
	errMalformedQuery       = New(http.StatusBadRequest, "malformed_query", "the query string does not parse")
	errBodyTooLarge         = New(http.StatusRequestEntityTooLarge, "body_too_large", "the request body is too large")
	errUnsupportedMediaType = New(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
	errUnsupportedEncoding  = New(http.StatusUnsupportedMediaType, "unsupported_content_encoding", "send the body without Content-Encoding")
)

// Internal is the only thing a 5xx body says; the log has the details.
var Internal = New(http.StatusInternalServerError, "internal", "internal error")

// ErrorDetail makes the matched error's own text the problem's detail (a
// Rule's Refine).
func ErrorDetail(err error, p *Problem) { p.Detail = err.Error() }

// With returns a copy of p with detail as its detail.
func (p *Problem) With(detail string) *Problem {
	out := *p
	out.Detail = detail
	out.Errors = nil
	return &out
}

// Withf is With with a formatted detail.
func (p *Problem) Withf(format string, args ...any) *Problem {
	return p.With(fmt.Sprintf(format, args...))
}
