package social

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// CancelShare says not found only for a share that is not there or not
// the member's; a store that fails is its own error, answered 500, never
// a 404 that would tell the member the share is gone.
func TestCancelShareTellsNotFoundFromAStoreError(t *testing.T) {
	r := newFeedRig(t)
	sc := r.instance(t, "cancel.example")
	ctx := t.Context()
	me := tenant.Member{ID: "member-me", Role: tenant.RoleEmployee}
	other := tenant.Member{ID: "member-other", Role: tenant.RoleEmployee}
	posts := r.addPosts(t, sc, "", time.Hour, 1)
	sh := Share{ID: httpapi.NewID(), ContentID: posts[0].ID, ConnectionID: httpapi.NewID(), MemberID: me.ID, Network: "mastodon",
		State: ShareScheduled, CreatedAt: r.now, UpdatedAt: r.now, PublishAt: r.now.Add(time.Hour)}
	if err := sc.Collection(shareKind).InsertMany(ctx, []any{sh}); err != nil {
		t.Fatal(err)
	}
	tables := []httpapi.Table{Problems, content.Problems, tenant.Problems}

	for _, tt := range []struct {
		name string
		me   tenant.Member
		id   string
	}{
		{"missing", me, httpapi.NewID()},
		{"malformed ID", me, "nope"},
		{"another member's", other, sh.ID},
	} {
		_, err := r.social.CancelShare(ctx, sc, tt.me, tt.id)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tt.name, err)
		}
		if p := httpapi.ProblemOf(err, tables...); p == nil || p.Status != http.StatusNotFound {
			t.Errorf("%s: problem %+v, want 404", tt.name, p)
		}
	}

	// The store fails: the request's deadline passed before it answered.
	dead, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, err := r.social.CancelShare(dead, sc, me, sh.ID)
	if err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("store failing: %v, want the store's error, not ErrNotFound", err)
	}
	if p := httpapi.ProblemOf(err, tables...); p != nil {
		t.Errorf("store failing: problem %+v, want none (500 internal)", p)
	}

	got, err := r.social.CancelShare(ctx, sc, me, sh.ID)
	if err != nil || got.State != ShareCancelled {
		t.Fatalf("cancel: %+v, %v", got.State, err)
	}
}
