package main

import (
	"errors"
	"net/http"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/jobs/task"
)

// Erasure deletes the person's waiting publication tasks from Redis by ID
// (the share's ID), not only their shares.
func TestErasureDeletesWaitingTasks(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var now, later struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &now)
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &later)
	if len(now.Items) != 1 || len(later.Items) != 1 || later.Items[0].State != "scheduled" {
		t.Fatalf("shares: %+v %+v", now.Items, later.Items)
	}
	// Someone else's waiting task stays.
	other := a.client(t)
	other.signIn("dave@acme.example")
	otherConn := a.connectMastodon(t, other)
	var theirs struct{ Items []shareDoc }
	other.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{otherConn}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &theirs)

	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	states := map[string]asynq.TaskState{}
	for _, id := range []string{now.Items[0].ID, later.Items[0].ID, theirs.Items[0].ID} {
		info, err := insp.GetTaskInfo(task.QueueCritical, id)
		if err != nil {
			t.Fatalf("task %s before erasure: %v", id, err)
		}
		states[id] = info.State
	}
	if states[now.Items[0].ID] != asynq.TaskStatePending || states[later.Items[0].ID] != asynq.TaskStateScheduled {
		t.Fatalf("task states before erasure: %v", states)
	}

	if res := employee.do("DELETE", "/api/v1/me", nil); res.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", res.status, res.body)
	}
	for _, id := range []string{now.Items[0].ID, later.Items[0].ID} {
		if info, err := insp.GetTaskInfo(task.QueueCritical, id); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("task %s after erasure: %+v, %v; want it deleted", id, info, err)
		}
	}
	if _, err := insp.GetTaskInfo(task.QueueCritical, theirs.Items[0].ID); err != nil {
		t.Errorf("another member's task after the erasure: %v, want it kept", err)
	}
}
