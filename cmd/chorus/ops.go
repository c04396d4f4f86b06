package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/embeddedredis"
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
	return withStore(ctx, getenv, stdout, func(cfg command, store *tenant.Store) error {
		svc, err := commandServices(cfg, store, nil, nil, nil)
		if err != nil {
			return err
		}
		d, err := svc.tenant.ForceVerify(ctx, domain, *reason)
		if errors.Is(err, tenant.ErrNotFound) {
			return fmt.Errorf("no instance owns %s: its first user must sign in first", domain)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is verified (audited as an operator action)\n", d.Domain)
		return nil
	})
}

// withStore runs f with the configuration and the configured store (CHORUS_MONGO_URI, the
// running process's embedded server on the data dir, or a new one).
func withStore(ctx context.Context, getenv func(string) string, stdout io.Writer, f func(command, *tenant.Store) error) (err error) {
	cfg, err := parseConfig("operator", nil, getenv, stdout)
	if err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	log := slog.New(slog.DiscardHandler)
	// The store decides: a command on MongoDB that needs Redis uses the
	// data dir's redis-server as before, running or started for it.
	dd, err := claimDataDir(cfg, cfg.MongoURI == "", log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, dd.close(context.WithoutCancel(ctx))) }()
	uri, _, stop, err := mongoServer(ctx, cfg, log, dd.owner(), true)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stop(context.WithoutCancel(ctx))) }()
	store, err := tenant.OpenStore(ctx, cfg.storeConfig(uri, log))
	if err != nil {
		return err
	}
	defer store.Close(context.WithoutCancel(ctx))
	return f(command{config: cfg, owner: dd.owner()}, store)
}

// command is the configuration of an operator command, and whether it
// owns the data dir (no Chorus process runs on it) and so starts the
// embedded servers it needs.
type command struct {
	config
	owner bool
}

// runPrivacy is `chorus privacy replay-erasures`: after restoring a
// backup, erase again everyone the erasure ledger lists.
func runPrivacy(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "replay-erasures" {
		return errors.New("usage: chorus privacy replay-erasures")
	}
	return withStore(ctx, getenv, stdout, func(cfg command, store *tenant.Store) error {
		// Tokens restored with the data were revoked at the erasure;
		// replaying only has to delete them again, so no keyring is needed.
		p, stop, err := commandPrivacy(ctx, cfg, store, stdout)
		if err != nil {
			return err
		}
		defer stop()
		n, err := p.ReplayErasures(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "erased again: %d people whose data had come back\n", n)
		return nil
	})
}

// runAudit is `chorus audit verify <instance ID>`: checks the instance's
// audit hash chain.
func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 2 || args[0] != "verify" {
		return errors.New("usage: chorus audit verify <instance ID>")
	}
	return withStore(ctx, getenv, stdout, func(_ command, store *tenant.Store) error {
		sc, err := store.Open(ctx, args[1])
		if err != nil {
			return fmt.Errorf("instance %s: %w", args[1], err)
		}
		n, err := sc.VerifyAudit(ctx)
		if err != nil {
			return fmt.Errorf("after %d good entries: %w", n, err)
		}
		fmt.Fprintf(stdout, "audit log of %s verifies: %d entries\n", args[1], n)
		if a, err := sc.AuditAnchor(ctx); err == nil {
			fmt.Fprintf(stdout, "entries 1 to %d were purged by retention (last on %s); the chain starts from the anchor after entry %d\n",
				a.Seq, a.PurgedAt.Format(time.RFC3339), a.Seq)
		}
		return nil
	})
}

// runInstance is `chorus instance delete <id> --reason "…"`: offboards an
// instance (its collections, domains, sessions and record go; a ledger
// entry stays).
func runInstance(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	usage := errors.New(`usage: chorus instance delete <instance ID> --reason "why" | chorus instance move <instance ID> --region <name>`)
	if len(args) < 2 || args[0] != "delete" && args[0] != "move" || strings.HasPrefix(args[1], "-") {
		return usage
	}
	if args[0] == "move" {
		return runInstanceMove(ctx, args[1:], getenv, stdout, usage)
	}
	fs := flag.NewFlagSet("chorus instance delete", flag.ContinueOnError)
	fs.SetOutput(stdout)
	reason := fs.String("reason", "", "why (kept in the offboarding ledger)")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if *reason == "" || fs.NArg() > 0 {
		return usage
	}
	return withStore(ctx, getenv, stdout, func(cfg command, store *tenant.Store) error {
		p, stop, err := commandPrivacy(ctx, cfg, store, stdout)
		if err != nil {
			return err
		}
		defer stop()
		if err := p.Offboard(ctx, args[1], "operator", *reason); err != nil {
			return fmt.Errorf("instance %s: %w", args[1], err)
		}
		fmt.Fprintf(stdout, "instance %s deleted: its members were erased first (connections revoked, waiting tasks deleted)\n", args[1])
		return nil
	})
}

// runInstanceMove is `chorus instance move <instance ID> --region R`:
// the instance's data is copied to region R while the instance is
// read-only, verified by counts and hashes, then the instance switches to
// R and the old region's copies are dropped.
func runInstanceMove(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, usage error) error {
	fs := flag.NewFlagSet("chorus instance move", flag.ContinueOnError)
	fs.SetOutput(stdout)
	region := fs.String("region", "", "the region to move the instance's data to (one of CHORUS_REGIONS)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *region == "" || fs.NArg() > 0 {
		return usage
	}
	id := args[0]
	return withStore(ctx, getenv, stdout, func(_ command, store *tenant.Store) error {
		fmt.Fprintf(stdout, "moving instance %s to region %s: it is read-only until the copy is verified\n", id, *region)
		rep, err := store.MoveInstance(ctx, id, *region, tenant.MoveOptions{Copied: func(kind string) error {
			fmt.Fprintf(stdout, "  %s copied and verified\n", kind)
			return nil
		}})
		switch {
		case !rep.Switched && (rep.From == "" || errors.Is(err, tenant.ErrMoveInProgress) || errors.Is(err, tenant.ErrUnknownRegion)):
			return fmt.Errorf("instance %s: %w", id, err)
		case !rep.Switched:
			return fmt.Errorf("instance %s stays in region %s, writable again: %w", id, rep.From, err)
		}
		var docs int64
		for _, c := range rep.Collections {
			docs += c.Documents
		}
		fmt.Fprintf(stdout, "instance %s is in region %s (was %s): %d collections, %d documents, counts and SHA-256 equal, in %s\n",
			id, rep.To, rep.From, len(rep.Collections), docs, rep.Took.Round(time.Millisecond))
		if len(rep.LeftBehind) > 0 {
			return fmt.Errorf("collections of region %s changed after their copy and were kept: %s; compare them with region %s and drop them (%v)",
				rep.From, strings.Join(rep.LeftBehind, ", "), rep.To, err)
		}
		return err
	})
}

// runSubdomain is `chorus subdomain reserve <name> --instance <id>
// --reason "…"`: an operator gives an instance a login subdomain that
// none of its verified domains offers.
func runSubdomain(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	usage := errors.New(`usage: chorus subdomain reserve <name> --instance <instance ID> --reason "why"`)
	if len(args) < 2 || args[0] != "reserve" || strings.HasPrefix(args[1], "-") {
		return usage
	}
	fs := flag.NewFlagSet("chorus subdomain reserve", flag.ContinueOnError)
	fs.SetOutput(stdout)
	instance := fs.String("instance", "", "the instance that gets the subdomain")
	reason := fs.String("reason", "", "why (required; audited in the instance's log)")
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	if *instance == "" || fs.NArg() > 0 {
		return usage
	}
	if *reason == "" {
		return errors.New("--reason is required: it goes into the instance's audit log")
	}
	return withStore(ctx, getenv, stdout, func(_ command, store *tenant.Store) error {
		sub, err := store.ReserveSubdomain(ctx, *instance, args[1], *reason)
		if err != nil {
			return fmt.Errorf("subdomain %s for instance %s: %w", args[1], *instance, err)
		}
		fmt.Fprintf(stdout, "instance %s has the login subdomain %s (audited as an operator action)\n", *instance, sub)
		return nil
	})
}

// runKeys is `chorus keys rotate`: re-encrypts every instance's social
// tokens (and registered app secrets) and its identity provider's client
// secret to the newest key of CHORUS_TOKEN_KEYS. Drop an old key only
// after a run that rotated nothing and found nothing broken.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 1 || args[0] != "rotate" {
		return errors.New("usage: chorus keys rotate")
	}
	keys, err := social.ParseKeyring(getenv("CHORUS_TOKEN_KEYS"))
	if err != nil {
		return fmt.Errorf("CHORUS_TOKEN_KEYS: %w", err)
	}
	return withStore(ctx, getenv, stdout, func(cfg command, store *tenant.Store) error {
		svc, err := commandServices(cfg, store, keys, nil, nil)
		if err != nil {
			return err
		}
		so := svc.social
		var total social.RotateReport
		err = store.EachInstance(ctx, func(sc tenant.Scope) error {
			r, err := so.RotateAll(ctx, sc)
			total.Rotated += r.Rotated
			total.Current += r.Current
			total.Broken += r.Broken
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "connections: %d re-encrypted to key %s, %d already on it, %d undecryptable (marked broken)\n",
			total.Rotated, keys.Current(), total.Current, total.Broken)
		rotated, current, broken, err := store.RotateSSOSecrets(ctx, keys)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "identity provider secrets: %d re-encrypted to key %s, %d already on it, %d undecryptable\n",
			rotated, keys.Current(), current, broken)
		if total.Broken > 0 || broken > 0 {
			return errors.New("some tokens could not be decrypted with any key: keep the old keys and check CHORUS_TOKEN_KEYS")
		}
		return nil
	})
}

// commandPrivacy is the erasure of an operator command (replaying
// erasures, offboarding). Tokens are revoked with the keyring of
// CHORUS_TOKEN_KEYS when it is set; tokens restored with a backup were
// revoked at the erasure, so replaying only deletes them again. Waiting
// tasks of the erased go too (the reconciler re-queues restored shares):
// in the deployment's Redis, or the embedded one on the data dir (the
// running platform's, or one started for the command). Without
// redis-server the platform's Redis is in memory and keeps no tasks
// across restarts. stop releases what it started.
func commandPrivacy(ctx context.Context, cfg command, store *tenant.Store, stdout io.Writer) (*tenant.Privacy, func(), error) {
	keys, _ := social.ParseKeyring(cfg.TokenKeys)
	opt, stopRedis, err := redisServer(ctx, cfg.config, slog.New(slog.DiscardHandler), cfg.owner, false)
	switch {
	case errors.Is(err, embeddedredis.ErrNotInstalled):
		fmt.Fprintln(stdout, "no redis-server here: the embedded Redis keeps no tasks across restarts, so none are checked")
		svc, err := commandServices(cfg, store, keys, nil, nil)
		if err != nil {
			return nil, nil, err
		}
		return svc.privacy, func() {}, nil
	case err != nil:
		return nil, nil, err
	}
	insp := asynq.NewInspector(opt)
	stop := func() {
		insp.Close()
		_ = stopRedis(context.WithoutCancel(ctx))
	}
	svc, err := commandServices(cfg, store, keys, jobs.NewQueue(nil, insp, nil), nil)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return svc.privacy, stop, nil
}
