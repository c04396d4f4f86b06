package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/embeddedredis"
)

// Erasure deletes the person's waiting publication tasks from Redis by ID
// (the share's ID), not only their shares.
func TestErasureDeletesWaitingTasks(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var now, later struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}).json(t, &now)
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &later)
	if len(now.Items) != 1 || len(later.Items) != 1 || later.Items[0].State != "scheduled" {
		t.Fatalf("shares: %+v %+v", now.Items, later.Items)
	}
	// Someone else's waiting task stays.
	other := a.client(t)
	other.signIn("dave@acme.example")
	otherConn := a.connectMastodon(t, other)
	var theirs struct{ Items []shareDoc }
	other.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{otherConn}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &theirs)

	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	states := map[string]asynq.TaskState{}
	for _, id := range []string{now.Items[0].ID, later.Items[0].ID, theirs.Items[0].ID} {
		info, err := insp.GetTaskInfo(task.QueueCritical, id)
		if err != nil {
			t.Fatalf("task %s before erasure: %v", id, err)
		}
		states[id] = info.State
	}
	if states[now.Items[0].ID] != asynq.TaskStatePending || states[later.Items[0].ID] != asynq.TaskStateScheduled {
		t.Fatalf("task states before erasure: %v", states)
	}

	if res := employee.do("DELETE", "/api/v1/me", nil); res.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", res.status, res.body)
	}
	for _, id := range []string{now.Items[0].ID, later.Items[0].ID} {
		if info, err := insp.GetTaskInfo(task.QueueCritical, id); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("task %s after erasure: %+v, %v; want it deleted", id, info, err)
		}
	}
	if _, err := insp.GetTaskInfo(task.QueueCritical, theirs.Items[0].ID); err != nil {
		t.Errorf("another member's task after the erasure: %v, want it kept", err)
	}
}

// After a backup restore, the erased person's shares are back in the
// database and the reconciler may queue their tasks again: replaying the
// erasures deletes those tasks too, in the deployment's Redis
// (CHORUS_REDIS_URL) or in the embedded redis-server on the data dir.
func TestReplayErasuresDeletesTasksThatCameBack(t *testing.T) {
	for _, embedded := range []bool{false, true} {
		t.Run(map[bool]string{false: "CHORUS_REDIS_URL", true: "embedded on the data dir"}[embedded], func(t *testing.T) {
			replayErasuresDeletesTasks(t, embedded)
		})
	}
}

func replayErasuresDeletesTasks(t *testing.T, embedded bool) {
	a, employee, connID, postID := shareSetup(t)
	var later struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &later)
	if len(later.Items) != 1 {
		t.Fatalf("share: %+v", later.Items)
	}
	shareID := later.Items[0].ID
	var m me
	employee.do("GET", "/api/v1/me", nil).json(t, &m)

	uri, db := a.mongo()
	raw, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	shares := raw.Database(db).Collection("t_" + m.Instance.ID + "_shares")
	var dumped bson.M
	if err := shares.FindOne(t.Context(), bson.D{{Key: "_id", Value: shareID}}).Decode(&dumped); err != nil {
		t.Fatal(err)
	}
	if res := employee.do("DELETE", "/api/v1/me", nil); res.status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", res.status, res.body)
	}
	// The restore brings the share back as it was, and with it the task.
	if _, err := shares.ReplaceOne(t.Context(), bson.D{{Key: "_id", Value: shareID}}, dumped); err != nil {
		t.Fatal(err)
	}
	members := raw.Database(db).Collection("t_" + m.Instance.ID + "_members")
	if _, err := members.InsertOne(t.Context(), bson.D{{Key: "_id", Value: m.Member.ID}, {Key: "tenant_id", Value: m.Instance.ID},
		{Key: "email", Value: m.Member.Email}, {Key: "name", Value: "restored"}, {Key: "role", Value: "employee"}}); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db}
	queue := a.queue
	if embedded {
		// The platform's embedded redis-server, still running on the data
		// dir: the replay finds it there.
		dataDir := t.TempDir()
		rs, err := embeddedredis.Start(t.Context(), filepath.Join(dataDir, "redis"), false, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Stop(context.Background()) })
		queue, env["CHORUS_DATA_DIR"] = rs.Opt(), dataDir
	} else {
		env["CHORUS_REDIS_URL"] = redisURL(a.queue)
	}
	q := asynq.NewClient(queue)
	defer q.Close()
	if _, err := q.Enqueue(task.Publish(m.Instance.ID, shareID), asynq.TaskID(shareID), asynq.Queue(task.QueueCritical),
		asynq.ProcessAt(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}

	var out strings.Builder
	if err := run(t.Context(), []string{"privacy", "replay-erasures"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("replay-erasures: %v", err)
	}
	if !strings.Contains(out.String(), "erased again: 1") {
		t.Errorf("output %q", out.String())
	}
	insp := asynq.NewInspector(queue)
	defer insp.Close()
	if info, err := insp.GetTaskInfo(task.QueueCritical, shareID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("the restored share's task after the replay: %+v, %v; want it deleted", info, err)
	}
}

// A share cancelled by its member, or by admins un-whitelisting its
// network, loses its waiting task too: Redis keeps no publication of a
// share that will never be published.
func TestCancelledSharesLoseTheirTasks(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	share := func(body map[string]any) string {
		t.Helper()
		var out struct{ Items []shareDoc }
		employee.do("POST", "/api/v1/content/"+postID+"/shares", body).json(t, &out)
		if len(out.Items) != 1 {
			t.Fatalf("share: %+v", out.Items)
		}
		if _, err := insp.GetTaskInfo(task.QueueCritical, out.Items[0].ID); err != nil {
			t.Fatalf("the new share's task: %v", err)
		}
		return out.Items[0].ID
	}
	gone := func(what, id string) {
		t.Helper()
		if info, err := insp.GetTaskInfo(task.QueueCritical, id); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("%s: task %+v, %v; want it deleted", what, info, err)
		}
	}

	cancelled := share(map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"})
	if res := employee.do("POST", "/api/v1/shares/"+cancelled+"/cancel", nil); res.status != http.StatusOK {
		t.Fatalf("cancel: %d %s", res.status, res.body)
	}
	gone("a share its member cancelled", cancelled)

	queued := share(map[string]any{"connections": []string{connID}})
	scheduled := share(map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"})
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	if res := admin.do("DELETE", "/api/v1/networks/mastodon", nil); res.status != http.StatusNoContent {
		t.Fatalf("un-whitelist: %d %s", res.status, res.body)
	}
	gone("a queued share of an un-whitelisted network", queued)
	gone("a scheduled share of an un-whitelisted network", scheduled)
}

// The operator's offboarding (chorus instance delete) erases the members
// first, as the admin's does: their waiting tasks leave the deployment's
// Redis and their connections go before the instance's data.
func TestOffboardingCommandDeletesWaitingTasks(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	var later struct{ Items []shareDoc }
	employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}, "publish_at": "2099-01-01T00:00:00Z"}).json(t, &later)
	if len(later.Items) != 1 {
		t.Fatalf("share: %+v", later.Items)
	}
	var m me
	employee.do("GET", "/api/v1/me", nil).json(t, &m)
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	if _, err := insp.GetTaskInfo(task.QueueCritical, later.Items[0].ID); err != nil {
		t.Fatalf("the scheduled task before offboarding: %v", err)
	}

	uri, db := a.mongo()
	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db, "CHORUS_REDIS_URL": redisURL(a.queue)}
	var out strings.Builder
	if err := run(t.Context(), []string{"instance", "delete", m.Instance.ID, "--reason", "contract ended"}, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("chorus instance delete: %v (%s)", err, out.String())
	}
	if info, err := insp.GetTaskInfo(task.QueueCritical, later.Items[0].ID); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("the scheduled task after the operator's offboarding: %+v, %v; want it deleted", info, err)
	}
	// The app is another process: its session cache forgets within its TTL.
	deadline := time.Now().Add(tenant.DefaultAuthCacheTTL + 5*time.Second)
	for {
		res := employee.do("GET", "/api/v1/me", nil)
		if res.status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the member's session after offboarding: %d, want 401", res.status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// redisURL is CHORUS_REDIS_URL for the test app's Redis, for commands run
// against it.
func redisURL(q asynq.RedisConnOpt) string {
	opt := q.(asynq.RedisClientOpt)
	if opt.Network == "unix" {
		return fmt.Sprintf("redis-socket://%s?db=%d", opt.Addr, opt.DB)
	}
	return fmt.Sprintf("redis://%s/%d", opt.Addr, opt.DB)
}
