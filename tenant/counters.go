package tenant

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Keyed counter writes: many documents, each named by its _id, each
// changed by one update (an $inc, with $min, $max, $addToSet…). On
// MongoDB and on FerretDB v2 with DocumentDB an update statement costs
// about as much again as the row it changes (measured on DocumentDB:
// 2,000 keyed $inc updates in one bulk took 2.3–3.8 times as long as one
// updateMany of the same 2,000 documents), and most of a batch's
// documents get the same update (one click each). So documents are
// grouped by their update, and each group is one updateMany of its IDs;
// documents that do not exist yet are inserted whole, in one unordered
// insertMany. Every document is still changed by one atomic
// single-document write.

// keyedChunk bounds the IDs of one statement. Fewer than keyedMin
// upserts are sent as they are, in one bulk of keyed upserts in _id
// order (one round trip, and no read of which documents exist).
const (
	keyedChunk = 1000
	keyedMin   = 64
)

// KeyedUpdate is an update of the document whose _id is ID.
type KeyedUpdate struct {
	ID     string
	Update bson.D
}

// UpdateByID applies each update to its document, if it exists (nothing
// is inserted), in one updateMany per distinct update and chunk of
// keyedChunk IDs, IDs in order. It returns how many documents matched.
func (c *Collection) UpdateByID(ctx context.Context, ops []KeyedUpdate) (int64, error) {
	if err := c.writable(); err != nil || len(ops) == 0 {
		return 0, err
	}
	defer c.written()
	var matched int64
	for _, g := range groupByUpdate(ops) {
		for ids := range slices.Chunk(g.ids, keyedChunk) {
			for try := 1; ; try++ {
				res, err := c.c.UpdateMany(ctx, c.filter(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}), c.update(g.update))
				if err == nil {
					matched += res.MatchedCount
					break
				}
				// A statement the engine broke out of a deadlock changed
				// nothing: it is sent again.
				if !isDeadlock(err) || try == deadlockTries {
					return matched, storeErr(err)
				}
				if err := backOff(ctx, try); err != nil {
					return matched, err
				}
			}
		}
	}
	return matched, nil
}

// deadlockTries bounds how often a write broken out of a deadlock is
// sent.
const deadlockTries = 8

// isDeadlock reports whether err is (or holds only) the engine breaking
// a deadlock: PostgreSQL under FerretDB v2 reports "deadlock detected".
func isDeadlock(err error) bool {
	var we mongo.WriteException
	if errors.As(err, &we) && we.WriteConcernError == nil && len(we.WriteErrors) > 0 {
		for _, e := range we.WriteErrors {
			if !strings.Contains(e.Message, "deadlock detected") {
				return false
			}
		}
		return true
	}
	return err != nil && strings.Contains(err.Error(), "deadlock detected")
}

// backOff waits a little longer at each try, with jitter.
func backOff(ctx context.Context, try int) error {
	t := time.NewTimer(time.Duration(try)*5*time.Millisecond + time.Duration(rand.IntN(10))*time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// UpsertByID applies each update to its document, inserting it if
// missing, as a keyed upsert ({_id: ID} with upsert) would: the
// documents that exist are updated in one updateMany per distinct update
// (without its $setOnInsert), the missing ones inserted as the update
// makes them from nothing, in one unordered insertMany; one that another
// writer inserted meanwhile gets the keyed upsert instead. The updates
// may use $setOnInsert, $set, $inc, $min, $max and $addToSet (with
// $each); a batch holding another operator is written with BulkUpsert.
// It returns how many existing documents the updates matched fewer than
// were found (deleted in between: their update is lost, as a rebuild
// repairs; callers log it).
func (c *Collection) UpsertByID(ctx context.Context, ops []KeyedUpdate) (lost int64, err error) {
	if err := c.writable(); err != nil || len(ops) == 0 {
		return 0, err
	}
	docs := make(map[string]bson.D, len(ops))
	for _, op := range ops {
		d, ok := insertedDoc(op.ID, op.Update)
		if !ok || len(ops) < keyedMin {
			slices.SortFunc(ops, func(a, b KeyedUpdate) int { return strings.Compare(a.ID, b.ID) })
			return 0, c.upsertEach(ctx, ops)
		}
		docs[op.ID] = d
	}
	defer c.written()
	ids := make([]string, 0, len(ops))
	for _, op := range ops {
		ids = append(ids, op.ID)
	}
	slices.Sort(ids)
	found := make(map[string]bool, len(ids))
	for chunk := range slices.Chunk(ids, keyedChunk) {
		var got []struct {
			ID string `bson:"_id"`
		}
		if err := c.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: chunk}}}}, &got,
			options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetBatchSize(keyedChunk)); err != nil {
			return 0, err
		}
		for _, g := range got {
			found[g.ID] = true
		}
	}
	var existing, missing []KeyedUpdate
	for _, op := range ops {
		if found[op.ID] {
			existing = append(existing, KeyedUpdate{ID: op.ID, Update: withoutOnInsert(op.Update)})
		} else {
			missing = append(missing, op)
		}
	}
	matched, err := c.UpdateByID(ctx, existing)
	if err != nil {
		return 0, err
	}
	if err := c.insertMissing(ctx, missing, docs); err != nil {
		return 0, err
	}
	return int64(len(existing)) - matched, nil
}

// insertMissing inserts the documents of ops, unordered; those another
// writer inserted first get their keyed upsert.
func (c *Collection) insertMissing(ctx context.Context, ops []KeyedUpdate, docs map[string]bson.D) error {
	slices.SortFunc(ops, func(a, b KeyedUpdate) int { return strings.Compare(a.ID, b.ID) })
	for chunk := range slices.Chunk(ops, keyedChunk) {
		batch := make([]any, len(chunk))
		for i, op := range chunk {
			batch[i] = append(docs[op.ID], bson.E{Key: "tenant_id", Value: c.tenantID})
		}
		_, err := c.c.InsertMany(ctx, batch, options.InsertMany().SetOrdered(false))
		again, err := failedAgain(err, chunk)
		if err != nil {
			return err
		}
		if err := c.upsertEach(ctx, again); err != nil {
			return err
		}
	}
	return nil
}

// failedAgain returns the ops of a bulk write's failures that may be
// written again: a duplicate key (another writer inserted the document
// first) or a deadlock (the engine undid the write); any other failure
// is the error.
func failedAgain(err error, ops []KeyedUpdate) ([]KeyedUpdate, error) {
	var bw mongo.BulkWriteException
	if err == nil {
		return nil, nil
	}
	if !errors.As(err, &bw) || bw.WriteConcernError != nil {
		return nil, storeErr(err)
	}
	var again []KeyedUpdate
	for _, we := range bw.WriteErrors {
		if !(mongo.IsDuplicateKeyError(we) || strings.Contains(we.Message, "deadlock detected")) || we.Index < 0 || we.Index >= len(ops) {
			return nil, storeErr(err)
		}
		again = append(again, ops[we.Index])
	}
	return again, nil
}

// upsertEach writes ops as keyed upserts in one unordered bulk, again
// for those that lost an insert race or a deadlock.
func (c *Collection) upsertEach(ctx context.Context, ops []KeyedUpdate) error {
	for try := 1; len(ops) > 0; try++ {
		models := make([]mongo.WriteModel, len(ops))
		for i, op := range ops {
			models[i] = mongo.NewUpdateOneModel().SetFilter(c.filter(bson.D{{Key: "_id", Value: op.ID}})).
				SetUpdate(c.update(op.Update)).SetUpsert(true)
		}
		_, err := c.c.BulkWrite(ctx, models, options.BulkWrite().SetOrdered(false))
		again, err := failedAgain(err, ops)
		if err != nil {
			return err
		}
		if len(again) > 0 && try == deadlockTries {
			return fmt.Errorf("store: %d keyed upserts failed %d times (deadlocks)", len(again), try)
		}
		if len(again) > 0 {
			if err := backOff(ctx, try); err != nil {
				return err
			}
		}
		ops = again
	}
	return nil
}

// writable is why the collection cannot be written to, or nil.
func (c *Collection) writable() error {
	if c.err != nil {
		return c.err
	}
	if c.readOnly {
		return ErrMoving
	}
	return nil
}

// updateGroup is the IDs, in order, that get one update.
type updateGroup struct {
	update bson.D
	ids    []string
}

// groupByUpdate groups ops by their update (as encoded), groups in the
// order of their first ID.
func groupByUpdate(ops []KeyedUpdate) []updateGroup {
	at := map[string]int{}
	var out []updateGroup
	for _, op := range ops {
		raw, err := bson.Marshal(op.Update)
		key := string(raw)
		if err != nil { // not encodable: a group of its own, failing when sent
			key = fmt.Sprintf("\x00%d", len(out))
		}
		i, ok := at[key]
		if !ok {
			i, at[key] = len(out), len(out)
			out = append(out, updateGroup{update: op.Update})
		}
		out[i].ids = append(out[i].ids, op.ID)
	}
	for i := range out {
		slices.Sort(out[i].ids)
	}
	slices.SortFunc(out, func(a, b updateGroup) int { return strings.Compare(a.ids[0], b.ids[0]) })
	return out
}

// withoutOnInsert is u without its $setOnInsert.
func withoutOnInsert(u bson.D) bson.D {
	out := make(bson.D, 0, len(u))
	for _, op := range u {
		if op.Key != "$setOnInsert" {
			out = append(out, op)
		}
	}
	return out
}

// insertedDoc is the document the upsert u of _id id inserts when there
// is none: its $setOnInsert and $set fields, its $inc, $min and $max
// values, and its $addToSet values ($each: the distinct ones, in order).
// ok is false for another operator, a dotted field, or a field set twice.
func insertedDoc(id string, u bson.D) (doc bson.D, ok bool) {
	doc = bson.D{{Key: "_id", Value: id}}
	seen := map[string]bool{"_id": true, "tenant_id": true}
	for _, op := range u {
		fields, isDoc := op.Value.(bson.D)
		if !isDoc {
			return nil, false
		}
		for _, f := range fields {
			if seen[f.Key] || strings.ContainsAny(f.Key, ".$") {
				return nil, false
			}
			seen[f.Key] = true
			v := f.Value
			switch op.Key {
			case "$setOnInsert", "$set", "$inc", "$min", "$max":
			case "$addToSet":
				each, isEach := f.Value.(bson.D)
				if !isEach || len(each) != 1 || each[0].Key != "$each" {
					v = bson.A{f.Value}
					break
				}
				v, ok = distinct(each[0].Value)
				if !ok {
					return nil, false
				}
			default:
				return nil, false
			}
			doc = append(doc, bson.E{Key: f.Key, Value: v})
		}
	}
	return doc, true
}

// distinct returns a list's distinct values in order (strings only).
func distinct(v any) (bson.A, bool) {
	var in []string
	switch l := v.(type) {
	case []string:
		in = l
	case bson.A:
		for _, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			in = append(in, s)
		}
	default:
		return nil, false
	}
	out := bson.A{}
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, true
}
