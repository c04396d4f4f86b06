package tenanttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Reads counts what a store reads, through the command monitor handed to
// tenant.StoreConfig: read commands (find, getMore, aggregate, count),
// the collection each read and the documents it returned, and the
// commands themselves, so that a test can explain them.
type Reads struct {
	mu   sync.Mutex
	read []Read
	// pending maps a request ID to its entry in read.
	pending map[int64]int
}

// Read is one read command.
type Read struct {
	Name       string // find, getMore, aggregate or count
	Collection string // "" for getMore
	Docs       int    // documents returned
	Command    bson.Raw
}

// NewReads returns a counter and the monitor to give the store.
func NewReads() (*Reads, *event.CommandMonitor) {
	r := &Reads{pending: map[int64]int{}}
	return r, &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			if !isRead(e.CommandName) {
				return
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			rd := Read{Name: e.CommandName, Command: slices.Clone(e.Command)}
			if e.CommandName != "getMore" {
				rd.Collection, _ = e.Command.Lookup(e.CommandName).StringValueOK()
			}
			r.pending[e.RequestID] = len(r.read)
			r.read = append(r.read, rd)
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			r.mu.Lock()
			defer r.mu.Unlock()
			i, ok := r.pending[e.RequestID]
			if !ok {
				return
			}
			delete(r.pending, e.RequestID)
			for _, batch := range []string{"firstBatch", "nextBatch"} {
				if arr, ok := e.Reply.Lookup("cursor", batch).ArrayOK(); ok {
					vals, _ := arr.Values()
					r.read[i].Docs += len(vals)
				}
			}
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(r.pending, e.RequestID)
		},
	}
}

func isRead(name string) bool {
	switch name {
	case "find", "getMore", "aggregate", "count":
		return true
	}
	return false
}

// Reset forgets what was counted. Reads still in flight are not counted.
func (r *Reads) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.read = nil
	clear(r.pending)
}

// Reads returns the read commands since the last Reset.
func (r *Reads) Reads() []Read {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.read)
}

// Count returns the read commands and the documents they returned since
// the last Reset.
func (r *Reads) Count() (commands, docs int) {
	for _, rd := range r.Reads() {
		commands++
		docs += rd.Docs
	}
	return commands, docs
}

// Sent returns the read commands (not getMore) sent since the last Reset.
func (r *Reads) Sent() []bson.Raw {
	var out []bson.Raw
	for _, rd := range r.Reads() {
		if rd.Name != "getMore" {
			out = append(out, rd.Command)
		}
	}
	return out
}

// Plan is what explain says of one read command.
type Plan struct {
	Command string // the command's name and collection
	// Examined is the documents and index keys the server examined; -1
	// when the server's explain does not say (FerretDB).
	DocsExamined, KeysExamined int64
	// FullScans are the scans of a whole collection in the plan
	// (FullScans): a COLLSCAN (MongoDB), a Seq Scan (DocumentDB), an index
	// scan conditioned only on the tenant.
	FullScans []string
	// Indexed are the fields the plan's index scans narrow (IndexedFields).
	Indexed []string
	// Planned: the server's explain gave a plan (MongoDB, DocumentDB);
	// FerretDB v1's gives none, and FullScans and Indexed stay empty.
	Planned bool
}

func (p Plan) String() string {
	return fmt.Sprintf("%s: docs examined %d, keys examined %d, full scans %q, index narrows %q", p.Command, p.DocsExamined, p.KeysExamined, p.FullScans, p.Indexed)
}

// Explain runs explain (executionStats) of every command in cmds against
// database db of the server at client.
func Explain(ctx context.Context, client *mongo.Client, db string, cmds []bson.Raw) ([]Plan, error) {
	var out []Plan
	for _, cmd := range cmds {
		// The driver's own fields ($db, lsid, $clusterTime…) are not part
		// of an explained command.
		var clean bson.D
		elems, err := cmd.Elements()
		if err != nil {
			return nil, err
		}
		for _, e := range elems {
			if !strings.HasPrefix(e.Key(), "$") && e.Key() != "lsid" && e.Key() != "txnNumber" {
				clean = append(clean, bson.E{Key: e.Key(), Value: e.Value()})
			}
		}
		var res bson.Raw
		err = client.Database(db).RunCommand(ctx, bson.D{{Key: "explain", Value: clean}, {Key: "verbosity", Value: "executionStats"}}).Decode(&res)
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", clean, err)
		}
		coll, _ := elems[0].Value().StringValueOK()
		p := Plan{Command: elems[0].Key() + " " + coll, DocsExamined: -1, KeysExamined: -1}
		if v, ok := res.Lookup("executionStats", "totalDocsExamined").AsInt64OK(); ok {
			p.DocsExamined = v
		}
		if v, ok := res.Lookup("executionStats", "totalKeysExamined").AsInt64OK(); ok {
			p.KeysExamined = v
		}
		switch p.FullScans, p.Indexed, err = readPlan(res); {
		case err == nil:
			p.Planned = true
		case !errors.Is(err, errNoPlan):
			return nil, fmt.Errorf("explain %s: %w", clean, err)
		}
		out = append(out, p)
	}
	return out, nil
}
