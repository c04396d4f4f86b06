package main

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/frontend"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// appDeps is what the services (newServices) and the HTTP side of Chorus
// (newApp) are built from.
type appDeps struct {
	cfg     config
	log     *slog.Logger
	store   *tenant.Store
	redis   redis.UniversalClient
	metrics *prometheus.Registry
	baseURL *url.URL
	now     func() time.Time
	// queue enqueues tasks and deletes waiting ones (nil: nothing is
	// enqueued).
	queue *jobs.Queue
	// fetcher reads link previews (nil: the guarded client).
	fetcher content.Fetcher
	// network holds the outbound rules and limits of social networks;
	// newServices fills in its configuration, mailer and reach service.
	network networkOptions
	// resolver looks up domain verification records.
	resolver tenant.TXTResolver
	// mailer and devBox: the process's mailer (newMailer), shared with
	// the worker; nil makes newServices build one when configured.
	mailer tenant.Mailer
	devBox *tenant.DevMailbox
	// reach is the process's reach service (rollups, unique visitors);
	// nil makes newServices build one on redis.
	reach *reach.Service
	// queueRedis is Asynq's Redis, for the queues console (/ops/queues).
	queueRedis asynq.RedisConnOpt
	// keys encrypt social tokens and instances' identity provider
	// secrets (CHORUS_TOKEN_KEYS).
	keys *tenant.Keyring
	// idpHTTP reaches instances' identity providers; nil: the guarded
	// client (https on 443, public addresses only). idpAllowHTTP lets
	// tests configure http issuers.
	idpHTTP      *http.Client
	idpAllowHTTP bool
	// push sends push notifications of new content (zero keys: none);
	// newServices adds the queue's enqueue.
	push content.PushConfig
}

// newMailer returns the configured mailer: the development mailbox (also
// returned, for its HTTP route) or SMTP.
func newMailer(cfg config, log *slog.Logger, now func() time.Time, base *url.URL) (tenant.Mailer, *tenant.DevMailbox, error) {
	if cfg.DevMailbox {
		box := tenant.NewDevMailbox(1000, log, now)
		return box, box, nil
	}
	from := cfg.MailFrom
	if from == "" {
		from = "Chorus <no-reply@" + base.Hostname() + ">"
	}
	m, err := tenant.NewSMTPMailer(cfg.SMTPURL, from)
	if err != nil {
		return nil, nil, fmt.Errorf("CHORUS_SMTP_URL: %w", err)
	}
	return m, nil, nil
}

// notifier mails a member through m; nil when there is no mailer.
func notifier(m tenant.Mailer) func(ctx context.Context, sc tenant.Scope, memberID, subject, text string) error {
	if m == nil {
		return nil
	}
	return func(ctx context.Context, sc tenant.Scope, memberID, subject, text string) error {
		mem, err := sc.Member(ctx, memberID)
		if err != nil {
			return err
		}
		return m.Send(ctx, tenant.Mail{To: mem.Email, Subject: subject, Text: text})
	}
}

// storeKinds are the tenant kinds of every domain, created per instance.
func storeKinds() []tenant.Kind {
	return append(append(content.Kinds(), social.Kinds()...), reach.Kinds()...)
}

// newContentService builds the content service; a failed link preview is
// retried by a content:preview task (none without a queue); the digest
// counts a member's clicks, and campaigns their progress, from the
// analytics' daily totals.
func newContentService(log *slog.Logger, now func() time.Time, fetcher content.Fetcher, queue *jobs.Queue, push content.PushConfig) *content.Service {
	cfg := content.Config{Fetcher: fetcher, Log: log, Now: now, MemberClicks: reach.MemberClicks, CampaignCounts: reach.CampaignCounts, Push: push}
	if queue != nil {
		cfg.RetryPreview = queue.RetryPreview
		cfg.Push.Enqueue = queue.Notify
	}
	return content.NewService(cfg)
}

// underRoot reports whether p is root or below it: /api and /api/x,
// not /apiary.
func underRoot(p, root string) bool {
	return p == root || strings.HasPrefix(p, root+"/")
}

// app is the HTTP side of Chorus: the Gin engine with every route, and the
// handler the server runs (the engine behind cross-origin protection).
type app struct {
	engine     *gin.Engine
	handler    http.Handler
	auth       *tenant.Service
	redirector *social.Redirector
	// queues is the queues console, nil when not mounted; Close it.
	queues *asynqmon.HTTPHandler
}

// newApp assembles the one engine that cmd serves and tests drive: the
// middleware, the routes of every service of s, the tracked-link engine
// and cross-origin protection.
func newApp(d appDeps, s *services) (*app, error) {
	if d.now == nil {
		d.now = time.Now
	}
	auth := s.tenant
	if err := enableOIDC(d.cfg, auth); err != nil {
		return nil, fmt.Errorf("CHORUS_OIDC_ISSUER: %w", err)
	}

	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RemoveExtraSlash = false
	if err := e.SetTrustedProxies(d.cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("CHORUS_TRUSTED_PROXIES: %w", err)
	}
	recovery := gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, v any) {
		d.log.ErrorContext(c.Request.Context(), "panic", "route", c.FullPath(), "panic", fmt.Sprint(v))
		httpapi.Write(c, httpapi.Internal)
	})
	observed := observe(d.log, d.metrics)
	secured := securityHeaders(d.baseURL != nil && d.baseURL.Scheme == "https")
	e.Use(recovery, httpapi.RequestIDs(), traced(), observed, secured, httpapi.LimitBody(d.cfg.MaxBodyBytes))
	web := frontend.Handler()
	e.NoRoute(func(c *gin.Context) {
		p := path.Clean("/" + c.Request.URL.Path) // as the web handler sees it
		if (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead) &&
			!underRoot(p, "/api") && !underRoot(p, "/ops") && !underRoot(p, "/r") {
			web.ServeHTTP(c.Writer, c.Request) // the app's own URLs (/feed, /admin …) get index.html
			return
		}
		httpapi.Write(c, httpapi.ErrNotFound.With("no such resource"))
	})
	e.NoMethod(func(c *gin.Context) {
		httpapi.Write(c, httpapi.ErrMethodNotAllowed.With("this resource does not accept "+c.Request.Method))
	})

	redirector := social.NewRedirector(d.store, d.log, d.now)
	e.GET(trackedLinkRoute, redirector.Handle)
	e.HEAD(trackedLinkRoute, redirector.Handle)
	// Tracked links are the hot path (every click of every share) and
	// carry no body, session or state change: a GET or HEAD takes a lean
	// engine with recovery, metrics and the security headers only, the
	// same handler as the main engine's route.
	links := gin.New()
	links.RemoveExtraSlash = false
	if err := links.SetTrustedProxies(d.cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("CHORUS_TRUSTED_PROXIES: %w", err)
	}
	links.Use(recovery, traced(), observed, secured)
	links.GET(trackedLinkRoute, redirector.Handle)
	links.HEAD(trackedLinkRoute, redirector.Handle)
	links.NoRoute(func(c *gin.Context) { httpapi.Write(c, httpapi.ErrNotFound.With("no such resource")) })
	// Reach measurement: clicks feed the rollups, analysts read them.
	redirector.SetClickHook(s.reach)
	redirector.SetSessionCookie(auth.SessionCookie())
	if err := clickMetrics(d.metrics, redirector); err != nil {
		return nil, err
	}
	probeRoutes(e, d.cfg, d.store, d.redis, d.metrics, d.log, s.social)

	v1 := e.Group("/api/v1", httpapi.WellFormed())
	v1.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openAPIDoc) })
	tenantRoutes := tenant.NewHandlers(auth).WithPrivacy(s.privacy, d.queue.Export)
	tenantRoutes.Routes(v1)
	content.NewHandlers(s.content, auth, d.log).WithSharedTo(s.social.SharedNetworks).WithClicks(reach.ContentClicks).Routes(v1)
	social.NewHandlers(s.social, auth, d.log).Routes(v1)
	reach.NewHandlers(s.reach, auth, contentTitles(s.content)).Routes(v1)
	tenantRoutes.OpsRoutes(e.Group("/ops/v1"))
	queues := mountQueues(e, d.cfg.OperatorToken, d.queueRedis)

	e.GET("/", gin.WrapH(web))
	e.GET("/assets/*file", gin.WrapH(web))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpapi.Serve(w, r, httpapi.ErrCrossOrigin)
	}))
	guarded := cop.Handler(e)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/r/") {
			links.ServeHTTP(w, r)
			return
		}
		guarded.ServeHTTP(w, r)
	})
	return &app{engine: e, handler: handler, auth: auth, redirector: redirector, queues: queues}, nil
}

// trackedLinkRoute is the tracked-link redirect, /r/{code}.
const trackedLinkRoute = "/r/:code"

// securityHeaders returns the middleware that sends the security headers
// with every answer; hsts (an https base URL) adds Strict-Transport-Security,
// so browsers never try plain http again.
func securityHeaders(hsts bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		h := c.Writer.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		h.Set("X-Frame-Options", "DENY")
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		c.Next()
	}
}

// observe counts and times requests by route template and logs each one.
func observe(log *slog.Logger, reg prometheus.Registerer) gin.HandlerFunc {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "chorus_http_requests_total", Help: "HTTP requests by method, route and status.",
	}, []string{"method", "route", "status"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "chorus_http_request_duration_seconds", Help: "HTTP request duration by method and route.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	reg.MustRegister(reqs, dur)
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		status := c.Writer.Status()
		reqs.WithLabelValues(c.Request.Method, route, strconv.Itoa(status)).Inc()
		dur.WithLabelValues(c.Request.Method, route).Observe(d.Seconds())
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case route == trackedLinkRoute:
			// Clicks are counted (metrics, rollups), not logged one by one.
			level = slog.LevelDebug
		}
		log.Log(c.Request.Context(), level, "request", "method", c.Request.Method, "route", route,
			"status", status, "duration_ms", d.Milliseconds(), "bytes", c.Writer.Size())
	}
}
