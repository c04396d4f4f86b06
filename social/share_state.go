package social

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
)

// ShareState is where a share stands. Every change of state goes through
// transition: a conditional update on the states it leaves, so two
// workers, or a worker and a cancel, never both win.
type ShareState string

// Share states.
const (
	ShareScheduled   ShareState = "scheduled"
	ShareQueued      ShareState = "queued"
	SharePublishing  ShareState = "publishing"
	SharePublished   ShareState = "published"
	ShareFailed      ShareState = "failed"
	ShareUnconfirmed ShareState = "unconfirmed" // may have reached the network: never re-posted automatically
	ShareCancelled   ShareState = "cancelled"
)

// live reports whether a share in st counts in its content's counters
// (shares, shared_by): every state but failed and cancelled.
func (st ShareState) live() bool { return st != ShareFailed && st != ShareCancelled }

// shareStep is one allowed change of a share's state and what makes it.
type shareStep struct {
	From, To ShareState
	By       string
}

// shareSteps is the share state machine: every change of state the code
// makes, and no other (transition refuses the rest). A share is created
// queued, scheduled (publish_at ahead) or, on the link channel, published;
// failed and cancelled are final, and so is published but for erasure.
var shareSteps = []shareStep{
	{ShareQueued, SharePublishing, "PublishShare takes it, with a lease and an attempt ID"},
	{ShareScheduled, SharePublishing, "PublishShare takes it when due, with a lease and an attempt ID"},
	{ShareQueued, ShareCancelled, "the member cancels; the network, a server or the member goes; the content is withdrawn"},
	{ShareScheduled, ShareCancelled, "the member cancels; the network, a server or the member goes; the content is withdrawn"},
	{SharePublishing, SharePublished, "the network confirmed the post"},
	{SharePublishing, ShareUnconfirmed, "the network may have the post (a timeout after sending), or the lease ran out"},
	{SharePublishing, ShareQueued, "the network asked to wait, or refuses the deployment's app (paused for the operator)"},
	{SharePublishing, ShareFailed, "the network refused the post, or the account must be connected again"},
	{SharePublishing, ShareCancelled, "the network or the account's server is no longer allowed"},
	{ShareUnconfirmed, SharePublished, "ResolveUnconfirmed found the post at the network"},
	{ShareUnconfirmed, ShareQueued, "ResolveUnconfirmed found no post, past the grace period (at once where the network dedupes by the share's key): published again"},
	{SharePublished, ShareCancelled, "the member was erased and the post deleted at the network"},
}

// errTransition: a change of state that is not in shareSteps (a defect,
// never a member's doing).
var errTransition = errors.New("share state change not allowed")

// allowedStep reports whether shareSteps has from → to.
func allowedStep(from, to ShareState) bool {
	return slices.ContainsFunc(shareSteps, func(s shareStep) bool { return s.From == from && s.To == to })
}

// shareMove is one conditional change of a share's state.
type shareMove struct {
	// From are the states the share may be in; To is the one it goes to.
	From []ShareState
	To   ShareState
	// Attempt, when set, is the publishing attempt that must still hold
	// the share.
	Attempt string
	// Set are the fields written with the state (updated_at is added
	// unless given); Also the update's other operators ($inc, $unset).
	Set, Also bson.D
}

// transition moves share id as m says, in one conditional update on its
// state: it reports whether this call moved it (false: the share is
// elsewhere, another path won). Every change of a share's state goes
// through here; one that is not in shareSteps is refused with
// errTransition, nothing written.
//
// Counters: the call that moved a share out of the live states (to failed
// or cancelled) takes it out of its content's counters (sharesEnded), and
// no other path does.
func (s *Service) transition(ctx context.Context, sc tenant.Scope, id string, m shareMove) (bool, error) {
	if len(m.From) == 0 {
		return false, fmt.Errorf("%w: from nowhere to %s", errTransition, m.To)
	}
	for _, f := range m.From {
		if !allowedStep(f, m.To) {
			return false, fmt.Errorf("%w: %s → %s", errTransition, f, m.To)
		}
	}
	filter := bson.D{{Key: "_id", Value: id}, {Key: "state", Value: stateIn(m.From)}}
	if m.Attempt != "" {
		filter = append(filter, bson.E{Key: "attempt_id", Value: m.Attempt})
	}
	set := append(bson.D{{Key: "state", Value: m.To}}, m.Set...)
	if !hasKey(m.Set, "updated_at") {
		set = append(set, bson.E{Key: "updated_at", Value: s.now().UTC()})
	}
	return sc.Collection(shareKind).Update(ctx, filter, append(bson.D{{Key: "$set", Value: set}}, m.Also...))
}

// annotate writes fields of share id that say more about where it stands
// (its error, when it was checked), if it is still in state in: no
// change of state.
func (s *Service) annotate(ctx context.Context, sc tenant.Scope, id string, in ShareState, set bson.D) (bool, error) {
	if hasKey(set, "state") {
		return false, fmt.Errorf("%w: annotate sets the state of %s", errTransition, id)
	}
	return sc.Collection(shareKind).Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: in}}, bson.D{{Key: "$set", Value: set}})
}

// stateIn is the filter value of a share in one of states.
func stateIn(states []ShareState) any {
	if len(states) == 1 {
		return states[0]
	}
	in := make(bson.A, len(states))
	for i, st := range states {
		in[i] = st
	}
	return bson.D{{Key: "$in", Value: in}}
}

func hasKey(d bson.D, key string) bool {
	return slices.ContainsFunc(d, func(e bson.E) bool { return e.Key == key })
}

// pendingStates are the states of a share not yet taken for publishing.
var pendingStates = []ShareState{ShareQueued, ShareScheduled}
