package social

import (
	"context"

	"github.com/chorushq/chorus/tenant"
)

// ConnectionKind lets the external tests tamper with stored connections.
var ConnectionKind = connectionKind

// ShareKind lets the external tests put shares in a given state.
var ShareKind = shareKind

// Transition moves a share as the package does, with no other field.
func (s *Service) Transition(ctx context.Context, sc tenant.Scope, id string, from []ShareState, to ShareState) (bool, error) {
	return s.transition(ctx, sc, id, shareMove{From: from, To: to})
}

// ErrTransition: a change of state that the state machine lacks.
var ErrTransition = errTransition

// KeyedRepeatable is repeatable, for the window's test.
var KeyedRepeatable = repeatable
