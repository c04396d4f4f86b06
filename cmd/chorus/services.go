package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

// services are the domain services of one process, built once by
// newServices and shared by the HTTP side (newApp), the worker and the
// operator commands, so that all of them count, publish, mail and erase
// through the same configuration.
type services struct {
	// reach keeps the rollups and unique visitors: the API's click
	// recorder, the publishing hook and the worker's jobs share it.
	reach   *reach.Service
	content *content.Service
	// social publishes, cancels and refreshes through the networks and
	// limits of the process.
	social *social.Service
	// tenant is instances, members, sign-in and domains.
	tenant *tenant.Service
	// privacy answers data-subject requests over every domain's data.
	privacy *tenant.Privacy
	// mailer (nil: nobody is mailed) and devBox (the development
	// mailbox, nil unless on) are the process's: the API's dev mailbox
	// shows what the worker sends too.
	mailer tenant.Mailer
	devBox *tenant.DevMailbox
}

// newServices builds the services from d, in dependency order: reach,
// content, social, tenant, privacy. Unset parts of d get their defaults:
// the current time, a reach service on d.redis, the guarded link-preview
// fetcher, a mailer when the configuration names one.
func newServices(d appDeps) (*services, error) {
	if d.now == nil {
		d.now = time.Now
	}
	if d.resolver == nil {
		d.resolver = d.cfg.resolver()
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.baseURL == nil {
		d.baseURL, _ = url.Parse("http://127.0.0.1")
	}
	s := &services{mailer: d.mailer, devBox: d.devBox, reach: d.reach}
	if s.mailer == nil && (d.cfg.DevMailbox || d.cfg.SMTPURL != "") {
		var err error
		if s.mailer, s.devBox, err = newMailer(d.cfg, d.log, d.now, d.baseURL); err != nil {
			return nil, err
		}
	}
	if s.reach == nil {
		s.reach = reach.New(reach.Config{Redis: d.redis, Log: d.log, Now: d.now})
	}
	fetcher := d.fetcher
	if fetcher == nil {
		fetcher = preview.New(preview.Config{})
	}
	s.content = newContentService(d.log, d.now, fetcher, d.queue, d.push)
	net := d.network
	net.cfg, net.mailer, net.reach = d.cfg, s.mailer, s.reach
	var err error
	if s.social, err = newSocialService(d.baseURL, d.keys, d.log, d.now, net, s.content, d.queue); err != nil {
		return nil, err
	}
	if s.tenant, err = newTenantService(d, s); err != nil {
		return nil, err
	}
	s.privacy = tenant.NewPrivacy(s.tenant, s.content.PrivacySource(), s.social.PrivacySource(), s.reach.PrivacySource())
	if d.queue != nil && d.queue.CanDelete() {
		s.privacy.DeleteTasksWith(d.queue.Delete)
	}
	return s, nil
}

// newTenantService builds the tenant service of d with the services'
// mailer; topics are checked against content's.
func newTenantService(d appDeps, s *services) (*tenant.Service, error) {
	policy, err := tenant.NewDomainPolicy(d.cfg.BlockedDomains...)
	if err != nil {
		return nil, err
	}
	// Instances' identity providers are servers admins name: reach them
	// only through the guarded client, as link previews do.
	idpHTTP, idpAllowHTTP := d.idpHTTP, d.idpAllowHTTP
	switch {
	case idpHTTP != nil:
	case d.cfg.DevMailbox:
		// Development (make run-sso): a local Dex on loopback over http.
		// The dev mailbox is never on in production.
		idpHTTP, idpAllowHTTP = &http.Client{Timeout: 15 * time.Second}, true
		d.log.Warn("development: companies' identity providers may be http and on loopback (dev mailbox on)")
	default:
		idpHTTP = preview.New(preview.Config{Ports: []int{443}, Timeout: 15 * time.Second, MaxRedirects: -1}).Client()
	}
	return tenant.NewService(tenant.Config{
		Store:          d.store,
		Policy:         policy,
		Mailer:         s.mailer,
		BaseURL:        d.baseURL,
		Log:            d.log,
		Now:            d.now,
		AddressLimit:   tenant.Limit{Max: d.cfg.SignInPerAddress, Window: time.Hour},
		IPLimit:        tenant.Limit{Max: d.cfg.SignInPerIP, Window: time.Hour},
		DevMailbox:     s.devBox,
		CheckTopics:    s.content.CheckTopics,
		Resolver:       d.resolver,
		OperatorToken:  d.cfg.OperatorToken,
		BaseDomain:     d.cfg.BaseDomain,
		OIDCStartLimit: tenant.Limit{Max: d.cfg.OIDCPerIP, Window: time.Hour},
		Keys:           d.keys,
		IdPHTTPClient:  idpHTTP,
		// http issuers: tests and the dev mailbox (make run-sso) only.
		AllowHTTPIssuers: idpAllowHTTP,
	}), nil
}

// commandServices are the services of an operator command on store:
// no HTTP, no mail, nothing enqueued; queue (may be nil) deletes waiting
// tasks, keys (may be nil) decrypt stored tokens.
func commandServices(cfg command, store *tenant.Store, keys *social.Keyring, queue *jobs.Queue, log *slog.Logger) (*services, error) {
	c := cfg.config
	c.DevMailbox, c.SMTPURL = false, ""
	return newServices(appDeps{cfg: c, log: log, store: store, keys: keys, queue: queue})
}

// enableOIDC turns on sign-in with the deployment's identity provider
// (CHORUS_OIDC_ISSUER), when one is configured.
func enableOIDC(cfg config, auth *tenant.Service) error {
	if cfg.OIDC.Issuer == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return auth.EnableOIDC(ctx, cfg.OIDC)
}
