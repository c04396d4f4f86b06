package main

import (
	"errors"
	"net/http"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/jobs/task"
)

// Disconnecting an account cancels its waiting shares and deletes their
// tasks, as the web app's dialog says: a share through a connection that
// is gone could only fail later.
func TestDisconnectCancelsWaitingShares(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var out struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &out)
	if len(out.Items) != 1 || out.Items[0].State != "scheduled" {
		t.Fatalf("scheduled share: %+v", out.Items)
	}
	id := out.Items[0].ID
	if res := employee.do("DELETE", "/api/v1/connections/"+connID, nil); res.status != http.StatusNoContent {
		t.Fatalf("disconnect: %d %s", res.status, res.body)
	}
	var sh shareDoc
	employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
	if sh.State != "cancelled" || sh.Error == "" {
		t.Errorf("the scheduled share after the disconnect: %+v, want cancelled with a reason", sh)
	}
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	if info, err := insp.GetTaskInfo(task.QueueCritical, id); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("its task after the disconnect: %+v, %v; want it deleted", info, err)
	}
}
