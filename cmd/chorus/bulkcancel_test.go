package main

import (
	"net/http"
	"testing"
	"time"
)

// Shares cancelled in bulk leave their content's counters as a member's
// own cancellation does: employee 0's share is published, employee 1's
// is scheduled; each bulk path cancels employee 1's share, which takes
// one share and one colleague off the content.
func TestBulkCancellationCounters(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel func(t *testing.T, f *reachFixture)
	}{
		{"disconnect", func(t *testing.T, f *reachFixture) {
			if res := f.employees[1].do("DELETE", "/api/v1/connections/"+f.conns[1], nil); res.status != http.StatusNoContent {
				t.Fatalf("disconnect: %d %s", res.status, res.body)
			}
		}},
		{"network disallowed", func(t *testing.T, f *reachFixture) {
			if res := f.admin.do("DELETE", "/api/v1/networks/mastodon", nil); res.status != http.StatusNoContent && res.status != http.StatusOK {
				t.Fatalf("disallow: %d %s", res.status, res.body)
			}
		}},
		{"member removed", func(t *testing.T, f *reachFixture) {
			if res := f.admin.do("DELETE", "/api/v1/members/"+f.ids[1], nil); res.status != http.StatusNoContent {
				t.Fatalf("remove: %d %s", res.status, res.body)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newReachFixture(t, 2)
			post := f.post(t, "bulk", nil)
			f.share(t, 0, post)
			f.schedule(t, 1, post)
			get := func() (p struct {
				Shares    int64 `json:"shares"`
				Colleague int64 `json:"colleagues_shared"`
			}) {
				t.Helper()
				res := f.admin.do("GET", "/api/v1/content/"+post, nil)
				if res.status != http.StatusOK {
					t.Fatalf("content: %d %s", res.status, res.body)
				}
				res.json(t, &p)
				return p
			}
			if p := get(); p.Shares != 2 || p.Colleague != 2 {
				t.Fatalf("before: %+v, want 2 shares, 2 colleagues", p)
			}
			tc.cancel(t, f)
			if p := get(); p.Shares != 1 || p.Colleague != 1 {
				t.Errorf("after the bulk cancellation: %+v, want 1 share, 1 colleague", p)
			}
		})
	}
}

// A share cancelled by its member while its account is disconnected is
// taken off its content's counters once, whichever path cancels it.
func TestRacingCancellationsCountOnce(t *testing.T) {
	f := newReachFixture(t, 2)
	post := f.post(t, "race", nil)
	f.share(t, 0, post)
	id := f.schedule(t, 1, post)
	statuses := make(chan int, 2)
	go func() { statuses <- f.employees[1].do("POST", "/api/v1/shares/"+id+"/cancel", nil).status }()
	go func() { statuses <- f.employees[1].do("DELETE", "/api/v1/connections/"+f.conns[1], nil).status }()
	for range 2 {
		if s := <-statuses; s != http.StatusOK && s != http.StatusNoContent && s != http.StatusConflict {
			t.Errorf("a racing cancellation answered %d", s)
		}
	}
	var p struct {
		Shares    int64 `json:"shares"`
		Colleague int64 `json:"colleagues_shared"`
	}
	f.admin.do("GET", "/api/v1/content/"+post, nil).json(t, &p)
	if p.Shares != 1 || p.Colleague != 1 {
		t.Errorf("after two paths cancelled one share: %+v, want 1 share, 1 colleague", p)
	}
}

// schedule makes employee i share post two hours from now and returns
// the share's ID.
func (f *reachFixture) schedule(t *testing.T, i int, post string) string {
	t.Helper()
	later := f.a.clock.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	var out struct{ Items []shareDoc }
	res := f.employees[i].do("POST", "/api/v1/content/"+post+"/shares", map[string]any{"connections": []string{f.conns[i]}, "publish_at": later})
	if res.status != http.StatusAccepted {
		t.Fatalf("scheduled share: %d %s", res.status, res.body)
	}
	res.json(t, &out)
	return out.Items[0].ID
}
