package social

import (
	"slices"
	"testing"
)

func TestCleanConfigTakesHostNamesOnly(t *testing.T) {
	got, err := cleanConfig(NetworkConfig{AllowedInstances: []string{
		"Mastodon.Social", "https://mastodon.social/", "fosstodon.org.", "bücher.example", "127.0.0.1:8443",
	}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:8443", "fosstodon.org", "mastodon.social", "xn--bcher-kva.example"}
	if !slices.Equal(got.AllowedInstances, want) {
		t.Errorf("cleaned = %v, want %v", got.AllowedInstances, want)
	}
	for _, bad := range []string{"$where", "a..b", "-bad-.example", "exa mple.com", "user@host.example", "host.example/path", "https://host.example?x=1", "", "ex_ample.com"} {
		if _, err := cleanConfig(NetworkConfig{AllowedInstances: []string{bad}}, true); err == nil {
			t.Errorf("%q was taken as a server", bad)
		}
	}
	if _, err := cleanConfig(NetworkConfig{AllowedInstances: []string{"mastodon.social"}}, false); err == nil {
		t.Error("a server list for a network that is not federated was taken")
	}
}
