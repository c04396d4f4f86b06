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

// Groups is groups: the period's lines of dim added up, most clicks first.
func (s *Service) Groups(ctx context.Context, sc tenant.Scope, p Period, dim string) ([]Counters, []string, error) {
	gs, err := s.groups(ctx, sc, p, dim, 0, 0)
	cs, ids := make([]Counters, len(gs)), make([]string, len(gs))
	for i, g := range gs {
		cs[i], ids[i] = g.Counters, g.ID
	}
	return cs, ids, err
}

// SharingMembers is sharingMembers: who had a share published in p.
func SharingMembers(ctx context.Context, sc tenant.Scope, p Period) (map[string]bool, error) {
	return sharingMembers(ctx, sc, p)
}
