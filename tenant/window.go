package tenant

import (
	"context"
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
}

// The windows: the first spans windowSpan, each next one windowGrowth
// times the one before it; after windowSteps of them (about three years
// and three months back) the rest of the history is read in one range.
const (
	windowSpan   = 14 * 24 * time.Hour
	windowGrowth = 4
	windowSteps  = 4
)

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
// open query's. A steady history fills a page from the first window; gaps
// of months cost a few reads of empty ranges; what is older than the last
// window is read in one open range, as before.
func Newest[T any](ctx context.Context, c *Collection, filter bson.D, w Window, n int, out *[]T) error {
	*out = (*out)[:0]
	if n <= 0 {
		return nil
	}
	read := func(rng bson.D) error {
		cond := bson.D{{Key: w.Field, Value: rng}}
		f := cond
		if len(filter) > 0 {
			f = bson.D{{Key: "$and", Value: bson.A{filter, cond}}}
		}
		var page []T
		opts := options.Find().
			SetSort(bson.D{{Key: w.Field, Value: -1}, {Key: "_id", Value: -1}}).
			SetLimit(int64(n - len(*out)))
		if err := c.Find(ctx, f, &page, opts); err != nil {
			return err
		}
		*out = append(*out, page...)
		return nil
	}
	hi := w.Before
	if hi.IsZero() {
		if err := read(bson.D{{Key: "$gt", Value: w.Now}}); err != nil {
			return err
		}
		hi = w.Now
	}
	span := windowSpan
	for range windowSteps {
		if len(*out) >= n {
			return nil
		}
		lo := hi.Add(-span)
		if err := read(bson.D{{Key: "$gt", Value: lo}, {Key: "$lte", Value: hi}}); err != nil {
			return err
		}
		hi, span = lo, span*windowGrowth
	}
	if len(*out) >= n {
		return nil
	}
	return read(bson.D{{Key: "$lte", Value: hi}})
}
