package httpapi

import (
	"strings"
	"testing"
)

type pos struct {
	ID string `json:"m"`
}

func validPos(p pos) bool { return ValidID(p.ID) }

func TestCursorRoundTrip(t *testing.T) {
	p := pos{ID: NewID()}
	got, err := ParseCursor(EncodeCursor(p), validPos)
	if err != nil || got == nil || *got != p {
		t.Fatalf("ParseCursor(EncodeCursor(%v)) = %v, %v", p, got, err)
	}
	if got, err := ParseCursor("", validPos); got != nil || err != nil {
		t.Errorf(`ParseCursor("") = %v, %v; want the first page`, got, err)
	}
}

func TestCursorRejects(t *testing.T) {
	for _, s := range []string{
		"not base64!",
		EncodeCursor(pos{ID: "short"}),
		EncodeCursor(map[string]int{"m": 3}),
		EncodeCursor("m:" + NewID()),
		strings.Repeat("A", maxCursor+1),
	} {
		_, err := ParseCursor(s, validPos)
		p, ok := err.(*Problem)
		if !ok || p.Code != "validation_failed" || len(p.Errors) != 1 || p.Errors[0].Field != "cursor" {
			t.Errorf("ParseCursor(%q) = %v; want a validation problem on cursor", s, err)
		}
	}
}

func TestPage(t *testing.T) {
	last := Page[int, pos](nil, nil)
	if last.Items == nil || len(last.Items) != 0 || last.NextCursor != nil {
		t.Errorf("Page(nil, nil) = %+v; want no items and no next cursor", last)
	}
	next := pos{ID: NewID()}
	l := Page([]int{1, 2}, &next)
	if l.NextCursor == nil {
		t.Fatal("Page with a next position has no next cursor")
	}
	if got, err := ParseCursor(*l.NextCursor, validPos); err != nil || *got != next {
		t.Errorf("next cursor %q reads as %v, %v; want %v", *l.NextCursor, got, err, next)
	}
}

func FuzzParseCursor(f *testing.F) {
	f.Add(EncodeCursor(pos{ID: NewID()}))
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCursor(s, validPos)
		if err != nil || p == nil {
			return
		}
		if !ValidID(p.ID) {
			t.Errorf("ParseCursor(%q) = %v: not a valid position", s, p)
		}
		if again, err := ParseCursor(EncodeCursor(*p), validPos); err != nil || *again != *p {
			t.Errorf("cursor %q does not round-trip: %v, %v", s, again, err)
		}
	})
}
