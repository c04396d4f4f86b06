package bluesky

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// RecordKey returns the record key of the post published with
// idempotencyKey (Chorus passes the share ID): every retry of a share
// writes to the same key, and a key already taken means the share is
// already published, so a retry cannot post twice. The reconciler can
// also ask the PDS whether an unconfirmed share was published: there is a
// record at RecordKey(share ID) or there is not.
//
// The key is a TID, the form app.bsky.feed.post keys take: 13 characters
// of base32-sortable encoding a 53-bit microsecond timestamp and a 10-bit
// clock ID. Both come here from SHA-256 of the idempotency key; the
// timestamp is kept within 2^45 µs (about 13 months) after 2023-01-01, in
// the past, where no check of TIDs "from the future" can trip on it, and
// apps order posts by their createdAt, not by key. 55 bits of hash make a
// collision between two shares of one account negligible.
//
// The derivation is frozen: changing it would let a retry that straddles
// an upgrade post twice.
func RecordKey(idempotencyKey string) string {
	h := sha256.Sum256([]byte("chorus/bluesky/rkey\x00" + idempotencyKey))
	v := binary.BigEndian.Uint64(h[:8])
	micros := tidEpoch + (v>>10)&(1<<45-1)
	return tid(micros, v&1023)
}

// tidEpoch is 2023-01-01T00:00:00Z in microseconds.
const tidEpoch = 1672531200 * 1_000_000

// newRecordKey returns a fresh TID for a post without an idempotency key.
func newRecordKey(now time.Time) string {
	var b [2]byte
	rand.Read(b[:])
	return tid(uint64(now.UnixMicro()), uint64(binary.BigEndian.Uint16(b[:])))
}

const base32Sortable = "234567abcdefghijklmnopqrstuvwxyz"

// tid encodes a TID: the top bit zero, 53 bits of microseconds, 10 bits
// of clock ID, as 13 characters of base32-sortable.
func tid(micros, clockID uint64) string {
	v := (micros&(1<<53-1))<<10 | clockID&1023
	var b [13]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = base32Sortable[v&31]
		v >>= 5
	}
	return string(b[:])
}
