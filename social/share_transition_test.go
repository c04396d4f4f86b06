package social_test

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/tenant"
)

// A change of state the state machine lacks is refused and writes
// nothing; an allowed one from a state the share is not in moves nothing;
// an allowed one moves the share once, whoever asks again.
func TestTransitionFollowsTheStateMachine(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	admin := h.signIn("admin@acme.example", tenant.RoleAdmin)
	ctx, sc := t.Context(), h.scope(admin)
	shares := sc.Collection(social.ShareKind)
	put := func(id string, st social.ShareState) {
		t.Helper()
		now := h.clock.Now().UTC()
		if err := shares.Insert(ctx, social.Share{ID: id, ContentID: "post-1", MemberID: admin.member, Network: social.Mastodon,
			State: st, PublishAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	stateOf := func(id string) social.ShareState {
		t.Helper()
		sh, err := social.ShareByID(ctx, sc, id)
		if err != nil {
			t.Fatal(err)
		}
		return sh.State
	}
	put("share-cancelled", social.ShareCancelled)
	put("share-published", social.SharePublished)
	put("share-queued", social.ShareQueued)
	h.clock.Add(time.Minute)

	for _, tc := range []struct {
		name     string
		id       string
		from     []social.ShareState
		to       social.ShareState
		wantErr  error
		wantOK   bool
		wantThen social.ShareState
	}{
		{"cancelled is final", "share-cancelled", []social.ShareState{social.ShareCancelled}, social.SharePublishing, social.ErrTransition, false, social.ShareCancelled},
		{"published is never queued again", "share-published", []social.ShareState{social.SharePublished}, social.ShareQueued, social.ErrTransition, false, social.SharePublished},
		{"one refused pair refuses the move", "share-queued", []social.ShareState{social.ShareQueued, social.ShareFailed}, social.ShareCancelled, social.ErrTransition, false, social.ShareQueued},
		{"allowed, but not from where it is", "share-queued", []social.ShareState{social.ShareUnconfirmed}, social.SharePublished, nil, false, social.ShareQueued},
		{"allowed", "share-queued", []social.ShareState{social.ShareQueued, social.ShareScheduled}, social.ShareCancelled, nil, true, social.ShareCancelled},
		{"allowed, asked again", "share-queued", []social.ShareState{social.ShareQueued, social.ShareScheduled}, social.ShareCancelled, nil, false, social.ShareCancelled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := h.svc.Transition(ctx, sc, tc.id, tc.from, tc.to)
			if ok != tc.wantOK || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("Transition(%v → %s) = %v, %v; want %v, %v", tc.from, tc.to, ok, err, tc.wantOK, tc.wantErr)
			}
			if got := stateOf(tc.id); got != tc.wantThen {
				t.Errorf("state after = %s; want %s", got, tc.wantThen)
			}
		})
	}
	// The move stamped the share; the refused ones did not touch theirs.
	var got []social.Share
	if err := shares.Find(ctx, bson.D{}, &got); err != nil {
		t.Fatal(err)
	}
	for _, sh := range got {
		moved := !sh.UpdatedAt.Equal(sh.CreatedAt)
		if moved != (sh.ID == "share-queued") {
			t.Errorf("share %s: updated_at %s, created_at %s", sh.ID, sh.UpdatedAt, sh.CreatedAt)
		}
	}
}
