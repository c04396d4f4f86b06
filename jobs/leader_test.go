package jobs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/jobs/jobstest"
)

// schedulerChildEnv carries a schedulerChild's settings to a child process
// of the test binary that runs TestSchedulerProcess.
const schedulerChildEnv = "CHORUS_TEST_SCHEDULER_CHILD"

type schedulerChild struct {
	Network, Addr string
	DB            int
	LeaseMS       int64
	Every         string // the period of the test's periodic task
}

// TestSchedulerProcess is the body of a worker process's scheduler for
// TestOneSchedulerPerDeployment; run alone it does nothing.
func TestSchedulerProcess(t *testing.T) {
	raw := os.Getenv(schedulerChildEnv)
	if raw == "" {
		t.Skip("run by TestOneSchedulerPerDeployment")
	}
	var c schedulerChild
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	opt := asynq.RedisClientOpt{Network: c.Network, Addr: c.Addr, DB: c.DB}
	entries := []periodicTask{{"@every " + c.Every, func() *asynq.Task { return asynq.NewTask("test:tick", nil) }, []asynq.Option{asynq.Queue("ticks")}}}
	fmt.Println("ready")
	runScheduler(ctx, opt, entries, time.Duration(c.LeaseMS)*time.Millisecond, slog.New(slog.NewTextHandler(os.Stderr, nil)))
}

// TestOneSchedulerPerDeployment runs three worker processes' schedulers on
// one real redis-server: the periodic task is enqueued once per period, not
// three times; when the leader is killed (SIGKILL, no release), another
// process takes over within one lease and the task keeps coming once per
// period.
func TestOneSchedulerPerDeployment(t *testing.T) {
	const (
		lease  = 2 * time.Second
		period = time.Second
		watch  = 8 * time.Second
	)
	opt := jobstest.Redis(t)
	raw, _ := json.Marshal(schedulerChild{Network: opt.Network, Addr: opt.Addr, DB: opt.DB, LeaseMS: lease.Milliseconds(), Every: period.String()})
	env := append(os.Environ(), schedulerChildEnv+"="+string(raw))
	procs := map[int]*exec.Cmd{}
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSchedulerProcess$", "-test.count=1", "-test.v")
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("process %d:\n%s", cmd.Process.Pid, stderr.String())
			}
		})
		ready := make(chan struct{})
		go func() {
			s := bufio.NewScanner(out)
			for s.Scan() {
				if s.Text() == "ready" {
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			t.Fatalf("scheduler process did not start: %s", stderr.String())
		}
		procs[cmd.Process.Pid] = cmd
	}

	rdb := redis.NewClient(&redis.Options{Network: opt.Network, Addr: opt.Addr, DB: opt.DB})
	defer rdb.Close()
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	ticks := func() int {
		t.Helper()
		info, err := insp.GetQueueInfo("ticks")
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") {
				return 0
			}
			t.Fatal(err)
		}
		return info.Size
	}
	holder := func() int {
		t.Helper()
		v, err := rdb.Get(t.Context(), LeaderKey).Result()
		if err == redis.Nil {
			return 0
		} else if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(v, ":")
		pid, _ := strconv.Atoi(parts[len(parts)-2])
		return pid
	}
	// countOver counts the ticks enqueued during d, once a leader leads.
	countOver := func(d time.Duration) int {
		t.Helper()
		before := ticks()
		time.Sleep(d)
		return ticks() - before
	}

	deadline := time.Now().Add(10 * time.Second)
	for holder() == 0 || ticks() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no process took the lease and enqueued within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := int(watch / period)
	if got := countOver(watch); got < want-2 || got > want+1 {
		t.Fatalf("three schedulers enqueued %d ticks in %v, want %d (one per period)", got, watch, want)
	} else {
		t.Logf("three processes, %v: %d ticks of a %v task", watch, got, period)
	}

	leaderPID := holder()
	if procs[leaderPID] == nil {
		t.Fatalf("the lease names pid %d, not one of the processes", leaderPID)
	}
	killed := time.Now()
	if err := procs[leaderPID].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = procs[leaderPID].Wait()
	var next int
	for next = holder(); next == 0 || next == leaderPID; next = holder() {
		if time.Since(killed) > 2*lease {
			t.Fatalf("no process took over within %v of the leader's death", 2*lease)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	if procs[next] == nil {
		t.Fatalf("the lease names pid %d, not one of the processes", next)
	}
	// The lease runs out at most one lease after the leader's last
	// renewal, which was before the kill; the 20 ms poll and a loaded
	// machine get some slack.
	if took > lease+300*time.Millisecond {
		t.Errorf("process %d took over %v after the leader's death, want within the lease (%v)", next, took, lease)
	}
	t.Logf("leader %d killed; %d took over after %v (lease %v)", leaderPID, next, took.Round(time.Millisecond), lease)
	if got := countOver(watch); got < want-2 || got > want+1 {
		t.Errorf("after the takeover, two schedulers enqueued %d ticks in %v, want %d", got, watch, want)
	}
}
