package tenant

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Scope is one company instance's view of the store: the only way to reach
// tenant data. It is built only by tenant — by the session check of an HTTP
// request, or by Store.Open for a job that carries a verified instance ID.
// A zero Scope reaches nothing.
type Scope struct {
	store *Store
	inst  Instance
}

// ErrNoScope is returned by every operation of a zero Scope's collections.
var ErrNoScope = errors.New("no tenant scope")

// Open returns the scope of an existing instance, for jobs whose payload
// names it. It returns ErrNotFound for an unknown instance.
func (s *Store) Open(ctx context.Context, instanceID string) (Scope, error) {
	inst, err := s.instance(ctx, instanceID)
	if err != nil {
		return Scope{}, fmt.Errorf("open instance %s: %w", instanceID, err)
	}
	return Scope{store: s, inst: inst}, nil
}

// Instance returns the instance this scope belongs to, as loaded.
func (sc Scope) Instance() Instance { return sc.inst }

// InstanceID returns the instance's ID, or "" for a zero Scope.
func (sc Scope) InstanceID() string { return sc.inst.ID }

// database is the database of the instance's region: the one place that
// routes an instance to where its data is stored (Placement.Region).
func (sc Scope) database() (*mongo.Database, error) {
	return sc.store.database(sc.inst.Placement.Region)
}

// Region names the region where the instance's data is stored.
func (sc Scope) Region() string {
	if sc.store == nil {
		return ""
	}
	return sc.store.RegionOf(sc.inst)
}

// Collection returns the instance's collection of kind k, in the
// database of the instance's region. Every operation
// on it adds tenant_id to filters, inserted documents and the first $match,
// so a query can never see another instance's documents, even if
// collection naming were wrong.
func (sc Scope) Collection(k Kind) *Collection {
	switch {
	case sc.store == nil || sc.inst.ID == "":
		return &Collection{err: ErrNoScope}
	case sc.store.kinds[k.Name].Name == "":
		return &Collection{err: fmt.Errorf("tenant kind %q is not registered with the store", k.Name)}
	}
	db, err := sc.database()
	if err != nil {
		return &Collection{err: err}
	}
	c := &Collection{
		c:        db.Collection(collectionName(sc.inst.ID, k.Name)),
		tenantID: sc.inst.ID,
		readOnly: sc.inst.Placement.moving(sc.store.now()),
	}
	if k.Name == memberKind.Name {
		// Every write to members drops the instance's cached members, so a
		// role change or a removal holds for the next request of this
		// process, whichever code made it.
		cache, id := sc.store.cache, sc.inst.ID
		c.wrote = func() { cache.dropMembers(id) }
	}
	if k.Name == groupKind.Name {
		cache, id := sc.store.cache, sc.inst.ID
		c.wrote = func() { cache.dropGroups(id) }
	}
	return c
}

// Collection is one kind of tenant data of one instance. Its methods return
// ErrNotFound, ErrDuplicate, context errors or opaque store errors; never a
// driver error.
type Collection struct {
	c        *mongo.Collection
	tenantID string
	err      error
	// readOnly: the instance is being moved to another region; writes
	// fail with ErrMoving.
	readOnly bool
	// wrote, when set, runs after every write (whether or not it failed:
	// a failed write may still have been applied).
	wrote func()
}

// written runs the collection's write hook.
func (c *Collection) written() {
	if c.wrote != nil {
		c.wrote()
	}
}

// filter returns f with the tenant condition first.
func (c *Collection) filter(f bson.D) bson.D {
	out := make(bson.D, 0, len(f)+1)
	out = append(out, bson.E{Key: "tenant_id", Value: c.tenantID})
	for _, e := range f {
		if e.Key != "tenant_id" {
			out = append(out, e)
		}
	}
	return out
}

// doc turns a document into bson.D carrying this tenant's ID. A document
// that names another tenant is refused.
func (c *Collection) doc(v any) (bson.D, error) {
	raw, err := bson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	// Only the top level is taken apart: nested values stay encoded and
	// are copied as they are (a click batch holds hundreds of them).
	elems, err := bson.Raw(raw).Elements()
	if err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	out := make(bson.D, 0, len(elems)+1)
	for _, e := range elems {
		if e.Key() == "tenant_id" {
			if id, _ := e.Value().StringValueOK(); id != "" && id != c.tenantID {
				return nil, fmt.Errorf("document names instance %q in the scope of %q", id, c.tenantID)
			}
			continue
		}
		out = append(out, bson.E{Key: e.Key(), Value: e.Value()})
	}
	return append(out, bson.E{Key: "tenant_id", Value: c.tenantID}), nil
}

// Insert stores a new document; ErrDuplicate if a unique key is taken.
func (c *Collection) Insert(ctx context.Context, v any) error {
	if c.err != nil {
		return c.err
	}
	if c.readOnly {
		return ErrMoving
	}
	defer c.written()
	d, err := c.doc(v)
	if err != nil {
		return err
	}
	_, err = c.c.InsertOne(ctx, d)
	return storeErr(err)
}

// FindOne decodes the first match of filter into out; ErrNotFound if none.
func (c *Collection) FindOne(ctx context.Context, filter bson.D, out any, opts ...options.Lister[options.FindOneOptions]) error {
	if c.err != nil {
		return c.err
	}
	return storeErr(c.c.FindOne(ctx, c.filter(filter), opts...).Decode(out))
}

// findOneRaw returns the first match of filter as stored; ErrNotFound if
// none.
func (c *Collection) findOneRaw(ctx context.Context, filter bson.D) (bson.Raw, error) {
	if c.err != nil {
		return nil, c.err
	}
	raw, err := c.c.FindOne(ctx, c.filter(filter)).Raw()
	return raw, storeErr(err)
}

// Find decodes every match of filter into out, a pointer to a slice.
func (c *Collection) Find(ctx context.Context, filter bson.D, out any, opts ...options.Lister[options.FindOptions]) error {
	if c.err != nil {
		return c.err
	}
	cur, err := c.c.Find(ctx, c.filter(filter), opts...)
	if err != nil {
		return storeErr(err)
	}
	return storeErr(cur.All(ctx, out))
}

// Count counts the matches of filter.
func (c *Collection) Count(ctx context.Context, filter bson.D) (int64, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.c.CountDocuments(ctx, c.filter(filter))
	return n, storeErr(err)
}

// Update applies update to the first match of filter and reports whether
// one matched: a conditional update is the store's compare-and-swap.
func (c *Collection) Update(ctx context.Context, filter, update bson.D) (bool, error) {
	if c.err != nil {
		return false, c.err
	}
	if c.readOnly {
		return false, ErrMoving
	}
	defer c.written()
	res, err := c.c.UpdateOne(ctx, c.filter(filter), c.update(update))
	if err != nil {
		return false, storeErr(err)
	}
	return res.MatchedCount > 0, nil
}

// Upsert applies update to the match of filter, inserting it if missing.
func (c *Collection) Upsert(ctx context.Context, filter, update bson.D) error {
	if c.err != nil {
		return c.err
	}
	if c.readOnly {
		return ErrMoving
	}
	defer c.written()
	_, err := c.c.UpdateOne(ctx, c.filter(filter), c.update(update), options.UpdateOne().SetUpsert(true))
	return storeErr(err)
}

// FindOneAndUpdate applies update to the first match of filter and decodes
// the document after the update into out; ErrNotFound if none matched.
func (c *Collection) FindOneAndUpdate(ctx context.Context, filter, update bson.D, out any) error {
	if c.err != nil {
		return c.err
	}
	if c.readOnly {
		return ErrMoving
	}
	defer c.written()
	opts := options.FindOneAndUpdate().SetReturnDocument(options.After)
	return storeErr(c.c.FindOneAndUpdate(ctx, c.filter(filter), c.update(update), opts).Decode(out))
}

// update refuses to let an update move a document to another tenant.
func (c *Collection) update(u bson.D) bson.D {
	out := make(bson.D, 0, len(u))
	for _, op := range u {
		if fields, ok := op.Value.(bson.D); ok {
			kept := make(bson.D, 0, len(fields))
			for _, f := range fields {
				if f.Key != "tenant_id" {
					kept = append(kept, f)
				}
			}
			op.Value = kept
		}
		out = append(out, op)
	}
	return out
}

// Delete removes the first match of filter and reports whether there was one.
func (c *Collection) Delete(ctx context.Context, filter bson.D) (bool, error) {
	if c.err != nil {
		return false, c.err
	}
	if c.readOnly {
		return false, ErrMoving
	}
	defer c.written()
	res, err := c.c.DeleteOne(ctx, c.filter(filter))
	if err != nil {
		return false, storeErr(err)
	}
	return res.DeletedCount > 0, nil
}

// DeleteMany removes every match of filter and returns how many it removed.
func (c *Collection) DeleteMany(ctx context.Context, filter bson.D) (int64, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.readOnly {
		return 0, ErrMoving
	}
	defer c.written()
	res, err := c.c.DeleteMany(ctx, c.filter(filter))
	if err != nil {
		return 0, storeErr(err)
	}
	return res.DeletedCount, nil
}

// Aggregate runs pipeline, whose first stage the store makes a $match on
// tenant_id (merged with a leading $match of the caller), and decodes the
// results into out, a pointer to a slice. Keep to the subset FerretDB
// handles correctly (docs/mongo-subset.md).
func (c *Collection) Aggregate(ctx context.Context, pipeline mongo.Pipeline, out any) error {
	if c.err != nil {
		return c.err
	}
	p := make(mongo.Pipeline, 0, len(pipeline)+1)
	if len(pipeline) > 0 && len(pipeline[0]) == 1 && pipeline[0][0].Key == "$match" {
		m, ok := pipeline[0][0].Value.(bson.D)
		if !ok {
			return errors.New("aggregate: the first $match must be a bson.D")
		}
		p = append(p, bson.D{{Key: "$match", Value: c.filter(m)}})
		pipeline = pipeline[1:]
	} else {
		p = append(p, bson.D{{Key: "$match", Value: c.filter(nil)}})
	}
	p = append(p, pipeline...)
	cur, err := c.c.Aggregate(ctx, p)
	if err != nil {
		return storeErr(err)
	}
	return storeErr(cur.All(ctx, out))
}

// UpdateMany applies update to every match of filter and returns how many
// matched.
func (c *Collection) UpdateMany(ctx context.Context, filter, update bson.D) (int64, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.readOnly {
		return 0, ErrMoving
	}
	defer c.written()
	res, err := c.c.UpdateMany(ctx, c.filter(filter), c.update(update))
	if err != nil {
		return 0, storeErr(err)
	}
	return res.MatchedCount, nil
}

// InsertMany stores new documents (each gets the tenant's ID).
func (c *Collection) InsertMany(ctx context.Context, vs []any) error {
	if c.err != nil {
		return c.err
	}
	if c.readOnly {
		return ErrMoving
	}
	defer c.written()
	docs := make([]any, len(vs))
	for i, v := range vs {
		d, err := c.doc(v)
		if err != nil {
			return err
		}
		docs[i] = d
	}
	_, err := c.c.InsertMany(ctx, docs)
	return storeErr(err)
}

// Upsert is one keyed upsert of BulkUpsert.
type Upsert struct {
	Filter, Update bson.D
}

// BulkUpsert applies every upsert in one round trip (unordered). An
// upsert that lost an insert race to a concurrent one of the same key
// (ErrDuplicate) is retried once, when it updates: keyed $inc upserts
// are counted exactly once.
func (c *Collection) BulkUpsert(ctx context.Context, ops []Upsert) error {
	if c.err != nil {
		return c.err
	}
	if c.readOnly {
		return ErrMoving
	}
	for try := 0; len(ops) > 0; try++ {
		models := make([]mongo.WriteModel, len(ops))
		for i, op := range ops {
			models[i] = mongo.NewUpdateOneModel().SetFilter(c.filter(op.Filter)).SetUpdate(c.update(op.Update)).SetUpsert(true)
		}
		_, err := c.c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		var bw mongo.BulkWriteException
		if err == nil || try > 0 || !errors.As(err, &bw) || bw.WriteConcernError != nil {
			return storeErr(err)
		}
		var again []Upsert
		for _, we := range bw.WriteErrors {
			if !mongo.IsDuplicateKeyError(we) || we.Index < 0 || we.Index >= len(ops) {
				return storeErr(err)
			}
			again = append(again, ops[we.Index])
		}
		ops = again
	}
	return nil
}

// BulkUpdate applies every keyed update in one round trip (unordered),
// inserting nothing: a filter that matches no document changes nothing.
// It is for $inc counters on documents that exist (or were deleted, when
// the count no longer matters).
func (c *Collection) BulkUpdate(ctx context.Context, ops []Upsert) error {
	if c.err != nil {
		return c.err
	}
	if c.readOnly {
		return ErrMoving
	}
	if len(ops) == 0 {
		return nil
	}
	defer c.written()
	models := make([]mongo.WriteModel, len(ops))
	for i, op := range ops {
		models[i] = mongo.NewUpdateOneModel().SetFilter(c.filter(op.Filter)).SetUpdate(c.update(op.Update))
	}
	_, err := c.c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
	return storeErr(err)
}
