package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"maps"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrMoveInProgress: another move of the instance holds its lease.
var ErrMoveInProgress = errors.New("another move of this instance is in progress")

// moveLease is how long a move holds an instance read-only without
// renewing: a move whose process died leaves the instance writable again
// after this long. Renewed every third of it. (A variable for the tests.)
var moveLease = time.Minute

// copyBatch bounds the documents of one insert while copying.
const copyBatch = 500

// MoveOptions tune MoveInstance.
type MoveOptions struct {
	// Copied, when set, is called after each collection was copied and
	// verified, while the instance is still read-only; an error it returns
	// stops the move (the instance stays where it was).
	Copied func(kind string) error
}

// MoveReport says what MoveInstance did.
type MoveReport struct {
	From, To string
	// Switched: the instance is in region To now.
	Switched    bool
	Collections []MovedCollection
	// LeftBehind names the old region's collections that were kept: they
	// changed after they were copied (a write begun before the instance
	// became read-only). Compare them with the new region's and drop them.
	LeftBehind []string
	Took       time.Duration
}

// MovedCollection is one copied kind, verified by its count and hash.
type MovedCollection struct {
	Kind      string `json:"kind"`
	Documents int64  `json:"documents"`
	// SHA256 hashes the documents' stored bytes in _id order, the same in
	// both regions.
	SHA256 string `json:"sha256"`
}

// MoveInstance moves an instance's data to another region. The instance
// is read-only meanwhile (writes fail with ErrMoving, under a lease the
// move renews); once every process's cached instance record shows it, each
// collection is copied and verified by its count and a hash of its
// documents, then the placement switches to the new region, and only then
// are the old region's collections dropped — those that still hash as
// copied. A move that fails or is interrupted leaves the instance in its
// old region and writable again (at once, or when its lease runs out); a
// second run starts over.
func (s *Store) MoveInstance(ctx context.Context, id, to string, opts MoveOptions) (rep MoveReport, err error) {
	start := time.Now()
	inst, err := s.instance(ctx, id)
	if err != nil {
		return rep, err
	}
	rep.From, rep.To = s.RegionOf(inst), to
	if rep.From == to {
		return rep, fmt.Errorf("instance %s is in region %s already", id, to)
	}
	src, err := Scope{store: s, inst: inst}.database()
	if err != nil {
		return rep, err
	}
	dst, err := s.database(to)
	if err != nil {
		return rep, err
	}
	moveID := httpapi.NewID()
	if err := s.takeMoveLease(ctx, id, to, moveID); err != nil {
		return rep, err
	}
	s.cache.dropInstance(id)
	switched := false
	defer func() {
		if switched {
			return
		}
		// Back to the old region, writable; the partial copy goes.
		ctx := context.WithoutCancel(ctx)
		if src != dst {
			if derr := s.dropCollections(ctx, to, id); derr != nil {
				s.log.WarnContext(ctx, "drop a failed move's copy", "tenant_id", id, "region", to, "err", derr)
			}
		}
		_, uerr := s.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "placement.move_id", Value: moveID}},
			bson.D{{Key: "$unset", Value: bson.D{{Key: "placement.move_to", Value: ""}, {Key: "placement.move_id", Value: ""}, {Key: "placement.move_until", Value: ""}}}})
		err = errors.Join(err, storeErr(uerr))
		s.cache.dropInstance(id)
	}()
	copyCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopRenew := s.renewMoveLease(copyCtx, id, moveID, cancel)
	defer stopRenew()

	// Every process's cached record shows the move after settle: writes
	// begun before it are done or fail the verification below.
	select {
	case <-time.After(s.settle):
	case <-copyCtx.Done():
		return rep, context.Cause(copyCtx)
	}
	if src != dst {
		if rep.Collections, err = s.copyInstance(copyCtx, src, dst, id, opts); err != nil {
			if c := context.Cause(copyCtx); c != nil {
				err = c
			}
			return rep, fmt.Errorf("move %s to %s: %w", id, to, err)
		}
	}
	stopRenew()
	res, err := s.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "placement.move_id", Value: moveID}},
		bson.D{
			{Key: "$set", Value: bson.D{{Key: "placement.region", Value: to}}},
			{Key: "$unset", Value: bson.D{{Key: "placement.move_to", Value: ""}, {Key: "placement.move_id", Value: ""}, {Key: "placement.move_until", Value: ""}}},
		})
	if err != nil {
		return rep, fmt.Errorf("switch %s to %s: %w", id, to, storeErr(err))
	}
	if res.MatchedCount == 0 {
		return rep, fmt.Errorf("switch %s to %s: the move's lease ran out (renewals failed)", id, to)
	}
	switched, rep.Switched = true, true
	s.cache.dropInstance(id)
	if src != dst {
		rep.LeftBehind, err = s.dropCopied(ctx, src, id, rep.Collections)
	}
	rep.Took = time.Since(start)
	s.log.InfoContext(ctx, "instance moved", "tenant_id", id, "from", rep.From, "to", to, "collections", len(rep.Collections),
		"left_behind", len(rep.LeftBehind), "duration_ms", rep.Took.Milliseconds())
	return rep, err
}

// takeMoveLease marks the instance read-only for a move to region to,
// unless another live move holds it.
func (s *Store) takeMoveLease(ctx context.Context, id, to, moveID string) error {
	now := s.now().UTC()
	until := now.Add(moveLease)
	res, err := s.db.Collection(collInstances).UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "$or", Value: bson.A{
			bson.D{{Key: "placement.move_id", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "placement.move_until", Value: bson.D{{Key: "$lte", Value: now}}}},
		}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "placement.move_to", Value: to}, {Key: "placement.move_id", Value: moveID}, {Key: "placement.move_until", Value: until}}}})
	if err != nil {
		return fmt.Errorf("mark %s read-only: %w", id, storeErr(err))
	}
	if res.MatchedCount == 0 {
		return ErrMoveInProgress
	}
	return nil
}

// renewMoveLease renews the lease every third of moveLease until stopped;
// a renewal that finds the lease gone cancels the move.
func (s *Store) renewMoveLease(ctx context.Context, id, moveID string, cancel context.CancelCauseFunc) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(moveLease / 3)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			res, err := s.db.Collection(collInstances).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "placement.move_id", Value: moveID}},
				bson.D{{Key: "$set", Value: bson.D{{Key: "placement.move_until", Value: s.now().UTC().Add(moveLease)}}}})
			if err == nil && res.MatchedCount == 0 {
				cancel(errors.New("the move's lease was lost"))
				return
			}
			if err != nil {
				s.log.WarnContext(ctx, "renew a move's lease", "tenant_id", id, "err", storeErr(err))
			}
		}
	}()
	stopped := false
	return func() {
		if !stopped {
			stopped = true
			close(done)
			<-finished
		}
	}
}

// copyInstance copies every collection of an instance from src to dst
// (whose leftovers of an earlier attempt it drops first) and verifies
// each by its count and hash.
func (s *Store) copyInstance(ctx context.Context, src, dst *mongo.Database, id string, opts MoveOptions) ([]MovedCollection, error) {
	for name := range s.kinds {
		if err := dst.Collection(collectionName(id, name)).Drop(ctx); err != nil {
			return nil, fmt.Errorf("drop the leftover %s: %w", name, storeErr(err))
		}
	}
	if err := s.ensureTenantIndexes(ctx, dst, id); err != nil {
		return nil, err
	}
	var out []MovedCollection
	for _, name := range slices.Sorted(maps.Keys(s.kinds)) {
		from, to := src.Collection(collectionName(id, name)), dst.Collection(collectionName(id, name))
		copied, err := copyCollection(ctx, from, to)
		if err != nil {
			return out, fmt.Errorf("copy %s: %w", name, err)
		}
		landed, err := hashCollection(ctx, to)
		if err != nil {
			return out, fmt.Errorf("verify %s: %w", name, err)
		}
		if landed != copied {
			return out, fmt.Errorf("verify %s: %d documents (sha256 %s) copied, %d (%s) arrived", name, copied.Documents, copied.SHA256, landed.Documents, landed.SHA256)
		}
		copied.Kind = name
		out = append(out, copied)
		if opts.Copied != nil {
			if err := opts.Copied(name); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// dropCopied drops the old region's collections that still hash as they
// were copied, and names those it kept.
func (s *Store) dropCopied(ctx context.Context, src *mongo.Database, id string, copied []MovedCollection) ([]string, error) {
	var kept []string
	var errs []error
	for _, c := range copied {
		coll := src.Collection(collectionName(id, c.Kind))
		now, err := hashCollection(ctx, coll)
		if err != nil {
			errs = append(errs, fmt.Errorf("hash the old %s: %w", c.Kind, err))
			kept = append(kept, coll.Name())
			continue
		}
		if now.Documents != c.Documents || now.SHA256 != c.SHA256 {
			s.log.WarnContext(ctx, "the old region's collection changed after the copy: kept", "tenant_id", id, "collection", coll.Name())
			kept = append(kept, coll.Name())
			continue
		}
		if err := coll.Drop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drop the old %s: %w", c.Kind, storeErr(err)))
			kept = append(kept, coll.Name())
		}
	}
	return kept, errors.Join(errs...)
}

// copyCollection copies every document of from into to, in _id order, and
// returns the count and hash of what it read.
func copyCollection(ctx context.Context, from, to *mongo.Collection) (MovedCollection, error) {
	var batch []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := to.InsertMany(ctx, batch, options.InsertMany().SetOrdered(true))
		batch = batch[:0]
		return storeErr(err)
	}
	sum, err := eachDocument(ctx, from, func(doc bson.Raw) error {
		batch = append(batch, doc)
		if len(batch) >= copyBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	return sum, flush()
}

// hashCollection counts and hashes the documents of coll.
func hashCollection(ctx context.Context, coll *mongo.Collection) (MovedCollection, error) {
	return eachDocument(ctx, coll, func(bson.Raw) error { return nil })
}

// eachDocument calls f with every document of coll in _id order and
// returns their count and the SHA-256 of their bytes.
func eachDocument(ctx context.Context, coll *mongo.Collection, f func(bson.Raw) error) (MovedCollection, error) {
	var sum MovedCollection
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return sum, storeErr(err)
	}
	defer cur.Close(ctx)
	h := sha256.New()
	for cur.Next(ctx) {
		doc := slices.Clone(cur.Current)
		h.Write(doc)
		sum.Documents++
		if err := f(doc); err != nil {
			return sum, err
		}
	}
	if err := cur.Err(); err != nil {
		return sum, storeErr(err)
	}
	sum.SHA256 = hex.EncodeToString(h.Sum(nil))
	return sum, nil
}
