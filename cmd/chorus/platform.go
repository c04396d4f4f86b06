package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
	"github.com/chorushq/chorus/tenant/foundation/embeddedredis"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// runPlatform starts what cmd needs — embedded servers when no external
// ones are configured, the HTTP server, the worker — and stops everything
// in reverse order once ctx is done.
func runPlatform(ctx context.Context, cmd string, cfg config, getenv func(string) string, stdout io.Writer) (err error) {
	p := &platform{ctx: ctx, cfg: cfg, log: newLogger(cfg, stdout),
		serves: cmd == "serve" || cmd == "all", works: cmd == "worker" || cmd == "all"}
	defer func() { err = errors.Join(err, p.stop()) }()
	v, commit := release()
	p.log.Info("starting", "command", cmd, "version", v, "commit", commit, "config", cfg.masked())
	stopTracing, err := setupTracing(ctx, getenv, cmd, p.log)
	if err != nil {
		return err
	}
	p.onStop(stopTracing)
	if err := p.startStores(); err != nil {
		return err
	}
	if err := p.startQueue(); err != nil {
		return err
	}
	if err := p.listen(); err != nil {
		return err
	}
	d, err := platformDeps(cfg, p.log, p.store, p.rdb, p.metrics, p.queue, p.outcomes, p.ln)
	if err != nil {
		return err
	}
	d.queueRedis = p.redisOpt
	svc, err := newServices(d)
	if err != nil {
		return err
	}
	if err := p.migrate(svc); err != nil {
		return err
	}
	return p.run(d, svc)
}

// platform is one running Chorus process: what runPlatform started and
// stops, last started first.
type platform struct {
	ctx           context.Context
	cfg           config
	log           *slog.Logger
	serves, works bool
	stops         []func(context.Context) error

	store    *tenant.Store
	redisOpt asynq.RedisConnOpt
	rdb      redis.UniversalClient
	queue    *jobs.Queue
	tasks    *asynq.Inspector
	metrics  *prometheus.Registry
	outcomes func(string, social.PublishOutcome)

	// The API's listener and server (serves), answering 503 until the
	// gate opens; a worker alone has its own probes and metrics (wh).
	ln      net.Listener
	apiGate startGate
	srv     *http.Server
	served  chan error
	wh      *workerHTTP
}

// onStop adds f to what stop runs.
func (p *platform) onStop(f func(context.Context) error) { p.stops = append(p.stops, f) }

// stop runs the stops, last added first, each on a context of its own:
// the process's is already done then.
func (p *platform) stop() error {
	var errs []error
	for i := len(p.stops) - 1; i >= 0; i-- {
		c, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 30*time.Second)
		errs = append(errs, p.stops[i](c))
		cancel()
	}
	return errors.Join(errs...)
}

// startStores claims the data dir, starts or attaches to MongoDB and
// Redis (embedded when no external ones are configured), takes over the
// owner's servers when it goes, and opens the store.
func (p *platform) startStores() error {
	ctx, cfg, log := p.ctx, p.cfg, p.log
	dd, err := claimDataDir(cfg, cfg.MongoURI == "" || cfg.RedisURL == "", log)
	if err != nil {
		return err
	}
	// Last: the servers taken over stop, then the lock goes.
	p.onStop(dd.close)
	owner := dd.owner()
	mongoURI, mongo, stopMongo, err := mongoServer(ctx, cfg, log, owner, false)
	if err != nil {
		return err
	}
	p.onStop(stopMongo)
	redisOpt, stopRedis, err := redisServer(ctx, cfg, log, owner, true)
	if err != nil {
		return err
	}
	p.onStop(stopRedis)
	if !owner {
		// When the owner stops or dies, this process takes over its
		// servers and keeps working.
		tookOver := make(chan struct{})
		overCtx, stopTakeOver := context.WithCancel(ctx)
		go func() {
			defer close(tookOver)
			dd.takeOver(overCtx, mongo, cfg.RedisURL == "")
		}()
		p.onStop(func(context.Context) error {
			stopTakeOver()
			<-tookOver
			return nil
		})
	}
	rdb, ok := redisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return errors.New("redis client of unexpected type")
	}
	p.onStop(func(context.Context) error { rdb.Close(); return nil })
	p.redisOpt, p.rdb = redisOpt, rdb
	p.store, err = tenant.OpenStore(ctx, cfg.storeConfig(mongoURI, log))
	if err != nil {
		return err
	}
	p.onStop(p.store.Close)
	return nil
}

// startQueue opens the task queue and registers the process's metrics.
func (p *platform) startQueue() (err error) {
	client := asynq.NewClient(p.redisOpt)
	p.onStop(func(context.Context) error { client.Close(); return nil })
	p.tasks = asynq.NewInspector(p.redisOpt)
	p.onStop(func(context.Context) error { p.tasks.Close(); return nil })
	p.queue = jobs.NewQueue(client, p.tasks, p.log)
	p.metrics = prometheus.NewRegistry()
	p.outcomes, err = processMetrics(p.metrics, p.tasks, p.log)
	return err
}

// listen starts the HTTP servers. They answer from here on, while
// migrations run: /healthz (the process is alive), 503 "starting" for the
// rest until the platform is ready (startGate).
func (p *platform) listen() (err error) {
	cfg, log := p.cfg, p.log
	if p.serves {
		if p.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listen on CHORUS_ADDR %s: %w", cfg.Addr, err)
		}
		p.srv = &http.Server{
			Handler:           &p.apiGate,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(p.ctx) },
		}
		p.served = make(chan error, 1)
		go func() { p.served <- p.srv.Serve(p.ln) }()
		// For the returns before the platform runs: Close stops Serve.
		p.onStop(func(context.Context) error { p.srv.Close(); return nil })
		log.Info("listening; Chorus starts", "listen", p.ln.Addr().String())
		return nil
	}
	if p.works {
		// Under all, the API's listener serves the probes and the one
		// registry; a worker alone gets a port of its own.
		if p.wh, err = listenWorkerHTTP(cfg, p.store, p.rdb, p.metrics, log); err != nil {
			return err
		}
		go func() { _ = p.wh.Serve() }()
		p.onStop(p.wh.Shutdown)
		log.Info("listening; Chorus starts", "listen", p.wh.Addr())
	}
	return nil
}

// migrate brings the database up to date unless CHORUS_MIGRATE=off; a
// worker alone opens its probes after.
func (p *platform) migrate(svc *services) error {
	if p.cfg.Migrate {
		rep, err := migrate(p.ctx, p.store, p.log, svc.reach)
		if err != nil {
			return err
		}
		p.log.Info("database up to date", "migration", rep.To, "ran", len(rep.Ran), "instances_indexed", max(rep.Indexed, 0))
	} else {
		p.log.Info("migrations not run at start (CHORUS_MIGRATE=off): run chorus migrate")
	}
	if p.wh != nil {
		p.wh.gate.open(p.wh.handler)
		p.log.Info("worker probes and metrics", "listen", p.wh.Addr())
	}
	return nil
}

// run opens the API (serves) and runs the worker (works) until ctx is
// done, then shuts the HTTP server down after its last request.
func (p *platform) run(d appDeps, svc *services) error {
	g, gctx := errgroup.WithContext(p.ctx)
	if p.serves {
		a, err := newApp(d, svc)
		if err != nil {
			return err
		}
		if a.queues != nil {
			p.onStop(func(context.Context) error { a.queues.Close(); return nil })
		}
		p.apiGate.open(a.handler)
		g.Go(func() error {
			if err := <-p.served; !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("HTTP server: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			c, cancel := context.WithTimeout(context.WithoutCancel(p.ctx), 30*time.Second)
			defer cancel()
			err := p.srv.Shutdown(c)
			// After the last request: every queued click is written.
			return errors.Join(err, a.redirector.Close(c))
		})
		p.log.Info("Chorus is running", "url", d.baseURL.String(), "listen", p.ln.Addr().String())
	}
	if p.works {
		w, err := jobs.NewWorker(jobs.Config{Redis: p.redisOpt, Store: p.store, Content: svc.content, Social: svc.social,
			Privacy: svc.privacy, Resolver: p.cfg.resolver(), Log: p.log, Metrics: p.metrics, Concurrency: p.cfg.Concurrency,
			Mailer: svc.mailer, BaseURL: d.baseURL, Reach: svc.reach})
		if err != nil {
			return err
		}
		g.Go(func() error { return w.Run(gctx) })
	}
	err := g.Wait()
	p.log.Info("stopping")
	return err
}

// platformDeps is what the process's services are built from: the
// keyring of CHORUS_TOKEN_KEYS, the public URL (CHORUS_BASE_URL, else the
// address the HTTP server listens on: CHORUS_ADDR may name port 0; ln is
// nil in a worker alone), the mailer when one is configured (a worker
// without SMTP settings mails nobody) and the publishing limits.
func platformDeps(cfg config, log *slog.Logger, store *tenant.Store, rdb redis.UniversalClient, reg *prometheus.Registry,
	queue *jobs.Queue, outcomes func(string, social.PublishOutcome), ln net.Listener) (appDeps, error) {
	keys, err := tokenKeys(cfg, log)
	if err != nil {
		return appDeps{}, err
	}
	addr := cfg.Addr
	if ln != nil {
		addr = ln.Addr().String()
	}
	base := cfg.BaseURL
	if base == "" {
		base = "http://" + addr
	}
	baseURL, err := url.Parse(base)
	if err != nil {
		return appDeps{}, fmt.Errorf("CHORUS_BASE_URL: %w", err)
	}
	d := appDeps{cfg: cfg, log: log, store: store, redis: rdb, metrics: reg, baseURL: baseURL, queue: queue, keys: keys,
		network: cfg.networkOptions(nil)}
	vapid, err := vapidKeys(cfg, baseURL, log)
	if err != nil {
		return appDeps{}, err
	}
	d.push = pushConfig(cfg, vapid)
	if cfg.DevMailbox || cfg.SMTPURL != "" {
		if d.mailer, d.devBox, err = newMailer(cfg, log, time.Now, baseURL); err != nil {
			return appDeps{}, err
		}
	}
	d.network.limits = jobs.NewRateLimiter(rdb, cfg.PublishLimits)
	d.network.outcomes = outcomes
	return d, nil
}

// processMetrics registers the metrics of the process as a whole on reg:
// Go and process, the build, the queues (read from Redis at each scrape,
// by whichever process serves it) and the publishing outcomes, whose hook
// it returns for the social service. The HTTP side and the worker register
// their own.
func processMetrics(reg *prometheus.Registry, tasks *asynq.Inspector, log *slog.Logger) (func(string, social.PublishOutcome), error) {
	if err := errors.Join(reg.Register(collectors.NewGoCollector()), reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
		reg.Register(buildInfoMetric()), reg.Register(jobs.NewQueueCollector(tasks, log))); err != nil {
		return nil, err
	}
	return jobs.PublishOutcomes(reg)
}

// mongoServer returns the MongoDB URI to use: CHORUS_MONGO_URI, or the
// embedded store under the data dir, which the returned function stops.
// The owner of the data dir (own) starts the PostgreSQL cluster; another
// process uses it, waiting while the owner starts it. Each process runs a
// FerretDB of its own on the cluster. On the SQLite demo store, which is
// atomic only within one connection, only the owner runs Chorus; an
// operator command (command) uses the owner's FerretDB. The returned
// embedded store is nil when there is none.
func mongoServer(ctx context.Context, cfg config, log *slog.Logger, own, command bool) (string, *embeddedmongo.Mongo, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if cfg.MongoURI != "" {
		return cfg.MongoURI, nil, noop, nil
	}
	dir := filepath.Join(cfg.DataDir, "mongo")
	if !own && command && cfg.EmbeddedStore != embeddedmongo.EngineDocumentDB {
		if uri, ok := embeddedmongo.RunningURI(ctx, dir); ok {
			log.Info("using the embedded FerretDB (SQLite) of the Chorus process already running on the data dir", "dir", dir)
			return uri, nil, noop, nil
		}
	}
	m, err := embeddedmongo.Start(ctx, dir, embeddedmongo.Options{Engine: cfg.EmbeddedStore, MaxConns: embeddedPool(cfg), Attach: !own}, log)
	if errors.Is(err, embeddedmongo.ErrNotShared) {
		return "", nil, nil, fmt.Errorf("another Chorus process owns the data dir %s, and %w: stop it and run a single `chorus all`, or install PostgreSQL with DocumentDB (.ci/build-documentdb), or set CHORUS_MONGO_URI", cfg.DataDir, err)
	}
	if err != nil {
		return "", nil, nil, fmt.Errorf("embedded MongoDB-compatible store: %w", err)
	}
	log.Info("using the embedded store under the data dir; set CHORUS_MONGO_URI for MongoDB", "dir", dir, "engine", m.Engine(), "owner", own)
	return m.URI(), m, m.Stop, nil
}

// embeddedPool sizes the embedded FerretDB's pool of PostgreSQL
// connections: a few per core for the HTTP handlers, plus the worker's
// concurrent tasks, within what a small cluster serves well.
func embeddedPool(cfg config) int {
	return min(max(4*runtime.GOMAXPROCS(0)+cfg.Concurrency, 10), 40)
}

// redisServer returns the Redis to use, like mongoServer: CHORUS_REDIS_URL,
// or the data dir's redis-server: started by its owner (own; with
// allowFallback, an in-process miniredis when redis-server is not
// installed, which only the owner can use), used by the others. The
// returned function stops what this process started.
func redisServer(ctx context.Context, cfg config, log *slog.Logger, own, allowFallback bool) (asynq.RedisConnOpt, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	if cfg.RedisURL != "" {
		opt, err := jobs.ParseRedisURL(cfg.RedisURL)
		if err != nil {
			return nil, nil, fmt.Errorf("CHORUS_REDIS_URL: %w", err)
		}
		return opt, noop, nil
	}
	dir := filepath.Join(cfg.DataDir, "redis")
	if !own {
		opt, err := attachRedis(ctx, dir)
		if err != nil {
			return nil, nil, fmt.Errorf("embedded Redis: %w", err)
		}
		log.Info("using the embedded redis-server of the Chorus process that owns the data dir", "dir", dir)
		return opt, noop, nil
	}
	if opt, ok := embeddedredis.Running(ctx, dir); ok {
		// Left running by a process that owned the data dir and died
		// where children outlive their parent (not Linux).
		log.Info("using the embedded redis-server already running on the data dir", "dir", dir)
		return opt, noop, nil
	}
	rs, err := embeddedredis.Start(ctx, dir, allowFallback, log)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded Redis: %w", err)
	}
	return rs.Opt(), rs.Stop, nil
}

// newLogger writes JSON (or text) records to out; every record carries the
// request, tenant, member and task IDs of its context.
func newLogger(cfg config, out io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewJSONHandler(out, opts)
	if cfg.LogFormat == "text" {
		h = slog.NewTextHandler(out, opts)
	}
	return slog.New(httpapi.LogHandler(h))
}
