package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The documentation a newcomer reads: README.md and everything under docs/.
const repoRoot = "../.."

// markdownFiles lists README.md and every .md file under docs/, as paths
// relative to the repository's root with forward slashes.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files := []string{"README.md"}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".md") {
			rel, err := filepath.Rel(repoRoot, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	inlineLink    = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	referenceLink = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s+<?([^\s>]+)>?`)
	codeSpan      = regexp.MustCompile("`+[^`]*`+")
	headingLine   = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
)

// mdLink is a link found in a Markdown file, with the line it is on.
type mdLink struct {
	target string
	line   int
}

// parseMarkdown returns the links of a Markdown text outside code (fenced
// blocks and code spans) and the anchors its headings get on GitHub.
func parseMarkdown(text string) (links []mdLink, anchors map[string]bool) {
	anchors = map[string]bool{}
	seen := map[string]int{}
	fence := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		if m := headingLine.FindStringSubmatch(line); m != nil {
			a := anchorOf(m[1])
			if k := seen[a]; k > 0 {
				anchors[fmt.Sprintf("%s-%d", a, k)] = true
			} else {
				anchors[a] = true
			}
			seen[a]++
		}
		plain := codeSpan.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(plain, -1) {
			links = append(links, mdLink{m[1], n})
		}
		if m := referenceLink.FindStringSubmatch(plain); m != nil {
			links = append(links, mdLink{m[1], n})
		}
	}
	return links, anchors
}

// anchorOf is the fragment GitHub gives a heading: lower case, punctuation
// dropped (hyphens and underscores kept), spaces turned into hyphens.
func anchorOf(heading string) string {
	heading = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`).ReplaceAllString(heading, "$1")
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Every relative link of README.md and docs/ leads to a file of the
// repository, and a link into a Markdown file's section to a heading of
// that file: documentation moved or renamed must take its links along.
func TestDocLinksLeadSomewhere(t *testing.T) {
	files := markdownFiles(t)
	anchors := map[string]map[string]bool{}
	links := map[string][]mdLink{}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		links[f], anchors[f] = parseMarkdown(string(b))
	}
	checked := 0
	for _, f := range files {
		for _, l := range links[f] {
			target := l.target
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, frag, _ := strings.Cut(target, "#")
			dest := f
			if file != "" {
				if strings.HasPrefix(file, "/") {
					t.Errorf("%s:%d: %s: use a path relative to the file, not to the site root", f, l.line, target)
					continue
				}
				dest = path.Clean(path.Join(path.Dir(f), file))
				if strings.HasPrefix(dest, "../") {
					t.Errorf("%s:%d: %s leads out of the repository", f, l.line, target)
					continue
				}
				if _, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(dest))); err != nil {
					t.Errorf("%s:%d: %s: no such file %s", f, l.line, target, dest)
					continue
				}
			}
			checked++
			if frag == "" || !strings.HasSuffix(dest, ".md") || strings.HasPrefix(frag, "L") && strings.Trim(frag[1:], "0123456789-L") == "" {
				continue
			}
			a, ok := anchors[dest]
			if !ok {
				b, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(dest)))
				if err != nil {
					t.Fatal(err)
				}
				_, a = parseMarkdown(string(b))
				anchors[dest] = a
			}
			if !a[frag] {
				t.Errorf("%s:%d: %s: %s has no heading with the anchor #%s", f, l.line, target, dest, frag)
			}
		}
	}
	if checked < len(files) {
		t.Fatalf("checked %d relative links in %d files: the link parser finds nothing", checked, len(files))
	}
}

func TestMarkdownLinksAndAnchorsParse(t *testing.T) {
	text := "# Chorus: the *two* commands\n" +
		"See [ops](docs/operating.md#configuration) and ![pic](docs/a.png \"A\").\n" +
		"`[not](a link)` and [web](https://example.com)\n" +
		"```sh\n[inside](a fence)\n```\n" +
		"## Migration 4 on your own FerretDB v2 with DocumentDB\n" +
		"## Tests\n## Tests\n" +
		"[ref]: docs/x.md\n"
	links, anchors := parseMarkdown(text)
	var got []string
	for _, l := range links {
		got = append(got, fmt.Sprintf("%d %s", l.line, l.target))
	}
	want := []string{"2 docs/operating.md#configuration", "2 docs/a.png", "3 https://example.com", "10 docs/x.md"}
	if !slices.Equal(got, want) {
		t.Errorf("links = %q, want %q", got, want)
	}
	for _, a := range []string{"chorus-the-two-commands", "migration-4-on-your-own-ferretdb-v2-with-documentdb", "tests", "tests-1"} {
		if !anchors[a] {
			t.Errorf("no anchor %q in %v", a, anchors)
		}
	}
}

// docs/operating.md documents every setting chorus reads, by its
// environment variable, and the OpenTelemetry variables it honours.
func TestEverySettingIsDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "operating.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	vars := []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"}
	for _, s := range settings {
		vars = append(vars, s.env)
	}
	for _, v := range vars {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("docs/operating.md does not document %s", v)
		}
	}
}

// The README opens with the two commands a newcomer runs, before anything
// else that is code.
func TestReadmeStartsWithTheTwoCommands(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```sh\n")
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("README.md has no sh code block")
	}
	var cmds []string
	for line := range strings.Lines(block) {
		cmd, _, _ := strings.Cut(line, "#")
		cmds = append(cmds, strings.TrimSpace(cmd))
	}
	if want := []string{"make run", "make test"}; !slices.Equal(cmds, want) {
		t.Errorf("README.md's first code block runs %q, want %q", cmds, want)
	}
}
