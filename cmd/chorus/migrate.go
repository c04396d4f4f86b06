package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

// migrations are the store's versioned migrations, oldest first (see
// tenant.Migration and docs/upgrading.md). Append; never edit or reorder
// one that shipped. Every instance's indexes are created before them,
// whenever the declared kinds and indexes change.
func migrations(log *slog.Logger) []tenant.Migration {
	return []tenant.Migration{
		{Version: 1, Name: "clicks stored one per document become batches (retention and reach see them)", Run: func(ctx context.Context, s *tenant.Store) error {
			return s.EachInstance(ctx, func(sc tenant.Scope) error {
				n, err := social.BatchLegacyClicks(ctx, sc)
				if n > 0 {
					log.InfoContext(ctx, "legacy clicks batched", "tenant_id", sc.InstanceID(), "clicks", n)
				}
				return err
			})
		}},
		{Version: 2, Name: "reach rollups and daily totals rebuilt from the raw shares and clicks", Run: func(ctx context.Context, s *tenant.Store) error {
			return s.EachInstance(ctx, func(sc tenant.Scope) error {
				rep, err := reach.New(reach.Config{Log: log}).Rebuild(ctx, sc)
				if err != nil {
					return fmt.Errorf("instance %s: %w", sc.InstanceID(), err)
				}
				log.InfoContext(ctx, "rollups rebuilt", "tenant_id", sc.InstanceID(), "from", rep.From, "rollups", rep.Rollups, "totals", rep.Totals)
				return nil
			})
		}},
		{Version: 3, Name: "share and content counters recounted from the shares and clicks", Run: func(ctx context.Context, s *tenant.Store) error {
			return s.EachInstance(ctx, func(sc tenant.Scope) error {
				rep, err := social.RecountCounters(ctx, sc)
				if err != nil {
					return fmt.Errorf("instance %s: %w", sc.InstanceID(), err)
				}
				log.InfoContext(ctx, "counters recounted", "tenant_id", sc.InstanceID(), "shares", rep.Shares, "clicks", rep.Clicks,
					"shares_changed", rep.SharesChanged, "contents_changed", rep.PostsChanged)
				return nil
			})
		}},
		// Indexes made before the embedded cluster set
		// documentdb.defaultUseCompositeOpClass keep a term per field.
		{Version: 4, Name: "indexes rebuilt with composite terms on FerretDB v2 with DocumentDB", Run: func(ctx context.Context, s *tenant.Store) error {
			rep, err := s.RebuildIndexesWithCompositeTerms(ctx)
			if err == nil && rep.DocumentDB {
				log.InfoContext(ctx, "indexes rebuilt with composite terms", "rebuilt", rep.Rebuilt, "already_composite", rep.Current, "duration_ms", rep.Took.Milliseconds())
			}
			return err
		}},
		{Version: 5, Name: "monthly reach totals, sharers and content spans derived from the daily totals", Run: func(ctx context.Context, s *tenant.Store) error {
			return s.EachInstance(ctx, func(sc tenant.Scope) error {
				rep, err := reach.Backfill(ctx, sc)
				if err != nil {
					return fmt.Errorf("instance %s: %w", sc.InstanceID(), err)
				}
				log.InfoContext(ctx, "monthly reach totals derived", "tenant_id", sc.InstanceID(), "daily_totals", rep.Daily, "derived", rep.Derived)
				return nil
			})
		}},
	}
}

// migrate runs the pending migrations on store, logging to log.
func migrate(ctx context.Context, store *tenant.Store, log *slog.Logger) (tenant.MigrateReport, error) {
	host, _ := os.Hostname()
	rep, err := store.Migrate(ctx, migrations(log), fmt.Sprintf("%s/%d", host, os.Getpid()))
	if err != nil {
		return rep, fmt.Errorf("migrate: %w", err)
	}
	return rep, nil
}

// runMigrate is `chorus migrate`: brings the database up to date, as
// serve, worker and all do at start unless CHORUS_MIGRATE=off.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) != 0 {
		return fmt.Errorf("usage: chorus migrate (no arguments; it reads the store settings, CHORUS_MONGO_URI …)")
	}
	return withStore(ctx, getenv, stdout, func(cfg command, store *tenant.Store) error {
		rep, err := migrate(ctx, store, newLogger(config{LogLevel: slog.LevelWarn, LogFormat: "text"}, stdout))
		if err != nil {
			return err
		}
		switch {
		case len(rep.Ran) == 0 && rep.Indexed < 0:
			fmt.Fprintf(stdout, "the database is up to date (migration %d)\n", rep.To)
			return nil
		case rep.Indexed >= 0:
			fmt.Fprintf(stdout, "indexes created where missing: %d instances changed\n", rep.Indexed)
		}
		if len(rep.Ran) > 0 {
			fmt.Fprintf(stdout, "migrated from %d to %d:\n  %s\n", rep.From, rep.To, strings.Join(rep.Ran, "\n  "))
		}
		return nil
	})
}
