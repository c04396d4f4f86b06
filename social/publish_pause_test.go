package social_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/social/linkedin"
	"github.com/chorushq/chorus/social/linkedin/linkedintest"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
)

// memPauses keeps network pauses in memory on a clock, as Redis keeps
// them with an expiry in production (jobs.RateLimiter).
type memPauses struct {
	mu     sync.Mutex
	now    func() time.Time
	until  map[string]time.Time
	reason map[string]string
}

func (p *memPauses) Pause(_ context.Context, network string, d time.Duration, reason string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.until[network], p.reason[network] = p.now().Add(d), reason
	return nil
}

func (p *memPauses) Paused(_ context.Context, network string) (time.Duration, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if wait := p.until[network].Sub(p.now()); wait > 0 {
		return wait, p.reason[network], nil
	}
	return 0, "", nil
}

// TestOperatorErrorPausesTheNetwork: LinkedIn refusing the configured
// API version (426) is the operator's to mend. The share waits (queued,
// saying why) instead of failing, the network is paused for the whole
// deployment so the next share sends nothing, the pause is listed for
// the health page, and once the operator has configured a served
// version the waiting share is posted.
func TestOperatorErrorPausesTheNetwork(t *testing.T) {
	h := newHarness(t, mastodontest.Options{})
	_, sc, me := h.admin()
	ctx := t.Context()
	fake := linkedintest.New(t, linkedintest.Options{Now: h.clock.Now})
	service := func(version string, pauses social.Pauses) *social.Service {
		n, err := linkedin.New(linkedin.Options{ClientID: fake.ClientID(), ClientSecret: social.Secret(fake.ClientSecret()),
			AuthBaseURL: fake.URL, APIBaseURL: fake.URL, UserAgent: "Chorus-test", Now: h.clock.Now, Version: version})
		if err != nil {
			t.Fatal(err)
		}
		reg, err := social.NewRegistry(n)
		if err != nil {
			t.Fatal(err)
		}
		cfg := h.cfg
		cfg.Networks, cfg.Pauses = reg, pauses
		return social.NewService(cfg)
	}
	pauses := &memPauses{now: h.clock.Now, until: map[string]time.Time{}, reason: map[string]string{}}
	good, sunset := service("", pauses), service("202312", pauses)

	conn := connectOAuth(t, good, sc, me, social.LinkedIn)
	share := func(id string) social.Share {
		t.Helper()
		post := content.Post{ID: id, State: content.StatePublished, URL: "https://news.example/" + id, Title: id}
		out, err := sunset.CreateShares(ctx, sc, me, post, social.ShareRequest{Connections: []string{conn.ID}})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	state := func(id string) (string, string) {
		t.Helper()
		sh, err := good.GetShare(ctx, sc, me, id)
		if err != nil {
			t.Fatal(err)
		}
		return string(sh.State), sh.Error
	}
	first, second := share("first"), share("second")

	err := sunset.PublishShare(ctx, sc, first.ID)
	var re *social.RetryError
	if !errors.As(err, &re) || !errors.Is(err, social.ErrOperator) || re.Delay != social.OperatorPause {
		t.Fatalf("PublishShare with a sunset version = %v, want a retry in %v for the operator", err, social.OperatorPause)
	}
	if st, msg := state(first.ID); st != "queued" || !strings.Contains(msg, "operator") || !strings.Contains(msg, "CHORUS_LINKEDIN_VERSION") {
		t.Errorf("share after 426: %s %q, want queued saying the operator must set the version", st, msg)
	}
	err = sunset.PublishShare(ctx, sc, second.ID)
	if !errors.As(err, &re) || !errors.Is(err, social.ErrNetworkPaused) || re.Delay <= 0 || re.Delay > social.OperatorPause {
		t.Errorf("PublishShare while paused = %v, want a wait of the pause", err)
	}
	if got := fake.Calls("POST /rest/posts"); got != 1 {
		t.Errorf("%d posts sent to LinkedIn, want 1: the pause holds the others back", got)
	}
	if st, msg := state(second.ID); st != "queued" || !strings.Contains(msg, "waiting") {
		t.Errorf("share while paused: %s %q, want queued and waiting", st, msg)
	}
	paused, err := good.PausedNetworks(ctx)
	if err != nil || len(paused) != 1 || paused[0].Network != social.LinkedIn || !strings.Contains(paused[0].Reason, "not active") {
		t.Errorf("PausedNetworks = %+v, %v; want LinkedIn with its reason", paused, err)
	}

	// The operator sets a served version; the pause runs out.
	h.clock.Add(social.OperatorPause + time.Second)
	for _, id := range []string{first.ID, second.ID} {
		if err := good.PublishShare(ctx, sc, id); err != nil {
			t.Fatal(err)
		}
		if st, msg := state(id); st != "published" || msg != "" {
			t.Errorf("share after the fix: %s %q, want published", st, msg)
		}
	}
	if paused, err := good.PausedNetworks(ctx); err != nil || len(paused) != 0 {
		t.Errorf("PausedNetworks after the pause = %+v, %v; want none", paused, err)
	}
}
