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
