package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

// migrations are the store's versioned migrations, oldest first (see
// tenant.Migration and docs/upgrading.md). Append; never edit or reorder
// one that shipped. Every instance's indexes are created before them,
// whenever the declared kinds and indexes change.
func migrations(log *slog.Logger, r *reach.Service) []tenant.Migration {
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
				rep, err := r.Rebuild(ctx, sc)
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
		// Tracked links were whole in the home database; the link is the
		// instance's data and goes to its region (docs/regions.md).
		{Version: 5, Name: "tracked links moved into their instances' regions, their codes' routes kept home", Run: func(ctx context.Context, s *tenant.Store) error {
			n, err := social.MoveLinksToRegions(ctx, s)
			if n > 0 {
				log.InfoContext(ctx, "tracked links moved into their regions", "links", n)
			}
			return err
		}},
		{Version: 6, Name: "monthly reach totals, sharers and content spans derived from the daily totals", Run: func(ctx context.Context, s *tenant.Store) error {
			return s.EachInstance(ctx, func(sc tenant.Scope) error {
				rep, err := reach.Backfill(ctx, sc)
				if err != nil {
					return fmt.Errorf("instance %s: %w", sc.InstanceID(), err)
				}
				log.InfoContext(ctx, "monthly reach totals derived", "tenant_id", sc.InstanceID(), "daily_totals", rep.Daily, "derived", rep.Derived)
				return nil
			})
		}},
		{Version: 7, Name: "posts written before canonical URLs get theirs, so content sources deduplicate against them",
			Run: backfillPosts(log, "canonical URLs backfilled", content.BackfillCanonicalURLs)},
		// The feed's filter matches aimed_at alone: posts stored before
		// audiences (or by a write that left it out) get theirs.
		{Version: 8, Name: "posts written before audiences are aimed at everyone or at their groups, so the feed finds them by aimed_at alone",
			Run: backfillPosts(log, "posts aimed", content.BackfillAimedAt)},
	}
}

// backfillPosts is a migration that runs backfill on every instance,
// logging done with the number of posts it changed.
func backfillPosts(log *slog.Logger, done string, backfill func(context.Context, tenant.Scope) (int, error)) func(context.Context, *tenant.Store) error {
	return func(ctx context.Context, s *tenant.Store) error {
		return s.EachInstance(ctx, func(sc tenant.Scope) error {
			n, err := backfill(ctx, sc)
			if n > 0 {
				log.InfoContext(ctx, done, "tenant_id", sc.InstanceID(), "posts", n)
			}
			if err != nil {
				return fmt.Errorf("instance %s: %w", sc.InstanceID(), err)
			}
			return nil
		})
	}
}

// migrate runs the pending migrations on store, logging to log; r
// rebuilds the rollups.
func migrate(ctx context.Context, store *tenant.Store, log *slog.Logger, r *reach.Service) (tenant.MigrateReport, error) {
	host, _ := os.Hostname()
	rep, err := store.Migrate(ctx, migrations(log, r), fmt.Sprintf("%s/%d", host, os.Getpid()))
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
		log := newLogger(config{LogLevel: slog.LevelWarn, LogFormat: "text"}, stdout)
		svc, err := commandServices(cfg, store, nil, nil, log)
		if err != nil {
			return err
		}
		rep, err := migrate(ctx, store, log, svc.reach)
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
