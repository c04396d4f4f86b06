package tenant

import (
	"errors"
	"strings"
	"time"
)

// Errors of sign-in and sessions.
var (
	// ErrInvalidToken: a sign-in link that is unknown, used or expired.
	ErrInvalidToken = errors.New("invalid or expired sign-in link")
	// ErrNoSession: no live session for the request.
	ErrNoSession = errors.New("no session")
	// ErrForbidden: the member's role does not allow the action.
	ErrForbidden = errors.New("forbidden")
)

// RateLimitError says a limit was reached and when to try again.
type RateLimitError struct {
	What       string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string { return "too many " + e.What }

// ValidationError names one invalid input field.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// ValidationErrors are all the invalid fields of one input.
type ValidationErrors []*ValidationError

func (es ValidationErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// ErrConflict: the object changed concurrently; reload and retry.
var ErrConflict = errors.New("conflicting concurrent change")
