package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// The release this binary is, set when it is built:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse HEAD)"
//
// (make build and deploy/Dockerfile do). A plain go build says "dev" and
// takes the commit from the build's VCS stamp where there is one.
var (
	version = "dev"
	commit  = ""
)

// release returns the version and commit of this binary; the commit is
// "unknown" when neither -ldflags nor the VCS stamp gave one.
func release() (string, string) {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			var rev, modified string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					modified = s.Value
				}
			}
			if rev != "" && modified == "true" {
				rev += "-dirty"
			}
			c = rev
		}
	}
	if c == "" {
		c = "unknown"
	}
	return version, c
}

// buildInfo is what chorus version prints.
func buildInfo() string {
	v, c := release()
	return fmt.Sprintf("chorus %s (commit %s, %s %s/%s)", v, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// buildInfoMetric is chorus_build_info, always 1, whose labels say which
// release runs: dashboards join it to see what version served what.
func buildInfoMetric() prometheus.Collector {
	v, c := release()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "chorus_build_info",
		Help:        "The running Chorus release: version, commit and Go version as labels; always 1.",
		ConstLabels: prometheus.Labels{"version": v, "commit": c, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}
