package tenant

import (
	"context"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Window says how Newest walks a list ordered by a time field.
type Window struct {
	// Field is the time field the list is ordered by (then by _id), both
	// descending. An index of the kind holds the filter's equality fields,
	// then Field (docs/scaling.md, "Pages through time windows").
	Field string
	// Before is an inclusive upper bound on Field that every document of
	// the list respects (now for the feed, the cursor's time for a next
	// page); zero when the list has none.
	Before time.Time
	// Now is where the windows start when Before is zero: the documents
	// after it are read first, in one range.
	Now time.Time
	// Key names the list (the feed, one topic's feed…): the first window
	// of a list spans twice what its last full page reached back in this
	// process, between windowMin and windowSpan, so that a dense list
	// sorts about a page, not 14 days of it. "" always starts with
	// windowSpan.
	Key string
}

// The windows: the first spans windowSpan (or the list's estimate), each
// next one windowGrowth times the one before it; once they reach
// windowReach back, the rest of the history is read in one range.
const (
	windowSpan   = 14 * 24 * time.Hour
	windowMin    = time.Hour
	windowGrowth = 4
	windowReach  = 3 * 365 * 24 * time.Hour
)

// windowSpans holds each list's first span: collection name, NUL, key.
var windowSpans sync.Map

// Newest reads the first n documents matching filter in the order of
// w.Field and then _id, both descending, into out: the same documents in
// the same order as one find sorted that way and limited to n, at the cost
// of the documents in a few bounded ranges of w.Field instead of every
// match.
//
// Why: an engine that cannot return an index range in order (DocumentDB
// 0.107 cannot push an ORDER BY into its index) sorts every match of a
// range before it applies the limit, so a page of an open range costs the
// whole history. Newest asks for consecutive disjoint windows of w.Field,
// newest first, each sorted and limited to what is still missing, and
// stops as soon as n documents are found: every document of a later window
// sorts after every document of an earlier one, so the pages add up to the
// open query's. A steady history fills a page from the first window, whose
// span follows the list's density (Window.Key); gaps of months cost a few
// reads of empty ranges; what is older than windowReach is read in one
// open range, as before. Which windows are read changes only the cost,
// never the result.
func Newest[T any](ctx context.Context, c *Collection, filter bson.D, w Window, n int, out *[]T) error {
	*out = (*out)[:0]
	if n <= 0 {
		return nil
	}
	var last time.Time // the Field of the last document read
	read := func(rng bson.D) error {
		cond := bson.D{{Key: w.Field, Value: rng}}
		f := cond
		if len(filter) > 0 {
			f = bson.D{{Key: "$and", Value: bson.A{filter, cond}}}
		}
		var page []bson.Raw
		opts := options.Find().
			SetSort(bson.D{{Key: w.Field, Value: -1}, {Key: "_id", Value: -1}}).
			SetLimit(int64(n - len(*out)))
		if err := c.Find(ctx, f, &page, opts); err != nil {
			return err
		}
		for _, raw := range page {
			var v T
			if err := bson.Unmarshal(raw, &v); err != nil {
				return storeErr(err)
			}
			*out = append(*out, v)
			if at, ok := raw.Lookup(w.Field).TimeOK(); ok {
				last = at
			}
		}
		return nil
	}
	hi := w.Before
	if hi.IsZero() {
		if err := read(bson.D{{Key: "$gt", Value: w.Now}}); err != nil {
			return err
		}
		hi = w.Now
	}
	start := hi
	key := c.c.Name() + "\x00" + w.Key
	span := windowSpan
	if v, ok := windowSpans.Load(key); ok && w.Key != "" {
		span = v.(time.Duration)
	}
	for len(*out) < n && start.Sub(hi) < windowReach {
		lo := hi.Add(-span)
		if err := read(bson.D{{Key: "$gt", Value: lo}, {Key: "$lte", Value: hi}}); err != nil {
			return err
		}
		hi, span = lo, span*windowGrowth
	}
	if len(*out) < n {
		if err := read(bson.D{{Key: "$lte", Value: hi}}); err != nil {
			return err
		}
	}
	if w.Key != "" && len(*out) >= n && !last.IsZero() {
		windowSpans.Store(key, min(max(2*start.Sub(last), windowMin), windowSpan))
	}
	return nil
}
