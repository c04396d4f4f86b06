package reach_test

import (
	"sync"
	"testing"

	"github.com/chorushq/chorus/social/reach"
)

// Concurrent writes that share totals (the day's, a network's) and add
// up keys in varying order all succeed and count exactly: a bulk write
// locks its documents in the order of their IDs, so two of them never wait
// for each other's locks (a deadlock the engine would break by failing
// one, whose counts a flush or the publishing hook would then lose).
func TestConcurrentWritesOfSharedTotalsCountExactly(t *testing.T) {
	store := openStoreWith(t, nil)
	sc := instance(t, store, "concurrent.example", "UTC")
	const writers, writes = 12, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*writes)
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				sums := map[reach.Key]reach.Counters{}
				for k := range 4 {
					n := (w + i + k) % 6
					sums[reach.Key{Day: "2026-03-02", ContentID: string(rune('a' + n)), MemberID: string(rune('m' + n)), Network: "mastodon"}] = reach.Counters{Clicks: 1}
				}
				if err := reach.Apply(t.Context(), sc, sums); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a write failed: %v", err)
	}
	sum, err := reach.New(reach.Config{}).Summary(t.Context(), sc, reach.Period{From: "2026-03-02", To: "2026-03-02"})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(writers * writes * 4); sum.Clicks != want {
		t.Errorf("the day's total counts %d clicks, want %d", sum.Clicks, want)
	}
}
