package reach

import (
	"context"

	"github.com/chorushq/chorus/tenant"
)

// GroupsInGo reports whether the lists are added up here because the
// engine sums only one field per $group (FerretDB v1).
func (s *Service) GroupsInGo() bool { return s.ungrouped.Load() }

// Apply is apply: the keys' counters added to their rollups and totals.
func Apply(ctx context.Context, sc tenant.Scope, sums map[Key]Counters) error {
	return apply(ctx, sc, sums)
}
