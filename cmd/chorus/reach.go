package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
	_ "time/tzdata" // instances name IANA time zones; images may lack the zone files

	"github.com/prometheus/client_golang/prometheus"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
)

// clickMetrics exports the click recorder's queue: its depth, the
// clicks stored and dropped, and how long each flush takes.
func clickMetrics(reg prometheus.Registerer, r *social.Redirector) error {
	flush := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "chorus_click_flush_seconds",
		Help:    "Time the click recorder took to write one flush (every instance's batch).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	})
	r.SetFlushObserver(func(d time.Duration) { flush.Observe(d.Seconds()) })
	for _, c := range []prometheus.Collector{
		flush,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "chorus_click_queue_depth",
			Help: "Clicks waiting in the recorder's queue."}, func() float64 { return float64(r.Queued()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chorus_clicks_stored_total",
			Help: "Clicks the recorder wrote."}, func() float64 { return float64(r.Stored()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "chorus_clicks_dropped_total",
			Help: "Clicks lost because the recorder's queue stayed full (also logged)."}, func() float64 { return float64(r.Dropped()) }),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("click metrics: %w", err)
		}
	}
	return nil
}

// contentTitles names contents for the analytics lists.
func contentTitles(c *content.Service) func(ctx context.Context, sc tenant.Scope, ids []string) map[string]string {
	return func(ctx context.Context, sc tenant.Scope, ids []string) map[string]string {
		out := make(map[string]string, len(ids))
		for _, id := range ids {
			if p, err := c.Get(ctx, sc, id); err == nil {
				out[id] = p.Title
			}
		}
		return out
	}
}

// runAnalytics is `chorus analytics rebuild --instance <id>` (or
// `--all`): recomputes an instance's rollups from its raw shares and
// clicks, and its daily totals from every rollup (which fills the totals
// of data recorded before they existed).
func runAnalytics(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	usage := errors.New("usage: chorus analytics rebuild --instance <instance ID> | --all")
	if len(args) == 0 || args[0] != "rebuild" {
		return usage
	}
	fs := flag.NewFlagSet("chorus analytics rebuild", flag.ContinueOnError)
	fs.SetOutput(stdout)
	id := fs.String("instance", "", "the instance whose rollups to rebuild")
	all := fs.Bool("all", false, "rebuild every instance's rollups")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if (*id == "") == !*all || fs.NArg() > 0 {
		return usage
	}
	return withStore(ctx, getenv, stdout, func(cfg command, store *tenant.Store) error {
		svc, err := commandServices(cfg, store, nil, nil, nil)
		if err != nil {
			return err
		}
		rebuild := func(sc tenant.Scope) error {
			rep, err := svc.reach.Rebuild(ctx, sc)
			if err != nil {
				return fmt.Errorf("instance %s: %w", sc.InstanceID(), err)
			}
			fmt.Fprintf(stdout, "rollups of %s rebuilt from %s: %d shares and %d clicks gave %d rollups; %d daily totals derived from every rollup\n",
				sc.InstanceID(), rep.From, rep.Shares, rep.Clicks, rep.Rollups, rep.Totals)
			// The counters on shares and contents read the same shares and
			// clicks once more: of the order of the rebuild's own cost.
			crep, err := social.RecountCounters(ctx, sc)
			if err != nil {
				return fmt.Errorf("instance %s: %w", sc.InstanceID(), err)
			}
			fmt.Fprintf(stdout, "counters of %s recounted from %d shares and %d clicks: %d shares' and %d contents' corrected\n",
				sc.InstanceID(), crep.Shares, crep.Clicks, crep.SharesChanged, crep.PostsChanged)
			return nil
		}
		if *all {
			return store.EachInstance(ctx, rebuild)
		}
		sc, err := store.Open(ctx, *id)
		if err != nil {
			return fmt.Errorf("instance %s: %w", *id, err)
		}
		return rebuild(sc)
	})
}
