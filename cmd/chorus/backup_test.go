package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
)

// The restore drill of docs/backup.md on the embedded store: two members
// and content; a backup taken while Chorus runs; one member erased after
// it; the data lost; the backup restored and the erasures replayed. All
// but the erased member is back, and the erased member is not.
func TestRestoreDrill(t *testing.T) {
	if err := embeddedmongo.DocumentDBInstalled(t.Context()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := embeddedDataDir(t)
	env := map[string]string{
		"CHORUS_ADDR":           "127.0.0.1:0",
		"CHORUS_DATA_DIR":       dir,
		"CHORUS_DEV_MAILBOX":    "1",
		"CHORUS_EMBEDDED_STORE": "documentdb",
	}
	getenv := func(k string) string { return env[k] }
	command := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := run(t.Context(), args, getenv, &out); err != nil {
			t.Fatalf("chorus %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	newClient := func(base string) *client {
		jar, _ := cookiejar.New(nil)
		return &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	}

	base, stop := startRun(t, env)
	alice, bob := newClient(base), newClient(base)
	alice.signIn("alice@acme.example")
	command("domain", "verify", "acme.example", "--reason", "restore drill")
	bob.signIn("bob@acme.example")
	for c, name := range map[*client]string{alice: "Alice Keeper", bob: "Bob Canary"} {
		if res := c.do("PATCH", "/api/v1/members/me", map[string]string{"name": name}); res.status != http.StatusOK {
			t.Fatalf("name: %d %s", res.status, res.body)
		}
	}
	if res := alice.do("POST", "/api/v1/content", map[string]any{"url": "https://news.example/launch", "title": "Launch drill"}); res.status != http.StatusCreated {
		t.Fatalf("content: %d %s", res.status, res.body)
	}
	file := filepath.Join(t.TempDir(), "chorus.backup")
	start := time.Now()
	if out := command("backup", file); !strings.Contains(out, "CHORUS_TOKEN_KEYS") {
		t.Errorf("backup said %q, want the keyring reminder", out)
	}
	if fi, err := os.Stat(file); err == nil {
		t.Logf("backup of a running store: %d bytes in %s", fi.Size(), time.Since(start).Round(time.Millisecond))
	}
	if res := alice.do("POST", "/api/v1/privacy/subjects/erase", map[string]string{"email": "bob@acme.example"}); res.status != http.StatusNoContent {
		t.Fatalf("erase Bob: %d %s", res.status, res.body)
	}
	// A restore under a running Chorus is refused, and leaves it alone.
	var refused strings.Builder
	if err := run(t.Context(), []string{"restore", file}, getenv, &refused); err == nil || !strings.Contains(err.Error(), "stop every Chorus process") {
		t.Errorf("restore while Chorus runs: %v", err)
	}
	if res := alice.do("GET", "/api/v1/me", nil); res.status != http.StatusOK {
		t.Fatalf("Chorus after the refused restore: %d %s", res.status, res.body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// The data is lost: the main database goes (the erasure ledger, a
	// database of its own, stays, as on MongoDB).
	m, err := embeddedmongo.Start(t.Context(), filepath.Join(dir, "mongo"), embeddedmongo.Options{Engine: embeddedmongo.EngineDocumentDB}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := mongo.Connect(options.Client().ApplyURI(m.URI()))
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Database("chorus").Drop(t.Context()); err != nil {
		t.Fatal(err)
	}
	mc.Disconnect(context.Background())
	if err := m.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	notBackup := filepath.Join(t.TempDir(), "notes.tar")
	if err := os.WriteFile(notBackup, make([]byte, 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"restore", notBackup}, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "not a backup") {
		t.Errorf("restoring a file that is not a backup: %v", err)
	}
	start = time.Now()
	out := command("restore", file)
	t.Logf("restore in %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	if !strings.Contains(out, "1 entries made since the backup kept") {
		t.Errorf("restore said:\n%s\nwant Bob's erasure kept in the ledger", out)
	}
	if out := command("privacy", "replay-erasures"); !strings.Contains(out, "erased again: 1 ") {
		t.Errorf("replay-erasures said %q, want Bob erased again", out)
	}

	base, stop = startRun(t, env)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	alice.base, bob.base = base, base
	// Alice's session was in the backup.
	if res := alice.do("GET", "/api/v1/me", nil); res.status != http.StatusOK || !strings.Contains(string(res.body), "Alice Keeper") {
		t.Fatalf("Alice after the restore: %d %s", res.status, res.body)
	}
	members := alice.do("GET", "/api/v1/members", nil)
	if !strings.Contains(string(members.body), "alice@acme.example") || strings.Contains(string(members.body), "bob@acme.example") ||
		strings.Contains(string(members.body), "Bob Canary") {
		t.Errorf("members after the restore: %s; want Alice and not Bob", members.body)
	}
	if res := alice.do("GET", "/api/v1/content", nil); !strings.Contains(string(res.body), "Launch drill") {
		t.Errorf("content after the restore: %d %s", res.status, res.body)
	}
	if res := bob.do("GET", "/api/v1/me", nil); res.status != http.StatusUnauthorized {
		t.Errorf("Bob's session after the restore: %d, want 401", res.status)
	}
}
