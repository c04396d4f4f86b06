// Package test lints the Helm chart deploy/helm/chorus as `helm lint
// --strict` does, renders it as `helm template` does (package chartrender,
// on Helm's Go packages) and checks every object it makes: each decodes
// strictly into its Kubernetes API type, the pods meet the "restricted"
// Pod Security Standard, and the API and the worker get the same
// settings, probes, resources and a graceful stop. It is a module of its
// own so that Helm and k8s.io/api stay out of the application's
// dependencies; `make test-deploy` runs it.
package test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/chorushq/chorus/deploy/helm/test/chartrender"
)

const chart = "../chorus"

// shutdownSeconds is how long chorus serve and chorus worker may take to
// stop after SIGTERM: cmd/chorus's stopCtx gives the HTTP server and the
// stores 30 s (the worker's tasks get 20 s within that).
const shutdownSeconds = 30

// required are the settings serve and worker refuse to start without in
// production (cmd/chorus productionProblems), besides the servers' URLs.
var required = []string{"CHORUS_TOKEN_KEYS", "CHORUS_VAPID_PRIVATE_KEY", "CHORUS_BASE_URL", "CHORUS_SMTP_URL", "CHORUS_MONGO_URI", "CHORUS_REDIS_URL"}

// rendered is what one render made, by kind.
type rendered struct {
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	configMaps      map[string]*corev1.ConfigMap
	secrets         map[string]*corev1.Secret
	pdbs            map[string]*policyv1.PodDisruptionBudget
	hpas            map[string]*autoscalingv2.HorizontalPodAutoscaler
	ingresses       map[string]*networkingv1.Ingress
	networkPolicies map[string]*networkingv1.NetworkPolicy
	serviceMonitors map[string]*serviceMonitor
}

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) the chart uses; unknown fields fail decoding.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			Authorization *struct {
				Type        string                    `json:"type"`
				Credentials *corev1.SecretKeySelector `json:"credentials"`
			} `json:"authorization,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// render renders the chart as helm template does (package chartrender),
// with the value files and --set pairs.
func render(t *testing.T, valueFiles []string, sets ...string) *rendered {
	t.Helper()
	out, err := chartrender.Template(chart, "chorus", "chorus", chartrender.Values{Files: valueFiles, Sets: sets})
	if err != nil {
		t.Fatalf("template with %v %v: %v", valueFiles, sets, err)
	}
	r, err := decode(out)
	if err != nil {
		t.Fatalf("template with %v %v: %v", valueFiles, sets, err)
	}
	return r
}

// decode splits a rendered stream and decodes each object strictly into
// its API type: an unknown field, a wrong type or an unknown kind fails.
func decode(stream []byte) (*rendered, error) {
	r := &rendered{
		deployments: map[string]*appsv1.Deployment{}, services: map[string]*corev1.Service{},
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		pdbs: map[string]*policyv1.PodDisruptionBudget{}, hpas: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		ingresses: map[string]*networkingv1.Ingress{}, networkPolicies: map[string]*networkingv1.NetworkPolicy{},
		serviceMonitors: map[string]*serviceMonitor{},
	}
	for i, doc := range bytes.Split(stream, []byte("\n---")) {
		// Drop the "# Source:" comments and blank documents.
		var body []string
		for _, l := range strings.Split(string(doc), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "#") || strings.TrimSpace(l) == "" {
				continue
			}
			body = append(body, l)
		}
		if len(body) == 0 {
			continue
		}
		src := []byte(strings.Join(body, "\n"))
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(src, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %v", i, err)
		}
		var (
			obj  any
			name = func(o metav1.Object) string { return o.GetName() }
			put  func()
		)
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			obj, put = o, func() { r.deployments[name(o)] = o }
		case "v1 Service":
			o := &corev1.Service{}
			obj, put = o, func() { r.services[name(o)] = o }
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			obj, put = o, func() { r.configMaps[name(o)] = o }
		case "v1 Secret":
			o := &corev1.Secret{}
			obj, put = o, func() { r.secrets[name(o)] = o }
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			obj, put = o, func() { r.pdbs[name(o)] = o }
		case "autoscaling/v2 HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			obj, put = o, func() { r.hpas[name(o)] = o }
		case "networking.k8s.io/v1 Ingress":
			o := &networkingv1.Ingress{}
			obj, put = o, func() { r.ingresses[name(o)] = o }
		case "networking.k8s.io/v1 NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			obj, put = o, func() { r.networkPolicies[name(o)] = o }
		case "monitoring.coreos.com/v1 ServiceMonitor":
			o := &serviceMonitor{}
			obj, put = o, func() { r.serviceMonitors[name(o)] = o }
		default:
			return nil, fmt.Errorf("document %d: unexpected kind %s %s", i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(src, obj); err != nil {
			return nil, fmt.Errorf("%s (document %d): %v", tm.Kind, i, err)
		}
		put()
	}
	return r, nil
}

// restrictedProblems lists how a pod template breaks the "restricted" Pod
// Security Standard (v1.30+) or the chart's own hardening on top of it
// (read-only root file system).
func restrictedProblems(spec corev1.PodSpec) []string {
	var p []string
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		p = append(p, "host namespaces are used")
	}
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	for _, v := range spec.Volumes {
		vs := v.VolumeSource
		if vs.ConfigMap == nil && vs.EmptyDir == nil && vs.Secret == nil && vs.Projected == nil &&
			vs.DownwardAPI == nil && vs.PersistentVolumeClaim == nil && vs.Ephemeral == nil && vs.CSI == nil {
			p = append(p, fmt.Sprintf("volume %s is of a type the restricted level forbids", v.Name))
		}
	}
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		p = append(p, "the pod runs as root")
	}
	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil {
			p = append(p, c.Name+": no securityContext")
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			p = append(p, c.Name+": allowPrivilegeEscalation is not false")
		}
		if sc.Privileged != nil && *sc.Privileged {
			p = append(p, c.Name+": privileged")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			p = append(p, c.Name+": capabilities do not drop ALL")
		} else if slices.ContainsFunc(sc.Capabilities.Add, func(c corev1.Capability) bool { return c != "NET_BIND_SERVICE" }) {
			p = append(p, c.Name+": adds capabilities")
		}
		if nonRoot := sc.RunAsNonRoot; !(nonRoot != nil && *nonRoot || nonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot) {
			p = append(p, c.Name+": runAsNonRoot is not true")
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			p = append(p, c.Name+": runs as root")
		}
		seccomp := psc.SeccompProfile
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost {
			p = append(p, c.Name+": seccomp profile is not RuntimeDefault or Localhost")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			p = append(p, c.Name+": root file system is writable")
		}
		for _, port := range c.Ports {
			if port.HostPort != 0 {
				p = append(p, fmt.Sprintf("%s: host port %d", c.Name, port.HostPort))
			}
		}
	}
	return p
}

// workloadProblems lists what a Deployment lacks of what both Chorus
// workloads need: probes on a declared port, resources, a graceful stop.
func workloadProblems(d *appsv1.Deployment) []string {
	var p []string
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		return []string{fmt.Sprintf("%d containers, want 1", len(spec.Containers))}
	}
	c := spec.Containers[0]
	if len(c.Env) > 0 {
		p = append(p, "env of its own: settings come only through envFrom")
	}
	ports := map[string]int32{}
	for _, port := range c.Ports {
		ports[port.Name] = port.ContainerPort
	}
	for name, probe := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		switch {
		case probe == nil:
			p = append(p, "no "+name+" probe")
		case probe.HTTPGet == nil:
			p = append(p, name+" probe is not an HTTP GET")
		case probe.HTTPGet.Port.StrVal != "" && ports[probe.HTTPGet.Port.StrVal] == 0:
			p = append(p, fmt.Sprintf("%s probe on port %q, which the container does not declare", name, probe.HTTPGet.Port.StrVal))
		}
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		p = append(p, "readiness probe is not /readyz")
	}
	if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/healthz" {
		p = append(p, "liveness probe is not /healthz")
	}
	if c.StartupProbe != nil && int(c.StartupProbe.PeriodSeconds*c.StartupProbe.FailureThreshold) < 60 {
		p = append(p, "the startup probe gives less than 60 s")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			p = append(p, "no "+string(r)+" request")
		}
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		p = append(p, "no memory limit")
	}
	preStop := int64(0)
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil || c.Lifecycle.PreStop.Sleep.Seconds < 1 {
		p = append(p, "no preStop sleep")
	} else {
		preStop = c.Lifecycle.PreStop.Sleep.Seconds
	}
	if g := spec.TerminationGracePeriodSeconds; g == nil {
		p = append(p, "no terminationGracePeriodSeconds")
	} else if *g <= preStop+shutdownSeconds {
		p = append(p, fmt.Sprintf("terminationGracePeriodSeconds %d is not longer than the preStop sleep (%d s) and the shutdown timeout (%d s)", *g, preStop, shutdownSeconds))
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		p = append(p, "mounts a service account token it never uses")
	}
	return p
}

// checkChart checks one rendering; secretName is the Secret the pods must
// read (made by the chart unless existing).
func checkChart(t *testing.T, r *rendered, secretName string, chartSecret bool) {
	t.Helper()
	api, worker := r.deployments["chorus-api"], r.deployments["chorus-worker"]
	if api == nil || worker == nil || len(r.deployments) != 2 {
		t.Fatalf("deployments %v, want chorus-api and chorus-worker", keys(r.deployments))
	}
	if got := api.Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, []string{"serve"}) {
		t.Errorf("the API runs %v", got)
	}
	if got := worker.Spec.Template.Spec.Containers[0].Args; !slices.Equal(got, []string{"worker"}) {
		t.Errorf("the worker runs %v", got)
	}
	for _, d := range []*appsv1.Deployment{api, worker} {
		for _, p := range append(restrictedProblems(d.Spec.Template.Spec), workloadProblems(d)...) {
			t.Errorf("%s: %s", d.Name, p)
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: its selector does not select its pods", d.Name)
		}
		if d.Spec.Template.Annotations["checksum/config"] == "" {
			t.Errorf("%s: no checksum/config annotation: a changed setting would not roll the pods", d.Name)
		}
	}
	// Identical settings: the same envFrom, the ConfigMap and the Secret.
	apiFrom, workerFrom := api.Spec.Template.Spec.Containers[0].EnvFrom, worker.Spec.Template.Spec.Containers[0].EnvFrom
	if !reflect.DeepEqual(apiFrom, workerFrom) {
		t.Errorf("envFrom differs:\napi    %+v\nworker %+v", apiFrom, workerFrom)
	}
	if len(apiFrom) != 2 || apiFrom[0].ConfigMapRef == nil || apiFrom[1].SecretRef == nil ||
		apiFrom[0].ConfigMapRef.Name != "chorus" || apiFrom[1].SecretRef.Name != secretName {
		t.Fatalf("envFrom %+v, want configmap/chorus and secret/%s", apiFrom, secretName)
	}
	cm := r.configMaps["chorus"]
	if cm == nil || len(r.configMaps) != 1 {
		t.Fatalf("config maps %v, want chorus", keys(r.configMaps))
	}
	if chartSecret {
		if r.secrets[secretName] == nil || len(r.secrets) != 1 {
			t.Fatalf("secrets %v, want %s", keys(r.secrets), secretName)
		}
		for k := range r.secrets[secretName].StringData {
			if _, both := cm.Data[k]; both {
				t.Errorf("%s is in the ConfigMap and the Secret", k)
			}
		}
	} else if len(r.secrets) != 0 {
		t.Errorf("the chart makes secrets %v beside the existing one", keys(r.secrets))
	}
	// Each listens where its probes and Service look.
	for env, d := range map[string]*appsv1.Deployment{"CHORUS_ADDR": api, "CHORUS_WORKER_ADDR": worker} {
		_, port, err := net.SplitHostPort(cm.Data[env])
		if err != nil || port != fmt.Sprint(d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort) {
			t.Errorf("%s = %q, but %s's port is %d", env, cm.Data[env], d.Name, d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort)
		}
	}
	for _, name := range []string{"chorus-api", "chorus-worker"} {
		d, s := r.deployments[name], r.services[name]
		if s == nil {
			t.Errorf("no Service %s", name)
			continue
		}
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Service %s does not select the pods of %s", name, d.Name)
		}
		if other := r.deployments[otherOf(name)]; labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(other.Spec.Template.Labels)) {
			t.Errorf("Service %s also selects the pods of %s", name, other.Name)
		}
		if pdb := r.pdbs[name]; pdb == nil {
			t.Errorf("no PodDisruptionBudget for %s", name)
		} else if sel, _ := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("PodDisruptionBudget %s does not select %s's pods", name, d.Name)
		}
		if hpa := r.hpas[name]; hpa == nil {
			t.Errorf("no HorizontalPodAutoscaler for %s", name)
		} else {
			if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != name {
				t.Errorf("HorizontalPodAutoscaler %s scales %s %s", name, ref.Kind, ref.Name)
			}
			if d.Spec.Replicas != nil {
				t.Errorf("%s sets replicas although an autoscaler scales it: every upgrade would reset them", name)
			}
		}
	}
}

func otherOf(name string) string {
	if name == "chorus-api" {
		return "chorus-worker"
	}
	return "chorus-api"
}

func keys[V any](m map[string]V) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	slices.Sort(k)
	return k
}

func TestDefaultValues(t *testing.T) {
	r := render(t, nil)
	checkChart(t, r, "chorus", true)
	if len(r.ingresses)+len(r.networkPolicies)+len(r.serviceMonitors) != 0 {
		t.Error("the optional Ingress, NetworkPolicy or ServiceMonitor are on by default")
	}
	if got := r.deployments["chorus-api"].Spec.Template.Spec.Containers[0].Image; got != "localhost/chorus:latest" {
		t.Errorf("image %s, want the one make image tags", got)
	}
}

func TestProductionValues(t *testing.T) {
	r := render(t, []string{filepath.Join(chart, "ci", "production-values.yaml")})
	checkChart(t, r, "chorus", true)
	settings := map[string]string{}
	for k, v := range r.configMaps["chorus"].Data {
		settings[k] = v
	}
	for k, v := range r.secrets["chorus"].StringData {
		settings[k] = v
	}
	for _, k := range required {
		if settings[k] == "" {
			t.Errorf("neither the ConfigMap nor the Secret holds %s", k)
		}
	}
	for _, k := range []string{"CHORUS_TOKEN_KEYS", "CHORUS_VAPID_PRIVATE_KEY", "CHORUS_MONGO_URI", "CHORUS_REDIS_URL", "CHORUS_SMTP_URL", "CHORUS_OPERATOR_TOKEN", "CHORUS_METRICS_TOKEN", "CHORUS_OIDC_CLIENT_SECRET"} {
		if _, ok := r.configMaps["chorus"].Data[k]; ok {
			t.Errorf("%s is in the ConfigMap: it is a secret", k)
		}
	}
	if got := r.deployments["chorus-worker"].Spec.Template.Spec.Containers[0].Image; got != "registry.example.com/chorus:1.0.0" {
		t.Errorf("image %s", got)
	}
	ing := r.ingresses["chorus"]
	if ing == nil || len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "chorus.acme.example" || len(ing.Spec.TLS) != 1 {
		t.Fatalf("ingress %+v", ing)
	}
	if b := ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service; b.Name != "chorus-api" || b.Port.Name != "http" {
		t.Errorf("the ingress sends to %s:%s", b.Name, b.Port.Name)
	}
	for _, name := range []string{"chorus-api", "chorus-worker"} {
		np := r.networkPolicies[name]
		if np == nil {
			t.Errorf("no NetworkPolicy %s", name)
			continue
		}
		if sel, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector); !sel.Matches(labels.Set(r.deployments[name].Spec.Template.Labels)) {
			t.Errorf("NetworkPolicy %s does not select %s's pods", name, name)
		}
		if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].From) == 0 {
			t.Errorf("NetworkPolicy %s lets everyone in: %+v", name, np.Spec.Ingress)
		}
	}
	sm := r.serviceMonitors["chorus"]
	if sm == nil || len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("service monitor %+v", sm)
	}
	sel, _ := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	for _, name := range []string{"chorus-api", "chorus-worker"} {
		if !sel.Matches(labels.Set(r.services[name].Labels)) {
			t.Errorf("the ServiceMonitor does not scrape Service %s", name)
		}
	}
	if a := sm.Spec.Endpoints[0].Authorization; a == nil || a.Credentials == nil || a.Credentials.Name != "chorus" || a.Credentials.Key != "CHORUS_METRICS_TOKEN" {
		t.Errorf("the ServiceMonitor does not send CHORUS_METRICS_TOKEN: %+v", a)
	}
}

func TestExistingSecret(t *testing.T) {
	r := render(t, []string{filepath.Join(chart, "ci", "existing-secret-values.yaml")})
	checkChart(t, r, "chorus-settings", false)
	if _, ok := r.deployments["chorus-api"].Spec.Template.Annotations["checksum/secret"]; ok {
		t.Error("a checksum of secret values the chart does not hold")
	}
}

// The checks catch what the restricted level forbids: the smoke test's
// host network, a root user, a writable root, a missing probe.
func TestChecksCatchBreaches(t *testing.T) {
	r := render(t, nil, "hostNetwork=true", "podSecurityContext.runAsUser=0",
		"securityContext.readOnlyRootFilesystem=false", "securityContext.capabilities.drop=null",
		"terminationGracePeriodSeconds=30")
	d := r.deployments["chorus-worker"]
	got := strings.Join(append(restrictedProblems(d.Spec.Template.Spec), workloadProblems(d)...), "\n")
	for _, want := range []string{"host namespaces", "runs as root", "root file system is writable", "do not drop ALL", "terminationGracePeriodSeconds 30"} {
		if !strings.Contains(got, want) {
			t.Errorf("no problem %q reported; got:\n%s", want, got)
		}
	}
	d.Spec.Template.Spec.Containers[0].ReadinessProbe = nil
	if got := strings.Join(workloadProblems(d), "\n"); !strings.Contains(got, "no readiness probe") {
		t.Errorf("a missing readiness probe is not reported:\n%s", got)
	}
}

// An unknown field (a typo in a template) fails decoding.
func TestStrictDecoding(t *testing.T) {
	_, err := decode([]byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n"))
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("a misspelt field decoded: %v", err)
	}
	if _, err := decode([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n")); err == nil {
		t.Error("an unexpected kind decoded")
	}
}

// The chart lints clean with helm lint --strict's rules (warnings fail
// too), with its default values and with each file of ci/.
func TestChartLintsStrict(t *testing.T) {
	for _, files := range [][]string{nil, {filepath.Join(chart, "ci", "production-values.yaml")},
		{filepath.Join(chart, "ci", "existing-secret-values.yaml")}} {
		msgs, err := chartrender.Lint(chart, "chorus", chartrender.Values{Files: files}, true)
		if err != nil {
			t.Errorf("lint with %v: %v", files, err)
		}
		for _, m := range msgs {
			t.Logf("lint with %v: %s", files, m.Error())
		}
	}
}

// Lint fails on what helm lint fails on: a template that cannot render,
// and (strict) one that only warns, an API version Kubernetes removed.
func TestChartLintFailsOnBrokenTemplates(t *testing.T) {
	for name, tmpl := range map[string]string{
		"a template that cannot render": "{{ .Values.nothing.here }}\n",
		"a removed API version":         "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: x\nspec:\n  minAvailable: 1\n",
	} {
		dir := filepath.Join(t.TempDir(), "chorus")
		if err := os.CopyFS(dir, os.DirFS(chart)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "templates", "broken.yaml"), []byte(tmpl), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := chartrender.Lint(dir, "chorus", chartrender.Values{}, true); err == nil || !strings.Contains(err.Error(), "broken.yaml") {
			t.Errorf("%s: lint error %v, want one naming broken.yaml", name, err)
		}
	}
}

// chartrender.KubeVersion is the Kubernetes minor version of this
// module's k8s.io/client-go (v0.N.x is Kubernetes 1.N), as helm reports.
func TestKubeVersionMatchesClientGo(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*k8s\.io/client-go v0\.(\d+)\.`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("no k8s.io/client-go in go.mod")
	}
	if want := "v1." + string(m[1]) + ".0"; chartrender.KubeVersion != want {
		t.Errorf("chartrender.KubeVersion = %s, want %s for k8s.io/client-go v0.%s", chartrender.KubeVersion, want, m[1])
	}
}
