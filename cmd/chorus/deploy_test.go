package main

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// What serve and worker both need in production (productionProblems),
// besides the servers they connect to.
var deployRequired = []string{"CHORUS_TOKEN_KEYS", "CHORUS_BASE_URL", "CHORUS_SMTP_URL", "CHORUS_MONGO_URI", "CHORUS_REDIS_URL"}

func knownSetting(env string) bool {
	return slices.ContainsFunc(settings, func(s setting) bool { return s.env == env })
}

// deploy/compose.yaml gives the API and the worker the same settings, each
// one Chorus knows, the required ones among them.
func TestComposeGivesServeAndWorkerTheSameSettings(t *testing.T) {
	b, err := os.ReadFile("../../deploy/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	api, worker := doc.Services["api"], doc.Services["worker"]
	if !slices.Equal(api.Command, []string{"serve"}) || !slices.Equal(worker.Command, []string{"worker"}) {
		t.Fatalf("api runs %v, worker runs %v", api.Command, worker.Command)
	}
	if !maps.Equal(api.Environment, worker.Environment) {
		t.Errorf("api and worker settings differ:\n%v\n%v", api.Environment, worker.Environment)
	}
	for _, k := range deployRequired {
		if api.Environment[k] == "" {
			t.Errorf("compose does not set %s", k)
		}
	}
	for k := range api.Environment {
		if !knownSetting(k) {
			t.Errorf("compose sets %s, which Chorus does not read", k)
		}
	}
	// deploy/.env.example lists what compose reads from deploy/.env.
	ex, err := os.ReadFile("../../deploy/.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{(CHORUS_[A-Z_]+)`).FindAllStringSubmatch(string(b), -1) {
		if m[1] != "CHORUS_IMAGE" && !regexp.MustCompile(`(?m)^#?`+m[1]+`=`).Match(ex) {
			t.Errorf("deploy/.env.example lacks %s", m[1])
		}
	}
}

// deploy/kubernetes/chorus.yaml gives both Deployments the same ConfigMap
// and Secret; between them they hold the required settings.
func TestKubernetesGivesServeAndWorkerTheSameSettings(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kubernetes/chorus.yaml")
	if err != nil {
		t.Fatal(err)
	}
	type ref struct {
		Name string `yaml:"name"`
	}
	var (
		config   map[string]string
		envFroms = map[string][]string{}
	)
	for _, part := range strings.Split(string(b), "\n---\n") {
		var obj struct {
			Kind     string            `yaml:"kind"`
			Metadata ref               `yaml:"metadata"`
			Data     map[string]string `yaml:"data"`
			Spec     struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Args    []string `yaml:"args"`
							Env     []ref    `yaml:"env"`
							EnvFrom []struct {
								ConfigMapRef *ref `yaml:"configMapRef"`
								SecretRef    *ref `yaml:"secretRef"`
							} `yaml:"envFrom"`
						} `yaml:"containers"`
					} `yaml:"spec"`
				} `yaml:"template"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal([]byte(part), &obj); err != nil {
			t.Fatal(err)
		}
		switch obj.Kind {
		case "ConfigMap":
			config = obj.Data
		case "Deployment":
			for _, c := range obj.Spec.Template.Spec.Containers {
				if len(c.Env) > 0 {
					t.Errorf("%s sets env of its own: both Deployments take everything from the ConfigMap and the Secret", obj.Metadata.Name)
				}
				var from []string
				for _, f := range c.EnvFrom {
					switch {
					case f.ConfigMapRef != nil:
						from = append(from, "configmap/"+f.ConfigMapRef.Name)
					case f.SecretRef != nil:
						from = append(from, "secret/"+f.SecretRef.Name)
					}
				}
				envFroms[strings.Join(c.Args, " ")] = from
			}
		}
	}
	want := []string{"configmap/chorus", "secret/chorus"}
	if !slices.Equal(envFroms["serve"], want) || !slices.Equal(envFroms["worker"], want) {
		t.Errorf("envFrom: %v, want serve and worker both from %v", envFroms, want)
	}
	// The Secret is made by the kubectl line in the file's header.
	keys := map[string]bool{}
	for k := range config {
		keys[k] = true
	}
	for _, m := range regexp.MustCompile(`--from-literal=(CHORUS_[A-Z_]+)=`).FindAllStringSubmatch(string(b), -1) {
		keys[m[1]] = true
	}
	for _, k := range deployRequired {
		if !keys[k] {
			t.Errorf("neither the ConfigMap nor the Secret holds %s", k)
		}
	}
	for k := range keys {
		if !knownSetting(k) {
			t.Errorf("%s is not a setting Chorus reads", k)
		}
	}
}
