package networktest

import "iter"

// Log keeps the posts made to a fake in the order they were made, with
// the numbers their IDs are made of. It is not safe for concurrent use:
// the fake guards it with its own lock.
type Log[P any] struct {
	byID  map[string]*P
	order []string
	last  int64
}

// NewLog returns an empty log whose posts are numbered from after last,
// as the network numbers its posts.
func NewLog[P any](last int64) *Log[P] {
	return &Log[P]{byID: map[string]*P{}, last: last}
}

// Next returns the number of the next post.
func (l *Log[P]) Next() int64 {
	l.last++
	return l.last
}

// Add keeps the post p under id, after the others.
func (l *Log[P]) Add(id string, p *P) {
	l.byID[id] = p
	l.order = append(l.order, id)
}

// Get returns the post id, nil if there is none.
func (l *Log[P]) Get(id string) *P { return l.byID[id] }

// All yields every post, in order.
func (l *Log[P]) All() iter.Seq[*P] {
	return func(yield func(*P) bool) {
		for _, id := range l.order {
			if !yield(l.byID[id]) {
				return
			}
		}
	}
}

// Copies returns a copy of every post, in order.
func (l *Log[P]) Copies() []P {
	out := make([]P, 0, len(l.order))
	for p := range l.All() {
		out = append(out, *p)
	}
	return out
}
