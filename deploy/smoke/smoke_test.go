//go:build smoke

// Package smoke runs the production artefacts in containers on this
// machine, as an operator would, and uses them as an outside client: the
// image (make image), the Helm chart played with podman kube play, and
// deploy/compose.yaml with podman-compose. Run it with deploy/smoke/run
// (make smoke). It needs podman (with runc and catatonit), podman-compose
// and the chart renderer, .cache/bin/chart (.ci/ensure-deps installs
// them); without them it skips, and fails under CI=true.
//
// No registry is reachable here and no MongoDB image exists, so MongoDB is
// the embedded engine (FerretDB v2 on PostgreSQL with DocumentDB) started
// on the host and reached over TCP on 127.0.0.1, and Redis runs from an
// image made FROM scratch out of this machine's redis-server. The pods
// share the host's network (the chart's hostNetwork value, for this test
// only): the dev mailbox, which stands in for mail, and the fake Mastodon
// server, reached through CHORUS_DEV_NETWORK_PORTS, are loopback-only.
package smoke

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

var repo, _ = filepath.Abs("../..")

func TestSmoke(t *testing.T) {
	for _, tool := range []string{"podman", "podman-compose", "runc", "catatonit"} {
		if _, err := exec.LookPath(tool); err != nil {
			tenanttest.Missing(t, tool, "run .ci/ensure-deps (Debian: podman runc catatonit podman-compose)")
		}
	}
	// chart renders the Helm chart as helm template does (Helm's Go
	// packages; deploy/helm/test/cmd/chart).
	chart := filepath.Join(repo, ".cache", "bin", "chart")
	if _, err := os.Stat(chart); err != nil {
		tenanttest.Missing(t, "chart", "run .ci/build-chart")
	}
	start := time.Now()
	image := chorusImage(t)
	redisImage := redisImage(t)
	fake := mastodontest.New(t, mastodontest.Options{Username: "carol"})
	fakePort := port(t, fake.URL)

	t.Run("helm chart with podman kube play", func(t *testing.T) {
		kubePlay(t, chart, image, redisImage, fake, fakePort)
	})
	t.Run("compose with podman-compose", func(t *testing.T) {
		compose(t, image, redisImage, fake, fakePort)
	})
	t.Logf("smoke run: %.0f s in all", time.Since(start).Seconds())
}

// deployment is what one run starts: the URLs and tokens to use it.
type deployment struct {
	api, worker            string // http://127.0.0.1:port
	operator, metricsToken string
}

func kubePlay(t *testing.T, chart, image, redisImage string, fake *mastodontest.Server, fakePort string) {
	rel := "smoke" + randHex(3)
	mongoURI, db := mongoOverTCP(t)
	redisPort, apiPort, workerPort := freePort(t), freePort(t), freePort(t)
	redisPass := randHex(16)
	d := deployment{api: "http://127.0.0.1:" + apiPort, worker: "http://127.0.0.1:" + workerPort, operator: randHex(16), metricsToken: randHex(16)}
	repoName, tag, _ := strings.Cut(image, ":")
	values := map[string]any{
		"fullnameOverride":    rel,
		"image":               map[string]any{"repository": repoName, "tag": tag, "pullPolicy": "Never"},
		"hostNetwork":         true,
		"api":                 map[string]any{"port": apiPort, "replicas": 1, "autoscaling": map[string]any{"enabled": false}},
		"worker":              map[string]any{"port": workerPort, "replicas": 1, "autoscaling": map[string]any{"enabled": false}},
		"preStopSleepSeconds": 1,
		"config": map[string]any{
			"CHORUS_ADDR":              "127.0.0.1:" + apiPort,
			"CHORUS_WORKER_ADDR":       "127.0.0.1:" + workerPort,
			"CHORUS_BASE_URL":          d.api,
			"CHORUS_MONGO_DATABASE":    db,
			"CHORUS_DEV_MAILBOX":       "1",
			"CHORUS_DEV_NETWORK_PORTS": fakePort,
			"CHORUS_TRUSTED_PROXIES":   "",
		},
		"secret": map[string]any{"values": map[string]any{
			"CHORUS_TOKEN_KEYS":     tokenKeys(),
			"CHORUS_MONGO_URI":      mongoURI,
			"CHORUS_REDIS_URL":      "redis://:" + redisPass + "@127.0.0.1:" + redisPort + "/0",
			"CHORUS_OPERATOR_TOKEN": d.operator,
			"CHORUS_METRICS_TOKEN":  d.metricsToken,
		}},
	}
	dir := t.TempDir()
	valuesFile := filepath.Join(dir, "values.yaml")
	writeJSON(t, valuesFile, values)
	rendered := runOut(t, chart, "template", rel, filepath.Join(repo, "deploy", "helm", "chorus"), "-f", valuesFile)
	play, secret := forPodman(t, rendered)
	secretFile := filepath.Join(dir, "secret.json")
	// podman 4.3 reads a secretRef's podman secret as the Secret's data:
	// a JSON object of base64 values.
	writeJSON(t, secretFile, secret["data"])
	// Redis, password and AOF, in a pod of its own beside the chart's.
	redisPod := fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s-redis}
spec:
  hostNetwork: true
  containers:
    - name: redis
      image: %s
      command: [redis-server]
      args: [--bind, 127.0.0.1, --port, "%s", --requirepass, %s, --appendonly, "yes", --dir, /data, --save, ""]
      volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, emptyDir: {}}]
`, rel, redisImage, redisPort, redisPass)
	playFile := filepath.Join(dir, "play.yaml")
	if err := os.WriteFile(playFile, []byte(redisPod+"---\n"+play), 0o600); err != nil {
		t.Fatal(err)
	}
	secretName := secret["metadata"].(map[string]any)["name"].(string)
	run(t, "podman", "secret", "create", secretName, secretFile)
	t.Cleanup(func() { exec.Command("podman", "secret", "rm", secretName).Run() })

	started := time.Now()
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []string{rel + "-redis", rel + "-api-pod-0", rel + "-worker-pod-0"} {
				out, _ := exec.Command("podman", "logs", "--tail", "30", container(t, p)).CombinedOutput()
				t.Logf("logs of %s:\n%s", p, out)
			}
		}
		out, err := exec.Command("podman", "kube", "down", playFile).CombinedOutput()
		t.Logf("podman kube down: %v\n%s", err, tail(out, 8))
	})
	run(t, "podman", "kube", "play", playFile)
	waitReady(t, d.api+"/readyz", 3*time.Minute)
	t.Logf("API pod ready %.1f s after podman kube play", time.Since(started).Seconds())
	workerServes := waitWorker(t, d.worker, started, "podman kube play")

	w := walkThrough(t, d, fake)
	scrape(t, d, workerServes)

	// A worker pod killed while it publishes loses nothing: the network got
	// the post, the worker died before it learned so; the next worker's
	// retry (same idempotency key) ends the share published, once.
	worker := container(t, rel+"-worker-pod-0")
	fake.DelayAnswers(20 * time.Second)
	text := "Killed mid-publish " + randHex(4)
	before := fake.Calls("POST /api/v1/statuses")
	id := w.post(t, "Resilience "+randHex(3), text)
	deadline := time.Now().Add(time.Minute)
	for statuses(fake, text) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not post %q within a minute (share %s)", text, w.employee.shareState(id).State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	run(t, "podman", "kill", "--signal", "KILL", worker)
	t.Logf("killed the worker pod's container %s while the network held its answer (share %s)", worker, w.employee.shareState(id).State)
	fake.DelayAnswers(0)
	// Kubernetes starts a new pod; here the pod's container starts again
	// unless podman's restart policy already did.
	time.Sleep(time.Second)
	if state := strings.TrimSpace(runOut(t, "podman", "inspect", "--format", "{{.State.Status}}", worker)); state != "running" {
		run(t, "podman", "start", worker)
		t.Logf("the worker's container was %s; started it again, as Kubernetes would start a new pod", state)
	} else {
		t.Log("podman's restart policy (the pod's Always) started the worker's container again")
	}
	// The share's two-minute lease runs out, the next reconcile (every
	// minute) makes it unconfirmed and finds the post at the network:
	// three minutes at worst, plus the restart; four allow for a busy
	// machine.
	restarted := time.Now()
	s := w.employee.waitPublished(id, 4*time.Minute)
	t.Logf("published %s after the restart: %s", time.Since(restarted).Round(time.Second), s.PostURL)
	if n := statuses(fake, text); n != 1 {
		t.Errorf("the network holds %d statuses of the share, want exactly 1", n)
	}
	t.Logf("status posts received in all: %d (%d before the kill)", fake.Calls("POST /api/v1/statuses"), before)
}

// walkThrough signs in, verifies the domain, allows Mastodon, connects an
// employee and shares a post, which the worker publishes.
func walkThrough(t *testing.T, d deployment, fake *mastodontest.Server) world {
	t.Helper()
	w := setUp(t, d.api, d.operator, fake)
	text := "Shared from the smoke test " + randHex(4)
	id := w.post(t, "Launch "+randHex(3), text)
	s := w.employee.waitPublished(id, 2*time.Minute)
	if statuses(fake, text) != 1 || !strings.HasPrefix(s.PostURL, fake.URL) {
		t.Errorf("published as %q, the network holds %d statuses of it", s.PostURL, statuses(fake, text))
	}
	t.Logf("signed in, verified acme.example, allowed Mastodon, connected carol, shared: published at %s", s.PostURL)
	return w
}

// scrape reads both processes' /metrics with the metrics token.
func scrape(t *testing.T, d deployment, worker bool) {
	t.Helper()
	get := func(u, token string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, _ := get(d.api+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("API /metrics without the token: %d, want 401", code)
	}
	code, body := get(d.api+"/metrics", d.metricsToken)
	if code != http.StatusOK || !strings.Contains(body, "chorus_build_info{") || !strings.Contains(body, "chorus_http_requests_total") {
		t.Errorf("API /metrics: %d, chorus_build_info %v, chorus_http_requests_total %v", code, strings.Contains(body, "chorus_build_info{"), strings.Contains(body, "chorus_http_requests_total"))
	} else {
		t.Logf("API /metrics: %d lines, with chorus_build_info and chorus_http_requests_total", strings.Count(body, "\n"))
	}
	if !worker {
		t.Errorf("worker /metrics not scraped: the worker serves no HTTP on CHORUS_WORKER_ADDR")
		return
	}
	if code, _ := get(d.worker+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("worker /metrics without the token: %d, want 401", code)
	}
	code, body = get(d.worker+"/metrics", d.metricsToken)
	if code != http.StatusOK || !strings.Contains(body, "chorus_tasks_processed_total") {
		t.Errorf("worker /metrics: %d, chorus_tasks_processed_total present: %v", code, strings.Contains(body, "chorus_tasks_processed_total"))
	} else {
		t.Logf("worker /metrics: %d lines, with chorus_tasks_processed_total", strings.Count(body, "\n"))
	}
}

// waitWorker waits for the worker's /readyz; a worker without an HTTP
// server is a failure named as such, and the rest of the run goes on.
func waitWorker(t *testing.T, base string, started time.Time, how string) bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last string
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				t.Logf("worker ready (/readyz on CHORUS_WORKER_ADDR) %.1f s after %s", time.Since(started).Seconds(), how)
				return true
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("the worker serves no /readyz on CHORUS_WORKER_ADDR (%s) after a minute: %s", base, last)
	return false
}

// forPodman adapts the rendered chart to podman kube play (podman 4.3):
// the Secret becomes a podman secret (kube play stores a Secret object in
// a form its own secretRef lookup cannot read back), and the containers' ports go, which it refuses
// on the host network. The kinds it does not run (Service, PDB, HPA) stay.
func forPodman(t *testing.T, rendered string) (string, map[string]any) {
	t.Helper()
	var docs []string
	var secret map[string]any
	for _, doc := range strings.Split(rendered, "\n---") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatalf("rendered chart: %v\n%s", err, doc)
		}
		switch obj["kind"] {
		case nil:
			continue
		case "Secret":
			data := map[string]any{}
			for k, v := range obj["stringData"].(map[string]any) {
				data[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
			}
			obj["data"] = data
			delete(obj, "stringData")
			secret = obj
			continue
		case "Deployment":
			spec := obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
			for _, c := range spec["containers"].([]any) {
				delete(c.(map[string]any), "ports")
			}
		}
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	if secret == nil {
		t.Fatal("the chart rendered no Secret")
	}
	return strings.Join(docs, "---\n"), secret
}

// chorusImage is an image built from the sources as they are now (by make
// image, or make image-local), or a new one made by make image-local: the
// release image's final stage around a static binary built on this machine,
// which takes seconds where make image's build stages take minutes the first
// time (CHORUS_SMOKE_IMAGE names another one to use as is; deploy/image/check
// and the GitHub workflow cover make image itself). An image is up to date
// when nothing the binary is built from (Go code, the web app, the
// Dockerfile) differs between the commit it was built from (its revision
// label) and the working tree.
func chorusImage(t *testing.T) string {
	t.Helper()
	if img := os.Getenv("CHORUS_SMOKE_IMAGE"); img != "" {
		return img
	}
	for _, img := range strings.Fields(runOut(t, "podman", "images", "--filter", "reference=localhost/chorus", "--format", "{{.Repository}}:{{.Tag}}")) {
		if strings.HasSuffix(img, ":<none>") {
			continue
		}
		rev := strings.TrimSpace(runOut(t, "podman", "image", "inspect", "--format", `{{index .Labels "org.opencontainers.image.revision"}}`, img))
		if rev != "" && builtFrom(rev) {
			t.Logf("image %s (built from %.12s) is up to date", img, rev)
			return img
		}
	}
	started := time.Now()
	version := strings.TrimSpace(runOut(t, "git", "-C", repo, "describe", "--tags", "--always", "--dirty"))
	cmd := exec.Command("make", "-C", repo, "image-local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image-local: %v\n%s", err, tail(out, 40))
	}
	image := "localhost/chorus:" + version
	size := strings.TrimSpace(runOut(t, "podman", "image", "inspect", "--format", "{{.Size}}", image))
	t.Logf("built %s in %.0f s (%s bytes)", image, time.Since(started).Seconds(), size)
	return image
}

// imageSources are the paths the image's binary is built from.
var imageSources = []string{"go.mod", "go.sum", ":(glob)**/*.go", ":(exclude,glob)**/*_test.go", ":(exclude)tools",
	"frontend", "cmd/chorus/openapi.yaml", "deploy/Dockerfile", "deploy/image/from-binary", ".dockerignore"}

// builtFrom reports whether the working tree's image sources are those of
// commit rev, with no untracked file among them.
func builtFrom(rev string) bool {
	git := func(args ...string) *exec.Cmd { return exec.Command("git", append([]string{"-C", repo}, args...)...) }
	if git("cat-file", "-e", rev+"^{commit}").Run() != nil {
		return false
	}
	if git(append([]string{"diff", "--quiet", rev, "--"}, imageSources...)...).Run() != nil {
		return false
	}
	out, err := git(append([]string{"ls-files", "--others", "--exclude-standard", "--"}, imageSources...)...).Output()
	return err == nil && len(bytes.TrimSpace(out)) == 0
}

// redisImage makes an image FROM scratch of this machine's redis-server
// and redis-cli with the libraries they load (no registry here).
func redisImage(t *testing.T) string {
	t.Helper()
	server, err := exec.LookPath("redis-server")
	if err != nil {
		tenanttest.Missing(t, "redis-server", "apt-get install redis-server")
	}
	// (Debian's redis-server is a link to redis-check-rdb, which acts by
	// the name it is run as: the image keeps the name.)
	cli, _ := exec.LookPath("redis-cli")
	dir := t.TempDir()
	files := map[string]bool{server: true}
	if cli != "" {
		files[cli] = true
	}
	for _, f := range slices.Collect(maps.Keys(files)) {
		for _, m := range regexp.MustCompile(`(/\S+\.so[.\d]*)`).FindAllString(runOut(t, "ldd", f), -1) {
			files[m] = true
		}
	}
	var containerfile strings.Builder
	containerfile.WriteString("FROM scratch\n")
	sum := sha256.New()
	for _, f := range slices.Sorted(maps.Keys(files)) {
		real, err := filepath.EvalSymlinks(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(real)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "root", f)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(sum, "%s %x\n", f, sha256.Sum256(b))
	}
	containerfile.WriteString("COPY root/ /\n")
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(sum, containerfile.String())
	image := "localhost/chorus-smoke-redis:" + hex.EncodeToString(sum.Sum(nil))[:12]
	if exec.Command("podman", "image", "exists", image).Run() != nil {
		run(t, "podman", "build", "-q", "-t", image, dir)
	}
	return image
}

// mongoOverTCP returns a mongodb:// URI on 127.0.0.1 for a fresh database
// of the embedded engine, which listens on a unix socket the containers
// (running as 65532) cannot open: a TCP proxy in this process forwards.
func mongoOverTCP(t *testing.T) (string, string) {
	t.Helper()
	uri, db := tenanttest.Mongo(t)
	// mongodb://[user:pass@]host/?opts, the host an escaped socket path
	// (which url.Parse refuses).
	rest, ok := strings.CutPrefix(uri, "mongodb://")
	if !ok {
		t.Fatalf("unexpected URI %q", uri)
	}
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	userinfo, host := "", rest[:end]
	if i := strings.LastIndex(host, "@"); i >= 0 {
		userinfo, host = host[:i+1], host[i+1:]
	}
	network, addr := "tcp", host
	if h, err := url.PathUnescape(host); err == nil && strings.HasPrefix(h, "/") {
		network, addr = "unix", h
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial(network, addr)
				if err != nil {
					return
				}
				defer s.Close()
				go io.Copy(s, c)
				io.Copy(c, s)
			}()
		}
	}()
	return "mongodb://" + userinfo + ln.Addr().String() + rest[end:], db
}

func waitReady(t *testing.T, u string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		res, err := http.Get(u)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			last = res.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready after %s: %s", u, within, last)
}

// container is the name of the pod's one application container.
func container(t *testing.T, pod string) string {
	out, _ := exec.Command("podman", "ps", "-a", "--filter", "pod="+pod, "--format", "{{.Names}} {{.IsInfra}}").Output()
	for _, l := range strings.Split(string(out), "\n") {
		if name, infra, ok := strings.Cut(l, " "); ok && infra == "false" {
			return name
		}
	}
	return pod + "-chorus"
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	runOut(t, name, args...)
}

func runOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, tail(out, 20), tail(stderr.Bytes(), 20))
	}
	return string(out)
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

func port(t *testing.T, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func tokenKeys() string {
	k := make([]byte, 32)
	rand.Read(k)
	return "k1:" + base64.StdEncoding.EncodeToString(k)
}

// vapidKey is a CHORUS_VAPID_PRIVATE_KEY: 32 random bytes, base64url.
func vapidKey() string {
	k := make([]byte, 32)
	rand.Read(k)
	return base64.RawURLEncoding.EncodeToString(k)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
