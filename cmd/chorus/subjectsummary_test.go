package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestSubjectLookupCountsWhatTheExportHolds: the admin's data-subject
// lookup says, per part of the export, how many records it holds, and
// those numbers are the export's own.
func TestSubjectLookupCountsWhatTheExportHolds(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	if res := employee.do("PATCH", "/api/v1/members/me", map[string]string{"name": "Carol Jones"}); res.status != http.StatusOK {
		t.Fatalf("profile: %d %s", res.status, res.body)
	}
	if res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}}); res.status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	runPublishTasks(t, a)

	res := admin.do("GET", "/api/v1/privacy/subjects?email=carol@acme.example", nil)
	if res.status != http.StatusOK {
		t.Fatalf("lookup: %d %s", res.status, res.body)
	}
	var ex struct {
		Data   map[string]json.RawMessage `json:"data"`
		Counts map[string]int             `json:"counts"`
	}
	res.json(t, &ex)
	for _, part := range []string{"profile", "shares", "connections", "analytics_rollups", "analytics_daily_totals", "audit_entries"} {
		if ex.Counts[part] == 0 {
			t.Errorf("counts[%s] = 0 for a member with a profile, a published share and analytics; counts %v", part, ex.Counts)
		}
	}
	if len(ex.Counts) != len(ex.Data) {
		t.Errorf("%d counts for %d parts of the export", len(ex.Counts), len(ex.Data))
	}
	for part, raw := range ex.Data {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		want := 0
		switch v := v.(type) {
		case []any:
			want = len(v)
		case map[string]any:
			if len(v) > 0 {
				want = 1
			}
		case nil:
		default:
			want = 1
		}
		if got := ex.Counts[part]; got != want {
			t.Errorf("counts[%s] = %d, the export holds %d", part, got, want)
		}
	}
}

// TestAuditLogNamesPeopleByAddress: the audit log says whom an entry is
// about, and who did it, by address, where the entry names a member or an
// invitation of the instance.
func TestAuditLogNamesPeopleByAddress(t *testing.T) {
	a := newTestApp(t, nil)
	admin, adm := verifiedAdmin(t, a, "admin@acme.example")
	if res := admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"dave@acme.example"}}); res.status != http.StatusCreated {
		t.Fatalf("invite: %d %s", res.status, res.body)
	}
	carol := a.client(t)
	who := carol.signIn("carol@acme.example")
	if res := admin.do("PATCH", "/api/v1/members/"+who.Member.ID, map[string]string{"role": "curator"}); res.status != http.StatusOK {
		t.Fatalf("role: %d %s", res.status, res.body)
	}
	var log struct {
		Items []struct {
			Action      string `json:"action"`
			Target      string `json:"target"`
			TargetEmail string `json:"target_email"`
			Actor       struct {
				ID    string `json:"id"`
				Email string `json:"email"`
			} `json:"actor"`
		} `json:"items"`
	}
	res := admin.do("GET", "/api/v1/audit", nil)
	if res.status != http.StatusOK {
		t.Fatalf("audit: %d %s", res.status, res.body)
	}
	res.json(t, &log)
	seen := map[string]string{}
	for _, e := range log.Items {
		if e.Actor.ID == adm.Member.ID && e.Actor.Email != "admin@acme.example" {
			t.Errorf("%s: actor email %q, want admin@acme.example", e.Action, e.Actor.Email)
		}
		seen[e.Action] = e.TargetEmail
	}
	if got := seen["invitation.sent"]; got != "dave@acme.example" {
		t.Errorf("invitation.sent names %q, want dave@acme.example (%s)", got, res.body)
	}
	if got := seen["member.role_changed"]; got != "carol@acme.example" {
		t.Errorf("member.role_changed names %q, want carol@acme.example", got)
	}
	if strings.Contains(string(res.body), "globex") {
		t.Error("another instance's address in the audit log")
	}
}
