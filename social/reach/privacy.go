package reach

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// privacySource is reach's part of data-subject requests.
type privacySource struct{ svc *Service }

// PrivacySource returns reach's tenant.PrivacySource: the rollups
// attributed to a person. It also moves a member's rollups into the
// instance totals when they object to analytics attribution
// (tenant.ConsentObserver).
func (s *Service) PrivacySource() tenant.PrivacySource { return privacySource{s} }

// Export returns the rollups attributed to the subject.
func (p privacySource) Export(ctx context.Context, sc tenant.Scope, s tenant.Subject) ([]string, map[string]any, error) {
	rows, lines := []Rollup{}, []total{}
	if s.MemberID != "" {
		if err := sc.Collection(rollupKind).Find(ctx, bson.D{{Key: "member_id", Value: s.MemberID}}, &rows,
			options.Find().SetSort(bson.D{{Key: "day", Value: 1}})); err != nil {
			return nil, nil, err
		}
		if err := sc.Collection(totalKind).Find(ctx, bson.D{{Key: "dim", Value: dimMember}, {Key: "id", Value: s.MemberID}}, &lines,
			options.Find().SetSort(bson.D{{Key: "day", Value: 1}})); err != nil {
			return nil, nil, err
		}
	}
	return []string{rollupKind.Name, totalKind.Name}, map[string]any{"analytics_rollups": rows, "analytics_daily_totals": lines}, nil
}

// Erase gives the subject's rollups the pseudonym their shares get, so
// the company's totals stay and nobody can be traced. Idempotent.
func (p privacySource) Erase(ctx context.Context, sc tenant.Scope, s tenant.Subject, pseudonym string) error {
	if s.MemberID == "" {
		return nil
	}
	return p.svc.move(ctx, sc, s.MemberID, pseudonym)
}

// ConsentChanged moves a member's rollups into the instance totals when
// they withdraw analytics attribution; a later grant attributes only what
// follows it.
func (p privacySource) ConsentChanged(ctx context.Context, sc tenant.Scope, memberID, purpose string, granted bool) error {
	if purpose != tenant.PurposeAnalyticsAttribution || granted {
		return nil
	}
	return p.svc.move(ctx, sc, memberID, "")
}
