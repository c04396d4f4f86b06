package jobs

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/tenant"
)

func TestWholeSecondAfter(t *testing.T) {
	base := time.Now().Add(time.Hour).Truncate(time.Second)
	past := time.Now().Add(-time.Hour).Truncate(time.Second).Add(300 * time.Millisecond)
	for _, tc := range []struct{ in, want time.Time }{
		{base, base},
		{base.Add(time.Millisecond), base.Add(time.Second)},
		{base.Add(999 * time.Millisecond), base.Add(time.Second)},
		{base.Add(time.Second), base.Add(time.Second)},
		{past, past}, // due already: queued at once, not a second later
	} {
		if got := WholeSecondAfter(tc.in); !got.Equal(tc.want) {
			t.Errorf("WholeSecondAfter(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// Delete deletes waiting tasks, counts missing ones as deleted and leaves
// a running one to find its object cancelled, deciding by the task's
// state.
func TestQueueDelete(t *testing.T) {
	opt := jobstest.Redis(t)
	client := asynq.NewClient(opt)
	defer client.Close()
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	var logs bytes.Buffer
	q := NewQueue(client, insp, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := t.Context()

	if _, err := client.Enqueue(asynq.NewTask("test:wait", nil), asynq.TaskID("waiting"), asynq.Queue("default"), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	running, release := make(chan struct{}), make(chan struct{})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 1, Queues: map[string]int{"low": 1}, Logger: asynqLogger{slog.New(slog.DiscardHandler)}})
	mux := asynq.NewServeMux()
	mux.HandleFunc("test:run", func(context.Context, *asynq.Task) error {
		close(running)
		<-release
		return nil
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	defer close(release)
	if _, err := client.Enqueue(asynq.NewTask("test:run", nil), asynq.TaskID("running"), asynq.Queue("low")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-running:
	case <-time.After(30 * time.Second):
		t.Fatal("the task did not start")
	}

	err := q.Delete(ctx, []tenant.TaskRef{{Queue: "default", ID: "waiting"}, {Queue: "default", ID: "gone"},
		{Queue: "nosuchqueue", ID: "x"}, {Queue: "low", ID: "running"}})
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := insp.GetTaskInfo("default", "waiting"); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("the waiting task is still there: %v", err)
	}
	if info, err := insp.GetTaskInfo("low", "running"); err != nil || info.State != asynq.TaskStateActive {
		t.Errorf("the running task: %+v, %v; want it left running", info, err)
	}
	if !strings.Contains(logs.String(), "task runs now and cannot be deleted") {
		t.Errorf("the running task was not logged: %s", logs.String())
	}

	if err := NewQueue(client, nil, nil).Delete(ctx, []tenant.TaskRef{{Queue: "default", ID: "any"}}); err != nil {
		t.Errorf("Delete without an inspector: %v", err)
	}
}
