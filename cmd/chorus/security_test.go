package main

import (
	"net/http"
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
