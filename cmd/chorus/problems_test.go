package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// problemTables are every error table the API answers from.
var problemTables = map[string]httpapi.Table{
	"tenant": tenant.Problems, "content": content.Problems, "social": social.Problems,
}

// problemCodes is every problem code the API can answer, with its status:
// the conventions' and every domain table's. A code has one status
// wherever it is declared.
func problemCodes(t *testing.T) map[string]int {
	t.Helper()
	codes := map[string]int{}
	add := func(where, code string, status int) {
		if code == "" || status < 400 {
			t.Errorf("%s: a problem needs a code and an error status: %q %d", where, code, status)
		}
		if s, ok := codes[code]; ok && s != status {
			t.Errorf("%s: %s is %d here, %d elsewhere", where, code, status, s)
		}
		codes[code] = status
	}
	for _, p := range httpapi.Conventions {
		add("api.Conventions", p.Code, p.Status)
	}
	for name, table := range problemTables {
		for _, r := range table {
			add(name+".Problems", r.Code, r.Status)
		}
	}
	return codes
}

// The codes the API answers are the OpenAPI document's enum, and each is
// in docs/api.md with its status.
func TestProblemCodesAreDocumented(t *testing.T) {
	codes := problemCodes(t)
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	schema := doc.Components.Schemas["Problem"].Value.Properties["code"].Value
	var enum []string
	for _, v := range schema.Enum {
		enum = append(enum, v.(string))
	}
	want := slices.Sorted(maps.Keys(codes))
	if !slices.Equal(enum, want) {
		t.Errorf("openapi.yaml Problem.code enum (sorted) =\n%v\nwant the codes of the error tables:\n%v", enum, want)
	}

	md, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (\\d{3}) \\|")
	documented := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(string(md), -1) {
		documented[m[1]], _ = strconv.Atoi(m[2])
	}
	for _, code := range want {
		if s, ok := documented[code]; !ok || s != codes[code] {
			t.Errorf("docs/api.md: no row | `%s` | %d | …", code, codes[code])
		}
	}
	for code := range documented {
		if _, ok := codes[code]; !ok {
			t.Errorf("docs/api.md documents %s, which nothing answers", code)
		}
	}
}

// Problems come from the error tables only: no package outside the HTTP
// conventions (tenant/foundation/httpapi) makes one with a code of its own or writes
// problem JSON by hand, so the tables hold every code there is.
func TestProblemsComeFromTheTables(t *testing.T) {
	for _, pkg := range listPackages(t) {
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg.ImportPath, module), "/")
		if rel == "tenant/foundation/httpapi" {
			continue
		}
		for _, name := range pkg.GoFiles {
			path := filepath.Join(pkg.Dir, name)
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := x.X.(*ast.Ident); ok && id.Name == "api" && (x.Sel.Name == "New" || x.Sel.Name == "Newf") {
						t.Errorf("%s: api.%s makes a problem outside the error tables; add a row to the domain's Problems", fset.Position(x.Pos()), x.Sel.Name)
					}
				case *ast.CompositeLit:
					if sel, ok := x.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Problem" {
						t.Errorf("%s: a Problem literal outside the error tables", fset.Position(x.Pos()))
					}
				case *ast.BasicLit:
					if x.Kind == token.STRING && strings.Contains(x.Value, "problem+json") {
						t.Errorf("%s: problem JSON written by hand; use httpapi.Write or httpapi.Serve", fset.Position(x.Pos()))
					}
				}
				return true
			})
		}
	}
}
