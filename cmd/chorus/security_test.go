package main

import (
	"net/http"
	"strings"
	"testing"
)

// Regression tests of the second security review (issue 14).

// A batch of only refused addresses is refused like a mixed one: 422
// naming each address, not a failure of the store.
func TestInviteOnlyRefusedAddresses(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "alice@acme.example")
	res := admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"eve@globex.example", "x@gmail.com"}})
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("only refused addresses: %d %s, want 422", res.status, res.body)
	}
	p := res.problem(t)
	if len(p.Errors) != 2 || p.Errors[0].Field != "emails[0]" || p.Errors[1].Field != "emails[1]" {
		t.Errorf("errors = %+v, want emails[0] and emails[1]", p.Errors)
	}
}

// Sharing through a connection whose network or server the admins stopped
// allowing names that reason (403), not "reconnect it first", which
// cannot help.
func TestShareRefusalNamesTheDisallowedNetwork(t *testing.T) {
	a, employee, connID, postID := shareSetup(t)
	admin := a.client(t)
	admin.signIn("admin@acme.example")
	narrow := map[string]any{"config": map[string]any{"allowed_instances": []string{"mastodon.social"}}}
	if res := admin.do("PUT", "/api/v1/networks/mastodon", narrow); res.status != http.StatusOK {
		t.Fatalf("narrow: %d %s", res.status, res.body)
	}
	res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}})
	if p := res.problem(t); res.status != http.StatusForbidden || p.Code != "instance_not_allowed" || len(p.Errors) != 1 || p.Errors[0].Field != "connections[0]" {
		t.Errorf("server no longer allowed: %d %s, want 403 instance_not_allowed naming connections[0]", res.status, res.body)
	}
	if res := admin.do("DELETE", "/api/v1/networks/mastodon", nil); res.status != http.StatusNoContent {
		t.Fatalf("un-whitelist: %d", res.status)
	}
	res = employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}})
	p := res.problem(t)
	if res.status != http.StatusForbidden || p.Code != "network_not_allowed" || len(p.Errors) != 1 || p.Errors[0].Field != "connections[0]" {
		t.Fatalf("network no longer allowed: %d %s, want 403 network_not_allowed naming connections[0]", res.status, res.body)
	}
	if strings.Contains(p.Errors[0].Message, "reconnect") && !strings.Contains(p.Errors[0].Message, "cannot help") {
		t.Errorf("the refusal still suggests reconnecting: %q", p.Errors[0].Message)
	}
}

// The first person of a domain cannot lock colleagues out of a pending
// instance: its join policy stays open until a domain is verified.
func TestPendingInstanceKeepsTheJoinPolicyOpen(t *testing.T) {
	a := newTestApp(t, nil)
	founder := a.client(t)
	founder.signIn("alice@acme.example")
	for _, policy := range []string{"invite", "sso"} {
		res := founder.do("PATCH", "/api/v1/instance/settings", map[string]any{"join_policy": policy})
		if res.status != http.StatusForbidden || res.problem(t).Code != "domain_unverified" {
			t.Errorf("join_policy %s on a pending instance: %d %s, want 403 domain_unverified", policy, res.status, res.body)
		}
	}
	if res := founder.do("PATCH", "/api/v1/instance/settings", map[string]any{"join_policy": "open", "name": "Acme"}); res.status != http.StatusOK {
		t.Errorf("open (the policy it has) and a name on a pending instance: %d %s, want 200", res.status, res.body)
	}
	if m := a.client(t).signIn("bob@acme.example"); m.Member.Role != "employee" {
		t.Errorf("a colleague joining: %+v", m.Member)
	}
}
