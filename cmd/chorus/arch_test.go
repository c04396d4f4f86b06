package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
)

const module = "github.com/chorushq/chorus"

// allowedImports lists, per package of ours, the packages of ours it may
// import directly (docs/design/STYLE.md: cmd → jobs → social → content → tenant;
// jobs/task is a leaf every domain may use to enqueue). A package missing
// here fails the test until its place is decided.
var allowedImports = map[string][]string{
	"tenant/foundation/httpapi":       {},
	"tenant/foundation/childproc":     {},
	"tenant/foundation/embeddedmongo": {"tenant/foundation/childproc"},
	"tenant/tenanttest":               {"tenant/foundation/embeddedmongo"},
	"tenant/oidctest":                 {"tenant/tenanttest"},
	"tenant":                          {"tenant/foundation/httpapi"},
	"frontend":                        {},
	"jobs/task":                       {},
	"tenant/foundation/embeddedredis": {"tenant/foundation/childproc"},
	"jobs/jobstest":                   {"tenant/foundation/embeddedredis"},
	"content/preview":                 {},
	"content":                         {"content/preview", "tenant", "tenant/foundation/httpapi", "jobs/task"},
	"social":                          {"content", "content/preview", "tenant", "tenant/foundation/httpapi", "jobs/task"},
	"jobs":                            {"jobs/task", "social", "social/reach", "content", "tenant", "tenant/foundation/httpapi"},
	"cmd/chorus":                      {"*"},
}

// mongoAllowed may hold a raw *mongo.Client or *mongo.Database.
var mongoAllowed = []string{"tenant", "tenant/tenanttest", "tenant/foundation/embeddedmongo", "cmd/chorus"}

type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(&out)
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func TestImportDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		name := rel(p.ImportPath)
		allowed, known := allowedImports[name]
		if !known {
			// Connector subpackages live under social/: they implement
			// social's interface and may use each other (fakes, tests).
			if strings.HasPrefix(name, "social/") {
				allowed, known = append([]string{"social"}, allowedImports["social"]...), true
			}
		}
		if !known {
			t.Errorf("package %s has no place in the dependency rules (allowedImports)", name)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := rel(imp)
			if strings.HasPrefix(dep, "cmd") {
				t.Errorf("%s imports %s: nothing imports cmd", name, dep)
			}
			// Test support (tenanttest, xtest, networktest…) is for tests
			// and other test support only: go list's Imports are those of
			// the package's non-test files.
			if isTestSupport(dep) && !isTestSupport(name) {
				t.Errorf("%s imports the test support package %s outside its tests", name, dep)
			}
			if !slices.Contains(allowed, "*") && !slices.Contains(allowed, dep) &&
				!(strings.HasPrefix(dep, "social/") && (name == "cmd/chorus" || strings.HasPrefix(name, "social"))) {
				t.Errorf("%s must not import %s", name, dep)
			}
		}
	}
}

// Tracked links belong to social, the package that owns shares: tenant
// keeps only the codes' routes to their instances (directory data, a click
// arrives without a session) and knows neither shares nor content, not
// even through another package.
func TestTrackedLinksLiveInSocial(t *testing.T) {
	hasLinks := func(ks []tenant.Kind) bool {
		return slices.ContainsFunc(ks, func(k tenant.Kind) bool { return k.Name == "links" })
	}
	if hasLinks(tenant.DeclaredKinds(nil)) {
		t.Error("tenant declares the links kind: tracked links are social's")
	}
	if !hasLinks(social.Kinds()) {
		t.Error("social does not declare the links kind: where did the tracked links go?")
	}
	for _, p := range listPackages(t) {
		name := rel(p.ImportPath)
		if name != "tenant" && !strings.HasPrefix(name, "tenant/") {
			continue
		}
		for _, dep := range p.Deps {
			if d := rel(dep); strings.HasPrefix(dep, module) && (d == "social" || d == "content" ||
				strings.HasPrefix(d, "social/") || strings.HasPrefix(d, "content/")) {
				t.Errorf("%s depends on %s: tenant knows no shares nor content", name, d)
			}
		}
	}
}

// foundation is the layer under every business package: HTTP
// conventions and logging, the embedded servers and their child
// processes. It imports nothing of ours outside itself.
const foundation = "tenant/foundation/"

func TestFoundationImportsNoBusinessPackage(t *testing.T) {
	n := 0
	for _, p := range listPackages(t) {
		name := rel(p.ImportPath)
		if !strings.HasPrefix(name, foundation) {
			continue
		}
		n++
		for _, imp := range p.Imports {
			if dep := rel(imp); strings.HasPrefix(imp, module) && !strings.HasPrefix(dep, foundation) {
				t.Errorf("foundation package %s imports %s: the foundation knows no business package", name, dep)
			}
		}
	}
	if n == 0 {
		t.Errorf("no package under %s: the foundation layer moved; update this test", foundation)
	}
}

// isTestSupport: a package named like tenanttest or networktest.
func isTestSupport(pkg string) bool { return strings.HasSuffix(filepath.Base(pkg), "test") }

func TestMongoClientStaysInTenant(t *testing.T) {
	for _, p := range listPackages(t) {
		name := rel(p.ImportPath)
		if slices.Contains(mongoAllowed, name) {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			file, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			local := ""
			for _, imp := range file.Imports {
				if strings.Trim(imp.Path.Value, `"`) == "go.mongodb.org/mongo-driver/v2/mongo" {
					local = "mongo"
					if imp.Name != nil {
						local = imp.Name.Name
					}
				}
			}
			if local == "" {
				continue
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == local &&
					(sel.Sel.Name == "Client" || sel.Sel.Name == "Database" || sel.Sel.Name == "Connect") {
					t.Errorf("%s uses mongo.%s: only tenant may hold the MongoDB client", path, sel.Sel.Name)
				}
				return true
			})
		}
	}
}
