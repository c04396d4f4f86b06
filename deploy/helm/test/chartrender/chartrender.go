// Package chartrender renders and lints a Helm chart with Helm's own Go
// packages (helm.sh/helm/v4: the chart loader, the template engine, the
// manifest sorter and the chart linter), as `helm template` and `helm
// lint` do without a cluster, but without building the helm command and
// everything it carries (registries, plugins, a Kubernetes client):
// `make test` builds this in a third of the CPU time.
package chartrender

import (
	"bytes"
	"fmt"
	"maps"
	"path"
	"strings"

	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	chartcommonutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"helm.sh/helm/v4/pkg/strvals"
)

// Values are the value files (-f, in order, later ones winning) and the
// --set pairs (after the files) of one render or lint.
type Values struct {
	Files []string
	Sets  []string
}

// merge reads the files and applies the pairs as helm's -f and --set do.
func (v Values) merge() (map[string]any, error) {
	out := map[string]any{}
	for _, f := range v.Files {
		vals, err := chartcommon.ReadValuesFile(f)
		if err != nil {
			return nil, fmt.Errorf("values file %s: %w", f, err)
		}
		out = mergeMaps(out, vals)
	}
	for _, s := range v.Sets {
		if err := strvals.ParseInto(s, out); err != nil {
			return nil, fmt.Errorf("--set %s: %w", s, err)
		}
	}
	return out, nil
}

// mergeMaps merges b into a copy of a as helm merges value files: tables
// merge key by key, anything else in b replaces a's.
func mergeMaps(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	for k, v := range b {
		if bt, ok := v.(map[string]any); ok {
			if at, ok := out[k].(map[string]any); ok {
				out[k] = mergeMaps(at, bt)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Template renders the chart at dir for a first install of release name
// in namespace, as `helm template` does: every manifest in install order,
// each after a "---" and a "# Source:" line, then the hooks; NOTES.txt is
// left out.
func Template(dir, name, namespace string, v Values) ([]byte, error) {
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	if len(ch.Metadata.Dependencies) > 0 {
		// helm template would check them against charts/: not needed
		// for Chorus's chart, so not done here.
		return nil, fmt.Errorf("%s: chart dependencies are not supported", dir)
	}
	vals, caps, err := v.load()
	if err != nil {
		return nil, err
	}
	if kv := ch.Metadata.KubeVersion; kv != "" && !chartutil.IsCompatibleRange(kv, caps.KubeVersion.String()) {
		return nil, fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", kv, caps.KubeVersion.Version)
	}
	opts := chartcommon.ReleaseOptions{Name: name, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartcommonutil.ToRenderValuesWithSchemaValidation(ch, vals, opts, caps, false)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(ch, top)
	if err != nil {
		return nil, err
	}
	for k := range files {
		if path.Base(k) == "NOTES.txt" {
			delete(files, k)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, err
	}
	var all bytes.Buffer
	for _, m := range manifests {
		fmt.Fprintf(&all, "---\n# Source: %s\n%s\n", m.Name, m.Content)
	}
	var b bytes.Buffer
	b.Write(bytes.TrimSpace(all.Bytes()))
	b.WriteByte('\n')
	for _, h := range hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.Bytes(), nil
}

// KubeVersion is the Kubernetes version the chart is rendered and linted
// for: what the helm command built with this module's k8s.io/client-go
// (v0.37) reports. (Helm's own default says 1.20 in a test binary, which
// has no module versions to read.) The chart's tests check it against
// go.mod.
const KubeVersion = "v1.37.0"

// load merges the values, and returns them with helm's default
// capabilities for a render without a cluster, for KubeVersion.
func (v Values) load() (map[string]any, *chartcommon.Capabilities, error) {
	vals, err := v.merge()
	if err != nil {
		return nil, nil, err
	}
	kv, err := chartcommon.ParseKubeVersion(KubeVersion)
	if err != nil {
		return nil, nil, err
	}
	caps := chartcommon.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	return vals, caps, nil
}

// Lint lints the chart at dir with the values as `helm lint` does, in
// namespace ("default" for helm's). It returns every message, and an error
// naming those at or above the failing severity: warnings too when strict
// (`helm lint --strict`), else errors only.
func Lint(dir, namespace string, v Values, strict bool) ([]support.Message, error) {
	vals, caps, err := v.load()
	if err != nil {
		return nil, err
	}
	linter := lint.RunAll(dir, vals, namespace, lint.WithKubeVersion(&caps.KubeVersion))
	lowest, name := support.ErrorSev, "error"
	if strict {
		lowest, name = support.WarningSev, "warning"
	}
	var failed []string
	for _, m := range linter.Messages {
		if m.Severity >= lowest {
			failed = append(failed, m.Error())
		}
	}
	if len(failed) > 0 {
		return linter.Messages, fmt.Errorf("%s: %d lint message(s) at or above %s:\n%s", dir, len(failed), name, strings.Join(failed, "\n"))
	}
	return linter.Messages, nil
}
