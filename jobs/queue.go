package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant"
)

// Queue enqueues the tasks that requests and services start — a share to
// publish, a link preview to retry, an export to build — each with its
// policy (queue, retries, retention, task ID), and deletes waiting tasks
// for erasure. Each enqueue has a producer span whose context the payload
// carries (task.WithTrace). The services take its methods as their
// enqueue hooks; they know no queue.
type Queue struct {
	client *asynq.Client
	// tasks, when set, lets a share be queued again whose earlier task
	// Asynq still keeps as completed or archived, and lets waiting tasks
	// be deleted.
	tasks *asynq.Inspector
	log   *slog.Logger
}

// NewQueue returns the queue that enqueues through client (nil: every
// enqueue fails with ErrNoClient; an operator command only deletes);
// tasks (may be nil) inspects and deletes tasks. A nil log discards.
func NewQueue(client *asynq.Client, tasks *asynq.Inspector, log *slog.Logger) *Queue {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{client: client, tasks: tasks, log: log}
}

// ErrNoClient is the answer of a queue that has no client to enqueue with.
var ErrNoClient = errors.New("jobs: this queue enqueues nothing")

// enqueue enqueues t with opts.
func (q *Queue) enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error {
	if q.client == nil {
		return ErrNoClient
	}
	_, err := q.client.EnqueueContext(ctx, task.WithTrace(ctx, t), opts...)
	return err
}

// Publishing policy: the critical queue, retried for about a day of
// backoff, kept a day once done (its ID, the share's, blocks a duplicate
// meanwhile).
const (
	publishRetries   = 20
	publishRetention = 24 * time.Hour
)

// Publish queues the share shareID of sc to be published at at (at once
// when at is past). The task's ID is the share's: a live task for it is
// queued already and left alone; a finished one kept for its retention is
// replaced.
func (q *Queue) Publish(ctx context.Context, sc tenant.Scope, shareID string, at time.Time) (err error) {
	ctx, span := startEnqueue(ctx, task.TypePublish)
	defer func() { endSpan(span, err) }()
	enqueue := func() error {
		return q.enqueue(ctx, task.Publish(sc.InstanceID(), shareID), asynq.TaskID(shareID), asynq.Queue(task.QueueCritical),
			asynq.ProcessAt(WholeSecondAfter(at)), asynq.MaxRetry(publishRetries), asynq.Retention(publishRetention))
	}
	err = enqueue()
	switch {
	case !errors.Is(err, asynq.ErrTaskIDConflict):
		return err
	case q.tasks == nil:
		return nil
	}
	info, ierr := q.tasks.GetTaskInfo(task.QueueCritical, shareID)
	if ierr != nil || (info.State != asynq.TaskStateCompleted && info.State != asynq.TaskStateArchived) {
		return nil
	}
	if err := q.tasks.DeleteTask(task.QueueCritical, shareID); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
		return err
	}
	if err = enqueue(); errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// WholeSecondAfter rounds a time still to come up to a whole second:
// Asynq keeps a task's time in whole seconds and would otherwise start a
// scheduled share up to a second early (PublishShare also refuses to
// start early). A time already past is left alone: the task is queued at
// once.
func WholeSecondAfter(t time.Time) time.Time {
	if !t.After(time.Now()) {
		return t
	}
	if r := t.Truncate(time.Second); r.Before(t) {
		return r.Add(time.Second)
	}
	return t
}

// CanDelete reports whether the queue can delete waiting tasks (Dequeue,
// Delete): it has an inspector.
func (q *Queue) CanDelete() bool { return q.tasks != nil }

// Dequeue deletes the waiting publishing tasks of the shares ids.
func (q *Queue) Dequeue(ctx context.Context, _ tenant.Scope, ids []string) error {
	refs := make([]tenant.TaskRef, len(ids))
	for i, id := range ids {
		refs[i] = tenant.TaskRef{Queue: task.QueueCritical, ID: id}
	}
	return q.Delete(ctx, refs)
}

// RetryPreview queues another try at the link preview of the post postID.
func (q *Queue) RetryPreview(ctx context.Context, sc tenant.Scope, postID string) (err error) {
	ctx, span := startEnqueue(ctx, task.TypePreview)
	defer func() { endSpan(span, err) }()
	return q.enqueue(ctx, task.Preview(sc.InstanceID(), postID), asynq.Queue(task.QueueLow), asynq.MaxRetry(5), asynq.Timeout(30*time.Second))
}

// Notification policy: the default queue, retried for a few hours (429
// and 5xx of push services), kept a day once done so the same post and
// publish time is not notified twice.
const (
	notifyRetries   = 8
	notifyRetention = 24 * time.Hour
)

// Notify queues the push notifications of the post postID of sc for its
// publish time at (at once when at is past). The task's ID is the post's
// and the time's: publishing the same post at the same time again is
// left alone; a new publish time gets a task of its own (the run for the
// old one finds the post not yet due).
func (q *Queue) Notify(ctx context.Context, sc tenant.Scope, postID string, at time.Time) (err error) {
	ctx, span := startEnqueue(ctx, task.TypeNotify)
	defer func() { endSpan(span, err) }()
	id := fmt.Sprintf("notify:%s:%d", postID, at.UnixMilli())
	err = q.enqueue(ctx, task.Notify(sc.InstanceID(), postID), asynq.TaskID(id), asynq.Queue(task.QueueDefault),
		asynq.ProcessAt(WholeSecondAfter(at)), asynq.MaxRetry(notifyRetries), asynq.Retention(notifyRetention),
		asynq.Timeout(10*time.Minute))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// Export queues the building of the export exportID.
func (q *Queue) Export(ctx context.Context, sc tenant.Scope, exportID string) (err error) {
	ctx, span := startEnqueue(ctx, task.TypeExport)
	defer func() { endSpan(span, err) }()
	return q.enqueue(ctx, task.Export(sc.InstanceID(), exportID), asynq.Queue(task.QueueDefault), asynq.MaxRetry(5))
}

// Delete deletes waiting tasks by queue and ID, for erasure. A task
// already gone counts as deleted; one a worker runs now cannot be deleted,
// and finds its object cancelled. Without an inspector nothing is
// deleted.
func (q *Queue) Delete(ctx context.Context, tasks []tenant.TaskRef) error {
	if q.tasks == nil {
		return nil
	}
	var errs []error
	for _, t := range tasks {
		err := q.tasks.DeleteTask(t.Queue, t.ID)
		if err == nil || errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		// Asynq refuses to delete a running task with an error of no
		// type of its own: the task's state tells.
		if info, ierr := q.tasks.GetTaskInfo(t.Queue, t.ID); ierr == nil && info.State == asynq.TaskStateActive {
			q.log.InfoContext(ctx, "task runs now and cannot be deleted; its object is cancelled", "task_id", t.ID)
			continue
		}
		errs = append(errs, fmt.Errorf("delete task %s: %w", t.ID, err))
	}
	return errors.Join(errs...)
}

// enqueueTracer names the producer spans of enqueues (as when cmd started
// them).
const enqueueTracer = "github.com/chorushq/chorus"

// startEnqueue starts the producer span of enqueueing a task of type
// typ; task.WithTrace puts its context in the payload.
func startEnqueue(ctx context.Context, typ string) (context.Context, trace.Span) {
	return otel.Tracer(enqueueTracer).Start(ctx, "enqueue "+typ, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "asynq")))
}

// endSpan records err on span and ends it.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "failed")
	}
	span.End()
}
