package tenant

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// WalkByID hands fn the whole collection in pages of at most size
// documents (projected to projection, which must keep _id), in _id order,
// each page read by a range of the _id index from the last
// ID seen: cost proportional to the collection, memory to a page. id
// says a document's _id. Documents written during the walk may or may not
// be seen.
func WalkByID[T any](ctx context.Context, c *Collection, projection bson.D, size int, id func(T) string, fn func([]T) error) error {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(size)).SetProjection(projection)
	filter := bson.D{}
	for {
		var page []T
		if err := c.Find(ctx, filter, &page, opts); err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < size {
			return nil
		}
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: id(page[len(page)-1])}}}}
	}
}
