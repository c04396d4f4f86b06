package social

import (
	"errors"
	"fmt"
	"testing"
)

// Every answer of a network to a publication is counted as the outcome
// PublishShare records for it.
func TestPublishOutcomeOfEachAnswer(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want PublishOutcome
	}{
		{nil, OutcomePublished},
		{fmt.Errorf("post: %w", ErrAmbiguous), OutcomeUnconfirmed},
		{&Error{Network: "x", Op: "publish", Class: ErrRetryLater, Status: 429, Message: "slow down"}, OutcomeRetried},
		{&Error{Network: "x", Op: "publish", Class: ErrReconnect, Status: 401}, OutcomeFailed},
		{ErrReconnect, OutcomeFailed},
		{fmt.Errorf("connection c1: %w", ErrReconnect), OutcomeFailed},
		{ErrBroken, OutcomeFailed},
		{ErrOperator, OutcomePaused},
		{ErrDisabled, OutcomeCancelled},
		{ErrServerNotAllowed, OutcomeCancelled},
		{errors.New("422 text too long"), OutcomeFailed},
	} {
		if got := outcomeOf(tt.err); got != tt.want {
			t.Errorf("outcome of %v = %s, want %s", tt.err, got, tt.want)
		}
	}
}
