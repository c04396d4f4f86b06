package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/bluesky"
	"github.com/chorushq/chorus/social/facebook"
	"github.com/chorushq/chorus/social/linkedin"
	"github.com/chorushq/chorus/social/mastodon"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/social/x"
	"github.com/chorushq/chorus/tenant"
)

// tokenKeys returns the keyring of CHORUS_TOKEN_KEYS. In development (the
// dev mailbox on) without one, it keeps a generated key in the data dir
// and says so; in production a missing keyring stops the start.
func tokenKeys(cfg config, log *slog.Logger) (*social.Keyring, error) {
	if cfg.TokenKeys != "" {
		return social.ParseKeyring(cfg.TokenKeys)
	}
	if !cfg.DevMailbox {
		return nil, errors.New("CHORUS_TOKEN_KEYS: set a keyring such as k1:$(openssl rand -base64 32) to encrypt social network tokens")
	}
	path := filepath.Join(cfg.DataDir, "token-keys")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		var key [32]byte
		rand.Read(key[:])
		b = []byte("dev:" + base64.StdEncoding.EncodeToString(key[:]))
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("write development token key: %w", err)
		}
	} else if err != nil {
		return nil, err
	}
	log.Warn("no CHORUS_TOKEN_KEYS: using a development key kept in the data dir", "file", path)
	return social.ParseKeyring(strings.TrimSpace(string(b)))
}

// networkOptions are the outbound rules for social networks: https on
// 443 only in production; tests add their loopback fakes.
type networkOptions struct {
	allow     []netip.Prefix
	ports     []int
	allowHTTP bool
	// cfg holds the networks' app credentials; a network without them is
	// not served.
	cfg config
	// mailer tells members what needs them (reconnecting); nil: nobody.
	mailer tenant.Mailer
	// limits, when set, holds shares back within the networks'
	// publishing limits.
	limits *jobs.RateLimiter
	// reach counts published shares in the rollups; nil: a reach service
	// of this social service's own.
	reach *reach.Service
	// outcomes counts publishing attempts (jobs.PublishOutcomes); nil:
	// not counted.
	outcomes func(network string, outcome social.PublishOutcome)
}

// newSocialService builds the registry of the networks Chorus serves and
// the social service. Calls to servers that members name go through the
// same guarded client as link previews: no private or loopback address.
func newSocialService(base *url.URL, keys *social.Keyring, log *slog.Logger, now func() time.Time, o networkOptions,
	contentSvc *content.Service, queue *jobs.Queue) (*social.Service, error) {
	ports := o.ports
	if len(ports) == 0 {
		ports = []int{443}
	}
	client := preview.New(preview.Config{Ports: ports, AllowPrefixes: o.allow, Timeout: 30 * time.Second}).Client()
	rt := client.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	client.Transport = tracedTransport{rt}
	ua := "Chorus (+" + base.String() + ")"
	networks := []social.Network{mastodon.New(mastodon.Options{
		HTTPClient: client,
		UserAgent:  ua,
		AppName:    "Chorus",
		Website:    base.String(),
		AllowHTTP:  o.allowHTTP,
		Now:        now,
	}), bluesky.New(bluesky.Options{HTTPClient: client, UserAgent: ua, AllowHTTP: o.allowHTTP, Now: now})}
	c := o.cfg
	if c.LinkedInID != "" {
		n, err := linkedin.New(linkedin.Options{ClientID: c.LinkedInID, ClientSecret: social.Secret(c.LinkedInSecret),
			Version: c.LinkedInVersion, ReadEngagement: c.LinkedInReadEngagement, HTTPClient: client, UserAgent: ua, Now: now})
		if err != nil {
			return nil, fmt.Errorf("CHORUS_LINKEDIN_*: %w", err)
		}
		networks = append(networks, n)
	}
	if c.XID != "" {
		n, err := x.New(x.Options{ClientID: c.XID, ClientSecret: social.Secret(c.XSecret), HTTPClient: client, UserAgent: ua, Now: now})
		if err != nil {
			return nil, fmt.Errorf("CHORUS_X_*: %w", err)
		}
		networks = append(networks, n)
	}
	if c.FacebookID != "" {
		n, err := facebook.New(facebook.Options{AppID: c.FacebookID, AppSecret: social.Secret(c.FacebookSecret),
			GraphVersion: c.FacebookVersion, BusinessPages: c.FacebookBusinessPages, HTTPClient: client, UserAgent: ua, Now: now})
		if err != nil {
			return nil, fmt.Errorf("CHORUS_FACEBOOK_*: %w", err)
		}
		networks = append(networks, n)
	}
	reg, err := social.NewRegistry(networks...)
	if err != nil {
		return nil, err
	}
	var (
		enqueue func(ctx context.Context, sc tenant.Scope, id string, at time.Time) error
		dequeue func(ctx context.Context, sc tenant.Scope, ids []string) error
	)
	if queue != nil {
		enqueue = queue.Publish
		if queue.CanDelete() {
			dequeue = queue.Dequeue
		}
	}
	var throttle func(ctx context.Context, sc tenant.Scope, network, connectionID string) (time.Duration, error)
	if o.limits != nil {
		throttle = func(ctx context.Context, sc tenant.Scope, network, connectionID string) (time.Duration, error) {
			return o.limits.Wait(ctx, sc.InstanceID(), network, connectionID)
		}
	}
	var pauses social.Pauses
	if o.limits != nil {
		pauses = o.limits
	}
	rs := o.reach
	if rs == nil {
		rs = reach.New(reach.Config{Log: log, Now: now})
	}
	return social.NewService(social.Config{Networks: reg, Keys: keys, BaseURL: base, HTTPClient: client, Log: log, Now: now,
		Content: contentSvc, Enqueue: enqueue, Notify: notifier(o.mailer), Throttle: throttle, Dequeue: dequeue,
		OnPublished: rs.SharePublished, Pauses: pauses, OnPublishOutcome: o.outcomes}), nil
}
