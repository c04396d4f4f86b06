package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/chorushq/chorus/tenant"
)

// testDNS is a real DNS server on 127.0.0.1 answering TXT queries from a
// table the test edits.
type testDNS struct {
	addr string
	mu   sync.Mutex
	txt  map[string][]string
}

func newTestDNS(t *testing.T) *testDNS {
	t.Helper()
	d := &testDNS{txt: map[string][]string{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		d.mu.Lock()
		for _, q := range r.Question {
			recs, ok := d.txt[strings.TrimSuffix(strings.ToLower(q.Name), ".")]
			if !ok {
				m.Rcode = dns.RcodeNameError
			}
			if q.Qtype == dns.TypeTXT {
				for _, v := range recs {
					m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{v}})
				}
			}
		}
		d.mu.Unlock()
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return d
}

func (d *testDNS) set(name string, values ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if values == nil {
		delete(d.txt, name)
		return
	}
	d.txt[name] = values
}

type domainDoc struct {
	Domain        string `json:"domain"`
	Verified      bool   `json:"verified"`
	RecordMissing bool   `json:"record_missing"`
	TXT           struct {
		Name, Type, Value string
	} `json:"txt"`
}

func TestDomainVerificationAndAdminPowers(t *testing.T) {
	dnsSrv := newTestDNS(t)
	a := newTestApp(t, map[string]string{"CHORUS_DNS_RESOLVER": dnsSrv.addr, "CHORUS_OPERATOR_TOKEN": "op-token-for-tests"})
	admin := a.client(t)
	alice := admin.signIn("alice@acme.example")

	// A pending instance has no admin powers yet.
	res := admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"carol@acme.example"}})
	if res.status != http.StatusForbidden || res.problem(t).Code != "domain_unverified" {
		t.Fatalf("invite while pending: %d %s, want 403 domain_unverified", res.status, res.body)
	}
	var domains struct{ Items []domainDoc }
	admin.do("GET", "/api/v1/instance/domains", nil).json(t, &domains)
	if len(domains.Items) != 1 || domains.Items[0].Verified || !strings.HasPrefix(domains.Items[0].TXT.Value, "chorus-verification=") {
		t.Fatalf("domains = %+v", domains.Items)
	}
	record := domains.Items[0].TXT.Value

	res = admin.do("POST", "/api/v1/instance/domains/acme.example/verify", nil)
	if res.status != http.StatusUnprocessableEntity || res.problem(t).Code != "verification_failed" {
		t.Fatalf("verify without a record: %d %s, want 422", res.status, res.body)
	}
	dnsSrv.set("acme.example", "v=spf1 -all", "chorus-verification=wrong")
	if res := admin.do("POST", "/api/v1/instance/domains/acme.example/verify", nil); res.status != http.StatusUnprocessableEntity {
		t.Errorf("verify with a wrong record: %d, want 422", res.status)
	}
	dnsSrv.set("acme.example", "v=spf1 -all", record)
	if res := admin.do("POST", "/api/v1/instance/domains/ACME.example./verify", nil); res.status != http.StatusOK {
		t.Fatalf("verify: %d %s", res.status, res.body)
	}
	var m me
	admin.do("GET", "/api/v1/me", nil).json(t, &m)
	if !m.Instance.Verified {
		t.Error("instance not verified after its domain was")
	}

	// Another instance's domain is not found; a domain it owns is taken.
	bob := a.client(t)
	bob.signIn("bob@globex.example")
	if res := bob.do("POST", "/api/v1/instance/domains/acme.example/verify", nil); res.status != http.StatusNotFound {
		t.Errorf("bob verifying acme.example: %d, want 404", res.status)
	}
	if res := admin.do("POST", "/api/v1/instance/domains", map[string]string{"domain": "globex.example"}); res.status != http.StatusConflict || res.problem(t).Code != "domain_taken" {
		t.Errorf("adding globex.example to acme: %d %s, want 409 domain_taken", res.status, res.body)
	}
	if res := admin.do("POST", "/api/v1/instance/domains", map[string]string{"domain": "gmail.com"}); res.status != http.StatusUnprocessableEntity {
		t.Errorf("adding gmail.com: %d, want 422", res.status)
	}
	res = admin.do("POST", "/api/v1/instance/domains", map[string]string{"domain": "bücher.example"})
	var added domainDoc
	res.json(t, &added)
	if res.status != http.StatusCreated || added.Domain != "xn--bcher-kva.example" || added.Verified {
		t.Errorf("adding an IDN domain: %d %s, want it pending as punycode", res.status, res.body)
	}

	// The periodic re-check flags a vanished record but keeps the domain verified.
	dnsSrv.set("acme.example")
	box := a.auth.DevMailbox
	checked, missing, err := a.store.RecheckDomains(t.Context(), configWithResolver(dnsSrv.addr).resolver(), box)
	if err != nil || checked != 1 || missing != 1 {
		t.Errorf("RecheckDomains = %d checked, %d missing, %v; want 1, 1", checked, missing, err)
	}
	// The admins are told by mail, once: not again while it stays missing.
	told := box.List("alice@acme.example")
	if len(told) == 0 || !strings.Contains(told[0].Subject, "acme.example") || !strings.Contains(told[0].Text, record) {
		t.Errorf("alice's newest mail after the record vanished: %+v", told)
	}
	if _, _, err := a.store.RecheckDomains(t.Context(), configWithResolver(dnsSrv.addr).resolver(), box); err != nil {
		t.Fatal(err)
	}
	if again := box.List("alice@acme.example"); len(again) != len(told) {
		t.Errorf("told again at the next check: %d mails, had %d", len(again), len(told))
	}
	for _, m := range box.List("") {
		if strings.Contains(m.Subject, "verification record") && m.To != "alice@acme.example" {
			t.Errorf("someone else was told: %s", m.To)
		}
	}
	admin.do("GET", "/api/v1/instance/domains", nil).json(t, &domains)
	if d := domains.Items[0]; !d.Verified || !d.RecordMissing {
		t.Errorf("after the record vanished: %+v, want verified and record_missing", d)
	}

	// Operators verify by token, audited in the instance.
	if res := bob.do("POST", "/ops/v1/domains/globex.example/verify", map[string]string{"reason": "on-prem"}); res.status != http.StatusUnauthorized {
		t.Errorf("ops without the token: %d, want 401", res.status)
	}
	res = bob.do("POST", "/ops/v1/domains/globex.example/verify", map[string]string{"reason": "on-prem install, ticket 42"}, "Authorization", "Bearer op-token-for-tests")
	if res.status != http.StatusOK {
		t.Errorf("ops verify: %d %s", res.status, res.body)
	}
	if res := bob.do("GET", "/api/v1/audit", nil); !strings.Contains(string(res.body), `"operator"`) || !strings.Contains(string(res.body), "ticket 42") {
		t.Errorf("globex's audit log lacks the operator's verification: %s", res.body)
	}
	res = admin.do("GET", "/api/v1/audit", nil)
	for _, want := range []string{"domain.verified", "domain.added", "domain.record_missing", alice.Member.ID} {
		if !strings.Contains(string(res.body), want) {
			t.Errorf("acme's audit log lacks %q: %s", want, res.body)
		}
	}
	if strings.Contains(string(res.body), "globex") {
		t.Errorf("acme's audit log shows globex: %s", res.body)
	}
}

func configWithResolver(addr string) config { return config{DNSResolver: addr} }

// verifiedAdmin signs in the admin of domain and verifies it by operator.
func verifiedAdmin(t *testing.T, a *testApp, email string) (*client, me) {
	t.Helper()
	c := a.client(t)
	m := c.signIn(email)
	if _, err := tenant.NewService(tenant.Config{Store: a.store}).ForceVerify(t.Context(), m.Instance.Domains[0], "test"); err != nil {
		t.Fatal(err)
	}
	return c, m
}

func TestInvitations(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "alice@acme.example")

	res := admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"carol@acme.example", "eve@globex.example", "x@gmail.com"}})
	p := res.problem(t)
	if res.status != http.StatusUnprocessableEntity || len(p.Errors) != 2 || p.Errors[0].Field != "emails[1]" || p.Errors[1].Field != "emails[2]" {
		t.Fatalf("foreign addresses: %d %s, want 422 naming emails[1] and emails[2]", res.status, res.body)
	}
	if box := admin.do("GET", "/api/v1/dev/mail?to=carol@acme.example", nil); strings.Contains(string(box.body), "invited") {
		t.Errorf("carol was invited although the request failed: %s", box.body)
	}

	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"join_policy": "invite", "invitation_message": "Welcome to Acme's Chorus!"}); res.status != http.StatusOK {
		t.Fatalf("settings: %d %s", res.status, res.body)
	}
	// Under the invite policy, nobody uninvited gets in.
	dave := a.client(t)
	if res := dave.useLink(dave.signInLink("dave@acme.example")); res.status != http.StatusForbidden || res.problem(t).Code != "not_invited" {
		t.Errorf("uninvited sign-in: %d %s, want 403 not_invited", res.status, res.body)
	}

	var invs struct {
		Items []struct{ ID, Email, State string }
	}
	res = admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"Carol@Acme.example", "frank@acme.example"}})
	res.json(t, &invs)
	if res.status != http.StatusCreated || len(invs.Items) != 2 || invs.Items[0].Email != "carol@acme.example" {
		t.Fatalf("invite: %d %s", res.status, res.body)
	}
	carol := a.client(t)
	var box struct {
		Items []struct{ Text, Link string }
	}
	carol.do("GET", "/api/v1/dev/mail?to=carol@acme.example", nil).json(t, &box)
	if len(box.Items) != 1 || !strings.Contains(box.Items[0].Text, "Welcome to Acme's Chorus!") {
		t.Fatalf("carol's invitation mail: %+v", box.Items)
	}
	if res := carol.useLink(box.Items[0].Link); res.status != http.StatusNoContent {
		t.Fatalf("accepting: %d %s", res.status, res.body)
	}
	var cm me
	carol.do("GET", "/api/v1/me", nil).json(t, &cm)
	if cm.Member.Role != "employee" || cm.Instance.Domains[0] != "acme.example" {
		t.Errorf("carol = %+v", cm)
	}

	// A revoked invitation's link no longer works; resending is limited.
	frankID := invs.Items[1].ID
	for i := range 3 {
		if res := admin.do("POST", "/api/v1/invitations/"+frankID+"/resend", nil); res.status != http.StatusOK {
			t.Fatalf("resend %d: %d %s", i+1, res.status, res.body)
		}
	}
	if res := admin.do("POST", "/api/v1/invitations/"+frankID+"/resend", nil); res.status != http.StatusTooManyRequests {
		t.Errorf("4th resend: %d, want 429", res.status)
	}
	frank := a.client(t)
	frank.do("GET", "/api/v1/dev/mail?to=frank@acme.example", nil).json(t, &box)
	oldest, newest := box.Items[len(box.Items)-1].Link, box.Items[0].Link
	if res := frank.useLink(oldest); res.status != http.StatusBadRequest {
		t.Errorf("a superseded invitation link: %d, want 400", res.status)
	}
	if res := admin.do("DELETE", "/api/v1/invitations/"+frankID, nil); res.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", res.status, res.body)
	}
	if res := frank.useLink(newest); res.status != http.StatusBadRequest || res.problem(t).Code != "invalid_token" {
		t.Errorf("a revoked invitation's link: %d %s, want 400 invalid_token", res.status, res.body)
	}
	if res := admin.do("DELETE", "/api/v1/invitations/"+frankID, nil); res.status != http.StatusConflict {
		t.Errorf("revoking twice: %d, want 409", res.status)
	}
}

// A resend takes no body but an empty object.
func TestResendRefusesABody(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "alice@acme.example")
	var invs struct{ Items []struct{ ID string } }
	admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"carol@acme.example"}}).json(t, &invs)
	path := "/api/v1/invitations/" + invs.Items[0].ID + "/resend"
	for _, body := range []any{map[string]any{"junk": 1}, "not json"} {
		if res := admin.sendingMalformed().do("POST", path, body); res.status != http.StatusBadRequest {
			t.Errorf("body %v: %d %s, want 400", body, res.status, res.body)
		}
	}
	if res := admin.do("POST", path, map[string]any{}); res.status != http.StatusOK {
		t.Errorf("body {}: %d %s, want 200", res.status, res.body)
	}
}

// Names, titles and messages refuse control characters (a line break in
// an instance name would reach mail headers); numbers say what they must be.
func TestTextAndNumberFieldsValidated(t *testing.T) {
	a := newTestApp(t, nil)
	admin, _ := verifiedAdmin(t, a, "alice@acme.example")
	tests := []struct {
		method, path, body, field, message string
	}{
		{"PATCH", "/api/v1/members/me", `{"name":"a\u0000b\r\nc"}`, "name", "control characters"},
		{"PATCH", "/api/v1/members/me", `{"title":"CEO\u001b[31m"}`, "title", "control characters"},
		{"PATCH", "/api/v1/instance/settings", `{"name":"Acme\r\nBcc: eve@evil.example"}`, "name", "control characters"},
		{"PATCH", "/api/v1/instance/settings", `{"invitation_message":"Hi\u0007"}`, "invitation_message", "control characters"},
		{"POST", "/api/v1/invitations", `{"emails":["bob@acme.example"],"message":"Hi\u0000"}`, "message", "control characters"},
		{"PATCH", "/api/v1/instance/settings", `{"retention_days":1.5}`, "retention_days", "must be a whole number"},
		{"PATCH", "/api/v1/instance/settings", `{"retention_days":1e400}`, "retention_days", "must be a whole number"},
	}
	for _, tt := range tests {
		res := admin.sendingMalformed().do(tt.method, tt.path, tt.body)
		if res.status != http.StatusBadRequest {
			t.Errorf("%s %s %s: %d %s, want 400", tt.method, tt.path, tt.body, res.status, res.body)
			continue
		}
		p := res.problem(t)
		if len(p.Errors) != 1 || p.Errors[0].Field != tt.field || !strings.Contains(p.Errors[0].Message, tt.message) {
			t.Errorf("%s %s: %s, want the field %s: %q", tt.path, tt.body, res.body, tt.field, tt.message)
		}
	}
	if res := admin.do("PATCH", "/api/v1/instance/settings", `{"invitation_message":"Hello,\n\n\tjoin us.\r\n"}`); res.status != http.StatusOK {
		t.Errorf("a message of several lines: %d %s, want 200", res.status, res.body)
	}
}

func TestRolesAndRemoval(t *testing.T) {
	a := newTestApp(t, nil)
	admin := a.client(t)
	alice := admin.signIn("alice@acme.example")
	carolc := a.client(t)
	carol := carolc.signIn("carol@acme.example")

	if res := carolc.do("PATCH", "/api/v1/members/"+alice.Member.ID, map[string]string{"role": "employee"}); res.status != http.StatusForbidden {
		t.Errorf("employee changing a role: %d, want 403", res.status)
	}
	if res := admin.do("PATCH", "/api/v1/members/"+alice.Member.ID, map[string]string{"role": "employee"}); res.status != http.StatusConflict || res.problem(t).Code != "last_admin" {
		t.Errorf("last admin demoting themselves: %d %s, want 409 last_admin", res.status, res.body)
	}
	if res := admin.do("DELETE", "/api/v1/members/"+alice.Member.ID, nil); res.status != http.StatusConflict {
		t.Errorf("last admin removing themselves: %d, want 409", res.status)
	}
	if res := admin.sendingMalformed().do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]string{"role": "owner"}); res.status != http.StatusBadRequest {
		t.Errorf("unknown role: %d, want 400", res.status)
	}
	res := admin.do("PATCH", "/api/v1/members/"+carol.Member.ID, map[string]string{"role": "curator"})
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"curator"`) {
		t.Fatalf("make carol curator: %d %s", res.status, res.body)
	}
	res = admin.do("GET", "/api/v1/audit", nil)
	if !strings.Contains(string(res.body), "member.role_changed") || !strings.Contains(string(res.body), `"to":"curator"`) {
		t.Errorf("audit log lacks the role change: %s", res.body)
	}
	if res := admin.do("DELETE", "/api/v1/members/"+carol.Member.ID, nil); res.status != http.StatusNoContent {
		t.Fatalf("remove carol: %d %s", res.status, res.body)
	}
	if res := carolc.do("GET", "/api/v1/me", nil); res.status != http.StatusUnauthorized {
		t.Errorf("removed member's session: %d, want 401", res.status)
	}
	if res := admin.do("GET", "/api/v1/members/"+carol.Member.ID, nil); res.status != http.StatusNotFound {
		t.Errorf("removed member: %d, want 404", res.status)
	}
}

func TestDomainVerifyCommand(t *testing.T) {
	a := newTestApp(t, nil)
	c := a.client(t)
	m := c.signIn("alice@initech.example")
	uri, db := a.mongo()
	env := map[string]string{"CHORUS_MONGO_URI": uri, "CHORUS_MONGO_DATABASE": db}
	var out strings.Builder
	err := run(context.Background(), []string{"domain", "verify", "initech.example", "--reason", "on-prem"}, func(k string) string { return env[k] }, &out)
	if err != nil {
		t.Fatalf("chorus domain verify: %v", err)
	}
	// The command is another process: the app sees its change once its
	// cached instance expires.
	if !seenWithin(tenant.DefaultAuthCacheTTL, func() bool {
		c.do("GET", "/api/v1/me", nil).json(t, &m)
		return m.Instance.Verified
	}) {
		t.Errorf("not verified %s after the command (%s)", tenant.DefaultAuthCacheTTL, out.String())
	}
	if err := run(context.Background(), []string{"domain", "verify", "nobody.example", "--reason", "x"}, func(k string) string { return env[k] }, &out); err == nil {
		t.Error("verifying a domain nobody owns succeeded")
	}
	if err := run(context.Background(), []string{"domain", "verify", "initech.example"}, func(k string) string { return env[k] }, &out); err == nil {
		t.Error("verifying without a reason succeeded")
	}
}

func TestSubdomainLoginPage(t *testing.T) {
	a := newTestApp(t, map[string]string{"CHORUS_BASE_DOMAIN": "chorus.test"})
	// Two verified companies whose domains both offer the name acme.
	admin, alice := verifiedAdmin(t, a, "alice@acme.example")
	bob, _ := verifiedAdmin(t, a, "bob@acme.de")
	for _, bad := range []string{"www", "ab", "-acme", "ac me", "Ácme", strings.Repeat("a", 41)} {
		if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": bad}); res.status != http.StatusBadRequest {
			t.Errorf("subdomain %q: %d, want 400", bad, res.status)
		}
	}
	if res := admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": "Acme"}); res.status != http.StatusOK {
		t.Fatalf("set subdomain: %d %s", res.status, res.body)
	}
	if res := bob.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": "acme"}); res.status != http.StatusConflict || res.problem(t).Code != "subdomain_taken" {
		t.Errorf("taking acme's subdomain: %d %s, want 409", res.status, res.body)
	}
	anon := a.client(t)
	res := anon.do("GET", "/api/v1/auth/login-page", nil, "Host", "acme.chorus.test")
	if res.status != http.StatusOK || !strings.Contains(string(res.body), alice.Instance.ID) {
		t.Errorf("acme's login page: %d %s", res.status, res.body)
	}
	// The subdomain selects a login page, nothing more: no session, no data.
	if res := anon.do("GET", "/api/v1/members", nil, "Host", "acme.chorus.test"); res.status != http.StatusUnauthorized {
		t.Errorf("members through the subdomain without a session: %d, want 401", res.status)
	}
	for _, host := range []string{"globex.chorus.test", "chorus.test", "x.acme.chorus.test", "acme.evil.test"} {
		if res := anon.do("GET", "/api/v1/auth/login-page", nil, "Host", host); res.status != http.StatusNotFound {
			t.Errorf("login page of %s: %d, want 404", host, res.status)
		}
	}
	// Giving the subdomain up frees it.
	admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": ""})
	if res := bob.do("PATCH", "/api/v1/instance/settings", map[string]any{"subdomain": "acme"}); res.status != http.StatusOK {
		t.Errorf("the freed subdomain: %d %s", res.status, res.body)
	}
}
