package main

import (
	"maps"
	"os"
	"regexp"
	"slices"
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
			Restart     string            `yaml:"restart"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for name, s := range doc.Services {
		if s.Restart == "" || s.Restart == "no" {
			t.Errorf("service %s has no restart policy", name)
		}
		if len(s.Healthcheck.Test) < 2 {
			t.Errorf("service %s has no healthcheck", name)
		}
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
		if !regexp.MustCompile(`(?m)^#?` + m[1] + `=`).Match(ex) {
			t.Errorf("deploy/.env.example lacks %s", m[1])
		}
	}
}

// The Helm chart's values (deploy/helm/chorus/values.yaml) name only
// settings Chorus reads, every required one among them, secrets only in the
// Secret. The rendered chart is checked by the module deploy/helm/test.
func TestHelmValuesNameChorusSettings(t *testing.T) {
	b, err := os.ReadFile("../../deploy/helm/chorus/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Config map[string]string `yaml:"config"`
		Secret struct {
			Values map[string]string `yaml:"values"`
		} `yaml:"secret"`
	}
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for k := range values.Config {
		keys[k] = true
		if i := slices.IndexFunc(settings, func(s setting) bool { return s.env == k }); i >= 0 && settings[i].secret {
			t.Errorf("config.%s is a secret setting: put it under secret.values", k)
		}
	}
	for k := range values.Secret.Values {
		keys[k] = true
		if i := slices.IndexFunc(settings, func(s setting) bool { return s.env == k }); i >= 0 && !settings[i].secret {
			t.Errorf("secret.values.%s is not a secret setting: put it under config", k)
		}
	}
	for _, k := range deployRequired {
		if !keys[k] {
			t.Errorf("the chart's values hold no %s", k)
		}
	}
	for k := range keys {
		if !knownSetting(k) {
			t.Errorf("%s is not a setting Chorus reads", k)
		}
	}
}
