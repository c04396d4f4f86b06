package httpapi

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// ids encodes IDs: lower-case base32 without padding.
var ids = base32.NewEncoding(strings.ToLower("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")).WithPadding(base32.NoPadding)

// NewID returns a random opaque ID for a stored object: 128 bits,
// lower-case base32 (26 characters).
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return ids.EncodeToString(b[:])
}

// ValidID reports whether s could be an ID made by NewID; anything else
// is not looked up at all.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '2' || r > '7') {
			return false
		}
	}
	return true
}
