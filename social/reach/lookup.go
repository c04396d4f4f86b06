package reach

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
)

// What click flushes and the publishing hook look up (the clicked shares
// by ID, the members' attribution ledgers by member) is cached per
// process and instance for a bounded time, so a flush reads only what it
// has not seen lately, by key. An objection or an erasure forgets the
// instance's cache at once in this process and, through a generation
// counter in Redis, at the next flush of every other.
const (
	// publishedLifetime: a published share's member and time change only
	// by an erasure, which forgets the cache.
	publishedLifetime = 5 * time.Minute
	// attributionLifetime bounds how long a consent change made without
	// Redis in another process goes unseen.
	attributionLifetime = time.Minute
	// cacheEntries bounds each instance's cache of shares and of members.
	cacheEntries = 20000
)

// shareFacts is what a click needs of its share.
type shareFacts struct {
	memberID string
	// from is when the share's clicks start to count for points (nil:
	// not published, or no such share): countsFrom.
	from  *time.Time
	until time.Time
}

// countsFrom is when a published share's clicks start to count for
// points: its publication, or, if earlier, when publishing was attempted
// (by Chorus's clock, which also dates the clicks: a network whose clock
// runs ahead must not void the first clicks). nil while not published.
func countsFrom(sh social.Share) *time.Time {
	if sh.PublishedAt == nil {
		return nil
	}
	if sh.AttemptedAt != nil && sh.AttemptedAt.Before(*sh.PublishedAt) {
		return sh.AttemptedAt
	}
	return sh.PublishedAt
}

type attributionFact struct {
	a     tenant.Attribution
	until time.Time
}

type instanceCache struct {
	gen    string // the Redis generation the entries were read under
	shares map[string]shareFacts
	attrs  map[string]attributionFact
}

func genKey(instanceID string) string { return "chorus:reach:gen:" + instanceID }

// cacheOf returns the instance's cache, emptied if another process
// changed consents or erased someone since it was filled. Call with
// cacheMu unlocked; the result is read and written under cacheMu.
func (s *Service) cacheOf(ctx context.Context, sc tenant.Scope) *instanceCache {
	gen := ""
	if s.redis != nil {
		v, err := s.redis.Get(ctx, genKey(sc.InstanceID())).Result()
		switch {
		case err == nil:
			gen = v
		case errors.Is(err, redis.Nil):
			gen = "0"
		default:
			gen = "unknown:" + s.now().String() // cannot tell: trust nothing cached
		}
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c := s.cache[sc.InstanceID()]
	if c == nil || c.gen != gen {
		c = &instanceCache{gen: gen, shares: map[string]shareFacts{}, attrs: map[string]attributionFact{}}
		s.cache[sc.InstanceID()] = c
	}
	return c
}

// forget drops the instance's cached lookups here and, with Redis, in
// every process at its next flush.
func (s *Service) forget(ctx context.Context, sc tenant.Scope) {
	s.cacheMu.Lock()
	delete(s.cache, sc.InstanceID())
	s.cacheMu.Unlock()
	if s.redis != nil {
		k := genKey(sc.InstanceID())
		if err := s.redis.Incr(ctx, k).Err(); err != nil {
			s.log.WarnContext(ctx, "other processes not told of a consent change; their cache expires within a minute", "tenant_id", sc.InstanceID(), "err", err)
			return
		}
		s.redis.Expire(ctx, k, 30*24*time.Hour)
	}
}

// prune empties a cache map grown past cacheEntries of what expired, or
// of everything when that is not enough.
func prune[V any](m map[string]V, expired func(V) bool) {
	if len(m) < cacheEntries {
		return
	}
	for k, v := range m {
		if expired(v) {
			delete(m, k)
		}
	}
	if len(m) >= cacheEntries {
		clear(m)
	}
}

// shares returns what the clicks need of their shares: from the cache,
// else one read by _id of those missing.
func (s *Service) shares(ctx context.Context, sc tenant.Scope, clicks []social.Click) (map[string]shareFacts, error) {
	c := s.cacheOf(ctx, sc)
	now := s.now()
	out := make(map[string]shareFacts, len(clicks))
	var missing []string
	asked := map[string]bool{}
	s.cacheMu.Lock()
	for _, cl := range clicks {
		if _, ok := out[cl.ShareID]; ok || asked[cl.ShareID] {
			continue
		}
		asked[cl.ShareID] = true
		if f, ok := c.shares[cl.ShareID]; ok && now.Before(f.until) {
			out[cl.ShareID] = f
			continue
		}
		missing = append(missing, cl.ShareID)
	}
	s.cacheMu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	found, err := social.ClickedShares(ctx, sc, missing)
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	prune(c.shares, func(f shareFacts) bool { return !now.Before(f.until) })
	for _, id := range missing {
		sh := found[id]
		f := shareFacts{memberID: sh.MemberID, from: countsFrom(sh), until: now.Add(publishedLifetime)}
		out[id] = f
		// A share not published yet is read again at the next flush, so
		// its first clicks after publication count.
		if f.from != nil {
			c.shares[id] = f
		}
	}
	return out, nil
}

// attributions returns the members' attribution (tenant.Attributions):
// from the cache, else one read by member of those missing.
func (s *Service) attributions(ctx context.Context, sc tenant.Scope, members []string) (map[string]tenant.Attribution, error) {
	c := s.cacheOf(ctx, sc)
	now := s.now()
	out := make(map[string]tenant.Attribution, len(members))
	var missing []string
	asked := map[string]bool{}
	s.cacheMu.Lock()
	for _, m := range members {
		if _, ok := out[m]; ok || m == "" || asked[m] {
			continue
		}
		asked[m] = true
		if f, ok := c.attrs[m]; ok && now.Before(f.until) {
			out[m] = f.a
			continue
		}
		missing = append(missing, m)
	}
	s.cacheMu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	found, err := tenant.Attributions(ctx, sc, missing)
	if err != nil {
		return nil, err
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	prune(c.attrs, func(f attributionFact) bool { return !now.Before(f.until) })
	for _, m := range missing {
		c.attrs[m] = attributionFact{a: found[m], until: now.Add(attributionLifetime)}
		out[m] = found[m]
	}
	return out, nil
}

// markOwn sets Own on the clicks that came with the session of the
// member who shared the link.
func (s *Service) markOwn(ctx context.Context, sc tenant.Scope, clicks []social.Click) error {
	var signed []social.Click
	for _, c := range clicks {
		if c.SessionMember != "" {
			signed = append(signed, c)
		}
	}
	if len(signed) == 0 {
		return nil
	}
	shares, err := s.shares(ctx, sc, signed)
	if err != nil {
		return err
	}
	for i, c := range clicks {
		if c.SessionMember != "" && c.SessionMember == shares[c.ShareID].memberID {
			clicks[i].Own = true
		}
	}
	return nil
}
