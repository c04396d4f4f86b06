// Command chorus runs the Chorus platform: the HTTP API and web app
// (serve), the background workers (worker), or both (all).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"
)

func main() {
	gin.SetMode(gin.ReleaseMode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "chorus:", err)
		}
		os.Exit(1)
	}
}

// errUsage means the usage was already printed.
var errUsage = errors.New("usage")

// run is the whole program: tests call it with their own arguments,
// environment and output, on :0 ports, and stop it by cancelling ctx.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		printHelp(stdout)
		return errUsage
	}
	switch cmd := args[0]; cmd {
	case "serve", "worker", "all":
		cfg, err := parseConfig(cmd, args[1:], getenv, stdout)
		if err != nil {
			return fmt.Errorf("configuration:\n%w", err)
		}
		return runPlatform(ctx, cmd, cfg, getenv, stdout)
	case "config":
		return runConfig(args[1:], getenv, stdout)
	case "version":
		fmt.Fprintln(stdout, buildInfo())
		return nil
	case "backup":
		return runBackup(ctx, args[1:], getenv, stdout)
	case "restore":
		return runRestore(ctx, args[1:], getenv, stdout)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], stdout)
	case "domain":
		return runDomain(ctx, args[1:], getenv, stdout)
	case "privacy":
		return runPrivacy(ctx, args[1:], getenv, stdout)
	case "audit":
		return runAudit(ctx, args[1:], getenv, stdout)
	case "instance":
		return runInstance(ctx, args[1:], getenv, stdout)
	case "subdomain":
		return runSubdomain(ctx, args[1:], getenv, stdout)
	case "keys":
		return runKeys(ctx, args[1:], getenv, stdout)
	case "analytics":
		return runAnalytics(ctx, args[1:], getenv, stdout)
	case "help", "-h", "--help":
		printHelp(stdout)
		return nil
	default:
		printHelp(stdout)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `Chorus — employee advocacy, self-hosted.

Usage: chorus <command> [flags]

Commands:
  serve    the HTTP API, web app, tracked links, /healthz /readyz /metrics
  worker   the background workers (Asynq) and the scheduler; /healthz
           /readyz /metrics on CHORUS_WORKER_ADDR
  all      serve and worker in one process (what make run starts)
  config check [flags]
           print the effective settings (secrets hidden) and every problem
           serve and worker would refuse to start with; exit 1 if any
  version  the version and commit this binary was built from
  migrate  bring the database up to date (serve, worker and all do it at
           start unless CHORUS_MIGRATE=off); see docs/upgrading.md
  backup <file>
           a consistent snapshot of the embedded store, taken while Chorus
           runs (MongoDB: mongodump --oplog); see docs/backup.md
  restore [--without-current-ledger] <file>
           replace the embedded store with a backup (Chorus stopped); then
           run chorus privacy replay-erasures
  healthcheck <url>
           exit 0 when the URL answers 2xx (a container healthcheck without curl)
  domain verify <domain> --reason "…"
           verify a domain without DNS (operators, on-prem); audited
  privacy replay-erasures
           after a backup restore, erase again everyone in the erasure ledger
  audit verify <instance ID>
           check an instance's audit hash chain
  instance delete <instance ID> --reason "…"
           offboard an instance: drop its data, keep a ledger entry
  subdomain reserve <name> --instance <instance ID> --reason "…"
           give an instance a login subdomain its domains do not offer; audited
  keys rotate
           re-encrypt social network tokens to the newest CHORUS_TOKEN_KEYS key
  analytics rebuild --instance <instance ID> | --all
           recompute an instance's reach rollups from its raw shares and clicks
  help     this text

Tracing is off unless OTEL_EXPORTER_OTLP_ENDPOINT names an OpenTelemetry
collector (OTLP/HTTP); OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and
OTEL_EXPORTER_OTLP_HEADERS are honoured.

Every flag can also be set through its environment variable:
`)
	for _, s := range settings {
		fmt.Fprintf(w, "  --%-22s %-28s %s", s.flag, s.env, s.help)
		if s.def != "" {
			fmt.Fprintf(w, " (default %s)", s.def)
		}
		fmt.Fprintln(w)
	}
}
