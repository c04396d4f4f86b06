package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

type groupDoc struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Rules []struct {
		Attribute string   `json:"attribute"`
		Values    []string `json:"values"`
	} `json:"rules"`
}

// feedIDs returns the IDs of the first page of c's feed.
func feedIDs(t *testing.T, c *client) []string {
	t.Helper()
	res := c.do("GET", "/api/v1/content?limit=100", nil)
	if res.status != http.StatusOK {
		t.Fatalf("feed: %d %s", res.status, res.body)
	}
	var page struct{ Items []struct{ ID string } }
	res.json(t, &page)
	var ids []string
	for _, p := range page.Items {
		ids = append(ids, p.ID)
	}
	return ids
}

func TestAudiences(t *testing.T) {
	f := newDigestFixture(t)
	must := func(res response, want int) response {
		t.Helper()
		if res.status != want {
			t.Fatalf("%d %s, want %d", res.status, res.body, want)
		}
		return res
	}
	problem := func(res response, status int, code, field string) {
		t.Helper()
		if res.status != status {
			t.Fatalf("%d %s, want %d %s", res.status, res.body, status, code)
		}
		p := res.problem(t)
		if p.Code != code {
			t.Errorf("code = %q, want %q (%s)", p.Code, code, res.body)
		}
		if field != "" && !slices.ContainsFunc(p.Errors, func(e struct {
			Field   string `json:"field"`
			Message string `json:"message"`
		}) bool {
			return strings.HasPrefix(e.Field, field)
		}) {
			t.Errorf("no error names %s: %s", field, res.body)
		}
	}
	var carolMe struct{ Member struct{ ID string } }
	must(f.carol.do("GET", "/api/v1/me", nil), http.StatusOK).json(t, &carolMe)

	// Groups: validation, a unique name, roles.
	var sales, board groupDoc
	must(f.admin.do("POST", "/api/v1/groups", map[string]any{"name": "Sales",
		"rules": []map[string]any{{"attribute": "department", "values": []string{"Sales", "sales ", "Inside Sales"}}}}), http.StatusCreated).json(t, &sales)
	if len(sales.Rules) != 1 || len(sales.Rules[0].Values) != 2 {
		t.Errorf("rules not cleaned (duplicates folded): %+v", sales.Rules)
	}
	problem(f.admin.do("POST", "/api/v1/groups", map[string]any{"name": " sales"}), http.StatusConflict, "group_name_taken", "name")
	problem(f.admin.sendingMalformed().do("POST", "/api/v1/groups", map[string]any{"name": "X", "rules": []map[string]any{{"attribute": "salary", "values": []string{"1"}}}}),
		http.StatusBadRequest, "validation_failed", "rules[0].attribute")
	problem(f.admin.sendingMalformed().do("POST", "/api/v1/groups", map[string]any{"name": ""}), http.StatusBadRequest, "validation_failed", "name")
	problem(f.admin.sendingMalformed().do("POST", "/api/v1/groups", map[string]any{"name": "Y", "extra": 1}), http.StatusBadRequest, "validation_failed", "")
	must(f.alice.do("POST", "/api/v1/groups", map[string]any{"name": "Mine"}), http.StatusForbidden)
	must(f.alice.do("GET", "/api/v1/groups", nil), http.StatusForbidden)
	must(f.admin.do("POST", "/api/v1/groups", map[string]any{"name": "Board"}), http.StatusCreated).json(t, &board)
	// Rename.
	must(f.admin.do("PATCH", "/api/v1/groups/"+board.ID, map[string]any{"name": "The board"}), http.StatusOK)
	problem(f.admin.do("PATCH", "/api/v1/groups/"+board.ID, map[string]any{"name": "SALES"}), http.StatusConflict, "group_name_taken", "name")

	// Membership: Alice by attribute, Carol by hand.
	must(f.admin.do("PUT", "/api/v1/members/"+f.aliceID+"/attributes", map[string]any{"attributes": map[string]string{"department": "SALES", "location": "Paris"}}), http.StatusOK)
	problem(f.admin.do("PUT", "/api/v1/members/"+f.aliceID+"/attributes", map[string]any{"attributes": map[string]string{"shoe_size": "44"}}),
		http.StatusBadRequest, "validation_failed", "attributes.shoe_size")
	must(f.admin.do("PUT", "/api/v1/groups/"+board.ID+"/members/"+carolMe.Member.ID, nil), http.StatusNoContent)
	var members struct {
		Items []struct {
			ID      string `json:"id"`
			ByHand  bool   `json:"by_hand"`
			ByRules bool   `json:"by_rules"`
		}
	}
	must(f.admin.do("GET", "/api/v1/groups/"+sales.ID+"/members", nil), http.StatusOK).json(t, &members)
	if len(members.Items) != 1 || members.Items[0].ID != f.aliceID || !members.Items[0].ByRules {
		t.Errorf("sales members = %+v, want Alice by rules", members.Items)
	}

	// Aiming content.
	problem(f.admin.do("POST", "/api/v1/content", map[string]any{"url": f.a.pages.url("/x"), "audience": []string{"0123456789abcdef0123456789abcdef"}}),
		http.StatusBadRequest, "validation_failed", "audience")
	var forSales, forBoard, forAll postDoc
	must(f.admin.do("POST", "/api/v1/content", map[string]any{"url": f.a.pages.url("/for-sales"), "title": "for-sales", "audience": []string{sales.ID}}),
		http.StatusCreated).json(t, &forSales)
	must(f.admin.do("POST", "/api/v1/content", map[string]any{"url": f.a.pages.url("/for-board"), "title": "for-board", "audience": []string{board.ID}}),
		http.StatusCreated).json(t, &forBoard)
	must(f.admin.do("POST", "/api/v1/content", map[string]any{"url": f.a.pages.url("/for-all"), "title": "for-all"}), http.StatusCreated).json(t, &forAll)
	f.a.clock.Add(time.Second)

	aliceFeed, carolFeed, adminFeed := feedIDs(t, f.alice), feedIDs(t, f.carol), feedIDs(t, f.admin)
	for _, c := range []struct {
		who  string
		feed []string
		sees []string
		not  []string
	}{
		{"alice", aliceFeed, []string{forSales.ID, forAll.ID}, []string{forBoard.ID}},
		{"carol", carolFeed, []string{forBoard.ID, forAll.ID}, []string{forSales.ID}},
		{"admin (curates)", adminFeed, []string{forSales.ID, forBoard.ID, forAll.ID}, nil},
	} {
		for _, id := range c.sees {
			if !slices.Contains(c.feed, id) {
				t.Errorf("%s's feed lacks %s", c.who, id)
			}
		}
		for _, id := range c.not {
			if slices.Contains(c.feed, id) {
				t.Errorf("%s's feed shows %s, aimed elsewhere", c.who, id)
			}
		}
	}
	// The composer and share creation: 404 for a post aimed elsewhere.
	must(f.carol.do("GET", "/api/v1/content/"+forSales.ID, nil), http.StatusNotFound)
	must(f.carol.do("POST", "/api/v1/content/"+forSales.ID+"/link", nil), http.StatusNotFound)
	must(f.alice.do("GET", "/api/v1/content/"+forSales.ID, nil), http.StatusOK)
	must(f.alice.do("POST", "/api/v1/content/"+forSales.ID+"/link", nil), http.StatusCreated)
	must(f.alice.do("GET", "/api/v1/content/"+forBoard.ID, nil), http.StatusNotFound)

	// The digest follows the same rule.
	if err := f.run(t, t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string][2][]string{
		"alice@acme.example": {{"for-sales", "for-all"}, {"for-board"}},
		"carol@acme.example": {{"for-board", "for-all"}, {"for-sales"}},
	} {
		got := f.digests(who)
		if len(got) != 1 {
			t.Fatalf("%s got %d digests", who, len(got))
		}
		for _, s := range want[0] {
			if !strings.Contains(got[0].Text, s) {
				t.Errorf("%s's digest lacks %s:\n%s", who, s, got[0].Text)
			}
		}
		for _, s := range want[1] {
			if strings.Contains(got[0].Text, s) {
				t.Errorf("%s's digest holds %s, aimed elsewhere:\n%s", who, s, got[0].Text)
			}
		}
	}

	// A rule change holds for the next request (the cached group list is
	// dropped): Paris instead of Sales.
	must(f.admin.do("PATCH", "/api/v1/groups/"+sales.ID, map[string]any{"rules": []map[string]any{{"attribute": "location", "values": []string{"Lyon"}}}}), http.StatusOK)
	must(f.alice.do("GET", "/api/v1/content/"+forSales.ID, nil), http.StatusNotFound)
	must(f.admin.do("PATCH", "/api/v1/groups/"+sales.ID, map[string]any{"rules": []map[string]any{{"attribute": "location", "values": []string{"paris"}}}}), http.StatusOK)
	must(f.alice.do("GET", "/api/v1/content/"+forSales.ID, nil), http.StatusOK)

	// Re-aiming a post by edit.
	must(f.admin.do("PATCH", "/api/v1/content/"+forBoard.ID, map[string]any{"audience": []string{}}), http.StatusOK)
	if !slices.Contains(feedIDs(t, f.alice), forBoard.ID) {
		t.Errorf("a post re-aimed at everyone is not in alice's feed")
	}
	must(f.admin.do("PATCH", "/api/v1/content/"+forBoard.ID, map[string]any{"audience": []string{board.ID}}), http.StatusOK)

	// CSV import: a malformed file, bad rows, then a good one.
	problem(f.admin.do("POST", "/api/v1/groups/import", map[string]any{"csv": "mail,team\nalice@acme.example,x\n"}), http.StatusBadRequest, "malformed_csv", "csv")
	problem(f.admin.do("POST", "/api/v1/groups/import", map[string]any{"csv": "email,group\n\"unterminated\n"}), http.StatusBadRequest, "malformed_csv", "csv")
	res := f.admin.do("POST", "/api/v1/groups/import", map[string]any{"csv": "email,department,group\nalice@acme.example,Board room,The board\nnobody@acme.example,Sales,\ncarol@acme.example,,Nope\n"})
	problem(res, http.StatusUnprocessableEntity, "import_rows_invalid", "csv[row 3].email")
	if !strings.Contains(string(res.body), "csv[row 4].group") {
		t.Errorf("the bad group of row 4 is not reported: %s", res.body)
	}
	must(f.alice.do("GET", "/api/v1/content/"+forBoard.ID, nil), http.StatusNotFound) // nothing written
	var rep struct{ Rows, Members int }
	must(f.admin.do("POST", "/api/v1/groups/import", map[string]any{"csv": "email,location,group\nAlice@acme.example,Paris,the board\ncarol@acme.example,Lyon,\n"}),
		http.StatusOK).json(t, &rep)
	if rep.Rows != 2 || rep.Members != 2 {
		t.Errorf("import report = %+v", rep)
	}
	must(f.alice.do("GET", "/api/v1/content/"+forBoard.ID, nil), http.StatusOK)
	var aud struct {
		Attributes map[string]string
		Groups     []struct {
			ID     string
			ByHand bool `json:"by_hand"`
		}
	}
	must(f.admin.do("GET", "/api/v1/members/"+carolMe.Member.ID+"/audience", nil), http.StatusOK).json(t, &aud)
	if aud.Attributes["location"] != "Lyon" || len(aud.Groups) != 1 || aud.Groups[0].ID != board.ID || !aud.Groups[0].ByHand {
		t.Errorf("carol's audience = %+v", aud)
	}

	// The export says a member's attributes and groups.
	exp := must(f.alice.do("GET", "/api/v1/me/export", nil), http.StatusOK)
	for _, want := range []string{`"audience"`, "The board", "Paris"} {
		if !strings.Contains(string(exp.body), want) {
			t.Errorf("alice's export lacks %s", want)
		}
	}

	// Deleting a group drops its by-hand members; posts aimed only at it
	// are seen by nobody but curators.
	must(f.admin.do("DELETE", "/api/v1/groups/"+board.ID, nil), http.StatusNoContent)
	must(f.admin.do("GET", "/api/v1/groups/"+board.ID, nil), http.StatusNotFound)
	must(f.admin.do("GET", "/api/v1/members/"+carolMe.Member.ID+"/audience", nil), http.StatusOK).json(t, &aud)
	if len(aud.Groups) != 0 {
		t.Errorf("carol still in a deleted group: %+v", aud)
	}
	must(f.carol.do("GET", "/api/v1/content/"+forBoard.ID, nil), http.StatusNotFound)
	must(f.admin.do("GET", "/api/v1/content/"+forBoard.ID, nil), http.StatusOK)

	// Erasure removes a member's attributes and memberships with the
	// profile: the group's members no longer list them.
	must(f.alice.do("DELETE", "/api/v1/me", nil), http.StatusNoContent)
	must(f.admin.do("GET", "/api/v1/members/"+f.aliceID+"/audience", nil), http.StatusNotFound)
	must(f.admin.do("GET", "/api/v1/groups/"+sales.ID+"/members", nil), http.StatusOK).json(t, &members)
	if len(members.Items) != 0 {
		t.Errorf("an erased member is still in a group: %+v", members.Items)
	}

	// Another instance's group is 404; its own list has none of Acme's.
	must(f.globexAdmin.do("GET", "/api/v1/groups/"+sales.ID, nil), http.StatusNotFound)
	if res := must(f.globexAdmin.do("GET", "/api/v1/groups", nil), http.StatusOK); strings.Contains(string(res.body), "Sales") {
		t.Errorf("globex sees acme's groups: %s", res.body)
	}
}

// Analytics by group: sums of the members' figures, groups smaller than
// min_group_size merged into "other", which is hidden when it is still
// smaller.
func TestAnalyticsByGroup(t *testing.T) {
	f := newReachFixture(t, 3)
	today := f.a.clock.Now().UTC().Format(time.DateOnly)
	q := "?from=" + today + "&to=" + today
	must := func(res response, want int) response {
		t.Helper()
		if res.status != want {
			t.Fatalf("%d %s, want %d", res.status, res.body, want)
		}
		return res
	}
	var eng, ops, empty groupDoc
	must(f.admin.do("POST", "/api/v1/groups", map[string]any{"name": "Engineering",
		"rules": []map[string]any{{"attribute": "department", "values": []string{"eng"}}}}), http.StatusCreated).json(t, &eng)
	must(f.admin.do("POST", "/api/v1/groups", map[string]any{"name": "Ops"}), http.StatusCreated).json(t, &ops)
	must(f.admin.do("POST", "/api/v1/groups", map[string]any{"name": "Nobody"}), http.StatusCreated).json(t, &empty)
	must(f.admin.do("POST", "/api/v1/groups/import", map[string]any{"csv": "email,department\nemployee0@acme.example,Eng\nemployee1@acme.example,ENG\n"}), http.StatusOK)
	must(f.admin.do("PUT", "/api/v1/groups/"+ops.ID+"/members/"+f.ids[2], nil), http.StatusNoContent)
	post := f.post(t, "by-group", nil)
	for i := range 3 {
		f.share(t, i, post)
	}
	f.share(t, 0, f.post(t, "by-group-2", nil))

	type breakdown struct {
		Items []struct {
			ID      string
			Name    string
			Members int
			Shares  int64
		}
		Other *struct {
			Members int
			Shares  int64
		}
		Merged       int
		OtherHidden  bool `json:"other_hidden"`
		MinGroupSize int  `json:"min_group_size"`
	}
	get := func() breakdown {
		t.Helper()
		var b breakdown
		must(f.admin.do("GET", "/api/v1/analytics/groups"+q, nil), http.StatusOK).json(t, &b)
		return b
	}
	must(f.admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"min_group_size": 2}), http.StatusOK)
	b := get()
	if len(b.Items) != 1 || b.Items[0].ID != eng.ID || b.Items[0].Members != 2 || b.Items[0].Shares != 3 {
		t.Errorf("min 2: items = %+v, want Engineering with 2 members and 3 shares", b.Items)
	}
	if b.Merged != 2 || !b.OtherHidden || b.Other != nil {
		t.Errorf("min 2: Ops (1 member) and Nobody (0) merge into an other of 1 member, hidden: %+v", b)
	}
	must(f.admin.do("PATCH", "/api/v1/groups/"+empty.ID, map[string]any{"rules": []map[string]any{{"attribute": "department", "values": []string{"eng"}}}}), http.StatusOK)
	must(f.admin.do("PATCH", "/api/v1/groups/"+empty.ID, map[string]any{"rules": []map[string]any{}}), http.StatusOK)
	must(f.admin.do("PUT", "/api/v1/groups/"+empty.ID+"/members/"+f.ids[1], nil), http.StatusNoContent)
	b = get()
	if b.Other == nil || b.Other.Members != 2 || b.Other.Shares != 2 || b.OtherHidden {
		t.Errorf("min 2: Ops and Nobody (1 member each, 2 together) should show as other with 2 shares: %+v", b)
	}
	must(f.admin.do("PATCH", "/api/v1/instance/settings", map[string]any{"min_group_size": 1}), http.StatusOK)
	b = get()
	if len(b.Items) != 3 || b.Other != nil || b.Merged != 0 {
		t.Errorf("min 1: every group is shown: %+v", b)
	}
	for _, it := range b.Items {
		if it.ID == ops.ID && it.Shares != 1 {
			t.Errorf("Ops shares = %d, want 1", it.Shares)
		}
	}
	employee := f.employees[0]
	must(employee.do("GET", "/api/v1/analytics/groups"+q, nil), http.StatusForbidden)
}
