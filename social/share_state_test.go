package social

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The state machine in shareSteps is what the code does: every change of
// a share's state made in this package goes through transition (no other
// $set writes "state"), each call site's from → to pair is in the table,
// and each row of the table is made by some call site.
func TestShareStepsMatchTheCode(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	made := map[shareStep]string{} // pair → first call site
	calls, parsed := 0, 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if name != "share_state.go" && setsState(n) {
					t.Errorf("%s: a $set writes a share's state outside transition", fset.Position(n.Pos()))
				}
			case *ast.CallExpr:
				callee := calleeName(n)
				var from []ShareState
				var to ShareState
				var ok bool
				switch callee {
				case "transition":
					calls++
					if len(n.Args) != 4 {
						t.Errorf("%s: transition with %d arguments", fset.Position(n.Pos()), len(n.Args))
						return true
					}
					m, isLit := n.Args[3].(*ast.CompositeLit)
					if !isLit {
						t.Errorf("%s: transition's move is not written out at the call", fset.Position(n.Pos()))
						return true
					}
					fromExpr, toExpr := field(m, "From"), field(m, "To")
					if fromExpr == nil || toExpr == nil {
						t.Errorf("%s: transition without From or To", fset.Position(n.Pos()))
						return true
					}
					var okFrom bool
					from, okFrom = statesOf(fromExpr)
					t1, okTo := statesOf(toExpr)
					if !okFrom || !okTo {
						// A wrapper that passes its own parameter on: its
						// callers are read below.
						if isWrapper(fromExpr, toExpr) {
							parsed++
							return true
						}
						t.Errorf("%s: transition's From or To is neither a state nor a wrapper's parameter", fset.Position(n.Pos()))
						return true
					}
					to, ok = t1[0], true
					parsed++
				case "cancelEach": // cancelEach(ctx, sc, shares, from, set)
					if len(n.Args) == 5 {
						from, ok = statesOf(n.Args[3])
						to = ShareCancelled
					}
				case "settle": // a publishing attempt's outcome: settle(ctx, sc, sh, attempt, to, fields)
					if len(n.Args) == 6 {
						var t1 []ShareState
						t1, ok = statesOf(n.Args[4])
						if ok {
							from, to = []ShareState{SharePublishing}, t1[0]
						}
					}
				default:
					return true
				}
				if !ok {
					if callee != "transition" {
						t.Errorf("%s: %s's states are not written out at the call", fset.Position(n.Pos()), callee)
					}
					return true
				}
				for _, f := range from {
					st := shareStep{From: f, To: to}
					if !allowedStep(f, to) {
						t.Errorf("%s: %s → %s is not in shareSteps", fset.Position(n.Pos()), f, to)
					}
					if _, seen := made[st]; !seen {
						made[st] = fset.Position(n.Pos()).String()
					}
				}
			}
			return true
		})
	}
	if calls == 0 || parsed != calls {
		t.Errorf("read %d of %d transition calls", parsed, calls)
	}
	for _, st := range shareSteps {
		if _, ok := made[shareStep{From: st.From, To: st.To}]; !ok {
			t.Errorf("shareSteps has %s → %s, which no call makes", st.From, st.To)
		}
	}
	seen := map[[2]ShareState]bool{}
	for _, st := range shareSteps {
		k := [2]ShareState{st.From, st.To}
		if seen[k] {
			t.Errorf("shareSteps lists %s → %s twice", st.From, st.To)
		}
		seen[k] = true
	}
}

// Failed and cancelled are final, and each row of the table says what
// makes it (docs/publishing.md shows the table).
func TestShareStepsEndInFinalStates(t *testing.T) {
	for _, st := range shareSteps {
		if !st.From.live() {
			t.Errorf("%s is final, yet shareSteps has %s → %s", st.From, st.From, st.To)
		}
		if st.By == "" {
			t.Errorf("shareSteps' %s → %s does not say what makes it", st.From, st.To)
		}
	}
}

func calleeName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

func field(m *ast.CompositeLit, name string) ast.Expr {
	for _, e := range m.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == name {
				return kv.Value
			}
		}
	}
	return nil
}

// stateNames maps the constants' names to the states.
var stateNames = map[string]ShareState{
	"ShareScheduled": ShareScheduled, "ShareQueued": ShareQueued, "SharePublishing": SharePublishing,
	"SharePublished": SharePublished, "ShareFailed": ShareFailed, "ShareUnconfirmed": ShareUnconfirmed,
	"ShareCancelled": ShareCancelled,
}

// statesOf reads a state constant, []ShareState{…} of them, or
// pendingStates.
func statesOf(e ast.Expr) ([]ShareState, bool) {
	switch e := e.(type) {
	case *ast.Ident:
		if e.Name == "pendingStates" {
			return pendingStates, true
		}
		st, ok := stateNames[e.Name]
		return []ShareState{st}, ok
	case *ast.CompositeLit:
		var out []ShareState
		for _, el := range e.Elts {
			id, ok := el.(*ast.Ident)
			if !ok || stateNames[id.Name] == "" {
				return nil, false
			}
			out = append(out, stateNames[id.Name])
		}
		return out, len(out) > 0
	}
	return nil, false
}

// isWrapper: From or To is a plain name that is not a state (the
// parameter of cancelEach or of settle).
func isWrapper(from, to ast.Expr) bool {
	param := func(e ast.Expr) bool {
		id, ok := e.(*ast.Ident)
		return ok && (id.Name == "from" || id.Name == "to")
	}
	_, okFrom := statesOf(from)
	_, okTo := statesOf(to)
	return (okFrom || param(from)) && (okTo || param(to))
}

// setsState reports whether lit is {Key: "$set", Value: {… {Key: "state"} …}}.
func setsState(lit *ast.CompositeLit) bool {
	if key(lit) != "$set" {
		return false
	}
	v, ok := field(lit, "Value").(*ast.CompositeLit)
	if !ok {
		return false
	}
	for _, e := range v.Elts {
		if el, ok := e.(*ast.CompositeLit); ok && key(el) == "state" {
			return true
		}
	}
	return false
}

func key(lit *ast.CompositeLit) string {
	k, ok := field(lit, "Key").(*ast.BasicLit)
	if !ok || k.Kind != token.STRING {
		return ""
	}
	s, _ := strconv.Unquote(k.Value)
	return s
}

// docs/publishing.md shows the same table as shareSteps.
func TestPublishingDocShowsShareSteps(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "publishing.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "<!-- share-steps")
	end := strings.Index(text, "<!-- /share-steps -->")
	if start < 0 || end < start {
		t.Fatal("docs/publishing.md has no share-steps table")
	}
	var inDoc []shareStep
	for _, line := range strings.Split(text[start:end], "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.Contains(cells[1], "`") {
			continue
		}
		inDoc = append(inDoc, shareStep{From: ShareState(strings.Trim(cells[1], " `")), To: ShareState(strings.Trim(cells[2], " `"))})
	}
	var inCode []shareStep
	for _, st := range shareSteps {
		inCode = append(inCode, shareStep{From: st.From, To: st.To})
	}
	if len(inDoc) != len(inCode) {
		t.Errorf("docs/publishing.md lists %d changes of state; shareSteps has %d", len(inDoc), len(inCode))
	}
	for _, st := range inCode {
		if !slices.Contains(inDoc, st) {
			t.Errorf("docs/publishing.md lacks %s → %s", st.From, st.To)
		}
	}
	for _, st := range inDoc {
		if !allowedStep(st.From, st.To) {
			t.Errorf("docs/publishing.md shows %s → %s, which shareSteps lacks", st.From, st.To)
		}
	}
}
