package social

import (
	"strings"
	"testing"
	"time"
)

func TestParseLimits(t *testing.T) {
	got, err := ParseLimits(" x.connection=300/24h, x.instance = 3000/24h ,mastodon.connection=100/90m,", DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Limits{PerConnection: Rate{300, 24 * time.Hour}, PerInstance: Rate{3000, 24 * time.Hour}}); got[X] != want {
		t.Errorf("x: %+v, want %+v", got[X], want)
	}
	if want := (Limits{PerConnection: Rate{100, 90 * time.Minute}, PerInstance: DefaultLimits[Mastodon].PerInstance}); got[Mastodon] != want {
		t.Errorf("mastodon: %+v, want %+v (the instance bucket kept)", got[Mastodon], want)
	}
	for _, n := range []string{Bluesky, LinkedIn, Facebook} {
		if got[n] != DefaultLimits[n] {
			t.Errorf("%s changed: %+v", n, got[n])
		}
	}
	if DefaultLimits[X].PerConnection.N != 100 {
		t.Error("the defaults were changed in place")
	}
	if same, err := ParseLimits("", DefaultLimits); err != nil || len(same) != len(DefaultLimits) {
		t.Errorf("empty: %v, %v", same, err)
	}

	for in, want := range map[string]string{
		"x=100/1h":                  "network.connection=N/duration",
		"myspace.connection=1/1h":   `unknown network "myspace"`,
		"x.account=1/1h":            "connection or instance",
		"x.connection=100":          "N/duration",
		"x.connection=0/1h":         "whole number ≥ 1",
		"x.connection=-5/1h":        "whole number ≥ 1",
		"x.connection=ten/1h":       "whole number ≥ 1",
		"x.connection=10/soon":      "duration",
		"x.connection=10/1ms":       "at least 1s",
		"x.instance=1/1h,bad":       "network.connection=N/duration",
		"bluesky.instance=1/-1h":    "at least 1s",
		"facebook.connection=1/1h;": "at least 1s",
	} {
		_, err := ParseLimits(in, DefaultLimits)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error saying %q", in, err, want)
		}
	}
}
