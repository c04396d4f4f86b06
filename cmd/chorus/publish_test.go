package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
)

func TestAcceptedThenTimedOutIsUnconfirmedNotReposted(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	// The server creates the status, then does not answer in time.
	a.mastodon.DelayAnswers(5 * time.Second)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &out)
	id := out.Items[0].ID
	inst := a.mustInstance(t, employee)
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second) // the task's deadline
	err = w.Handler().ProcessTask(ctx, task.Publish(inst, id))
	cancel()
	if err != nil {
		t.Fatalf("the task: %v", err)
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
	if sh.State != "unconfirmed" || !strings.Contains(sh.Error, "not posted again") {
		t.Fatalf("share after the timeout: %+v, want unconfirmed saying it is not posted again", sh)
	}
	a.mastodon.DelayAnswers(0)
	// Asynq delivers the task again, and cancelling is refused: nothing
	// is sent again.
	if err := w.Handler().ProcessTask(t.Context(), task.Publish(inst, id)); err != nil {
		t.Fatal(err)
	}
	if res := employee.do("POST", "/api/v1/shares/"+id+"/cancel", nil); res.status != http.StatusConflict {
		t.Errorf("cancelling an unconfirmed share: %d, want 409", res.status)
	}
	if n := a.mastodon.PostRequests(id); n != 1 {
		t.Fatalf("the post was sent %d times, want 1", n)
	}
	// The reconciler asks Mastodon, finds the post by its tracked link
	// and records it.
	a.clock.Add(time.Minute)
	if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
		t.Fatal(err)
	}
	sh = shareDoc{}
	employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
	statuses := a.mastodon.Statuses()
	if len(statuses) != 1 || sh.State != "published" || !strings.HasSuffix(sh.PostURL, "/"+statuses[0].ID) || sh.Error != "" {
		t.Errorf("after reconciling: share %+v, %d statuses; want published with the status's URL", sh, len(statuses))
	}
	if n := a.mastodon.PostRequests(id); n != 1 {
		t.Errorf("the post was sent %d times, want 1", n)
	}
}
