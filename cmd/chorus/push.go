package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/content/preview"
)

// vapidKeys returns the VAPID keys of CHORUS_VAPID_PRIVATE_KEY and
// CHORUS_VAPID_SUBJECT (default mailto:no-reply@<base URL host>). In
// development (the dev mailbox on) without a key, it keeps a generated
// one in the data dir and says so; in production a missing key stops the
// start (productionProblems).
func vapidKeys(cfg config, base *url.URL, log *slog.Logger) (content.VAPIDKeys, error) {
	subject := cfg.VAPIDSubject
	if subject == "" {
		subject = "mailto:no-reply@" + base.Hostname()
	}
	if cfg.VAPIDPrivateKey != "" {
		k, err := content.ParseVAPIDKeys(cfg.VAPIDPrivateKey, subject)
		if err != nil {
			return content.VAPIDKeys{}, fmt.Errorf("CHORUS_VAPID_PRIVATE_KEY: %w", err)
		}
		return k, nil
	}
	if !cfg.DevMailbox {
		return content.VAPIDKeys{}, errors.New("CHORUS_VAPID_PRIVATE_KEY: set the VAPID key that signs push notifications (docs/notifications.md)")
	}
	path := filepath.Join(cfg.DataDir, "vapid-key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := content.GenerateVAPIDKeys(subject)
		if err != nil {
			return content.VAPIDKeys{}, err
		}
		b = []byte(k.Private)
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return content.VAPIDKeys{}, err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return content.VAPIDKeys{}, fmt.Errorf("write development VAPID key: %w", err)
		}
	} else if err != nil {
		return content.VAPIDKeys{}, err
	}
	log.Warn("no CHORUS_VAPID_PRIVATE_KEY: using a development key kept in the data dir", "file", path)
	return content.ParseVAPIDKeys(strings.TrimSpace(string(b)), subject)
}

// pushConfig is how content sends push notifications: the VAPID keys,
// and a client that reaches push services only through the outbound
// guard of link previews (https on 443, public addresses), since members'
// browsers name the endpoints. With CHORUS_DEV_PUSH_LOOPBACK (development
// and tests) http endpoints on loopback are accepted and reached.
func pushConfig(cfg config, keys content.VAPIDKeys) content.PushConfig {
	pc := content.PushConfig{Keys: keys, AllowHTTPLoopback: cfg.DevPushLoopback}
	if cfg.DevPushLoopback {
		pc.Client = &http.Client{Timeout: 30 * time.Second}
	} else {
		pc.Client = preview.New(preview.Config{Ports: []int{443}, Timeout: 30 * time.Second, MaxRedirects: -1}).Client()
	}
	return pc
}
