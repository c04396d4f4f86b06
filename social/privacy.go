package social

import (
	"context"
	"errors"

	"github.com/chorushq/chorus/tenant"
)

// privacySource is social's part of data-subject requests.
type privacySource struct{ svc *Service }

// PrivacySource returns social's tenant.PrivacySource: the person's
// connected accounts, never their tokens.
func (s *Service) PrivacySource() tenant.PrivacySource { return privacySource{s} }

// Export lists the subject's connections without tokens.
func (p privacySource) Export(ctx context.Context, sc tenant.Scope, s tenant.Subject) ([]string, map[string]any, error) {
	views := []connectionView{}
	if s.MemberID != "" {
		conns, err := p.svc.Connections(ctx, sc, tenant.Member{ID: s.MemberID})
		if err != nil {
			return nil, nil, err
		}
		for _, c := range conns {
			views = append(views, viewOf(c))
		}
	}
	return []string{connectionKind.Name, stateKind.Name}, map[string]any{"connections": views}, nil
}

// Erase revokes the subject's tokens at each network where it can, then
// deletes the connections (Disconnect), so nothing can post for them.
func (p privacySource) Erase(ctx context.Context, sc tenant.Scope, s tenant.Subject, _ string) error {
	if s.MemberID == "" {
		return nil
	}
	me := tenant.Member{ID: s.MemberID}
	conns, err := p.svc.Connections(ctx, sc, me)
	if err != nil {
		return err
	}
	for _, c := range conns {
		if err := p.svc.Disconnect(ctx, sc, me, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}
