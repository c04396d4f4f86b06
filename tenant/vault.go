package tenant

// Secrets at rest: AES-256-GCM under a keyring whose keys carry IDs, so a
// key can be rotated while old ciphertexts still open. Every ciphertext is
// bound to where it belongs by associated data (instance, record, field):
// copied elsewhere, it does not open.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// Secret is a token or client secret. It never prints, logs or marshals
// its value; Reveal is the one way to read it, for the request that needs it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON keeps the value out of JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Format keeps the value out of fmt's %s, %v, %q and %x.
func (s Secret) Format(f fmt.State, _ rune) { f.Write([]byte(redacted)) }

// Sealed is a secret encrypted with AES-256-GCM under the key KeyID.
type Sealed struct {
	KeyID string `bson:"key_id"`
	// Data is the nonce followed by the ciphertext and tag.
	Data []byte `bson:"data"`
}

// ErrUndecryptable: a ciphertext whose key is not in the keyring, or which
// fails authentication (tampered, or moved to another connection).
var ErrUndecryptable = errors.New("ciphertext cannot be decrypted")

// Keyring holds the encryption keys of secrets at rest (social network
// tokens, identity providers' client secrets): the current one encrypts,
// all of them decrypt. Parse it from CHORUS_TOKEN_KEYS with ParseKeyring.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ParseKeyring parses "id:base64key,id:base64key,…": 32-byte keys (standard
// or URL base64, padded or not) under distinct IDs of letters, digits, '-'
// and '_'. The first key is current; the others only decrypt, until
// Rotate has re-encrypted everything to the current key.
func ParseKeyring(s string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		id, b64, ok := strings.Cut(part, ":")
		if !ok || !validKeyID(id) {
			return nil, fmt.Errorf("encryption key %d: want id:base64key with an id of letters, digits, - or _", i+1)
		}
		if _, dup := k.aeads[id]; dup {
			return nil, fmt.Errorf("encryption key %q appears twice", id)
		}
		key, err := decodeKey(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("encryption key %q: want 32 random bytes in base64 (openssl rand -base64 32)", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("encryption key %q: %w", id, err)
		}
		if i == 0 {
			k.current = id
		}
		k.aeads[id] = aead
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

func validKeyID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// ErrNoKeys: no keyring was configured (CHORUS_TOKEN_KEYS is empty).
var ErrNoKeys = errors.New("no encryption keys configured (set CHORUS_TOKEN_KEYS)")

// Current returns the ID of the key that encrypts, "" for a nil Keyring.
func (k *Keyring) Current() string {
	if k == nil {
		return ""
	}
	return k.current
}

// Seal encrypts s under the current key, bound to ad: the same ad must be
// given to Open.
func (k *Keyring) Seal(s Secret, ad []byte) (Sealed, error) {
	if k == nil || k.aeads[k.current] == nil {
		return Sealed{}, ErrNoKeys
	}
	aead := k.aeads[k.current]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(s)+aead.Overhead())
	rand.Read(nonce)
	return Sealed{KeyID: k.current, Data: aead.Seal(nonce, nonce, []byte(s), ad)}, nil
}

// Open decrypts a Sealed; ErrUndecryptable if its key is unknown or it does
// not authenticate with ad.
func (k *Keyring) Open(c Sealed, ad []byte) (Secret, error) {
	if k == nil {
		return "", fmt.Errorf("%w: %w", ErrUndecryptable, ErrNoKeys)
	}
	aead := k.aeads[c.KeyID]
	if aead == nil {
		return "", fmt.Errorf("%w: key %q is not in the keyring", ErrUndecryptable, c.KeyID)
	}
	if len(c.Data) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("%w: too short", ErrUndecryptable)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, c.Data[:n], c.Data[n:], ad)
	if err != nil {
		return "", fmt.Errorf("%w: authentication failed", ErrUndecryptable)
	}
	return Secret(plain), nil
}
