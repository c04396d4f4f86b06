package content

import (
	"strings"
	"testing"
)

func TestShareTextLimits(t *testing.T) {
	tests := []struct {
		name      string
		network   string
		text      string
		wantError bool
	}{
		{"x fits with the link", "x", strings.Repeat("a", 280-24), false},
		{"x one over with the link", "x", strings.Repeat("a", 280-23), true},
		{"x counts CJK twice", "x", strings.Repeat("語", 128), false},
		{"x CJK over", "x", strings.Repeat("語", 129), true},
		{"x counts a URL as 23", "x", "read " + "https://example.com/" + strings.Repeat("p", 200) + strings.Repeat("a", 200), false},
		{"x counts emoji twice", "x", strings.Repeat("👍🏽", 128), false},
		{"x emoji over", "x", strings.Repeat("👍🏽", 129), true},
		{"mastodon 500 with the link", "mastodon", strings.Repeat("é", 476), false},
		{"mastodon over", "mastodon", strings.Repeat("é", 477), true},
		{"bluesky counts graphemes", "bluesky", strings.Repeat("👩‍👩‍👧", 300), false},
		{"bluesky over", "bluesky", strings.Repeat("a", 301), true},
		{"linkedin 3000", "linkedin", strings.Repeat("a", 3000), false},
		{"linkedin over", "linkedin", strings.Repeat("a", 3001), true},
		{"facebook", "facebook", strings.Repeat("a", 63206), false},
		{"unknown network", "myspace", "hi", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := checkShareTexts(map[string]string{tt.network: tt.text})
			if got := len(errs) > 0; got != tt.wantError {
				t.Errorf("errors = %v, want error %v", errs, tt.wantError)
			}
			if len(errs) > 0 && errs[0].Field != "share_texts."+tt.network {
				t.Errorf("field = %q, want share_texts.%s", errs[0].Field, tt.network)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	for _, bad := range []string{"", "javascript:alert(1)", "ftp://x.example/", "/relative", "https://user:pw@x.example/",
		"https://x.example/" + strings.Repeat("a", 2100), "https://x.example/a\nb", "http://"} {
		if _, err := checkURL("url", bad); err == nil {
			t.Errorf("checkURL(%q) accepted it", bad)
		}
	}
	if got, err := checkURL("url", " https://news.example/a?b=c "); err != nil || got != "https://news.example/a?b=c" {
		t.Errorf("checkURL = %q, %v", got, err)
	}
}

func TestSlug(t *testing.T) {
	tests := map[string]string{"Product News": "product-news", "  R&D / AI ": "r-d-ai", "Café": "café", "!!!": ""}
	for in, want := range tests {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
