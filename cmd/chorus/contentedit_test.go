package main

import (
	"net/http"
	"slices"
	"testing"
	"time"
)

// A topic an admin removes leaves posts and profiles: members who followed
// it can still save their profile, and curators can still save the posts
// that were tagged with it.
func TestRemovedTopicLeavesPostsAndProfiles(t *testing.T) {
	a := newTestApp(t, nil)
	admin, curator, employee := a.roles(t, "acme.example")
	for _, name := range []string{"Sales", "Engineering"} {
		if res := admin.do("POST", "/api/v1/topics", map[string]string{"name": name}); res.status != http.StatusCreated {
			t.Fatalf("topic %s: %d %s", name, res.status, res.body)
		}
	}
	var p postDoc
	curator.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/deal"), "title": "Deal", "topics": []string{"sales", "engineering"}}).json(t, &p)
	if res := employee.do("PATCH", "/api/v1/members/me", map[string]any{"topics": []string{"sales", "engineering"}}); res.status != http.StatusOK {
		t.Fatalf("follow: %d %s", res.status, res.body)
	}
	if res := admin.do("DELETE", "/api/v1/topics/sales", nil); res.status != http.StatusNoContent {
		t.Fatalf("remove topic: %d %s", res.status, res.body)
	}
	var m me
	employee.do("GET", "/api/v1/me", nil).json(t, &m)
	if !slices.Equal(m.Member.Topics, []string{"engineering"}) {
		t.Errorf("followed topics after the removal = %v, want [engineering]", m.Member.Topics)
	}
	if res := employee.do("PATCH", "/api/v1/members/me", map[string]any{"name": "Carol", "topics": m.Member.Topics}); res.status != http.StatusOK {
		t.Errorf("saving the profile after the removal: %d %s", res.status, res.body)
	}
	var got postDoc
	curator.do("GET", "/api/v1/content/"+p.ID, nil).json(t, &got)
	if !slices.Equal(got.Topics, []string{"engineering"}) {
		t.Errorf("post topics after the removal = %v, want [engineering]", got.Topics)
	}
	if res := curator.do("PATCH", "/api/v1/content/"+p.ID, map[string]any{"topics": got.Topics, "title": "Deal, edited"}); res.status != http.StatusOK {
		t.Errorf("saving the post after the removal: %d %s", res.status, res.body)
	}
	if res := admin.do("DELETE", "/api/v1/topics/sales", nil); res.status != http.StatusNotFound {
		t.Errorf("removing it again: %d, want 404", res.status)
	}
}

// Approving with a corrected link keeps the link (and fetches its
// preview); an expiry can be removed; a draft published later is
// published at that moment, not when it was written.
func TestEditsThatUsedToBeLost(t *testing.T) {
	a := newTestApp(t, nil)
	_, curator, employee := a.roles(t, "acme.example")

	var s postDoc
	employee.do("POST", "/api/v1/suggestions", map[string]any{"url": a.pages.url("/wrong")}).json(t, &s)
	var approved postDoc
	res := curator.do("POST", "/api/v1/content/"+s.ID+"/approve", map[string]any{"url": a.pages.url("/right"), "title": "Right"})
	res.json(t, &approved)
	if res.status != http.StatusOK || approved.URL != a.pages.url("/right") {
		t.Fatalf("approve with a corrected link: %d %s", res.status, res.body)
	}
	var stored postDoc
	curator.do("GET", "/api/v1/content/"+s.ID, nil).json(t, &stored)
	if stored.URL != a.pages.url("/right") || stored.Preview.Title != "Story /right" {
		t.Errorf("stored after approval: url %s, preview %+v; want the corrected link and its preview", stored.URL, stored.Preview)
	}

	expires := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	var p postDoc
	curator.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/expiring"), "expires_at": expires}).json(t, &p)
	if p.ExpiresAt == nil {
		t.Fatalf("created without its expiry: %+v", p)
	}
	if res := curator.do("PATCH", "/api/v1/content/"+p.ID, map[string]any{"expires_at": ""}); res.status != http.StatusOK {
		t.Fatalf("remove the expiry: %d %s", res.status, res.body)
	}
	curator.do("GET", "/api/v1/content/"+p.ID, nil).json(t, &stored)
	if stored.ExpiresAt != nil {
		t.Errorf("expiry after removing it: %v, want none", stored.ExpiresAt)
	}

	var d postDoc
	curator.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/draft"), "draft": true}).json(t, &d)
	a.clock.Add(72 * time.Hour)
	var published postDoc
	curator.do("PATCH", "/api/v1/content/"+d.ID, map[string]any{"state": "published"}).json(t, &published)
	if published.State != "published" || !published.PublishAt.Equal(a.clock.Now().Truncate(time.Millisecond)) {
		t.Errorf("draft published three days after it was written: state %s at %v, want published now (%v)", published.State, published.PublishAt, a.clock.Now())
	}
}
