package tenant

import (
	"fmt"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// WalkByID hands over every document of the scope once, in _id order and
// pages of the size asked, and none of another instance.
func TestWalkByID(t *testing.T) {
	s := newTestStore(t, newTestClock())
	a := newTestScope(t, s, "acme.example")
	b := newTestScope(t, s, "globex.example")
	var want []string
	for i := range 5 {
		n := note{ID: fmt.Sprintf("n%d", 4-i), Title: "acme"}
		if err := a.Collection(noteKind).Insert(t.Context(), n); err != nil {
			t.Fatal(err)
		}
		want = append(want, n.ID)
	}
	if err := b.Collection(noteKind).Insert(t.Context(), note{ID: "n2b", Title: "globex"}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	for _, size := range []int{1, 2, 5, 6} {
		var got []string
		var pages []int
		err := WalkByID(t.Context(), a.Collection(noteKind), bson.D{{Key: "_id", Value: 1}, {Key: "title", Value: 1}}, size,
			func(n note) string { return n.ID }, func(page []note) error {
				pages = append(pages, len(page))
				for _, n := range page {
					if n.Title != "acme" {
						t.Errorf("size %d: walked %+v of another instance", size, n)
					}
					got = append(got, n.ID)
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || slices.Max(pages) > size {
			t.Errorf("size %d: walked %v in pages %v, want %v", size, got, pages, want)
		}
	}
}
