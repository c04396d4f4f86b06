package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

func TestWorkerProcessesTasksOnRealRedis(t *testing.T) {
	redisOpt := jobstest.Redis(t)
	uri, db := tenanttest.Mongo(t)
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	w, err := NewWorker(Config{
		Redis: redisOpt, Store: store, Log: slog.New(slog.DiscardHandler),
		Metrics: prometheus.NewRegistry(), Concurrency: 2, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	client := asynq.NewClient(redisOpt)
	defer client.Close()
	for _, tk := range []*asynq.Task{task.HealthPing(), task.SweepExpired()} {
		if _, err := client.Enqueue(tk, asynq.Queue(task.QueueLow)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for testutil.ToFloat64(w.processed.WithLabelValues(task.TypeSweepExpired, "ok")) < 1 ||
		testutil.ToFloat64(w.heartbeat) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not process both tasks within 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := testutil.ToFloat64(w.heartbeat); got != float64(now.Unix()) {
		t.Errorf("heartbeat = %v, want %v", got, now.Unix())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not stop within 30 s")
	}
}
