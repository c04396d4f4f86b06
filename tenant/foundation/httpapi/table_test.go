package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"
)

type limitError struct{ wait time.Duration }

func (e *limitError) Error() string { return "too many" }

func TestTableAnswersTheFirstMatchingRule(t *testing.T) {
	errGone := errors.New("gone")
	errMissing := fmt.Errorf("missing: %w", errGone)
	table := Table{
		{Err: errMissing, Status: http.StatusNotFound, Code: "missing", Detail: "it is missing"},
		{Err: errGone, Status: http.StatusGone, Code: "gone", Detail: "it is gone", Refine: ErrorDetail},
		Typed(Rule{Status: http.StatusTooManyRequests, Code: "limited", Detail: "slow down"}, func(e *limitError, p *Problem) {
			p.RetryAfter = e.wait
		}),
	}
	other := Table{{Err: errGone, Status: http.StatusConflict, Code: "other"}}
	tests := []struct {
		name       string
		err        error
		wantCode   string
		wantDetail string
	}{
		{"first rule wins", fmt.Errorf("read: %w", errMissing), "missing", "it is missing"},
		{"refined from the error", fmt.Errorf("read: %w", errGone), "gone", "read: gone"},
		{"typed", fmt.Errorf("send: %w", &limitError{wait: 3 * time.Second}), "limited", "slow down"},
		{"a problem in the chain as it is", fmt.Errorf("x: %w", ErrForbidden), "forbidden", ErrForbidden.Detail},
		{"no match", errors.New("disk on fire"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ProblemOf(tt.err, table, other)
			if tt.wantCode == "" {
				if p != nil {
					t.Fatalf("got %+v, want none", p)
				}
				return
			}
			if p == nil || p.Code != tt.wantCode || p.Detail != tt.wantDetail || p.Type != TypePrefix+tt.wantCode {
				t.Fatalf("got %+v, want %s %q", p, tt.wantCode, tt.wantDetail)
			}
		})
	}
	if p := ProblemOf(&limitError{wait: time.Second}, table); p.RetryAfter != time.Second || p.Status != http.StatusTooManyRequests {
		t.Errorf("typed rule: %+v", p)
	}
	// A problem's own rows are shared: With copies.
	p := ErrNotFound.With("no such page")
	if ErrNotFound.Detail != "no such object" || p.Detail != "no such page" || p.Code != "not_found" {
		t.Errorf("With changed the shared problem: %+v, %+v", ErrNotFound, p)
	}
}
