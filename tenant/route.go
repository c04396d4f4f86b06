package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Route leads a code to its instance. A request that arrives with no
// session — a click on a tracked link, /r/{code} — finds its instance by
// the code alone, so the code's route is global directory data in the home
// database, like a domain claim. What the code stands for is the
// instance's data, kept in the instance's region by the package that owns
// it (social keeps the tracked links).
type Route struct {
	Code       string    `bson:"_id"`
	InstanceID string    `bson:"instance_id"`
	CreatedAt  time.Time `bson:"created_at"`
}

// collRoutes holds the routes in the home database. The name is from when
// it held whole tracked links: records written before regions still carry
// their owner's fields until the owner moves them (Store.TrimRoutes).
const collRoutes = "links"

// ReserveRoute claims code for the scope's instance; a taken code is
// ErrDuplicate, and an instance being moved to another region is
// ErrMoving (read-only).
func (sc Scope) ReserveRoute(ctx context.Context, code string) (Route, error) {
	if sc.store == nil || sc.inst.ID == "" {
		return Route{}, ErrNoScope
	}
	if sc.inst.Placement.moving(sc.store.now()) {
		return Route{}, ErrMoving
	}
	r := Route{Code: code, InstanceID: sc.InstanceID(), CreatedAt: sc.store.now().UTC().Truncate(time.Millisecond)}
	if _, err := sc.store.db.Collection(collRoutes).InsertOne(ctx, r); err != nil {
		return Route{}, storeErr(err)
	}
	return r, nil
}

// DeleteRoutes deletes the scope's instance's routes that match filter
// (a filter on the home record: _id is the code); another instance's
// routes are never touched.
func (sc Scope) DeleteRoutes(ctx context.Context, filter bson.D) error {
	if sc.store == nil || sc.inst.ID == "" {
		return ErrNoScope
	}
	f := append(bson.D{{Key: "instance_id", Value: sc.InstanceID()}}, filter...)
	_, err := sc.store.db.Collection(collRoutes).DeleteMany(ctx, f)
	return storeErr(err)
}

// ResolveRoute returns the scope of the instance code leads to, or
// ErrNotFound. It reads the instance through the process's instance cache
// (a click's path). When record is not nil, the route's whole home record
// is decoded into it too: a record written before regions carries its
// owner's fields.
func (s *Store) ResolveRoute(ctx context.Context, code string, record any) (Scope, error) {
	raw, err := s.db.Collection(collRoutes).FindOne(ctx, bson.D{{Key: "_id", Value: code}}).Raw()
	if err != nil {
		return Scope{}, storeErr(err)
	}
	id, ok := raw.Lookup("instance_id").StringValueOK()
	if !ok {
		return Scope{}, fmt.Errorf("store: route %q names no instance", code)
	}
	if record != nil {
		if err := bson.Unmarshal(raw, record); err != nil {
			return Scope{}, fmt.Errorf("store: route %q: %w", code, err)
		}
	}
	inst, err := s.cachedInstance(ctx, id)
	if err != nil {
		return Scope{}, err
	}
	return Scope{store: s, inst: inst}, nil
}

// TrimRoutes hands every home record matching filter to move, with the
// scope of its instance, then trims the record to its route: the owner of
// records written whole before regions moves its fields into the
// instance's region this way. Records of instances that are gone are left
// (offboarding deletes them). It is idempotent if move is (a record whose
// move succeeded but whose trim did not comes again) and returns how many
// records it trimmed.
func (s *Store) TrimRoutes(ctx context.Context, filter bson.D, move func(sc Scope, record bson.Raw) error) (int, error) {
	routes := s.db.Collection(collRoutes)
	cur, err := routes.Find(ctx, filter)
	if err != nil {
		return 0, storeErr(err)
	}
	defer cur.Close(ctx)
	n := 0
	scopes := map[string]Scope{}
	for cur.Next(ctx) {
		var r Route
		if err := cur.Decode(&r); err != nil {
			return n, storeErr(err)
		}
		sc, ok := scopes[r.InstanceID]
		if !ok {
			if sc, err = s.Open(ctx, r.InstanceID); errors.Is(err, ErrNotFound) {
				continue // an offboarded instance's: offboarding deletes it
			} else if err != nil {
				return n, err
			}
			scopes[r.InstanceID] = sc
		}
		if err := move(sc, cur.Current); err != nil {
			return n, fmt.Errorf("instance %s: %w", r.InstanceID, err)
		}
		if _, err := routes.ReplaceOne(ctx, bson.D{{Key: "_id", Value: r.Code}}, r); err != nil {
			return n, storeErr(err)
		}
		n++
	}
	return n, storeErr(cur.Err())
}
