package tenant

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// DefaultAuthCacheTTL is how long a process keeps a session, an instance
// or a member it read for a request's session check. Changes made in the
// same process take effect at once (they drop what they change); changes
// made by another process are seen after at most this long.
const DefaultAuthCacheTTL = 2 * time.Second

// authCacheSize bounds each of the cache's maps; a full map starts over.
const authCacheSize = 10000

// authCache keeps, per process, what every signed-in request reads: its
// session, its instance and its member, so that a request costs no store
// round trip for them. Entries are kept as stored BSON and decoded on each
// hit, so no two requests share a slice or a map.
//
// A load that overlaps an invalidation is not kept: every invalidation
// bumps gen, and a loaded value is stored only if gen did not move since
// the load began. So once a write has returned and dropped its entries,
// no older value can come back in this process.
type authCache struct {
	ttl time.Duration
	now func() time.Time // monotonic wall clock, not the store's domain clock
	// loaded, when set (tests), runs between a load's read and its put.
	loaded func(key string)

	mu        sync.Mutex
	gen       uint64
	sessions  map[string]cacheEntry // by session hash
	instances map[string]cacheEntry // by instance ID
	members   map[string]cacheEntry // by instance ID + "\x00" + member ID
	groups    map[string]cacheEntry // the instance's group list, by instance ID
}

type cacheEntry struct {
	raw bson.Raw
	at  time.Time
	// instanceID and memberID say whose a session is, for invalidation.
	instanceID, memberID string
}

func newAuthCache(ttl time.Duration) *authCache {
	if ttl == 0 {
		ttl = DefaultAuthCacheTTL
	}
	return &authCache{ttl: ttl, now: time.Now, sessions: map[string]cacheEntry{},
		instances: map[string]cacheEntry{}, members: map[string]cacheEntry{}, groups: map[string]cacheEntry{}}
}

func memberKey(instanceID, memberID string) string { return instanceID + "\x00" + memberID }

// get returns the fresh entry of key in m.
func (c *authCache) get(m map[string]cacheEntry, key string) (bson.Raw, bool) {
	if c.ttl < 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := m[key]
	if !ok || c.now().Sub(e.at) >= c.ttl {
		return nil, false
	}
	return e.raw, true
}

// begin returns the generation a load starts at.
func (c *authCache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put keeps e under key unless an invalidation happened since gen.
func (c *authCache) put(m map[string]cacheEntry, key string, gen uint64, e cacheEntry) {
	if c.ttl < 0 {
		return
	}
	if c.loaded != nil {
		c.loaded(key)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(m) >= authCacheSize {
		clear(m)
	}
	e.at = c.now()
	m[key] = e
}

// dropSession forgets one session.
func (c *authCache) dropSession(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.sessions, hash)
}

// dropMember forgets a member and their sessions.
func (c *authCache) dropMember(instanceID, memberID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.members, memberKey(instanceID, memberID))
	for k, e := range c.sessions {
		if e.instanceID == instanceID && e.memberID == memberID {
			delete(c.sessions, k)
		}
	}
}

// dropMembers forgets every member of an instance.
func (c *authCache) dropMembers(instanceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	prefix := instanceID + "\x00"
	for k := range c.members {
		if strings.HasPrefix(k, prefix) {
			delete(c.members, k)
		}
	}
}

// dropGroups forgets an instance's group list.
func (c *authCache) dropGroups(instanceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.groups, instanceID)
}

// dropInstance forgets an instance, its members and its sessions.
func (c *authCache) dropInstance(instanceID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.instances, instanceID)
	delete(c.groups, instanceID)
	prefix := instanceID + "\x00"
	for k := range c.members {
		if strings.HasPrefix(k, prefix) {
			delete(c.members, k)
		}
	}
	for k, e := range c.sessions {
		if e.instanceID == instanceID {
			delete(c.sessions, k)
		}
	}
}

// cachedSession is liveSession through the cache: the session behind a
// cookie's secret, unexpired by the store's clock, or ErrNoSession.
func (s *Store) cachedSession(ctx context.Context, secret string) (session, error) {
	if secret == "" || len(secret) > 100 {
		return session{}, ErrNoSession
	}
	hash := hashSecret(secret)
	var ses session
	if raw, ok := s.cache.get(s.cache.sessions, hash); ok {
		if err := bson.Unmarshal(raw, &ses); err == nil && ses.ExpiresAt.After(s.now()) {
			return ses, nil
		}
	}
	gen := s.cache.begin()
	raw, err := s.db.Collection(collSessions).FindOne(ctx, bson.D{
		{Key: "_id", Value: hash},
		{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: s.now().UTC()}}},
	}).Raw()
	switch err := storeErr(err); err {
	case nil:
	case ErrNotFound:
		return session{}, ErrNoSession
	default:
		return session{}, err
	}
	if err := bson.Unmarshal(raw, &ses); err != nil {
		return session{}, storeErr(err)
	}
	s.cache.put(s.cache.sessions, hash, gen, cacheEntry{raw: raw, instanceID: ses.InstanceID, memberID: ses.MemberID})
	return ses, nil
}

// cachedInstance is instance through the cache.
func (s *Store) cachedInstance(ctx context.Context, id string) (Instance, error) {
	if !httpapi.ValidID(id) {
		return Instance{}, ErrNotFound
	}
	var inst Instance
	if raw, ok := s.cache.get(s.cache.instances, id); ok {
		if err := bson.Unmarshal(raw, &inst); err == nil {
			return inst, nil
		}
	}
	gen := s.cache.begin()
	raw, err := s.db.Collection(collInstances).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		return Instance{}, storeErr(err)
	}
	if err := bson.Unmarshal(raw, &inst); err != nil {
		return Instance{}, storeErr(err)
	}
	s.cache.put(s.cache.instances, id, gen, cacheEntry{raw: raw})
	return inst, nil
}

// cachedMember is Member through the cache.
func (sc Scope) cachedMember(ctx context.Context, id string) (Member, error) {
	if !httpapi.ValidID(id) {
		return Member{}, ErrNotFound
	}
	c := sc.store.cache
	key := memberKey(sc.inst.ID, id)
	var m Member
	if raw, ok := c.get(c.members, key); ok {
		if err := bson.Unmarshal(raw, &m); err == nil {
			return m, nil
		}
	}
	gen := c.begin()
	raw, err := sc.Collection(memberKind).findOneRaw(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return Member{}, err
	}
	if err := bson.Unmarshal(raw, &m); err != nil {
		return Member{}, storeErr(err)
	}
	c.put(c.members, key, gen, cacheEntry{raw: raw})
	return m, nil
}
