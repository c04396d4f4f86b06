package social

import "github.com/chorushq/chorus/tenant"

// The keyring and its types live in tenant, which encrypts identity
// providers' client secrets with the same keys; social encrypts tokens.
type (
	// Secret is a token or client secret that never prints (tenant.Secret).
	Secret = tenant.Secret
	// Sealed is an encrypted secret (tenant.Sealed).
	Sealed = tenant.Sealed
	// Keyring holds the encryption keys (tenant.Keyring).
	Keyring = tenant.Keyring
)

// ParseKeyring parses CHORUS_TOKEN_KEYS (tenant.ParseKeyring).
func ParseKeyring(s string) (*Keyring, error) { return tenant.ParseKeyring(s) }

// Errors of the keyring.
var (
	ErrUndecryptable = tenant.ErrUndecryptable
	ErrNoKeys        = tenant.ErrNoKeys
)

// tokenAD binds a connection's token to its instance, connection and use,
// so a ciphertext copied to another connection, instance or field fails to
// decrypt.
func tokenAD(instanceID, connectionID, field string) []byte {
	return []byte("chorus:token\x00" + instanceID + "\x00" + connectionID + "\x00" + field)
}

// appAD binds an app's client secret to its instance and app record.
func appAD(instanceID, appID string) []byte {
	return []byte("chorus:app\x00" + instanceID + "\x00" + appID)
}
