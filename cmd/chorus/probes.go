package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// probeRoutes mounts /healthz (the process answers), /readyz (MongoDB and
// Redis answer) and /metrics (behind CHORUS_METRICS_TOKEN when set). The
// API serves them on CHORUS_ADDR, the worker on CHORUS_WORKER_ADDR.
//
// paused, when not nil, lists the networks paused for the operator; /readyz
// shows them under paused_networks without becoming unready.
func probeRoutes(e *gin.Engine, cfg config, store *tenant.Store, rdb redis.UniversalClient, reg *prometheus.Registry, log *slog.Logger, paused pausedNetworks) {
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", readyz(store, rdb, log, paused))
	metrics := []gin.HandlerFunc{gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))}
	if cfg.MetricsToken != "" {
		metrics = append([]gin.HandlerFunc{tokenOnly(cfg.MetricsToken, "Chorus metrics", "/metrics needs the metrics token (CHORUS_METRICS_TOKEN)")}, metrics...)
	}
	e.GET("/metrics", metrics...)
}

// pausedNetworks lists the networks paused because they refuse the
// deployment's app (LinkedIn 426, X usage cap): social.Service.
type pausedNetworks interface {
	PausedNetworks(ctx context.Context) ([]social.NetworkPause, error)
}

// readyz answers 200 when MongoDB and Redis both answer, else 503 naming
// the ones that do not. A 200 lists under paused_networks the networks
// paused for the operator: a paused network does not make the server
// unready, it serves everything else.
func readyz(store *tenant.Store, rdb redis.UniversalClient, log *slog.Logger, paused pausedNetworks) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
		defer cancel()
		var down []string
		if err := store.Ping(ctx); err != nil {
			down = append(down, "MongoDB")
			log.WarnContext(ctx, "readyz: mongo", "err", err)
		}
		if err := rdb.Ping(ctx).Err(); err != nil {
			down = append(down, "Redis")
			log.WarnContext(ctx, "readyz: redis", "err", err)
		}
		c.Header("Cache-Control", "no-store")
		if len(down) > 0 {
			httpapi.Write(c, httpapi.ErrNotReady.With(strings.Join(down, " and ")+" did not answer within 3 s"))
			return
		}
		checks := gin.H{"mongo": "ok", "redis": "ok"}
		if paused != nil {
			ps, err := paused.PausedNetworks(ctx)
			if err != nil {
				log.WarnContext(ctx, "readyz: network pauses", "err", err)
			}
			if len(ps) > 0 {
				checks["paused_networks"] = ps
			}
		}
		c.JSON(http.StatusOK, checks)
	}
}

// workerHTTP is the worker's own small HTTP server on CHORUS_WORKER_ADDR:
// its probes and metrics, for `chorus worker` (under `all` the API's
// listener serves them, one registry for the process).
type workerHTTP struct {
	srv *http.Server
	ln  net.Listener
	// gate answers until the worker is ready; then handler does.
	gate    startGate
	handler http.Handler
}

// listenWorkerHTTP listens on cfg.WorkerAddr; Serve serves until Shutdown.
func listenWorkerHTTP(cfg config, store *tenant.Store, rdb redis.UniversalClient, reg *prometheus.Registry, log *slog.Logger) (*workerHTTP, error) {
	ln, err := net.Listen("tcp", cfg.WorkerAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on CHORUS_WORKER_ADDR %s: %w", cfg.WorkerAddr, err)
	}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, v any) {
		log.ErrorContext(c.Request.Context(), "panic", "route", c.FullPath(), "panic", fmt.Sprint(v))
		httpapi.Write(c, httpapi.Internal)
	}), httpapi.RequestIDs())
	probeRoutes(e, cfg, store, rdb, reg, log, nil)
	e.NoRoute(func(c *gin.Context) {
		httpapi.Write(c, httpapi.ErrNotFound.With("the worker serves /healthz, /readyz and /metrics only"))
	})
	e.NoMethod(func(c *gin.Context) {
		httpapi.Write(c, httpapi.ErrMethodNotAllowed.With("this resource does not accept "+c.Request.Method))
	})
	w := &workerHTTP{ln: ln, handler: e}
	w.srv = &http.Server{
		Handler:           &w.gate,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return w, nil
}

// Addr is the address the worker's HTTP server listens on.
func (w *workerHTTP) Addr() string { return w.ln.Addr().String() }

// Serve serves until Shutdown.
func (w *workerHTTP) Serve() error {
	if err := w.srv.Serve(w.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("worker HTTP server: %w", err)
	}
	return nil
}

// Shutdown stops the server once its requests are answered.
func (w *workerHTTP) Shutdown(ctx context.Context) error { return w.srv.Shutdown(ctx) }

// startGate is a process's HTTP handler while it starts (migrations may
// take minutes): /healthz answers 200, since the process is alive and
// must not be restarted, and every other request 503 problem+json
// "starting", /readyz included, until open hands them to the real handler.
type startGate struct{ h atomic.Pointer[http.Handler] }

func (g *startGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		fmt.Fprintln(w, `{"status":"starting"}`)
		return
	}
	httpapi.Serve(w, r, httpapi.ErrStarting)
}

// open hands every request from now on to h.
func (g *startGate) open(h http.Handler) { g.h.Store(&h) }
