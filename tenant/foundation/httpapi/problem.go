// Package api holds the HTTP conventions every Chorus domain shares: RFC 9457
// problem documents, strict JSON request bodies, list envelopes and the
// request ID. It imports nothing of Chorus, so every domain can use it.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem document. It is an error, so handlers and
// services can return it as is; Code is the stable, snake_case identifier
// clients switch on.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail"`
	Code      string       `json:"code"`
	Errors    []FieldError `json:"errors,omitempty"`
	RequestID string       `json:"request_id,omitempty"`

	// RetryAfter, when positive, is sent as the Retry-After header.
	RetryAfter time.Duration `json:"-"`
}

// TypePrefix prefixes a problem's code to form its type URI.
const TypePrefix = "urn:chorus:problem:"

// New returns a problem with the given status, stable code and detail.
// Codes are declared once, in an error table (Rule) or among the
// Conventions; code elsewhere returns the table's error, or a declared
// problem With a detail of its own.
func New(status int, code, detail string) *Problem {
	return &Problem{
		Type:   TypePrefix + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// Invalid returns the 400 validation_failed problem for the given fields.
func Invalid(errs ...FieldError) *Problem {
	p := errInvalid.With(errInvalid.Detail)
	if len(errs) == 1 {
		p.Detail = errs[0].Field + ": " + errs[0].Message
	}
	p.Errors = errs
	return p
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail)
}

// Write sends p as application/problem+json and aborts the Gin chain.
func Write(c *gin.Context, p *Problem) {
	out := stamped(c.Writer.Header(), c.Request, p)
	c.Render(out.Status, problemRender{out})
	c.Abort()
}

// Serve sends p as application/problem+json from a handler outside Gin
// (the cross-origin guard, the start gate).
func Serve(w http.ResponseWriter, r *http.Request, p *Problem) {
	out := stamped(w.Header(), r, p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(out.Status)
	problemRender{out}.Render(w)
}

// stamped is p with the request's ID, its Retry-After and Cache-Control
// set in h.
func stamped(h http.Header, r *http.Request, p *Problem) *Problem {
	out := *p
	out.RequestID = RequestID(r.Context())
	if out.RetryAfter > 0 {
		secs := int((out.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	h.Set("Cache-Control", "no-store")
	return &out
}

// Respond writes err as a problem: a *Problem anywhere in the chain as it
// is, else the first match in tables (the domain's, walked in order);
// anything left is logged once with the request's IDs and answered with a
// bare 500.
func Respond(c *gin.Context, log *slog.Logger, err error, tables ...Table) {
	if p := ProblemOf(err, tables...); p != nil {
		Write(c, p)
		return
	}
	ctx := c.Request.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client went away; nobody reads the answer.
		c.Abort()
		return
	}
	log.ErrorContext(ctx, "request failed", "method", c.Request.Method, "route", c.FullPath(), "err", err)
	Write(c, Internal)
}
