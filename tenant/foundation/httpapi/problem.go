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
func New(status int, code, detail string) *Problem {
	return &Problem{
		Type:   TypePrefix + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// Newf is New with a formatted detail.
func Newf(status int, code, format string, args ...any) *Problem {
	return New(status, code, fmt.Sprintf(format, args...))
}

// Invalid returns the 400 validation_failed problem for the given fields.
func Invalid(errs ...FieldError) *Problem {
	p := New(http.StatusBadRequest, "validation_failed", "the request has invalid fields")
	if len(errs) == 1 {
		p.Detail = errs[0].Field + ": " + errs[0].Message
	}
	p.Errors = errs
	return p
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail)
}

// Common problems.
var (
	ErrUnauthenticated = New(http.StatusUnauthorized, "unauthenticated", "sign in first")
	ErrForbidden       = New(http.StatusForbidden, "forbidden", "your role does not allow this")
	ErrNotFound        = New(http.StatusNotFound, "not_found", "no such object")
)

// Internal is the only thing a 5xx body says; the log has the details.
var Internal = New(http.StatusInternalServerError, "internal", "internal error")

// Write sends p as application/problem+json and aborts the Gin chain.
func Write(c *gin.Context, p *Problem) {
	out := *p
	out.RequestID = RequestID(c.Request.Context())
	if out.RetryAfter > 0 {
		secs := int((out.RetryAfter + time.Second - 1) / time.Second)
		c.Header("Retry-After", strconv.Itoa(secs))
	}
	c.Header("Cache-Control", "no-store")
	c.Render(out.Status, problemRender{&out})
	c.Abort()
}

// Respond writes err as a problem. A *Problem anywhere in the chain is sent
// as is; otherwise mapErr may translate domain errors; anything left is
// logged once with the request's IDs and answered with a bare 500.
func Respond(c *gin.Context, log *slog.Logger, err error, mapErr func(error) *Problem) {
	var p *Problem
	if errors.As(err, &p) {
		Write(c, p)
		return
	}
	if mapErr != nil {
		if p = mapErr(err); p != nil {
			Write(c, p)
			return
		}
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
