package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/content/preview"
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

// fixedPage serves one preview for every URL.
type fixedPage struct{}

func (fixedPage) Fetch(context.Context, string) (preview.Preview, error) {
	return preview.Preview{Title: "Fetched"}, nil
}

func TestPreviewTaskStaysInItsInstance(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db, Kinds: content.Kinds()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	open := func(domain string) tenant.Scope {
		inst, err := store.EnsureInstance(t.Context(), domain, "a@"+domain)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := store.Open(t.Context(), inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	a, b := open("acme.example"), open("globex.example")
	svc := content.NewService(content.Config{})
	p, err := svc.Create(t.Context(), a, tenant.Member{ID: "m", Role: tenant.RoleCurator}, content.Draft{URL: new("https://news.example/x")})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWorker(Config{Store: store, Content: content.NewService(content.Config{Fetcher: fixedPage{}}), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		task     *asynq.Task
		wantSkip bool
	}{
		{"A's post in B's name", task.Preview(b.InstanceID(), p.ID), true},
		{"unknown instance", task.Preview("nosuchinstance", p.ID), true},
		{"malformed payload", asynq.NewTask(task.TypePreview, []byte(`{"tenant_id":{"$ne":""}}`)), true},
		{"A's post in A's name", task.Preview(a.InstanceID(), p.ID), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := w.Handler().ProcessTask(t.Context(), tt.task)
			if got := errors.Is(err, asynq.SkipRetry); got != tt.wantSkip {
				t.Errorf("err = %v, want SkipRetry %v", err, tt.wantSkip)
			}
			if !tt.wantSkip && err != nil {
				t.Errorf("err = %v", err)
			}
		})
	}
	got, err := svc.Get(t.Context(), a, p.ID)
	if err != nil || got.Preview.Title != "Fetched" {
		t.Errorf("A's post after its own task: %+v, %v", got.Preview, err)
	}
}

// refusedPage is a link the preview fetcher refuses.
type refusedPage struct{}

func (refusedPage) Fetch(context.Context, string) (preview.Preview, error) {
	return preview.Preview{}, fmt.Errorf("%w: loopback address ::ffff:127.0.0.1", preview.ErrBlocked)
}

// A preview task whose link the fetcher refuses ends at once, archived
// without retries, with one warning and no "task failed".
func TestRefusedPreviewTaskIsNotRetried(t *testing.T) {
	redisOpt := jobstest.Redis(t)
	uri, db := tenanttest.Mongo(t)
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db, Kinds: content.Kinds()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	inst, err := store.EnsureInstance(t.Context(), "acme.example", "a@acme.example")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := store.Open(t.Context(), inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	svc := content.NewService(content.Config{Fetcher: refusedPage{}})
	p, err := svc.Create(t.Context(), sc, tenant.Member{ID: "m", Role: tenant.RoleCurator}, content.Draft{URL: new("https://[::ffff:127.0.0.1]/")})
	if err != nil {
		t.Fatal(err)
	}
	var logs tenanttest.Buffer
	w, err := NewWorker(Config{Redis: redisOpt, Store: store, Content: svc, Concurrency: 1,
		Log: slog.New(slog.NewTextHandler(&logs, nil)), Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	if _, err := client.Enqueue(task.Preview(sc.InstanceID(), p.ID), asynq.Queue(task.QueueLow), asynq.MaxRetry(5)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	insp := asynq.NewInspector(redisOpt)
	defer insp.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if archived, _ := insp.ListArchivedTasks(task.QueueLow); len(archived) == 1 {
			break
		}
		if retry, _ := insp.ListRetryTasks(task.QueueLow); len(retry) > 0 {
			t.Fatalf("the task is to be retried: %+v", retry[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("the task was not archived within 20 s; logs:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v", err)
	}
	got := logs.String()
	if strings.Count(got, "level=WARN msg=\"task dropped\"") != 1 || strings.Contains(got, "task failed") {
		t.Errorf("logs, want one warning \"task dropped\" and no \"task failed\":\n%s", got)
	}
}
