package reach

import (
	"context"
	"errors"
	"time"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
)

// Engagement refresh limits: shares younger than EngagementWindow are
// refreshed, at most CallsPerNetwork metric reads per network and
// instance per run; a network that asks to wait is left alone until the
// next run.
const (
	EngagementWindow = 30 * 24 * time.Hour
	CallsPerNetwork  = 300
)

// MetricsSource reads a published share's engagement at its network
// (social.Service.PostMetrics).
type MetricsSource interface {
	PostMetrics(ctx context.Context, sc tenant.Scope, sh social.Share) (social.Engagement, error)
}

// RefreshReport says what a refresh did.
type RefreshReport struct {
	Read, Changed, Failed int
}

// RefreshEngagement reads the engagement of the instance's shares
// published in the last 30 days (walking them in pages on an index) and
// adds what changed since the last
// read to the rollups of the day each share was published (the
// engagement a day's shares earned). Each change is a compare-and-swap on
// the share, so two refreshes never add one difference twice.
func (s *Service) RefreshEngagement(ctx context.Context, sc tenant.Scope, src MetricsSource) (RefreshReport, error) {
	var rep RefreshReport
	loc := sc.Instance().Settings.Location()
	calls := map[string]int{}
	paused := map[string]bool{}
	err := social.EachPublishedSince(ctx, sc, s.now().Add(-EngagementWindow), func(shares []social.Share) error {
		members := make([]string, 0, len(shares))
		for _, sh := range shares {
			members = append(members, sh.MemberID)
		}
		attr, err := tenant.Attributions(ctx, sc, members)
		if err != nil {
			return err
		}
		for _, sh := range shares {
			if err := ctx.Err(); err != nil {
				return err
			}
			if paused[sh.Network] || calls[sh.Network] >= CallsPerNetwork {
				continue
			}
			calls[sh.Network]++
			e, err := src.PostMetrics(ctx, sc, sh)
			switch {
			case errors.Is(err, social.ErrNoMetrics):
				calls[sh.Network]--
				continue
			case errors.Is(err, social.ErrRetryLater), errors.Is(err, social.ErrOperator):
				// The network asks to wait, or refuses the deployment's
				// app: none of its other shares is asked this run.
				paused[sh.Network] = true
				continue
			case err != nil:
				rep.Failed++
				s.log.InfoContext(ctx, "engagement not read", "tenant_id", sc.InstanceID(), "share_id", sh.ID, "err", err)
				continue
			}
			rep.Read++
			if e == sh.Engagement {
				continue
			}
			ok, err := social.SetEngagement(ctx, sc, sh.ID, sh.Engagement, e)
			if err != nil {
				return err
			}
			if !ok {
				continue // another refresh applied it
			}
			rep.Changed++
			at := *sh.PublishedAt
			k := Key{Day: Day(at, loc), ContentID: sh.ContentID, MemberID: attributed(attr, sh.MemberID, at), Network: sh.Network}
			if err := inc(ctx, sc, k, Counters{Reactions: e.Reactions - sh.Engagement.Reactions,
				Comments: e.Comments - sh.Engagement.Comments, Reposts: e.Reposts - sh.Engagement.Reposts}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	return rep, nil
}
