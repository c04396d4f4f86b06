package jobs

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// gathered returns the value of each sample of reg as "name{label=value,…}".
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

// The queue collector reads the queues at the scrape: tasks per queue and
// state, the age of the oldest pending task, and queues that never held a
// task as empty.
func TestQueueCollectorReportsDepthAndLatency(t *testing.T) {
	redisOpt := jobstest.Redis(t)
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewQueueCollector(insp, nil))

	before := gathered(t, reg)
	if got, ok := before[`chorus_queue_tasks{queue=critical,state=pending}`]; !ok || got != 0 {
		t.Errorf("an empty critical queue: pending = %v (reported %t), want 0", got, ok)
	}
	for range 3 {
		if _, err := client.Enqueue(task.HealthPing(), asynq.Queue(task.QueueCritical)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Enqueue(task.HealthPing(), asynq.Queue(task.QueueLow), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Asynq measures latency in whole seconds since the oldest pending
	// task was enqueued.
	time.Sleep(1100 * time.Millisecond)
	got := gathered(t, reg)
	for name, want := range map[string]float64{
		`chorus_queue_tasks{queue=critical,state=pending}`: 3,
		`chorus_queue_tasks{queue=critical,state=active}`:  0,
		`chorus_queue_tasks{queue=low,state=scheduled}`:    1,
		`chorus_queue_tasks{queue=low,state=pending}`:      0,
		`chorus_queue_tasks{queue=default,state=pending}`:  0,
		`chorus_queue_latency_seconds{queue=low}`:          0,
		`chorus_queue_paused{queue=critical}`:              0,
		`chorus_queue_inspection_up{}`:                     1,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (reported %t), want %v", name, v, ok, want)
		}
	}
	if v := got[`chorus_queue_latency_seconds{queue=critical}`]; v < 1 {
		t.Errorf("critical queue latency = %v s, want ≥ 1 s (its oldest task waits since before the sleep)", v)
	}
	if err := insp.PauseQueue(task.QueueCritical); err != nil {
		t.Fatal(err)
	}
	if v := gathered(t, reg)[`chorus_queue_paused{queue=critical}`]; v != 1 {
		t.Errorf("paused critical queue: chorus_queue_paused = %v, want 1", v)
	}
}

// A task that fails counts as a failure of its queue and type; Asynq's
// per-queue failure count says so too.
func TestWorkerCountsFailuresByQueueAndType(t *testing.T) {
	redisOpt := jobstest.Redis(t)
	uri, db := tenanttest.Mongo(t)
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	reg := prometheus.NewRegistry()
	w, err := NewWorker(Config{Redis: redisOpt, Store: store, Log: slog.New(slog.DiscardHandler), Metrics: reg, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	reg.MustRegister(NewQueueCollector(insp, nil))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	client := asynq.NewClient(redisOpt)
	defer client.Close()
	// An instance that does not exist: the task fails for good.
	if _, err := client.Enqueue(task.Preview("no-such-instance", "p1"), asynq.Queue(task.QueueLow)); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(task.HealthPing(), asynq.Queue(task.QueueDefault)); err != nil {
		t.Fatal(err)
	}
	failed := w.failures.WithLabelValues(task.QueueLow, task.TypePreview)
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(failed) < 1 || testutil.ToFloat64(w.heartbeat) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not run both tasks within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := gathered(t, reg)
	for name, want := range map[string]float64{
		`chorus_task_failures_total{queue=low,type=content:preview}`:   1,
		`chorus_task_duration_seconds{queue=default,type=health:ping}`: 1,
		`chorus_queue_failed_total{queue=low}`:                         1,
		`chorus_queue_tasks{queue=low,state=archived}`:                 1,
	} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v (reported %t), want %v", name, v, ok, want)
		}
	}
	if _, ok := got[`chorus_task_failures_total{queue=default,type=health:ping}`]; ok {
		t.Error("a task that succeeded counted as a failure")
	}
}

// commandCounter counts the Redis commands a client sends.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { c.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// A scrape costs the same number of Redis commands whatever the queues
// hold: an empty Redis, then 2,000 waiting tasks.
func TestQueueScrapeCostDoesNotGrowWithTheQueues(t *testing.T) {
	redisOpt := jobstest.Redis(t)
	rdb := redisOpt.MakeRedisClient().(*redis.Client)
	defer rdb.Close()
	counter := &commandCounter{}
	rdb.AddHook(counter)
	insp := asynq.NewInspectorFromRedisClient(rdb)
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewQueueCollector(insp, nil))
	scrape := func() int64 {
		t.Helper()
		before := counter.n.Load()
		gathered(t, reg)
		return counter.n.Load() - before
	}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	// Every queue known to Redis, each with one task.
	for _, q := range []string{task.QueueCritical, task.QueueDefault, task.QueueLow} {
		if _, err := client.Enqueue(task.HealthPing(), asynq.Queue(q)); err != nil {
			t.Fatal(err)
		}
	}
	scrape() // the first one loads Asynq's scripts into Redis
	small := scrape()
	for range 2000 {
		if _, err := client.Enqueue(task.HealthPing(), asynq.Queue(task.QueueCritical)); err != nil {
			t.Fatal(err)
		}
	}
	large := scrape()
	if v := gathered(t, reg)[`chorus_queue_tasks{queue=critical,state=pending}`]; v != 2001 {
		t.Fatalf("pending in critical = %v, want 2001", v)
	}
	t.Logf("Redis commands per scrape: %d with 3 tasks, %d with 2,003", small, large)
	if large > small {
		t.Errorf("a scrape sent %d Redis commands with 2,003 tasks, %d with 3: its cost grows with the queues", large, small)
	}
}
