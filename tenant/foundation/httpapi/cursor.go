package httpapi

import (
	"encoding/base64"
	"encoding/json"
)

// A cursor is where the next page of a list starts, opaque to clients: the
// JSON of a position value (the last ID seen, a time and an ID, an offset
// …) in unpadded base64url. Every list reads and writes its cursors with
// ParseCursor and Page.

// maxCursor bounds the cursors ParseCursor reads.
const maxCursor = 200

// EncodeCursor returns the opaque form of the position p.
func EncodeCursor[P any](p P) string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseCursor reads a cursor made by EncodeCursor for a P: "" is nil (the
// first page); anything else that is not such a cursor, or whose position
// valid rejects, is a validation problem on the cursor field.
func ParseCursor[P any](s string, valid func(P) bool) (*P, error) {
	if s == "" {
		return nil, nil
	}
	bad := Invalid(FieldError{Field: "cursor", Message: "is not a cursor this list handed out"})
	if len(s) > maxCursor {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, bad
	}
	var p P
	if err := json.Unmarshal(b, &p); err != nil || !valid(p) {
		return nil, bad
	}
	return &p, nil
}

// Page is the list envelope of items, whose next page starts after the
// position next; nil next: this is the last page.
func Page[T, P any](items []T, next *P) List[T] {
	if items == nil {
		items = []T{}
	}
	out := List[T]{Items: items}
	if next != nil {
		s := EncodeCursor(*next)
		out.NextCursor = &s
	}
	return out
}
