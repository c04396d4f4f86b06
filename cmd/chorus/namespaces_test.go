package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chorushq/chorus/tenant"
)

// TestNamespaceCountsAreDocumented: the collections and indexes per
// instance that docs/scaling.md and docs/mongo-subset.md state are the
// declared kinds' (TestCapacity checks the server lists the same).
func TestNamespaceCountsAreDocumented(t *testing.T) {
	kinds := tenant.DeclaredKinds(storeKinds())
	var names []string
	declared := 0
	for _, k := range kinds {
		names = append(names, k.Name)
		declared += len(k.Indexes)
	}
	slices.Sort(names)
	collections, indexes := len(kinds), len(kinds)+declared
	namespaces := collections + indexes
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(repoRoot, "docs", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	number := func(doc, text string, re *regexp.Regexp, group int) int {
		t.Helper()
		m := re.FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("%s: nothing matches %s", doc, re)
		}
		n, _ := strconv.Atoi(m[group])
		return n
	}

	scaling := read("scaling.md")
	row := regexp.MustCompile(`(?m)^\| collections \| (\d+): ([a-z_ ]+) \|`)
	if n := number("scaling.md", scaling, row, 1); n != collections {
		t.Errorf("scaling.md: %d collections per instance; the code declares %d", n, collections)
	}
	if m := row.FindStringSubmatch(scaling); m != nil && strings.Join(strings.Fields(m[2]), " ") != strings.Join(names, " ") {
		t.Errorf("scaling.md names the collections\n%s\nthe code declares\n%s", m[2], strings.Join(names, " "))
	}
	idx := regexp.MustCompile("(?m)^\\| indexes \\| (\\d+): an `_id` index each and (\\d+) declared")
	if n := number("scaling.md", scaling, idx, 1); n != indexes {
		t.Errorf("scaling.md: %d indexes per instance; the code declares %d", n, indexes)
	}
	if n := number("scaling.md", scaling, idx, 2); n != declared {
		t.Errorf("scaling.md: %d declared indexes; the code declares %d", n, declared)
	}
	if n := number("scaling.md", scaling, regexp.MustCompile(`(?m)^\| namespaces \(MongoDB: collections \+ indexes\) \| (\d+) \|`), 1); n != namespaces {
		t.Errorf("scaling.md: %d namespaces per instance; the code makes %d", n, namespaces)
	}
	if n := number("scaling.md", scaling, regexp.MustCompile(`an instance is (\d+) files`), 1); n != namespaces {
		t.Errorf("scaling.md: an instance is %d files on MongoDB; the code makes %d namespaces", n, namespaces)
	}

	subset := strings.Join(strings.Fields(read("mongo-subset.md")), " ")
	budget := regexp.MustCompile(`Namespace budget per instance today: (\d+) collections \+ (\d+) secondary indexes \(\+ one ` + "`_id`" + ` index each\), (\d+) namespaces`)
	for group, want := range map[int]int{1: collections, 2: declared, 3: namespaces} {
		if n := number("mongo-subset.md", subset, budget, group); n != want {
			t.Errorf("mongo-subset.md: namespace budget figure %d is %d; the code makes %d", group, n, want)
		}
	}
}
