package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// auditEntries returns the instance's audit log as an admin sees it.
func auditEntries(t *testing.T, admin *client) []auditDoc {
	t.Helper()
	var out struct{ Items []auditDoc }
	admin.do("GET", "/api/v1/audit?limit=100", nil).json(t, &out)
	return out.Items
}

type auditDoc struct {
	Action  string `json:"action"`
	Target  string `json:"target"`
	Actor   struct{ Kind, ID string }
	Details map[string]string `json:"details"`
}

// Rectification: members edit their profile, admins correct a member's
// name or title; every change is audited with the fields, not the values.
func TestRectificationIsAudited(t *testing.T) {
	a := newTestApp(t, nil)
	admin := a.client(t)
	alice := admin.signIn("alice@acme.example")
	carolc := a.client(t)
	carol := carolc.signIn("carol@acme.example")
	other := a.client(t)
	other.signIn("bob@globex.example")

	// The member's own edit.
	res := carolc.do("PATCH", "/api/v1/members/me", map[string]any{"name": "Carol Canary-Name-1", "title": "Engineer"})
	if res.status != http.StatusOK {
		t.Fatalf("carol edits her profile: %d %s", res.status, res.body)
	}
	// An admin's correction.
	if res := carolc.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]any{"name": "x"}); res.status != http.StatusForbidden {
		t.Errorf("an employee correcting names: %d, want 403", res.status)
	}
	if res := other.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]any{"title": "x"}); res.status != http.StatusForbidden && res.status != http.StatusNotFound {
		t.Errorf("another instance's admin: %d, want 404", res.status)
	}
	if res := admin.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]any{"name": "  ", "role": "curator"}); res.status != http.StatusBadRequest {
		t.Errorf("empty name: %d %s, want 400", res.status, res.body)
	}
	if res := admin.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]any{}); res.status != http.StatusBadRequest {
		t.Errorf("nothing to change: %d %s, want 400", res.status, res.body)
	}
	res = admin.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]any{"name": "Carol Corrected", "title": "Engineer"})
	var got struct{ Name, Title, Role string }
	res.json(t, &got)
	if res.status != http.StatusOK || got.Name != "Carol Corrected" || got.Title != "Engineer" || got.Role != "employee" {
		t.Fatalf("correct carol's name: %d %s", res.status, res.body)
	}
	var seen struct{ Name string }
	carolc.do("GET", "/api/v1/members/"+carol.Member.ID, nil).json(t, &seen)
	if seen.Name != "Carol Corrected" {
		t.Errorf("carol sees her name as %q", seen.Name)
	}

	entries := auditEntries(t, admin)
	find := func(action string) *auditDoc {
		i := slices.IndexFunc(entries, func(e auditDoc) bool { return e.Action == action })
		if i < 0 {
			t.Fatalf("no %s in the audit log: %+v", action, entries)
		}
		return &entries[i]
	}
	edited := find("member.profile_edited")
	if edited.Target != carol.Member.ID || edited.Actor.ID != carol.Member.ID || edited.Details["fields"] != "name,title" {
		t.Errorf("own edit audited as %+v", edited)
	}
	corrected := find("member.profile_corrected")
	// Only the name changed: the title was given unchanged.
	if corrected.Target != carol.Member.ID || corrected.Actor.ID != alice.Member.ID || corrected.Details["fields"] != "name" {
		t.Errorf("correction audited as %+v", corrected)
	}
	raw, _ := json.Marshal(entries)
	for _, value := range []string{"Canary-Name-1", "Corrected", "Engineer"} {
		if strings.Contains(string(raw), value) {
			t.Errorf("the audit log holds the value %q: %s", value, raw)
		}
	}
	// Role and correction in one request: two entries.
	before := len(entries)
	if res := admin.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]any{"role": "curator", "title": "Lead"}); res.status != http.StatusOK {
		t.Fatalf("role and title: %d %s", res.status, res.body)
	}
	if n := len(auditEntries(t, admin)); n != before+2 {
		t.Errorf("%d new audit entries, want 2", n-before)
	}
}
