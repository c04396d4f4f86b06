package tenant

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// controlCharError refuses a person-written text (a name, a title, a
// message) that holds control characters or is not UTF-8: such texts end
// up in mail headers (an instance name in a subject), logs and other
// people's screens. A multiline text (a message) may hold line breaks and
// tabs. It returns nil for an acceptable text.
func controlCharError(field, s string, multiline bool) *ValidationError {
	bad := func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t'))
	}
	switch {
	case !utf8.ValidString(s):
		return &ValidationError{Field: field, Reason: "must be valid UTF-8"}
	case multiline && strings.ContainsFunc(s, bad):
		return &ValidationError{Field: field, Reason: "must not contain control characters other than line breaks and tabs"}
	case strings.ContainsFunc(s, bad):
		return &ValidationError{Field: field, Reason: "must not contain control characters (such as line breaks)"}
	}
	return nil
}
