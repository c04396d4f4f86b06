package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// externalMongoEnv is the environment of a development run on the test's
// database (CHORUS_ADDR on port 0, the dev mailbox), with extra over it.
func externalMongoEnv(t *testing.T, extra map[string]string) map[string]string {
	t.Helper()
	uri, db := tenanttest.Mongo(t)
	env := map[string]string{
		"CHORUS_ADDR":           "127.0.0.1:0",
		"CHORUS_DATA_DIR":       t.TempDir(),
		"CHORUS_DEV_MAILBOX":    "1",
		"CHORUS_MONGO_URI":      uri,
		"CHORUS_MONGO_DATABASE": db,
	}
	maps.Copy(env, extra)
	return env
}

// get fetches url with an optional bearer token.
func get(t *testing.T, url, token string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b)
}

// chorus worker serves its probes and metrics on CHORUS_WORKER_ADDR, the
// metrics behind CHORUS_METRICS_TOKEN like the API's.
func TestWorkerServesProbesAndMetrics(t *testing.T) {
	env := externalMongoEnv(t, map[string]string{
		"CHORUS_WORKER_ADDR":   "127.0.0.1:0",
		"CHORUS_REDIS_URL":     redisURL(jobstest.Redis(t)),
		"CHORUS_METRICS_TOKEN": "scrape-me",
	})
	addr, stop, logs := startCommand(t, "worker", env, "worker probes and metrics", "listen")
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("worker returned %v after a graceful stop", err)
		}
	}()
	base := "http://" + addr
	upToDate := fmt.Sprintf(`"msg":"database up to date","migration":%d`, len(migrations(slog.Default(), nil)))
	if !slices.ContainsFunc(logs(), func(l string) bool { return strings.Contains(l, upToDate) }) {
		t.Errorf("the worker did not migrate the database at start:\n%s", strings.Join(logs(), "\n"))
	}
	if st, _, body := get(t, base+"/healthz", ""); st != http.StatusOK {
		t.Errorf("healthz: %d %s", st, body)
	}
	if st, _, body := get(t, base+"/readyz", ""); st != http.StatusOK || !strings.Contains(body, `"redis":"ok"`) {
		t.Errorf("readyz: %d %s", st, body)
	}
	if st, h, body := get(t, base+"/metrics", ""); st != http.StatusUnauthorized || h.Get("Content-Type") != "application/problem+json" {
		t.Errorf("metrics without the token: %d %s %s, want 401 problem+json", st, h.Get("Content-Type"), body)
	}
	st, _, body := get(t, base+"/metrics", "scrape-me")
	if st != http.StatusOK {
		t.Fatalf("metrics with the token: %d %s", st, body)
	}
	for _, want := range []string{`chorus_queue_tasks{queue="critical",state="pending"} 0`, "chorus_queue_latency_seconds{", "chorus_queue_inspection_up 1", "chorus_build_info{"} {
		if !strings.Contains(body, want) {
			t.Errorf("worker metrics lack %s", want)
		}
	}
	if st, h, body := get(t, base+"/api/v1/me", ""); st != http.StatusNotFound || h.Get("Content-Type") != "application/problem+json" {
		t.Errorf("an API route on the worker: %d %s, want 404 problem+json", st, body)
	}
}

// /readyz answers 503 problem+json naming what does not answer.
func TestReadyzNamesWhatIsDown(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(t.Context())
	// Nothing listens on a port just released.
	ln := httptest.NewServer(http.NotFoundHandler())
	dead := strings.TrimPrefix(ln.URL, "http://")
	ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: dead, MaxRetries: -1})
	defer rdb.Close()
	e := gin.New()
	probeRoutes(e, config{}, store, rdb, prometheus.NewRegistry(), slog.New(slog.DiscardHandler), nil)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var p problemDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusServiceUnavailable ||
		rec.Header().Get("Content-Type") != "application/problem+json" || !strings.Contains(p.Detail, "Redis") || strings.Contains(p.Detail, "MongoDB") {
		t.Errorf("readyz with Redis down: %d %s %s, want 503 problem+json naming Redis only", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

// With CHORUS_MIGRATE=off a start leaves the migrations to chorus migrate.
func TestMigrateOffLeavesMigrationsToTheCommand(t *testing.T) {
	env := externalMongoEnv(t, map[string]string{"CHORUS_MIGRATE": "off"})
	_, stop := startRun(t, env)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"migrate"}, func(k string) string { return env[k] }, &out); err != nil || !strings.Contains(out.String(), fmt.Sprintf("migrated from 0 to %d", len(migrations(slog.Default(), nil)))) {
		t.Errorf("chorus migrate after a start with CHORUS_MIGRATE=off: %v\n%s", err, out.String())
	}
}

// While a start waits for migrations (here, another process holds the
// lock), the listener already answers: /healthz 200, so the process is not
// restarted, and everything else, /readyz included, 503 "starting".
func TestStartingProcessAnswersWhileMigrationsWait(t *testing.T) {
	env := externalMongoEnv(t, nil)
	raw, err := mongo.Connect(options.Client().ApplyURI(env["CHORUS_MONGO_URI"]))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Disconnect(context.Background())
	record := raw.Database(env["CHORUS_MONGO_DATABASE"]).Collection("migrations")
	if _, err := record.InsertOne(t.Context(), bson.D{{Key: "_id", Value: "schema"}, {Key: "version", Value: 0}, {Key: "index_set", Value: ""},
		{Key: "lock_owner", Value: "other-pod"}, {Key: "lock_until", Value: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	addr, stop, logs := startCommand(t, "all", env, "listening; Chorus starts", "listen")
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + addr
	if st, _, body := get(t, base+"/healthz", ""); st != http.StatusOK {
		t.Errorf("healthz while starting: %d %s", st, body)
	}
	for _, path := range []string{"/readyz", "/api/v1/me"} {
		st, h, body := get(t, base+path, "")
		var p problemDoc
		if json.Unmarshal([]byte(body), &p) != nil || st != http.StatusServiceUnavailable || h.Get("Content-Type") != "application/problem+json" || p.Code != "starting" {
			t.Errorf("%s while starting: %d %s %s, want 503 starting", path, st, h.Get("Content-Type"), body)
		}
	}
	// The other process finishes and lets go.
	if _, err := record.UpdateOne(t.Context(), bson.D{{Key: "_id", Value: "schema"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "lock_owner", Value: ""}, {Key: "lock_until", Value: time.Unix(0, 0)}}}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !slices.ContainsFunc(logs(), func(l string) bool { return strings.Contains(l, `"msg":"Chorus is running"`) }) {
		if time.Now().After(deadline) {
			t.Fatal("Chorus did not start within 30 s of the lock's release")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st, _, body := get(t, base+"/readyz", ""); st != http.StatusOK {
		t.Errorf("readyz once started: %d %s", st, body)
	}
}
