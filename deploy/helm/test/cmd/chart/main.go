// Command chart renders and lints a Helm chart with Helm's Go packages
// (package chartrender), taking the arguments of the helm commands it
// stands in for:
//
//	chart template NAME CHART [--namespace NS] [-f FILE]... [--set K=V]...
//	chart lint [--strict] CHART [--namespace NS] [-f FILE]... [--set K=V]...
//
// deploy/smoke uses it (.ci/build-chart builds it into .cache/bin/chart);
// make test-deploy's tests call package chartrender directly.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/chorushq/chorus/deploy/helm/test/chartrender"
)

// list is a repeatable flag.
type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet("chart "+os.Args[1], flag.ExitOnError)
	var v chartrender.Values
	fs.Var((*list)(&v.Files), "f", "a values file (repeatable; later ones win)")
	fs.Var((*list)(&v.Sets), "set", "a value, key=value (repeatable; after the files)")
	namespace := fs.String("namespace", "default", "the release's namespace")
	strict := fs.Bool("strict", false, "lint: fail on warnings too")
	// Flags may come before, between or after the positional arguments.
	var args []string
	rest := os.Args[2:]
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			os.Exit(2)
		}
		rest = fs.Args()
		if len(rest) > 0 {
			args = append(args, rest[0])
			rest = rest[1:]
		}
	}
	switch {
	case os.Args[1] == "template" && len(args) == 2:
		out, err := chartrender.Template(args[1], args[0], *namespace, v)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chart template:", err)
			os.Exit(1)
		}
		os.Stdout.Write(out)
	case os.Args[1] == "lint" && len(args) == 1:
		msgs, err := chartrender.Lint(args[0], *namespace, v, *strict)
		for _, m := range msgs {
			fmt.Println(m.Error())
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "chart lint:", err)
			os.Exit(1)
		}
		fmt.Printf("%s: linted, %d message(s), none failing\n", args[0], len(msgs))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: chart template NAME CHART [--namespace NS] [-f FILE]... [--set K=V]...\n       chart lint [--strict] CHART [--namespace NS] [-f FILE]... [--set K=V]...")
	os.Exit(2)
}
