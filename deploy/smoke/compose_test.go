//go:build smoke

package smoke

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/chorushq/chorus/social/mastodon/mastodontest"
)

// compose runs deploy/compose.yaml with podman-compose: its api and worker
// as written (image, commands, the settings from .env, restart policy,
// read-only root, no capabilities, healthchecks), with what this machine
// lacks swapped: the embedded engine for the mongo service (no MongoDB
// image here), the local Redis image, and the host's network, where the
// dev mailbox and the fake network are reachable.
func compose(t *testing.T, image, redisImage string, fake *mastodontest.Server, fakePort string) {
	b, err := os.ReadFile(filepath.Join(repo, "deploy", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	services := doc["services"].(map[string]any)
	mongoURI, db := mongoOverTCP(t)
	redisPort, apiPort, workerPort := freePort(t), freePort(t), freePort(t)
	d := deployment{api: "http://127.0.0.1:" + apiPort, worker: "http://127.0.0.1:" + workerPort, operator: randHex(16), metricsToken: randHex(16)}

	delete(services, "mongo")
	redis := services["redis"].(map[string]any)
	redis["network_mode"] = "host"
	cmd := redis["command"].([]any)
	redis["command"] = append([]any{cmd[0], "--bind", "127.0.0.1", "--port", redisPort}, cmd[1:]...)
	hc := redis["healthcheck"].(map[string]any)
	test := hc["test"].([]any)
	hc["test"] = append([]any{test[0], test[1], "-p", redisPort}, test[2:]...)
	for name, port := range map[string]string{"api": apiPort, "worker": workerPort} {
		s := services[name].(map[string]any)
		s["network_mode"] = "host"
		delete(s, "ports")
		delete(s, "build")
		s["depends_on"] = []any{"redis"}
		env := s["environment"].(map[string]any)
		env["CHORUS_MONGO_URI"] = mongoURI
		env["CHORUS_MONGO_DATABASE"] = db
		env["CHORUS_REDIS_URL"] = strings.Replace(env["CHORUS_REDIS_URL"].(string), "@redis:6379", "@127.0.0.1:"+redisPort, 1)
		env["CHORUS_ADDR"] = "127.0.0.1:" + apiPort
		env["CHORUS_WORKER_ADDR"] = "127.0.0.1:" + workerPort
		env["CHORUS_DEV_MAILBOX"] = "1"
		env["CHORUS_DEV_NETWORK_PORTS"] = fakePort
		shc := s["healthcheck"].(map[string]any)
		shc["test"] = []any{"CMD", "/chorus", "healthcheck", "http://127.0.0.1:" + port + "/readyz"}
	}
	dir := t.TempDir()
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(file, out, 0o600); err != nil {
		t.Fatal(err)
	}
	env := strings.Join([]string{
		"CHORUS_IMAGE=" + image,
		"CHORUS_REDIS_IMAGE=" + redisImage,
		"CHORUS_BASE_URL=" + d.api,
		"CHORUS_TOKEN_KEYS=" + tokenKeys(),
		"CHORUS_VAPID_PRIVATE_KEY=" + vapidKey(),
		"CHORUS_REDIS_PASSWORD=" + randHex(16),
		// The dev mailbox stands in for mail; chorus refuses an SMTP URL
		// beside it in no way, but nothing is sent there.
		"CHORUS_SMTP_URL=smtp://127.0.0.1:1?tls=none",
		"CHORUS_OPERATOR_TOKEN=" + d.operator,
		"CHORUS_METRICS_TOKEN=" + d.metricsToken,
		"CHORUS_LOG_FORMAT=text",
	}, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	project := "smoke" + randHex(3)
	compose := func(args ...string) *exec.Cmd {
		// Debian's podman-compose 1.0.3 needs podman-compose-host for the
		// host network and for CMD healthchecks in images without a shell.
		cmd := exec.Command("podman-compose", append([]string{"--podman-path", filepath.Join(repo, "deploy", "smoke", "podman-compose-host"), "-p", project, "-f", file}, args...)...)
		cmd.Dir = dir
		return cmd
	}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := compose("logs").CombinedOutput()
			t.Logf("podman-compose logs:\n%s", tail(out, 60))
		}
		// The containers go first with their anonymous volumes (the image's
		// /data), which podman-compose down leaves behind.
		// (The test's context is done by now: plain commands.)
		out, _ := exec.Command("podman", "ps", "-a", "-q", "--filter", "label=io.podman.compose.project="+project).Output()
		if ids := strings.Fields(string(out)); len(ids) > 0 {
			exec.Command("podman", append([]string{"rm", "-f", "-v"}, ids...)...).Run()
		}
		out, err := compose("down", "-v").CombinedOutput()
		t.Logf("podman-compose down: %v\n%s", err, tail(out, 5))
		// podman-compose 1.0.3 leaves the project's network.
		exec.Command("podman", "network", "rm", "-f", project+"_default").Run()
	})
	started := time.Now()
	up, err := compose("up", "-d").CombinedOutput()
	running := runOut(t, "podman", "ps", "--filter", "label=io.podman.compose.project="+project, "--format", "{{.Names}}")
	if err != nil || strings.Count(running, "\n") != 3 {
		t.Fatalf("podman-compose up: %v, running: %q\n%s", err, running, tail(up, 30))
	}
	waitReady(t, d.api+"/readyz", 3*time.Minute)
	t.Logf("compose: API ready %.1f s after podman-compose up", time.Since(started).Seconds())
	workerServes := waitWorker(t, d.worker, started, "podman-compose up")
	walkThrough(t, d, fake)
	scrape(t, d, workerServes)
	// The healthchecks compose declares pass inside the containers.
	for _, name := range []string{"api", "worker", "redis"} {
		c := project + "_" + name + "_1"
		if out, err := exec.Command("podman", "healthcheck", "run", c).CombinedOutput(); err != nil {
			t.Errorf("healthcheck of %s: %v %s", name, err, out)
		} else {
			t.Logf("healthcheck of %s: healthy", name)
		}
	}
}
