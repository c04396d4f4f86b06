package main

// Benchmarks of publishing and tracked links, each reporting ratios
// against a baseline measured in the same run. Run them one at a time,
// once (they run their own rounds):
//
//	go test -tags ferretdb_no_postgresql -run XXX -bench PublishPipeline -benchtime 1x ./cmd/chorus
//	go test -tags ferretdb_no_postgresql -run XXX -bench DispatchLatency -benchtime 1x ./cmd/chorus
//	go test -tags ferretdb_no_postgresql -run XXX -bench RedirectLoad -benchtime 1x ./cmd/chorus

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/jobstest"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// instantNetwork is a connector that answers at once, without a network:
// the pipeline's own cost shows.
type instantNetwork struct{ posts atomic.Int64 }

func (*instantNetwork) Name() string                          { return social.Bluesky }
func (*instantNetwork) OAuth(string, social.App) social.OAuth { return social.OAuth{} }
func (*instantNetwork) Profile(context.Context, social.Account) (social.Profile, error) {
	return social.Profile{RemoteID: "did:plc:bench", Handle: "@bench.test"}, nil
}
func (n *instantNetwork) Publish(_ context.Context, _ social.Account, p social.Post) (social.Published, error) {
	n.posts.Add(1)
	return social.Published{RemoteID: "at://did:plc:bench/app.bsky.feed.post/" + p.IdempotencyKey,
		URL: "https://bsky.app/profile/bench.test/post/" + p.IdempotencyKey, At: time.Now()}, nil
}
func (*instantNetwork) Delete(context.Context, social.Account, string) error { return nil }
func (*instantNetwork) Revoke(context.Context, social.Account) error         { return nil }
func (*instantNetwork) Server(string) (string, error)                        { return "https://bench.invalid", nil }

// Tokens last two hours, as Bluesky's access tokens do: without an
// expiry every publication would refresh them, one at a time under the
// connection's lease.
func (*instantNetwork) Login(context.Context, string, string, social.Secret) (social.Tokens, error) {
	return social.Tokens{Access: "access", Refresh: "refresh", Expiry: time.Now().Add(2 * time.Hour)}, nil
}
func (*instantNetwork) Refresh(context.Context, string, social.Secret) (social.Tokens, error) {
	return social.Tokens{Access: "access", Refresh: "refresh", Expiry: time.Now().Add(2 * time.Hour)}, nil
}
func (*instantNetwork) Logout(context.Context, string, social.Secret) error { return nil }

// benchServer is an Asynq server as jobs.Worker runs it (same polling and
// queues) around h; it returns a stop function.
func benchServer(b *testing.B, redisOpt asynq.RedisConnOpt, taskCheck, delayedCheck time.Duration, h asynq.Handler) func() {
	b.Helper()
	srv := asynq.NewServer(redisOpt, asynq.Config{
		Concurrency:              10,
		Queues:                   map[string]int{task.QueueCritical: 6, task.QueueDefault: 3, task.QueueLow: 1},
		TaskCheckInterval:        taskCheck,
		DelayedTaskCheckInterval: delayedCheck,
		LogLevel:                 asynq.ErrorLevel,
		Logger:                   asynqLogger{},
	})
	if err := srv.Start(h); err != nil {
		b.Fatal(err)
	}
	return srv.Shutdown
}

// asynqLogger drops Asynq's own lines in benchmarks.
type asynqLogger struct{}

func (asynqLogger) Debug(...any) {}
func (asynqLogger) Info(...any)  {}
func (asynqLogger) Warn(...any)  {}
func (asynqLogger) Error(...any) {}
func (asynqLogger) Fatal(...any) {}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuTime is the CPU time this process has used (user and system): the
// embedded database's included, other processes' not, so it holds up on a
// machine shared with other work better than requests per second do.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkPublishPipeline runs batches of share:publish tasks through
// Asynq against a connector without latency, three ways in interleaved
// rounds: (a) a handler that does nothing, (b) a handler that makes the
// pipeline's store round trips itself with the driver, (c) the real
// pipeline (jobs.Worker's handler: scope, reload, checks, throttle, CAS,
// connector, CAS, reach hook). The instance holds a year of shares,
// clicks and rollups first (seedYear), and the pipeline runs with the
// publishing limits and the reach hook as cmd wires them. It reports
// shares/s of each (medians) and the median of the per-round ratios c/b;
// the goal is c ≥ 80% of b.
func BenchmarkPublishPipeline(b *testing.B) {
	const rounds, batch = 7, 100
	ctx := context.Background()
	redisOpt := jobstest.Redis(b)
	uri, db := tenanttest.Mongo(b)
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Kinds: storeKinds()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close(ctx)
	inst, err := store.EnsureInstance(ctx, "bench.example", "admin@bench.example")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := tenant.NewService(tenant.Config{Store: store}).ForceVerify(ctx, "bench.example", "benchmark"); err != nil {
		b.Fatal(err)
	}
	sc, err := store.Open(ctx, inst.ID)
	if err != nil {
		b.Fatal(err)
	}
	instant := &instantNetwork{}
	reg, err := social.NewRegistry(instant)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := social.ParseKeyring("bench:" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if err != nil {
		b.Fatal(err)
	}
	base, _ := url.Parse("http://127.0.0.1:1")
	contentSvc := content.NewService(content.Config{})
	// As cmd wires it: the publishing limits (generous here, so that
	// nothing waits: their cost is the Redis round trip) and the reach
	// hook, on collections holding a year of shares and rollups.
	// RedirectLoad's year; smaller on FerretDB v1, which scans: each
	// publication there reads the whole collections.
	engine, err := storeEngine(ctx, uri)
	if err != nil {
		b.Fatal(err)
	}
	shares, clicks, pool := 2000, 50000, uint64(100)
	if engine == engineFerretV1 {
		shares, clicks, pool = 500, 10000, 1
	}
	b.Log(seedYear(b, sc, time.Now(), shares, clicks))
	limitRedis := redisOpt.MakeRedisClient().(redis.UniversalClient)
	defer limitRedis.Close()
	limiter := jobs.NewRateLimiter(limitRedis, map[string]social.Limits{social.Bluesky: {
		PerConnection: social.Rate{N: 1 << 30, Per: time.Hour}, PerInstance: social.Rate{N: 1 << 30, Per: time.Hour}}})
	throttle := func(ctx context.Context, sc tenant.Scope, network, connectionID string) (time.Duration, error) {
		return limiter.Wait(ctx, sc.InstanceID(), network, connectionID)
	}
	svc := social.NewService(social.Config{Networks: reg, Keys: keys, BaseURL: base, Content: contentSvc,
		Throttle: throttle, OnPublished: reach.New(reach.Config{}).SharePublished})
	admin := tenant.Member{ID: "benchadmin", Role: tenant.RoleAdmin}
	if _, err := svc.Allow(ctx, sc, admin, social.Bluesky, nil); err != nil {
		b.Fatal(err)
	}
	// A member of the company (an ID as the store makes them): publishing
	// cancels the shares of anyone who is not (one who left).
	me := tenant.Member{ID: "benchmemberaaaaaaaaaaaaaaa", Email: "member@bench.example", Role: tenant.RoleEmployee, Topics: []string{}, CreatedAt: time.Now().UTC()}
	if err := sc.Collection(tenant.Kind{Name: "members"}).Insert(ctx, me); err != nil {
		b.Fatal(err)
	}
	conn, err := svc.Connect(ctx, sc, me, social.Bluesky, "", "bench.test", "app-password")
	if err != nil {
		b.Fatal(err)
	}
	post, err := contentSvc.Create(ctx, sc, admin, content.Draft{URL: new("https://news.example/a"), Title: new("A")})
	if err != nil {
		b.Fatal(err)
	}
	w, err := jobs.NewWorker(jobs.Config{Store: store, Social: svc, Content: contentSvc})
	if err != nil {
		b.Fatal(err)
	}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	// The pool the store has: one connection on FerretDB v1, the driver's
	// default elsewhere.
	raw, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(pool))
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Disconnect(ctx)
	rdb := raw.Database(db)
	coll := func(kind string) *mongo.Collection { return rdb.Collection("t_" + inst.ID + "_" + kind) }

	// makeShares writes n queued shares (outside the timing).
	makeShares := func(n int) []string {
		ids := make([]string, n)
		for i := range ids {
			shares, err := svc.CreateShares(ctx, sc, me, post, social.ShareRequest{Connections: []string{conn.ID}})
			if err != nil {
				b.Fatal(err)
			}
			ids[i] = shares[0].ID
		}
		return ids
	}
	// run enqueues a task per ID, then times a server with h from its
	// start until every task was handled.
	run := func(ids []string, h asynq.HandlerFunc) float64 {
		for _, id := range ids {
			if _, err := client.Enqueue(task.Publish(inst.ID, id), asynq.Queue(task.QueueCritical), asynq.TaskID(id)); err != nil {
				b.Fatal(err)
			}
		}
		var done atomic.Int64
		var failed atomic.Value
		all := make(chan struct{})
		counted := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			err := h(ctx, t)
			if err != nil {
				failed.Store(err)
			}
			if done.Add(1) == int64(len(ids)) {
				close(all)
			}
			return err
		})
		start := time.Now()
		stop := benchServer(b, redisOpt, jobs.TaskCheckInterval, jobs.DelayedTaskCheckInterval, counted)
		select {
		case <-all:
		case <-time.After(10 * time.Minute):
			b.Fatalf("%d of %d tasks handled in 10 minutes", done.Load(), len(ids))
		}
		elapsed := time.Since(start)
		stop()
		if err, _ := failed.Load().(error); err != nil {
			b.Fatalf("a task failed: %v", err)
		}
		return float64(len(ids)) / elapsed.Seconds()
	}
	noop := func(context.Context, *asynq.Task) error { return nil }
	// driver makes the real pipeline's round trips: the instance, the
	// share, the member, the post, the whitelist, the throttle, the CAS to
	// publishing, the connection, the whitelist again, the CAS to
	// published, then the reach hook's: the share, the member's consents,
	// the rollup's and the totals' $inc upserts.
	driver := func(ctx context.Context, t *asynq.Task) error {
		ref, err := task.ParseRef(t)
		if err != nil {
			return err
		}
		var doc bson.M
		if err := rdb.Collection("instances").FindOne(ctx, bson.D{{Key: "_id", Value: ref.TenantID}}).Decode(&doc); err != nil {
			return fmt.Errorf("instance: %w", err)
		}
		// Filters as the tenant-scoped store writes them: tenant_id first.
		tf := bson.E{Key: "tenant_id", Value: ref.TenantID}
		var sh struct {
			ContentID    string `bson:"content_id"`
			ConnectionID string `bson:"connection_id"`
			Network      string `bson:"network"`
		}
		if err := coll("shares").FindOne(ctx, bson.D{tf, {Key: "_id", Value: ref.ID}}).Decode(&sh); err != nil {
			return fmt.Errorf("share: %w", err)
		}
		if err := coll("members").FindOne(ctx, bson.D{tf, {Key: "_id", Value: me.ID}}).Decode(&doc); err != nil {
			return fmt.Errorf("member: %w", err)
		}
		if err := coll("posts").FindOne(ctx, bson.D{tf, {Key: "_id", Value: sh.ContentID}}).Decode(&doc); err != nil {
			return fmt.Errorf("post: %w", err)
		}
		whitelisted := bson.D{tf, {Key: "_id", Value: sh.Network}, {Key: "allowed", Value: true}}
		if err := coll("networks").FindOne(ctx, whitelisted).Decode(&doc); err != nil {
			return fmt.Errorf("network: %w", err)
		}
		if _, err := limiter.Wait(ctx, ref.TenantID, sh.Network, sh.ConnectionID); err != nil {
			return err
		}
		now := time.Now().UTC()
		if _, err := coll("shares").UpdateOne(ctx, bson.D{tf, {Key: "_id", Value: ref.ID}, {Key: "state", Value: "queued"}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: "publishing"}, {Key: "attempt_id", Value: ref.ID}, {Key: "lease_until", Value: now}, {Key: "updated_at", Value: now}}}}); err != nil {
			return err
		}
		if err := coll("connections").FindOne(ctx, bson.D{tf, {Key: "_id", Value: sh.ConnectionID}}).Decode(&doc); err != nil {
			return fmt.Errorf("connection: %w", err)
		}
		if err := coll("networks").FindOne(ctx, whitelisted).Decode(&doc); err != nil {
			return fmt.Errorf("network: %w", err)
		}
		if _, err = coll("shares").UpdateOne(ctx, bson.D{tf, {Key: "_id", Value: ref.ID}, {Key: "state", Value: "publishing"}, {Key: "attempt_id", Value: ref.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: "published"}, {Key: "remote_id", Value: ref.ID}, {Key: "updated_at", Value: now}}}}); err != nil {
			return err
		}
		var member struct {
			MemberID string `bson:"member_id"`
		}
		if err := coll("shares").FindOne(ctx, bson.D{tf, {Key: "_id", Value: ref.ID}}).Decode(&member); err != nil {
			return fmt.Errorf("share: %w", err)
		}
		cur, err := coll("consents").Find(ctx, bson.D{tf, {Key: "member_id", Value: member.MemberID}, {Key: "purpose", Value: tenant.PurposeAnalyticsAttribution}})
		if err != nil {
			return err
		}
		if err := cur.All(ctx, &[]bson.M{}); err != nil {
			return err
		}
		for _, kind := range []string{"rollups", "rollup_totals"} {
			// Concurrent upserts of one new key: all but one insert fail
			// with a duplicate key and are retried as updates, as the store
			// does (tenant.Collection.BulkUpsert).
			for attempt := 0; ; attempt++ {
				_, err := coll(kind).UpdateOne(ctx, bson.D{tf, {Key: "_id", Value: "bench-" + now.Format(time.DateOnly)}},
					bson.D{{Key: "$inc", Value: bson.D{{Key: "shares", Value: 1}}}}, options.UpdateOne().SetUpsert(true))
				if err == nil {
					break
				}
				if !mongo.IsDuplicateKeyError(err) || attempt == 2 {
					return err
				}
			}
		}
		return nil
	}
	handler := w.Handler()
	pipeline := func(ctx context.Context, t *asynq.Task) error { return handler.ProcessTask(ctx, t) }

	var rateA, rateB, rateC, ratios []float64
	for range b.N {
		for r := range rounds {
			ids := make([]string, batch)
			for i := range ids {
				ids[i] = fmt.Sprintf("noop%d-%d", r, i)
			}
			rateA = append(rateA, run(ids, noop))
			// b and c each with their own round's shares beside the
			// year's, in alternating order.
			variant := func(h asynq.HandlerFunc) float64 {
				before := instant.posts.Load()
				ids := makeShares(batch)
				rate := run(ids, h)
				if got := instant.posts.Load() - before; h != nil && got != 0 && got != batch {
					b.Fatalf("%d posts for %d shares", got, batch)
				}
				if _, err := coll("shares").DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
					b.Fatal(err)
				}
				if _, err := coll("links").DeleteMany(ctx, bson.D{{Key: "share_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
					b.Fatal(err)
				}
				return rate
			}
			var rb, rc float64
			if r%2 == 0 {
				rb, rc = variant(driver), variant(pipeline)
			} else {
				rc, rb = variant(pipeline), variant(driver)
			}
			rateB, rateC, ratios = append(rateB, rb), append(rateC, rc), append(ratios, rc/rb)
		}
	}
	if instant.posts.Load() != int64(rounds*batch*b.N) {
		b.Fatalf("the pipeline posted %d times for %d shares", instant.posts.Load(), rounds*batch*b.N)
	}
	b.ReportMetric(median(rateA), "a-noop-shares/s")
	b.ReportMetric(median(rateB), "b-driver-shares/s")
	b.ReportMetric(median(rateC), "c-pipeline-shares/s")
	b.ReportMetric(median(ratios), "c/b")
	b.Logf("per round: a %.0f, b %.0f, c %.0f shares/s; c/b %.2f", rateA, rateB, rateC, ratios)
}

// BenchmarkDispatchLatency measures what Asynq's polling costs a share,
// with a handler that only notes the time, for Asynq's defaults and for
// jobs' intervals: "publish now" tasks enqueued at 500 a second (enqueue
// to handler, p50 and p99), and scheduled tasks (lateness behind the
// intended time, p99; early starts counted: Chorus rounds the time up to
// the whole second Asynq keeps).
func BenchmarkDispatchLatency(b *testing.B) {
	const rate, nowFor, scheduled = 500, 4 * time.Second, 300
	redisOpt := jobstest.Redis(b)
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	rc := redisOpt.MakeRedisClient().(redis.UniversalClient)
	defer rc.Close()
	for _, cfg := range []struct {
		name                    string
		taskCheck, delayedCheck time.Duration
		roundUp                 bool
	}{
		{"asynq-defaults", 0, 0, false},
		{"chorus", jobs.TaskCheckInterval, jobs.DelayedTaskCheckInterval, true},
	} {
		var mu sync.Mutex
		var nowLat, late []time.Duration
		early := 0
		var handled atomic.Int64
		h := asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
			at := time.Unix(0, int64(binary.BigEndian.Uint64(t.Payload())))
			d := time.Since(at)
			mu.Lock()
			if t.Type() == "bench:now" {
				nowLat = append(nowLat, d)
			} else {
				late = append(late, d)
				if d < 0 {
					early++
				}
			}
			mu.Unlock()
			handled.Add(1)
			return nil
		})
		stop := benchServer(b, redisOpt, cfg.taskCheck, cfg.delayedCheck, h)
		time.Sleep(2 * time.Second) // idle: the processors sleep as they do between bursts
		payload := func(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano())) }
		total := 0
		// Scheduled ones first, spread over the next seconds.
		for range scheduled {
			at := time.Now().Add(time.Second + rand.N(3*time.Second)).Truncate(time.Millisecond)
			when := at
			if cfg.roundUp {
				when = jobs.WholeSecondAfter(at)
			}
			if _, err := client.Enqueue(asynq.NewTask("bench:at", payload(at)), asynq.Queue(task.QueueCritical), asynq.ProcessAt(when)); err != nil {
				b.Fatal(err)
			}
			total++
		}
		// Five enqueuers at 100 a second each: one alone cannot keep up
		// with 500 a second here.
		var sent atomic.Int64
		var enqueuers sync.WaitGroup
		end := time.Now().Add(nowFor)
		for range 5 {
			enqueuers.Go(func() {
				tick := time.NewTicker(time.Second / (rate / 5))
				defer tick.Stop()
				for time.Now().Before(end) {
					<-tick.C
					if _, err := client.Enqueue(asynq.NewTask("bench:now", payload(time.Now())), asynq.Queue(task.QueueCritical)); err != nil {
						b.Error(err)
						return
					}
					sent.Add(1)
				}
			})
		}
		enqueuers.Wait()
		total += int(sent.Load())
		nowRate := float64(sent.Load()) / nowFor.Seconds()
		for deadline := time.Now().Add(30 * time.Second); handled.Load() < int64(total); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d of %d tasks handled", cfg.name, handled.Load(), total)
			}
		}
		stop()
		b.ReportMetric(float64(percentile(nowLat, 0.50).Microseconds())/1000, cfg.name+"-now-p50-ms")
		b.ReportMetric(float64(percentile(nowLat, 0.99).Microseconds())/1000, cfg.name+"-now-p99-ms")
		b.ReportMetric(float64(percentile(late, 0.99).Microseconds())/1000, cfg.name+"-scheduled-late-p99-ms")
		b.ReportMetric(float64(early), cfg.name+"-scheduled-early")
		b.ReportMetric(nowRate, cfg.name+"-now-enqueued/s")
		b.Logf("%s: %d publish-now tasks at %.0f/s: p50 %v, p99 %v; %d scheduled: lateness p50 %v, p99 %v, earliest %v, %d early",
			cfg.name, len(nowLat), nowRate, percentile(nowLat, 0.5), percentile(nowLat, 0.99),
			len(late), percentile(late, 0.5), percentile(late, 0.99), percentile(late, 0), early)
		if err := rc.FlushDB(context.Background()).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedirectLoad serves GET /r/{code} through the whole app (its
// middleware, the Redirector, click recording) and a bare net/http
// handler doing a map lookup and a 302, each on 127.0.0.1:0, under the
// same load (concurrent keep-alive clients for a second), in interleaved
// rounds, on a store holding a year of data (seedYear). It reports the
// median of the per-round ratios of requests per second (goal ≥ 0.70),
// each side's p99 and the longest the click queue took to drain after a
// round, checks that every click counted was stored after a graceful
// stop, and fails on any dropped click.
func BenchmarkRedirectLoad(b *testing.B) {
	const rounds, clients, roundTime = 7, 16, time.Second
	ctx := context.Background()
	uri, db := tenanttest.Mongo(b)
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Kinds: storeKinds()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close(ctx)
	inst, err := store.EnsureInstance(ctx, "bench.example", "a@bench.example")
	if err != nil {
		b.Fatal(err)
	}
	sc, err := store.Open(ctx, inst.ID)
	if err != nil {
		b.Fatal(err)
	}
	// Measured on a store holding a year of clicks, shares and rollups
	// (yearSize), the link's share one of them.
	b.Log(seedYear(b, sc, time.Now(), 2000, 50000))
	const code = "benchBENCHbench0"
	dest := "https://news.example/story?ref=site"
	if err := social.CreateLink(ctx, sc, social.TrackedLink{Code: code, ShareID: "year-share-000000", ContentID: "year-content-00000", Network: "mastodon", Destination: dest}); err != nil {
		b.Fatal(err)
	}
	cfg, err := parseConfig("serve", nil, func(k string) string {
		if k == "CHORUS_DEV_MAILBOX" {
			return "1" // newApp needs a mailer; no mail is sent here
		}
		return ""
	}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base, _ := url.Parse("http://" + ln.Addr().String())
	redisOpt := jobstest.Redis(b)
	queue := asynq.NewClient(redisOpt)
	defer queue.Close()
	rdb := redisOpt.MakeRedisClient().(redis.UniversalClient)
	defer rdb.Close()
	keys, _ := social.ParseKeyring("bench:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	d := appDeps{cfg: cfg, log: log, store: store, redis: rdb, metrics: prometheus.NewRegistry(), baseURL: base,
		queue: jobs.NewQueue(queue, nil, log), keys: keys}
	svc, err := newServices(d)
	if err != nil {
		b.Fatal(err)
	}
	a, err := newApp(d, svc)
	if err != nil {
		b.Fatal(err)
	}
	chorus := &http.Server{Handler: a.handler}
	go chorus.Serve(ln)
	defer chorus.Close()

	bareLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	links := map[string]string{code: dest + "&utm_campaign=year-content-00000&utm_medium=employee_advocacy&utm_source=mastodon"}
	bare := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to, ok := links[r.URL.Path[len("/r/"):]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, to, http.StatusFound)
	})}
	go bare.Serve(bareLn)
	defer bare.Close()

	// load sends GETs from clients goroutines for d; it returns requests
	// per second and the latencies.
	load := func(target string, d time.Duration) (float64, []time.Duration) {
		tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		var wg sync.WaitGroup
		lat := make([][]time.Duration, clients)
		end := time.Now().Add(d)
		start := time.Now()
		for i := range clients {
			wg.Go(func() {
				for time.Now().Before(end) {
					t0 := time.Now()
					res, err := hc.Get(target)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusFound {
						b.Errorf("%s: %d", target, res.StatusCode)
						return
					}
					lat[i] = append(lat[i], time.Since(t0))
				}
			})
		}
		wg.Wait()
		all := slices.Concat(lat...)
		return float64(len(all)) / time.Since(start).Seconds(), all
	}
	chorusURL := "http://" + ln.Addr().String() + "/r/" + code
	bareURL := "http://" + bareLn.Addr().String() + "/r/" + code
	served := int64(0)   // redirects Chorus answered
	var drains []float64 // how long the queue took to drain after each Chorus round, ms
	// quiet waits until the click recorder has dealt with every redirect
	// served (stored or dropped): the embedded database shares this
	// process's CPU, and a backlog would slow the next round, whichever.
	quiet := func() {
		t0 := time.Now()
		for deadline := time.Now().Add(time.Minute); a.redirector.Stored()+a.redirector.Dropped() < served; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("clicks: %d stored, %d dropped of %d redirects, a minute after the load", a.redirector.Stored(), a.redirector.Dropped(), served)
			}
		}
		drains = append(drains, float64(time.Since(t0).Milliseconds()))
	}
	_, warm := load(chorusURL, 200*time.Millisecond) // the link is cached, connections open
	served += int64(len(warm))
	load(bareURL, 200*time.Millisecond)
	quiet()

	var ratios []float64
	var chorusLat, bareLat []time.Duration
	var chorusRate, bareRate, chorusCPU, bareCPU []float64
	for range b.N {
		for r := range rounds {
			var cr, br float64
			var cl, bl []time.Duration
			// The CPU per request includes the load generator's (the same
			// on both sides) and, for Chorus, storing the round's clicks.
			chorusRound := func() {
				c0 := cpuTime()
				cr, cl = load(chorusURL, roundTime)
				served += int64(len(cl))
				quiet()
				chorusCPU = append(chorusCPU, float64((cpuTime()-c0).Microseconds())/float64(len(cl)))
			}
			bareRound := func() {
				c0 := cpuTime()
				br, bl = load(bareURL, roundTime)
				bareCPU = append(bareCPU, float64((cpuTime()-c0).Microseconds())/float64(len(bl)))
			}
			if r%2 == 0 {
				bareRound()
				chorusRound()
			} else {
				chorusRound()
				bareRound()
			}
			ratios = append(ratios, cr/br)
			chorusRate, bareRate = append(chorusRate, cr), append(bareRate, br)
			chorusLat, bareLat = append(chorusLat, cl...), append(bareLat, bl...)
		}
	}
	chorus.Close()
	if err := a.redirector.Close(ctx); err != nil {
		b.Fatal(err)
	}
	counted := a.redirector.Stored() + a.redirector.Dropped()
	requests := served
	b.ReportMetric(median(ratios), "chorus/bare")
	b.ReportMetric(median(chorusRate), "chorus-req/s")
	b.ReportMetric(median(bareRate), "bare-req/s")
	b.ReportMetric(float64(percentile(chorusLat, 0.99).Microseconds())/1000, "chorus-p99-ms")
	b.ReportMetric(float64(percentile(bareLat, 0.99).Microseconds())/1000, "bare-p99-ms")
	b.ReportMetric(median(chorusCPU), "chorus-cpu-µs/req")
	b.ReportMetric(median(bareCPU), "bare-cpu-µs/req")
	b.ReportMetric(float64(a.redirector.Dropped()), "clicks-dropped")
	b.ReportMetric(slices.Max(drains), "drain-max-ms")
	b.Logf("per round chorus/bare: %.2f; clicks: %d stored, %d dropped (queue full), %d redirects served (with warm-up); queue drained after each round in %.0f ms",
		ratios, a.redirector.Stored(), a.redirector.Dropped(), counted, drains)
	if counted != requests {
		b.Errorf("%d redirects measured but %d clicks stored or counted as dropped", requests, counted)
	}
	if a.redirector.Dropped() != 0 {
		b.Errorf("%d clicks dropped", a.redirector.Dropped())
	}
}
