// Package jobs runs Chorus's background work on Asynq: the task handlers,
// the periodic scheduler and (later) the reconciler.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Config configures a Worker.
type Config struct {
	Redis   asynq.RedisConnOpt
	Store   *tenant.Store
	Content *content.Service
	Privacy *tenant.Privacy
	Social  *social.Service
	// Reach keeps the analytics rollups (nil: one without Redis).
	Reach *reach.Service
	// Resolver looks up domains' TXT records (nil: the system's).
	Resolver tenant.TXTResolver
	// Mailer tells admins when their domain's record disappeared (nil:
	// nobody is told).
	Mailer tenant.Mailer
	// BaseURL is the web app's public URL, for the links in digest mails
	// (nil: no digests are sent).
	BaseURL     *url.URL
	Log         *slog.Logger
	Metrics     prometheus.Registerer
	Concurrency int // default 10
	// LeaderLease is how long the scheduler's lease in Redis lasts
	// without renewal (default DefaultLease): one worker of the
	// deployment, its holder, enqueues the periodic tasks.
	LeaderLease time.Duration
	Now         func() time.Time
}

// Worker processes tasks and enqueues the periodic ones.
type Worker struct {
	cfg       Config
	heartbeat prometheus.Gauge
	processed *prometheus.CounterVec
	failures  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
}

// NewWorker returns a Worker; Run starts it.
func NewWorker(cfg Config) (*Worker, error) {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Reach == nil {
		cfg.Reach = reach.New(reach.Config{Log: cfg.Log, Now: cfg.Now})
	}
	w := &Worker{
		cfg: cfg,
		heartbeat: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chorus_worker_health_ping_timestamp_seconds",
			Help: "When the worker last processed a health:ping task.",
		}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chorus_tasks_processed_total",
			Help: "Tasks processed, by type and outcome.",
		}, []string{"type", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricTaskFailures,
			Help: "Task runs that failed, by queue and type (waits for a rate limit are not failures; drops are).",
		}, []string{"queue", "type"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    MetricTaskDuration,
			Help:    "How long task runs took, by queue and type.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"queue", "type"}),
	}
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{w.heartbeat, w.processed, w.failures, w.duration} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("register worker metrics: %w", err)
			}
		}
	}
	return w, nil
}

// Handler returns the task mux; tests drive it directly. Each task type
// has a method of its own; scoped adapts the handlers of one object of
// one instance, eachInstance those that walk every instance.
func (w *Worker) Handler() asynq.Handler {
	mux := asynq.NewServeMux()
	mux.Use(w.observe)
	mux.HandleFunc(task.TypeHealthPing, w.healthPing)
	mux.HandleFunc(task.TypeSweepExpired, w.sweepExpired)
	mux.HandleFunc(task.TypeRecheckDomains, w.recheckDomains)
	mux.HandleFunc(task.TypePreview, w.scoped(w.refreshPreview))
	mux.HandleFunc(task.TypeExport, w.scoped(w.prepareExport))
	mux.HandleFunc(task.TypePublish, w.scoped(w.publishShare))
	mux.HandleFunc(task.TypeReconcile, w.eachInstance(w.reconcile))
	mux.HandleFunc(task.TypeSweepRetention, w.eachInstance(w.sweepRetention))
	mux.HandleFunc(task.TypeWarnExpiring, w.eachInstance(w.warnExpiring))
	mux.HandleFunc(task.TypeRefreshEngagement, w.eachInstance(w.refreshEngagement))
	mux.HandleFunc(task.TypeSendDigests, w.sendDigests)
	mux.HandleFunc(task.TypePollSources, w.pollSources)
	mux.HandleFunc(task.TypeSweepExports, w.sweepExports)
	mux.HandleFunc(task.TypeNotify, w.scoped(w.notify))
	return mux
}

// healthPing (health:ping) records that the worker processes tasks.
func (w *Worker) healthPing(ctx context.Context, _ *asynq.Task) error {
	w.heartbeat.Set(float64(w.cfg.Now().Unix()))
	return nil
}

// sweepExpired (tenant:sweep_expired) deletes expired sessions, sign-in
// tokens, rate-limit windows and idempotency records.
func (w *Worker) sweepExpired(ctx context.Context, _ *asynq.Task) error {
	n, err := w.cfg.Store.SweepExpired(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.cfg.Log.InfoContext(ctx, "expired records swept", "count", n)
	}
	return nil
}

// recheckDomains (tenant:recheck_domains) checks that verified domains
// still carry their TXT record.
func (w *Worker) recheckDomains(ctx context.Context, _ *asynq.Task) error {
	r := w.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	checked, missing, err := w.cfg.Store.RecheckDomains(ctx, r, w.cfg.Mailer)
	if missing > 0 {
		w.cfg.Log.WarnContext(ctx, "verification records missing", "checked", checked, "missing", missing)
	}
	return err
}

// refreshPreview (content:preview) fetches a content's link preview; a
// link the fetcher refuses is dropped, not retried.
func (w *Worker) refreshPreview(ctx context.Context, sc tenant.Scope, id string) error {
	err := w.cfg.Content.RefreshPreview(ctx, sc, id)
	if errors.Is(err, content.ErrPreviewRefused) {
		return fmt.Errorf("%w: %w", err, errDropped)
	}
	return err
}

// notify (content:notify) sends the push notifications of a published
// post.
func (w *Worker) notify(ctx context.Context, sc tenant.Scope, id string) error {
	rep, err := w.cfg.Content.NotifyPublished(ctx, sc, id)
	if rep.Sent+rep.Quiet+rep.Capped+rep.Gone > 0 {
		w.cfg.Log.InfoContext(ctx, "push notifications sent", "post_id", id, "sent", rep.Sent, "quiet_hours", rep.Quiet,
			"daily_cap", rep.Capped, "gone", rep.Gone, "skipped", rep.Skipped)
	}
	return err
}

// prepareExport (privacy:export) builds a data-subject export.
func (w *Worker) prepareExport(ctx context.Context, sc tenant.Scope, id string) error {
	return w.cfg.Privacy.PrepareExport(ctx, sc, id)
}

// publishShare (share:publish) publishes one share.
func (w *Worker) publishShare(ctx context.Context, sc tenant.Scope, id string) error {
	return w.cfg.Social.PublishShare(ctx, sc, id)
}

// reconcile (share:reconcile) repairs an instance's shares: a share
// queued for a reconcile interval without a live task is queued again (a
// task Redis lost is back within two), an expired publishing lease
// becomes unconfirmed, and unconfirmed shares are asked about.
func (w *Worker) reconcile(ctx context.Context, sc tenant.Scope) error {
	requeued, unconfirmed, err := w.cfg.Social.Reconcile(ctx, sc, reconcileInterval)
	if err != nil {
		return err
	}
	published, retried, err := w.cfg.Social.ResolveUnconfirmed(ctx, sc)
	if requeued+unconfirmed+published+retried > 0 {
		w.cfg.Log.InfoContext(ctx, "shares reconciled", "requeued", requeued, "unconfirmed", unconfirmed,
			"found_published", published, "found_absent_requeued", retried)
	}
	return err
}

// sweepRetention (privacy:sweep_retention) deletes an instance's click
// events and audit entries past their retention, and its push
// notification marks past content.PushMarkDays.
func (w *Worker) sweepRetention(ctx context.Context, sc tenant.Scope) error {
	n, err := content.SweepPushSent(ctx, sc, w.cfg.Now())
	if n > 0 {
		w.cfg.Log.InfoContext(ctx, "push notification marks swept", "count", n)
	}
	if err != nil {
		return err
	}
	n, err = social.SweepClicks(ctx, sc, w.cfg.Now())
	if n > 0 {
		w.cfg.Log.InfoContext(ctx, "click events past retention deleted", "count", n)
	}
	if err != nil {
		return err
	}
	n, err = tenant.SweepAudit(ctx, sc, w.cfg.Now())
	if n > 0 {
		w.cfg.Log.InfoContext(ctx, "audit entries past retention purged", "count", n)
	}
	return err
}

// warnExpiring (social:warn_expiring) tells members whose
// connections expire soon.
func (w *Worker) warnExpiring(ctx context.Context, sc tenant.Scope) error {
	_, err := w.cfg.Social.WarnExpiring(ctx, sc)
	return err
}

// refreshEngagement (reach:refresh_engagement) reads the engagement of an
// instance's recent posts from their networks.
func (w *Worker) refreshEngagement(ctx context.Context, sc tenant.Scope) error {
	rep, err := w.cfg.Reach.RefreshEngagement(ctx, sc, w.cfg.Social)
	if rep.Changed+rep.Failed > 0 {
		w.cfg.Log.InfoContext(ctx, "engagement refreshed", "read", rep.Read, "changed", rep.Changed, "failed", rep.Failed)
	}
	return err
}

// sendDigests (content:send_digests) sends the weekly digests of every
// instance, when mail and the web app's URL are configured.
func (w *Worker) sendDigests(ctx context.Context, t *asynq.Task) error {
	if w.cfg.Mailer == nil || w.cfg.BaseURL == nil || w.cfg.Content == nil {
		return nil
	}
	return w.eachInstance(func(ctx context.Context, sc tenant.Scope) error {
		rep, err := w.cfg.Content.SendDigests(ctx, sc, w.cfg.Mailer, w.cfg.BaseURL)
		if rep.Sent > 0 {
			w.cfg.Log.InfoContext(ctx, "digests sent", "sent", rep.Sent, "skipped", rep.Skipped)
		}
		return err
	})(ctx, t)
}

// pollSources (content:poll_sources) polls every instance's content
// sources that are due.
func (w *Worker) pollSources(ctx context.Context, t *asynq.Task) error {
	if w.cfg.Content == nil {
		return nil
	}
	return w.eachInstance(func(ctx context.Context, sc tenant.Scope) error {
		rep, err := w.cfg.Content.PollDue(ctx, sc)
		if rep.Polled > 0 {
			w.cfg.Log.InfoContext(ctx, "content sources polled", "polled", rep.Polled,
				"unchanged", rep.Unchanged, "failed", rep.Failed, "added", rep.Added)
		}
		return err
	})(ctx, t)
}

// sweepExports (privacy:sweep_exports) deletes data-subject exports past
// their expiry.
func (w *Worker) sweepExports(ctx context.Context, _ *asynq.Task) error {
	_, err := w.cfg.Store.SweepExports(ctx)
	return err
}

// tracerName names the spans of the worker's tasks.
const tracerName = "github.com/chorushq/chorus/jobs"

// errDropped ends a task for good that nothing can make succeed and that
// is nobody's fault (a link the preview fetcher refuses): not retried
// (asynq.SkipRetry), logged once at warn rather than as a failure.
var errDropped = fmt.Errorf("dropped: %w", asynq.SkipRetry)

// scoped adapts a handler of one object of one instance: the payload's
// instance is opened through the tenant-scoped store and the object looked
// up in it, so a payload naming another instance's object finds nothing
// and fails for good (asynq.SkipRetry), as does an instance that is gone.
func (w *Worker) scoped(h func(ctx context.Context, sc tenant.Scope, id string) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		ref, err := task.ParseRef(t)
		if err != nil {
			return err
		}
		sc, err := w.cfg.Store.Open(ctx, ref.TenantID)
		if errors.Is(err, tenant.ErrNotFound) {
			return fmt.Errorf("instance %s is gone: %w", ref.TenantID, asynq.SkipRetry)
		} else if err != nil {
			return err
		}
		err = h(httpapi.WithLogAttrs(ctx, slog.String("tenant_id", ref.TenantID)), sc, ref.ID)
		if errors.Is(err, tenant.ErrNotFound) {
			return fmt.Errorf("%s %s not in instance %s: %w", t.Type(), ref.ID, ref.TenantID, asynq.SkipRetry)
		}
		return err
	}
}

// eachInstance adapts a handler of one instance into a periodic task
// that runs it for every instance in turn, its log records carrying the
// instance's tenant_id. The first error ends the walk.
func (w *Worker) eachInstance(h func(ctx context.Context, sc tenant.Scope) error) asynq.HandlerFunc {
	return func(ctx context.Context, _ *asynq.Task) error {
		return w.cfg.Store.EachInstance(ctx, func(sc tenant.Scope) error {
			return h(httpapi.WithLogAttrs(ctx, slog.String("tenant_id", sc.InstanceID())), sc)
		})
	}
}

// observe adds the task ID to logs and counts outcomes.
func (w *Worker) observe(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		queue, _ := asynq.GetQueueName(ctx)
		ctx = httpapi.WithLogAttrs(ctx, slog.String("task_id", id), slog.String("task_type", t.Type()))
		// The task's span continues the trace of the code that enqueued it.
		ctx, span := otel.Tracer(tracerName).Start(task.TraceContext(ctx, t), "task "+t.Type(), trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("messaging.system", "asynq"), attribute.String("messaging.destination.name", queue),
				attribute.String("messaging.message.id", id)))
		defer span.End()
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		w.duration.WithLabelValues(queue, t.Type()).Observe(time.Since(start).Seconds())
		outcome := "ok"
		if err != nil {
			outcome = "error"
			if isFailure(err) {
				w.failures.WithLabelValues(queue, t.Type()).Inc()
				span.RecordError(err)
				span.SetStatus(codes.Error, "task failed")
			}
		}
		w.processed.WithLabelValues(t.Type(), outcome).Inc()
		return err
	})
}

// Asynq's polling, tuned for publishing (Asynq's defaults, 1 s and 5 s,
// gave a p99 of about 1.2 s from enqueue to handler for "publish now" and
// 4–5 s of lateness for scheduled shares):
//   - TaskCheckInterval is how long an idle processor sleeps (between half
//     and one and a half times it) before it looks at the queues again;
//   - DelayedTaskCheckInterval is how often due scheduled and retried tasks
//     are moved to their queue.
//
// Idle, a worker of concurrency 10 then asks Redis about 100 times a
// second for new tasks and 4 times for due ones; BenchmarkDispatchLatency
// (cmd/chorus) measures what this buys.
const (
	TaskCheckInterval        = 100 * time.Millisecond
	DelayedTaskCheckInterval = 250 * time.Millisecond
)

// reconcileInterval is how often share:reconcile runs.
const reconcileInterval = time.Minute

// periodicTask is an entry of the scheduler: a task enqueued every spec.
type periodicTask struct {
	spec string
	task func() *asynq.Task
	opts []asynq.Option
}

// periodic are the scheduler's entries.
var periodic = []periodicTask{
	{"@every " + reconcileInterval.String(), task.Reconcile, []asynq.Option{asynq.Queue(task.QueueDefault), asynq.Unique(50 * time.Second)}},
	{"@every 1m", task.HealthPing, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(50 * time.Second)}},
	{"@every 10m", task.SweepExpired, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(9 * time.Minute)}},
	{"@every 1h", task.SweepExports, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(50 * time.Minute)}},
	{"@every 6h", task.WarnExpiring, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(5 * time.Hour)}},
	{"@every 24h", task.SweepRetention, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(23 * time.Hour)}},
	{"@every 3h", task.RefreshEngagement, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(2 * time.Hour)}},
	// Hourly, so each instance's digests go out soon after Monday
	// DigestHour in its own time zone; each member gets one a week.
	{"@every 1h", task.SendDigests, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(50 * time.Minute)}},
	// Each source is polled every content.PollInterval, or later after
	// failures; the run polls only the sources that are due.
	{"@every 5m", task.PollSources, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(4 * time.Minute)}},
	{"@every 6h", task.RecheckDomains, []asynq.Option{asynq.Queue(task.QueueLow), asynq.Unique(5 * time.Hour)}},
}

// Run processes tasks and runs the scheduler until ctx is done, then shuts
// both down, letting running tasks finish.
func (w *Worker) Run(ctx context.Context) error {
	log := w.cfg.Log
	srv := asynq.NewServer(w.cfg.Redis, asynq.Config{
		Concurrency: w.cfg.Concurrency,
		Queues:      map[string]int{task.QueueCritical: 6, task.QueueDefault: 3, task.QueueLow: 1},
		Logger:      asynqLogger{log},
		LogLevel:    asynq.WarnLevel,
		BaseContext: func() context.Context { return context.WithoutCancel(ctx) },
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			id, _ := asynq.GetTaskID(ctx)
			if errors.Is(err, errDropped) {
				log.WarnContext(ctx, "task dropped", "task_id", id, "task_type", t.Type(), "err", err)
				return
			}
			if !isFailure(err) {
				// A network's or Chorus's own limit: the task waits, nothing failed.
				log.InfoContext(ctx, "task waits", "task_id", id, "task_type", t.Type(), "retry_in", retryDelay(0, err, t).String(), "err", err)
				return
			}
			log.ErrorContext(ctx, "task failed", "task_id", id, "task_type", t.Type(), "err", err)
		}),
		ShutdownTimeout:          20 * time.Second,
		TaskCheckInterval:        TaskCheckInterval,
		DelayedTaskCheckInterval: DelayedTaskCheckInterval,
		RetryDelayFunc:           retryDelay,
		IsFailure:                isFailure,
	})
	for _, p := range periodic {
		// Check the entries before any worker takes the lease.
		if _, err := cron.ParseStandard(p.spec); err != nil {
			return fmt.Errorf("schedule %s: %w", p.task().Type(), err)
		}
	}
	if err := srv.Start(w.Handler()); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	scheduled := make(chan struct{})
	go func() {
		defer close(scheduled)
		runScheduler(ctx, w.cfg.Redis, periodic, w.cfg.LeaderLease, log)
	}()
	log.Info("worker started", "concurrency", w.cfg.Concurrency)
	<-ctx.Done()
	<-scheduled
	srv.Shutdown()
	log.Info("worker stopped")
	return nil
}

// runScheduler enqueues entries on their schedule while this process
// holds the scheduler's lease in Redis (see leader), until ctx is done:
// however many workers run, each periodic task is enqueued once per
// period, and when the holder dies another worker takes over once its
// lease runs out.
func runScheduler(ctx context.Context, opt asynq.RedisConnOpt, entries []periodicTask, lease time.Duration, log *slog.Logger) {
	if lease <= 0 {
		lease = DefaultLease
	}
	rdb, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		log.Error("scheduler not started: Redis client of unexpected type")
		return
	}
	defer rdb.Close()
	newLeader(rdb, lease, log).run(ctx, func(ctx context.Context) {
		sched := asynq.NewScheduler(opt, &asynq.SchedulerOpts{
			Location: time.UTC,
			Logger:   asynqLogger{log},
			LogLevel: asynq.WarnLevel,
			PostEnqueueFunc: func(info *asynq.TaskInfo, err error) {
				if err != nil && !errors.Is(err, asynq.ErrDuplicateTask) {
					log.Warn("periodic task not enqueued", "err", err)
				}
			},
		})
		for _, p := range entries {
			if _, err := sched.Register(p.spec, p.task(), p.opts...); err != nil {
				log.Error("periodic task not scheduled", "task_type", p.task().Type(), "err", err)
			}
		}
		if err := sched.Start(); err != nil {
			log.Error("scheduler not started", "err", err)
			<-ctx.Done()
			return
		}
		<-ctx.Done()
		sched.Shutdown()
	})
}

// retryDelay is when Asynq runs a failed task again: when the network (or
// Chorus's own publishing limit) said, soon after a worker died, else
// Asynq's backoff.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	var re *social.RetryError
	if errors.As(err, &re) && re.Delay > 0 {
		return re.Delay
	}
	var later *content.RetryLater
	if errors.As(err, &later) && later.Delay > 0 {
		return later.Delay
	}
	if errors.Is(err, asynq.ErrLeaseExpired) {
		// The worker that ran it died (Asynq noticed a minute later).
		// Handlers are idempotent and a share's state decides what a
		// second run does: run it again soon.
		return time.Second
	}
	return asynq.DefaultRetryDelayFunc(n, err, t)
}

// isFailure: a "wait" (a network's 429, a spent publishing limit) is
// Asynq's rate-limit pattern, retried without using up a retry.
func isFailure(err error) bool {
	var re *social.RetryError
	return !errors.As(err, &re)
}

// asynqLogger sends Asynq's own log lines to slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...), "component", "asynq") }
func (l asynqLogger) Fatal(args ...any) {
	l.log.Error(fmt.Sprint(args...), "component", "asynq", "fatal", true)
}
