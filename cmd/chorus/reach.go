package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	_ "time/tzdata" // instances name IANA time zones; images may lack the zone files

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
)

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

// runAnalytics is `chorus analytics rebuild --instance <id>`: recomputes
// an instance's rollups from its raw shares and clicks.
func runAnalytics(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	usage := errors.New("usage: chorus analytics rebuild --instance <instance ID>")
	if len(args) == 0 || args[0] != "rebuild" {
		return usage
	}
	fs := flag.NewFlagSet("chorus analytics rebuild", flag.ContinueOnError)
	fs.SetOutput(stdout)
	id := fs.String("instance", "", "the instance whose rollups to rebuild")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *id == "" || fs.NArg() > 0 {
		return usage
	}
	return withStore(ctx, getenv, stdout, func(_ config, store *tenant.Store) error {
		sc, err := store.Open(ctx, *id)
		if err != nil {
			return fmt.Errorf("instance %s: %w", *id, err)
		}
		rep, err := reach.New(reach.Config{}).Rebuild(ctx, sc)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rollups of %s rebuilt from %s: %d shares and %d clicks gave %d rollups\n",
			*id, rep.From, rep.Shares, rep.Clicks, rep.Rollups)
		return nil
	})
}
