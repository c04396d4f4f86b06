package tenant

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Limit allows Max events per Window for one key.
type Limit struct {
	Max    int
	Window time.Duration
}

// window is one fixed window's counter of a key.
type window struct {
	ID        string    `bson:"_id"`
	Count     int       `bson:"count"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// allow counts one event for key and reports whether it stays within l.
// It is a sliding-window counter: the current window's count (an atomic
// $inc upsert) plus the previous window's count weighted by how much of it
// still overlaps the last Window. It answers how long to wait when refused.
func (s *Store) allow(ctx context.Context, key string, l Limit) (bool, time.Duration, error) {
	if l.Max <= 0 {
		return true, 0, nil
	}
	now := s.now().UTC()
	start := now.Truncate(l.Window)
	coll := s.db.Collection(collRateLimits)
	id := func(t time.Time) string { return fmt.Sprintf("%s|%d", key, t.Unix()) }

	var cur window
	err := coll.FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: id(start)}},
		bson.D{
			{Key: "$inc", Value: bson.D{{Key: "count", Value: 1}}},
			{Key: "$set", Value: bson.D{{Key: "expires_at", Value: start.Add(2 * l.Window)}}},
		},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
	).Decode(&cur)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit %s: %w", key, storeErr(err))
	}
	var prev window
	switch err := storeErr(coll.FindOne(ctx, bson.D{{Key: "_id", Value: id(start.Add(-l.Window))}}).Decode(&prev)); err {
	case nil, ErrNotFound:
	default:
		return false, 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	overlap := 1 - float64(now.Sub(start))/float64(l.Window)
	used := float64(prev.Count)*overlap + float64(cur.Count)
	if used <= float64(l.Max) {
		return true, 0, nil
	}
	return false, retryAfter(float64(prev.Count), float64(cur.Count), float64(l.Max), now.Sub(start), l.Window), nil
}

// retryAfter returns how long until one more event fits, given the previous
// and current windows' counts and how far into the current window it is.
func retryAfter(prev, cur, limit float64, into, w time.Duration) time.Duration {
	room := limit - 1 // the next event must fit too
	if cur <= room && prev > 0 {
		// The previous window's weight shrinks enough within this one.
		f := 1 - (room-cur)/prev
		if at := time.Duration(f * float64(w)); at > into {
			return at - into
		}
		return time.Second
	}
	// Only the next window helps: the current count then shrinks.
	f := 0.0
	if cur > 0 {
		f = max(0, 1-room/cur)
	}
	return w - into + time.Duration(f*float64(w))
}
