package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/mastodon"
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
}

// newSocialService builds the registry of the networks Chorus serves and
// the social service. Calls to servers that members name go through the
// same guarded client as link previews: no private or loopback address.
func newSocialService(base *url.URL, keys *social.Keyring, log *slog.Logger, now func() time.Time, o networkOptions) (*social.Service, error) {
	ports := o.ports
	if len(ports) == 0 {
		ports = []int{443}
	}
	client := preview.New(preview.Config{Ports: ports, AllowPrefixes: o.allow, Timeout: 30 * time.Second}).Client()
	reg, err := social.NewRegistry(mastodon.New(mastodon.Options{
		HTTPClient: client,
		UserAgent:  "Chorus (+" + base.String() + ")",
		AppName:    "Chorus",
		Website:    base.String(),
		AllowHTTP:  o.allowHTTP,
		Now:        now,
	}))
	if err != nil {
		return nil, err
	}
	return social.NewService(social.Config{Networks: reg, Keys: keys, BaseURL: base, HTTPClient: client, Log: log, Now: now}), nil
}
