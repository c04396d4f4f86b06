package main

import (
	"bytes"
	"context"
	"net/http"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// rawMongo connects to the app's database server, bypassing the store,
// until the test ends; it returns the client and the database's name.
func rawMongo(t *testing.T, a *testApp) (*mongo.Client, string) {
	t.Helper()
	uri, db := a.mongo()
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect(context.Background()) })
	return c, db
}

// countDocs counts an instance's documents of a kind, straight from the
// database.
func countDocs(t *testing.T, a *testApp, instanceID, kind string) int64 {
	t.Helper()
	c, db := rawMongo(t, a)
	n, err := c.Database(db).Collection("t_"+instanceID+"_"+kind).CountDocuments(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Every creating POST honours Idempotency-Key: the same request again gets
// the first answer and creates nothing; the same key with another request
// is 422.
func TestIdempotencyKeyOnCreatingPOSTs(t *testing.T) {
	a := newTestApp(t, nil)
	admin, who := verifiedAdmin(t, a, "admin@acme.example") // invitations need a verified domain
	_, curator, employee := a.roles(t, "acme.example")
	inst := who.Instance.ID
	tests := []struct {
		name, path  string
		c           *client
		body, other any
		kind        string
	}{
		{"content", "/api/v1/content", curator, map[string]any{"url": a.pages.url("/idem")}, map[string]any{"url": a.pages.url("/idem2")}, "posts"},
		{"suggestions", "/api/v1/suggestions", employee, map[string]any{"url": a.pages.url("/idea")}, map[string]any{"url": a.pages.url("/idea2")}, "posts"},
		{"invitations", "/api/v1/invitations", admin, map[string]any{"emails": []string{"carol@acme.example"}}, map[string]any{"emails": []string{"dave@acme.example"}}, "invitations"},
		{"topics", "/api/v1/topics", admin, map[string]any{"name": "Launches"}, map[string]any{"name": "Other"}, "topics"},
		{"exports", "/api/v1/me/exports", employee, nil, map[string]any{}, "exports"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := tt.c.do("POST", tt.path, tt.body, "Idempotency-Key", "k-"+tt.name)
			if first.status < 200 || first.status > 299 {
				t.Fatalf("first: %d %s", first.status, first.body)
			}
			n := countDocs(t, a, inst, tt.kind)
			again := tt.c.do("POST", tt.path, tt.body, "Idempotency-Key", "k-"+tt.name)
			if again.status != first.status || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" ||
				again.header.Get("Content-Type") != first.header.Get("Content-Type") || again.header.Get("Location") != first.header.Get("Location") {
				t.Errorf("repeat: %d %v %s, want the first answer %d %s", again.status, again.header, again.body, first.status, first.body)
			}
			if got := countDocs(t, a, inst, tt.kind); got != n {
				t.Errorf("%d %s after the repeat, want %d", got, tt.kind, n)
			}
			other := tt.c.do("POST", tt.path, tt.other, "Idempotency-Key", "k-"+tt.name)
			if other.status != http.StatusUnprocessableEntity || other.problem(t).Code != "idempotency_key_reused" {
				t.Errorf("same key, other body: %d %s, want 422 idempotency_key_reused", other.status, other.body)
			}
		})
	}

	// Another member's key is theirs alone.
	body := map[string]any{"url": a.pages.url("/idem")}
	before := countDocs(t, a, inst, "posts")
	if res := admin.do("POST", "/api/v1/content", body, "Idempotency-Key", "k-content"); res.status != http.StatusCreated || res.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another member's same key: %d %v %s, want a new post", res.status, res.header, res.body)
	}
	if got := countDocs(t, a, inst, "posts"); got != before+1 {
		t.Errorf("%d posts, want %d", got, before+1)
	}
	// A request that failed leaves its key free.
	if res := curator.do("POST", "/api/v1/content", map[string]any{"url": "not a url"}, "Idempotency-Key", "k-fail"); res.status < 400 {
		t.Fatalf("bad URL: %d %s", res.status, res.body)
	}
	if res := curator.do("POST", "/api/v1/content", body, "Idempotency-Key", "k-fail"); res.status != http.StatusCreated {
		t.Errorf("the key of a failed request, again: %d %s, want 201", res.status, res.body)
	}
	if res := curator.sendingMalformed().do("POST", "/api/v1/content", body, "Idempotency-Key", string(bytes.Repeat([]byte("k"), 201))); res.status != http.StatusBadRequest {
		t.Errorf("a 201-character key: %d %s, want 400", res.status, res.body)
	}
}

// Requests racing with one key create one object; the others get its
// answer or 409 idempotency_key_in_use.
func TestIdempotencyKeyUnderConcurrency(t *testing.T) {
	a := newTestApp(t, nil)
	_, curator, _ := a.roles(t, "acme.example")
	var who me
	curator.do("GET", "/api/v1/me", nil).json(t, &who)
	body := map[string]any{"url": a.pages.url("/race")}
	const n = 8
	res := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { res[i] = curator.do("POST", "/api/v1/content", body, "Idempotency-Key", "race") })
	}
	wg.Wait()
	var created []byte
	for _, r := range res {
		switch {
		case r.status == http.StatusCreated && created == nil:
			created = r.body
		case r.status == http.StatusCreated && !bytes.Equal(r.body, created):
			t.Errorf("two different answers: %s and %s", created, r.body)
		case r.status == http.StatusConflict && r.problem(t).Code == "idempotency_key_in_use":
		case r.status != http.StatusCreated:
			t.Errorf("answer %d %s", r.status, r.body)
		}
	}
	if created == nil {
		t.Error("no request created the post")
	}
	if got := countDocs(t, a, who.Instance.ID, "posts"); got != 1 {
		t.Errorf("%d posts, want 1", got)
	}
}
