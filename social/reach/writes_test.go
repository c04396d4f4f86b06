package reach_test

import (
	"slices"
	"strings"
	"testing"
)

// A click flush writes the click batch, its links' counters, the
// rollups and their totals, and nothing else: no share and no post, the
// documents that carry the feed's and the publishing paths' indexes
// (each write of one rewrites every index entry of it, and a burst's
// flush touches thousands).
func TestClickFlushWritesNoShareOrPost(t *testing.T) {
	f := newFlushFixture(t, 40)
	for k, code := range f.codes {
		visit(t, f.e, "/r/"+code, k)
	}
	f.burst(t, 1, len(f.codes))
	f.trips.spent()
	f.burst(t, 200, len(f.codes)+1)
	var wrote []string
	for what := range f.trips.spent() {
		cmd, coll, _ := strings.Cut(what, " ")
		if cmd != "insert" && cmd != "update" && cmd != "delete" {
			continue
		}
		// Collections are named t_<instance>_<kind>.
		kind := coll[strings.LastIndex(coll, "_")+1:]
		if i := strings.Index(coll, "_rollup_totals"); i >= 0 {
			kind = "rollup_totals"
		}
		wrote = append(wrote, cmd+" "+kind)
	}
	slices.Sort(wrote)
	want := []string{"insert clicks", "update links", "update rollup_totals", "update rollups"}
	if !slices.Equal(wrote, want) {
		t.Errorf("a flush wrote %v, want %v", wrote, want)
	}
}
