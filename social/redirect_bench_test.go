package social

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// BenchmarkRedirect compares GET /r/{code} through the Redirector (cache
// hit, click queued) with a bare net/http handler doing a map lookup and a
// 302, in the same run: report the ratio of ns/op and the allocations.
//
//	go test -tags ferretdb_no_postgresql -run XXX -bench Redirect -benchmem ./social/
func BenchmarkRedirect(b *testing.B) {
	uri, db := tenanttest.Mongo(b)
	ctx := context.Background()
	store, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: uri, Database: db, Kinds: Kinds()})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close(ctx)
	inst, err := store.EnsureInstance(ctx, "bench.example", "a@bench.example")
	if err != nil {
		b.Fatal(err)
	}
	sc, err := store.Open(ctx, inst.ID)
	if err != nil {
		b.Fatal(err)
	}
	code := newCode()
	dest := "https://news.example/story?ref=site"
	if err := sc.CreateLink(ctx, tenant.Link{Code: code, ShareID: newID(), ContentID: newID(), Network: "mastodon", Destination: dest}); err != nil {
		b.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := NewRedirector(store, slog.New(slog.DiscardHandler), time.Now)
	defer r.Close(ctx)
	e := gin.New()
	e.GET("/r/:code", r.Handle)
	req := httptest.NewRequest("GET", "/r/"+code, nil)
	req.RemoteAddr = "192.0.2.10:1234"
	req.Header.Set("User-Agent", "Mozilla/5.0")

	bare := map[string]string{code: dest + "&utm_source=mastodon&utm_medium=employee_advocacy"}
	bareHandler := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		to, ok := bare[req.URL.Path[len("/r/"):]]
		if !ok {
			http.NotFound(w, req)
			return
		}
		http.Redirect(w, req, to, http.StatusFound)
	})

	b.Run("Chorus", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != http.StatusFound {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Run("BareNetHTTP", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			bareHandler.ServeHTTP(w, req)
			if w.Code != http.StatusFound {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Logf("clicks queued or stored: %d stored, %d dropped", r.Stored(), r.Dropped())
}
