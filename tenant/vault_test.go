package tenant

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func TestParseKeyring(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		current string
		wantErr bool
	}{
		{"one key", "k1:" + testKey(1), "k1", false},
		{"first is current", "k2:" + testKey(2) + ", k1:" + testKey(1), "k2", false},
		{"url base64 unpadded", "k1:" + strings.TrimRight(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "="), "k1", false},
		{"empty", "", "", true},
		{"no id", testKey(1), "", true},
		{"short key", "k1:" + base64.StdEncoding.EncodeToString([]byte("short")), "", true},
		{"duplicate id", "k1:" + testKey(1) + ",k1:" + testKey(2), "", true},
		{"bad id", "k 1:" + testKey(1), "", true},
		{"not base64", "k1:!!!", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeyring(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseKeyring(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if err == nil && k.Current() != tc.current {
				t.Errorf("Current() = %q, want %q", k.Current(), tc.current)
			}
			if err != nil && strings.Contains(err.Error(), testKey(1)) {
				t.Errorf("error message leaks the key: %v", err)
			}
		})
	}
}

func TestNilKeyringRefuses(t *testing.T) {
	var k *Keyring
	if _, err := k.Seal("x", nil); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Seal with no keys: %v, want ErrNoKeys", err)
	}
	if _, err := k.Open(Sealed{KeyID: "k1"}, nil); !errors.Is(err, ErrUndecryptable) {
		t.Errorf("Open with no keys: %v, want ErrUndecryptable", err)
	}
}
