package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
)

// faultWorkerEnv turns this test binary into a publishing worker process
// (TestFaultWorkerProcess) for TestWorkerKilledMidPublish; it holds a
// faultWorkerConfig as JSON.
const faultWorkerEnv = "CHORUS_TEST_FAULT_WORKER"

type faultWorkerConfig struct {
	MongoURI, MongoDB string
	RedisAddr         string
	RedisDB           int
	Keys              string
	BaseURL           string
	// Fake is the Mastodon fake's host:port, which the worker may reach.
	Fake string
}

// TestFaultWorkerProcess is not a test of its own: it is the worker that
// TestWorkerKilledMidPublish starts as a separate process and kills. It
// prints "ready" once its Asynq server starts and runs until killed.
func TestFaultWorkerProcess(t *testing.T) {
	raw := os.Getenv(faultWorkerEnv)
	if raw == "" {
		t.Skip("the worker process of TestWorkerKilledMidPublish")
	}
	var c faultWorkerConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: c.MongoURI, Database: c.MongoDB, Kinds: storeKinds(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	redisOpt := asynq.RedisClientOpt{Addr: c.RedisAddr, DB: c.RedisDB}
	queue := asynq.NewClient(redisOpt)
	tasks := asynq.NewInspector(redisOpt)
	keys, err := social.ParseKeyring(c.Keys)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(c.BaseURL)
	fake := netip.MustParseAddrPort(c.Fake)
	jq := jobs.NewQueue(queue, tasks, log)
	contentSvc := newContentService(log, time.Now, nil, jq, content.PushConfig{})
	socialSvc, err := newSocialService(base, keys, log, time.Now, networkOptions{
		allow: []netip.Prefix{netip.PrefixFrom(fake.Addr(), 32)}, ports: []int{int(fake.Port())}, allowHTTP: true,
	}, contentSvc, jq)
	if err != nil {
		t.Fatal(err)
	}
	w, err := jobs.NewWorker(jobs.Config{Redis: redisOpt, Store: store, Content: contentSvc, Social: socialSvc, Log: log, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

// faultWorker is a running worker process.
type faultWorker struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	ready  time.Time
	once   sync.Once
}

// kill kills the process (SIGKILL) and waits until it is gone.
func (fw *faultWorker) kill() {
	fw.once.Do(func() {
		fw.cmd.Process.Kill()
		fw.cmd.Wait()
	})
}

// TestWorkerKilledMidPublish kills a real worker process (SIGKILL) at a
// random moment while it publishes, over and over, then lets time pass for
// Asynq and the reconciler and runs a fresh worker: no share may be sent
// to the network twice, and none may be lost. Every share ends published,
// failed, cancelled or unconfirmed; and since the Mastodon fake can be
// asked, the reconciler resolves every unconfirmed one, so here all end
// published, each exactly once.
func TestWorkerKilledMidPublish(t *testing.T) {
	// How long the workers may take to settle the shares: a few seconds
	// unloaded, a minute or more under the race detector on a busy machine.
	const settle = 3 * time.Minute
	if testing.Short() {
		t.Skip("starts and kills 50 worker processes")
	}
	const runs, perRun = 50, 2
	a, employee, connID, postID := shareSetup(t)
	// The network creates the post, then takes a while to say so: the
	// window where a dying worker leaves a post it does not know about.
	a.mastodon.DelayAnswers(30 * time.Millisecond)
	inst := a.mustInstance(t, employee)
	opt, ok := a.queue.(asynq.RedisClientOpt)
	if !ok {
		t.Fatalf("redis options of type %T", a.queue)
	}
	uri, db := a.mongo()
	cfg, _ := json.Marshal(faultWorkerConfig{MongoURI: uri, MongoDB: db, RedisAddr: opt.Addr, RedisDB: opt.DB,
		Keys: "test:" + base64.StdEncoding.EncodeToString(make([]byte, 32)), BaseURL: a.srv.URL,
		Fake: a.mastodon.Listener.Addr().String()})
	env := append(os.Environ(), faultWorkerEnv+"="+string(cfg))

	start := func() *faultWorker {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestFaultWorkerProcess$", "-test.count=1")
		cmd.Env = env
		fw := &faultWorker{cmd: cmd, stderr: &bytes.Buffer{}}
		cmd.Stderr = fw.stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fw.kill)
		line := make(chan string, 1)
		go func() {
			s := bufio.NewScanner(out)
			for s.Scan() {
				if s.Text() == "ready" {
					line <- s.Text()
				}
			}
		}()
		select {
		case <-line:
		case <-time.After(30 * time.Second):
			t.Fatalf("the worker process did not start: %s", fw.stderr)
		}
		fw.ready = time.Now()
		return fw
	}

	raw, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	sharesColl := raw.Database(db).Collection("t_" + inst + "_shares")
	states := func() map[string]string {
		t.Helper()
		cur, err := sharesColl.Find(t.Context(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct {
			ID    string `bson:"_id"`
			State string `bson:"state"`
		}
		if err := cur.All(t.Context(), &docs); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, d := range docs {
			out[d.ID] = d.State
		}
		return out
	}
	pending := func(s string) bool { return s == "queued" || s == "scheduled" || s == "publishing" }
	share := func() string {
		t.Helper()
		var out struct{ Items []shareDoc }
		res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}})
		res.json(t, &out)
		if res.status != http.StatusAccepted || len(out.Items) != 1 {
			t.Fatalf("share: %d %s", res.status, res.body)
		}
		return out.Items[0].ID
	}

	// How long a worker takes to publish a run's shares, to spread the
	// kills over it (and a little past it).
	var ids []string
	for range perRun {
		ids = append(ids, share())
	}
	fw := start()
	for deadline := time.Now().Add(settle); ; time.Sleep(5 * time.Millisecond) {
		st := states()
		if !pending(st[ids[0]]) && !pending(st[ids[1]]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("an unharmed worker did not publish within %v: %v\n%s", settle, st, fw.stderr)
		}
	}
	window := max(time.Since(fw.ready)*3/2, 100*time.Millisecond)
	fw.kill()
	t.Logf("a worker publishes %d shares in %v after it starts; kills fall within %v", perRun, time.Since(fw.ready), window)

	atKill := map[string]int{}
	for range runs {
		for range perRun {
			ids = append(ids, share())
		}
		fw := start()
		time.Sleep(rand.N(window))
		fw.kill()
		st := states()
		for _, id := range ids[len(ids)-perRun:] {
			atKill[st[id]]++
		}
	}
	t.Logf("the states each run's shares were in right after its worker was killed: %v", atKill)
	if atKill["publishing"] == 0 {
		t.Errorf("no kill landed while a share was publishing: the test did not test the dangerous window")
	}

	// Time passes: Asynq's leases of the dead workers' tasks run out (it
	// waits a minute), and so do the shares' publishing leases. Then the
	// reconciler runs and a fresh worker takes over.
	rdb := redis.NewClient(&redis.Options{Addr: opt.Addr, DB: opt.DB})
	defer rdb.Close()
	// Asynq (v0.25) keeps each active task's lease as a score, in Unix
	// seconds, of this sorted set; its recoverer takes tasks whose lease
	// ended more than 30 s ago.
	leases := "asynq:{" + task.QueueCritical + "}:lease"
	expired, err := rdb.ZRange(t.Context(), leases, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range expired {
		rdb.ZAdd(t.Context(), leases, redis.Z{Score: float64(time.Now().Add(-2 * time.Minute).Unix()), Member: id})
	}
	// What the dead workers left mid-call: posts the network has and
	// posts it never got.
	cutSent, cutNot := 0, 0
	for id, s := range states() {
		if s == "publishing" && a.mastodon.PostRequests(id) > 0 {
			cutSent++
		} else if s == "publishing" {
			cutNot++
		}
	}
	a.clock.Add(time.Now().Add(3 * time.Minute).Sub(a.clock.Now()))
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Social: a.social})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
		t.Fatal(err)
	}
	fresh := start()
	var final map[string]string
	for deadline := time.Now().Add(settle); ; time.Sleep(50 * time.Millisecond) {
		final = states()
		left := 0
		for _, s := range final {
			if pending(s) {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d shares still pending %v after the fresh worker started: %v\n%s", left, settle, final, fresh.stderr)
		}
	}
	// The reconciler asks the network about the unconfirmed shares: those
	// whose post is there are published; the others, once the grace period
	// is over, are queued again and another fresh worker posts them. (The
	// test's clock runs minutes ahead of the workers': reconciling while
	// one of them publishes would look like a worker that died.)
	fresh.kill()
	if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
		t.Fatal(err)
	}
	a.clock.Add(11 * time.Minute)
	// A run asks about 50 shares per instance: the scheduler's runs, a
	// minute apart, take the rest.
	for range 4 {
		if err := w.Handler().ProcessTask(t.Context(), task.Reconcile()); err != nil {
			t.Fatal(err)
		}
		a.clock.Add(time.Minute)
	}
	fresh = start()
	for deadline := time.Now().Add(settle); ; time.Sleep(50 * time.Millisecond) {
		final = states()
		left := 0
		for _, s := range final {
			if s != "published" {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			insp := asynq.NewInspector(opt)
			defer insp.Close()
			for id, s := range final {
				if s != "published" {
					info, err := insp.GetTaskInfo(task.QueueCritical, id)
					t.Logf("share %s: %s, sent %d times; task %+v %v", id, s, a.mastodon.PostRequests(id), info, err)
				}
			}
			t.Fatalf("%d shares not published %v after the unconfirmed were resolved\n%s", left, settle, fresh.stderr)
		}
	}
	fresh.kill()
	t.Logf("the dead workers left %d shares publishing whose post the network had and %d whose post it never got", cutSent, cutNot)

	counts := map[string]int{}
	statuses := map[string]bool{}
	for _, st := range a.mastodon.Statuses() {
		statuses[st.IdempotencyKey] = true
	}
	if len(final) != len(ids) {
		t.Errorf("%d shares in the database, want %d", len(final), len(ids))
	}
	for _, id := range ids {
		s := final[id]
		counts[s]++
		if n := a.mastodon.PostRequests(id); n > 1 {
			t.Errorf("share %s was sent to the network %d times", id, n)
		}
		switch s {
		case "published":
			if !statuses[id] {
				t.Errorf("share %s is published but the network has no post of it", id)
			}
		case "unconfirmed":
		case "failed", "cancelled":
			if statuses[id] {
				t.Errorf("share %s is %s but the network has its post", id, s)
			}
		default:
			t.Errorf("share %s ended %q", id, s)
		}
	}
	t.Logf("%d shares over %d killed workers: %v; %d posts at the network", len(ids), runs, counts, len(statuses))
	if strings.Contains(fresh.stderr.String(), "panic") {
		t.Errorf("the fresh worker: %s", fresh.stderr)
	}
}
