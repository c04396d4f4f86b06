package social

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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

func TestSealOpen(t *testing.T) {
	old, _ := ParseKeyring("k1:" + testKey(1))
	both, _ := ParseKeyring("k2:" + testKey(2) + ",k1:" + testKey(1))
	onlyNew, _ := ParseKeyring("k2:" + testKey(2))
	ad := tokenAD("inst", "conn1", "access")
	sealed, err := old.Seal("s3cret", ad)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed.Data, []byte("s3cret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	for _, tc := range []struct {
		name string
		k    *Keyring
		ad   []byte
		ok   bool
	}{
		{"same key", old, ad, true},
		{"old key still in the ring", both, ad, true},
		{"key removed", onlyNew, ad, false},
		{"other connection", old, tokenAD("inst", "conn2", "access"), false},
		{"other instance", old, tokenAD("inst2", "conn1", "access"), false},
		{"other field", old, tokenAD("inst", "conn1", "refresh"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.k.Open(sealed, tc.ad)
			if tc.ok && (err != nil || got.Reveal() != "s3cret") {
				t.Errorf("Open = %v, %v; want the secret", got, err)
			}
			if !tc.ok && !errors.Is(err, ErrUndecryptable) {
				t.Errorf("Open error = %v, want ErrUndecryptable", err)
			}
		})
	}
	again, _ := both.Seal("s3cret", ad)
	if again.KeyID != "k2" {
		t.Errorf("sealed with %q, want the current key k2", again.KeyID)
	}
	tampered := Sealed{KeyID: sealed.KeyID, Data: bytes.Clone(sealed.Data)}
	tampered.Data[len(tampered.Data)-1] ^= 1
	if _, err := old.Open(tampered, ad); !errors.Is(err, ErrUndecryptable) {
		t.Errorf("tampered ciphertext: %v, want ErrUndecryptable", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("tok-abc123")
	v := struct {
		Token Secret `json:"token"`
	}{s}
	j, _ := json.Marshal(v)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "token", s, "acct", Account{AccessToken: s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %q %x %+v %#v", s, s, s, s, v, v), string(j), logged.String(),
		fmt.Sprintf("%+v", Account{AccessToken: s, App: App{ClientSecret: s}})} {
		if strings.Contains(out, "tok-abc123") {
			t.Errorf("secret printed: %s", out)
		}
	}
	if s.Reveal() != "tok-abc123" {
		t.Errorf("Reveal() = %q", s.Reveal())
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
