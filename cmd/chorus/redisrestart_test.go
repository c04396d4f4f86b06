package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant/foundation/embeddedredis"
)

// Redis stops and restarts (from its append-only file) twice: while a
// post is on its way to the network, and while an employee shares. A real
// worker runs throughout. Nothing is lost and nothing is posted twice: the
// first share ends published once, though the worker could not tell Redis
// its task was done; the second is stored although it could not be
// queued, and the reconciler queues it once Redis is back.
func TestRedisRestartMidPublish(t *testing.T) {
	// A short directory keeps the socket path the same across restarts.
	dir, err := os.MkdirTemp("", "chorus-rr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	log := slog.New(slog.DiscardHandler)
	// go-redis logs every failed dial while Redis is down.
	redis.SetLogger(&logging.VoidLogger{})
	t.Cleanup(func() { redis.SetLogger(stderrRedis{}) })
	start := func() *embeddedredis.Server {
		t.Helper()
		rs, err := embeddedredis.Start(t.Context(), dir, false, log)
		if errors.Is(err, embeddedredis.ErrNotInstalled) && os.Getenv("CI") != "true" {
			t.Skip("restarting Redis needs redis-server: apt-get install redis-server")
		}
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	rs := start()
	t.Cleanup(func() { rs.Stop(context.Background()) })
	stop := func() {
		t.Helper()
		if err := rs.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	a, employee, connID, postID := shareSetupEnv(t, map[string]string{"CHORUS_REDIS_URL": rs.URL()})
	w := runWorker(t, a, log, 2)

	share := func() string {
		t.Helper()
		var out struct{ Items []shareDoc }
		res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}})
		if res.status != http.StatusAccepted {
			t.Fatalf("share: %d %s", res.status, res.body)
		}
		res.json(t, &out)
		return out.Items[0].ID
	}
	state := func(id string) shareDoc {
		t.Helper()
		var sh shareDoc
		employee.do("GET", "/api/v1/shares/"+id, nil).json(t, &sh)
		return sh
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("a minute passed waiting for %s", what)
			}
		}
	}

	// 1. The network has the post; Redis goes away before its answer
	// arrives, so the worker cannot mark the task done.
	a.mastodon.DelayAnswers(3 * time.Second)
	first := share()
	waitFor("the post at the network", func() bool { return len(a.mastodon.Statuses()) == 1 })
	stop()
	if got := state(first).State; got != "publishing" {
		t.Fatalf("the first share is %q once Redis stopped, want publishing (the answer is held 3 s)", got)
	}
	waitFor("the first share published", func() bool { return state(first).State == "published" })
	rs = start()
	a.mastodon.DelayAnswers(0)

	// 2. Redis is down when the employee shares: the share is stored all
	// the same and answered, only not queued.
	stop()
	second := share()
	if got := state(second).State; got != "queued" {
		t.Fatalf("the share made while Redis was down is %q, want queued", got)
	}
	rs = start()
	// The reconciler queues what waited a whole interval without a task.
	for range 2 {
		a.clock.Add(time.Minute)
		if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("the second share published", func() bool { return state(second).State == "published" })

	// Asynq learns the first task's end once Redis is back.
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	for _, id := range []string{first, second} {
		waitFor("task "+id+" completed in Redis", func() bool {
			info, err := insp.GetTaskInfo(task.QueueCritical, id)
			return err == nil && info.State == asynq.TaskStateCompleted
		})
	}
	if n := len(a.mastodon.Statuses()); n != 2 {
		t.Errorf("%d posts at the network for two shares, want 2", n)
	}
	for _, id := range []string{first, second} {
		if sh := state(id); sh.State != "published" || sh.PostURL == "" {
			t.Errorf("share %s: %+v, want published with its post's URL", id, sh)
		}
	}
}

// stderrRedis logs go-redis's messages to standard error, as its default
// logger (which cannot be got back) does.
type stderrRedis struct{}

func (stderrRedis) Printf(_ context.Context, format string, v ...any) {
	fmt.Fprintf(os.Stderr, "redis: "+format+"\n", v...)
}
