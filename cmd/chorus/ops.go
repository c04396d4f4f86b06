package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/chorushq/chorus/tenant"
)

// runDomain is `chorus domain verify <domain> --reason "…"`: an operator
// verifies a domain without DNS (on-prem installs). The instance's audit
// log records it, and its admins see it.
func runDomain(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New(`usage: chorus domain verify <domain> --reason "why"`)
	}
	fs := flag.NewFlagSet("chorus domain verify", flag.ContinueOnError)
	fs.SetOutput(stdout)
	reason := fs.String("reason", "", "why the domain is verified without DNS (required; audited)")
	// The domain may stand before or after the flags.
	rest := args[1:]
	var domain string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		domain, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if domain == "" {
		domain = fs.Arg(0)
	}
	if domain == "" || fs.NArg() > 1 || (fs.NArg() == 1 && fs.Arg(0) != domain) {
		return errors.New(`usage: chorus domain verify <domain> --reason "why"`)
	}
	if *reason == "" {
		return errors.New("--reason is required: it goes into the instance's audit log")
	}
	cfg, err := parseConfig("worker", nil, getenv, stdout)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	uri, stop, err := mongoServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop(context.WithoutCancel(ctx))) }()
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: cfg.MongoDatabase, Kinds: storeKinds(), Log: log})
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	d, err := tenant.NewService(tenant.Config{Store: store, Log: log}).ForceVerify(ctx, domain, *reason)
	if errors.Is(err, tenant.ErrNotFound) {
		return fmt.Errorf("no instance owns %s: its first user must sign in first", domain)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is verified (audited as an operator action)\n", d.Domain)
	return nil
}
