package social

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant"
)

// ExpiryWarning is how long before a token that cannot renew itself
// expires the member is told (LinkedIn's 60-day tokens, for one).
const ExpiryWarning = 7 * 24 * time.Hour

// WarnExpiring tells each member whose active connection cannot renew its
// token and expires within ExpiryWarning, once per token (a periodic
// job). It returns how many it told.
func (s *Service) WarnExpiring(ctx context.Context, sc tenant.Scope) (int, error) {
	now := s.now().UTC()
	var conns []Connection
	err := sc.Collection(connectionKind).Find(ctx, bson.D{
		{Key: "status", Value: StatusActive},
		{Key: "refresh", Value: bson.D{{Key: "$exists", Value: false}}},
		{Key: "expires_at", Value: bson.D{{Key: "$lte", Value: now.Add(ExpiryWarning)}}},
		{Key: "expiry_warned", Value: bson.D{{Key: "$ne", Value: true}}},
	}, &conns)
	if err != nil {
		return 0, err
	}
	told := 0
	for _, c := range conns {
		// Mark first, conditionally: two workers never both mail.
		ok, err := sc.Collection(connectionKind).Update(ctx,
			bson.D{{Key: "_id", Value: c.ID}, {Key: "expiry_warned", Value: bson.D{{Key: "$ne", Value: true}}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "expiry_warned", Value: true}}}})
		if err != nil {
			return told, err
		}
		if !ok || s.notify == nil {
			continue
		}
		subject := "Your " + networkTitle(c.Network) + " connection in Chorus expires on " + c.ExpiresAt.Format("2 January 2006")
		text := networkTitle(c.Network) + " lets Chorus post for your account " + c.Handle + " until " +
			c.ExpiresAt.Format("2 January 2006") + " and does not renew that by itself.\n\n" +
			"Open Chorus, go to your profile and connect the account again to keep sharing; shares scheduled after that date wait for it.\n"
		if err := s.notify(ctx, sc, c.MemberID, subject, text); err != nil {
			s.log.WarnContext(ctx, "member not told of an expiring connection", "connection_id", c.ID, "err", err)
			continue
		}
		told++
	}
	return told, nil
}
