package jobs

import (
	"os"
	"strings"
	"testing"
)

// docs/operating.md lists every periodic task by its type, so an operator
// reading it knows everything the scheduler enqueues.
func TestEveryPeriodicTaskIsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/operating.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Periodic tasks\n")
	if !ok {
		t.Fatal(`docs/operating.md has no "## Periodic tasks" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, p := range periodic {
		typ := p.task().Type()
		if !strings.Contains(section, "`"+typ+"`") {
			t.Errorf("docs/operating.md, Periodic tasks, does not list %s (%s)", typ, p.spec)
		}
	}
}
