package reach_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/reach"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// TestConcurrentClickFlushesAllCount: two processes' click recorders (two
// stores, so two connections to the server) flush batches over the same
// rollups at once; every click is counted. With the bulk upserts in map
// order, DocumentDB found deadlocks and the losing batch's counts were
// dropped.
func TestConcurrentClickFlushesAllCount(t *testing.T) {
	uri, db := tenanttest.Mongo(t)
	var stores []*tenant.Store
	for range 2 {
		s, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: uri, Database: db, Kinds: append(social.Kinds(), reach.Kinds()...)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(context.Background()) })
		stores = append(stores, s)
	}
	first := instance(t, stores[0], "acme.example", "UTC")
	const rounds, contents = 15, 40
	var wg sync.WaitGroup
	for _, store := range stores {
		sc, err := store.Open(t.Context(), first.InstanceID())
		if err != nil {
			t.Fatal(err)
		}
		svc := reach.New(reach.Config{})
		wg.Go(func() {
			for r := range rounds {
				var batch []social.Click
				for c := range contents {
					batch = append(batch, social.Click{ShareID: "share1", ContentID: fmt.Sprintf("post%02d", c), Network: "mastodon",
						At: at("2026-05-04T12:00:00Z"), IPPrefix: fmt.Sprintf("192.0.%d.0/24", r), Code: "code1", UserAgent: "ua"})
				}
				svc.ClicksRecorded(t.Context(), sc, batch)
			}
		})
	}
	wg.Wait()
	sum, err := reach.New(reach.Config{}).Summary(t.Context(), first, reach.Period{From: "2026-05-04", To: "2026-05-04"})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 * rounds * contents); sum.Clicks != want {
		t.Errorf("%d clicks counted, %d recorded", sum.Clicks, want)
	}
}
