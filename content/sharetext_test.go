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
		// The link goes after a blank line: 2 + 23 characters.
		{"x fits with the link", "x", strings.Repeat("a", 280-25), false},
		{"x one over with the link", "x", strings.Repeat("a", 280-24), true},
		{"x counts CJK twice", "x", strings.Repeat("語", 127), false},
		{"x CJK over", "x", strings.Repeat("語", 128), true},
		{"x counts a URL as 23", "x", "read " + "https://example.com/" + strings.Repeat("p", 200) + strings.Repeat("a", 200), false},
		{"x counts emoji twice", "x", strings.Repeat("👍🏽", 127), false},
		{"x emoji over", "x", strings.Repeat("👍🏽", 128), true},
		{"mastodon 500 with the link", "mastodon", strings.Repeat("é", 475), false},
		{"mastodon over", "mastodon", strings.Repeat("é", 476), true},
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

// TestServerLimit: a Mastodon server's own max_characters replaces 500.
func TestServerLimit(t *testing.T) {
	text := strings.Repeat("a", 600)
	if err := CheckShareText("mastodon", text, 0); err == nil {
		t.Error("600 characters accepted under Mastodon's default limit")
	}
	if err := CheckShareText("mastodon", text, 1000); err != nil {
		t.Errorf("600 characters refused on a server of 1000: %v", err)
	}
	if err := CheckShareText("mastodon", text, 600); err == nil {
		t.Error("600 characters and the link accepted on a server of 600")
	}
}

func TestAppendLink(t *testing.T) {
	for _, tc := range []struct{ text, link, want string }{
		{"hello", "https://c.example/r/1", "hello\n\nhttps://c.example/r/1"},
		{"", "https://c.example/r/1", "https://c.example/r/1"},
		{"see https://c.example/r/1 now", "https://c.example/r/1", "see https://c.example/r/1 now"},
		{"hello", "", "hello"},
	} {
		if got := AppendLink(tc.text, tc.link); got != tc.want {
			t.Errorf("AppendLink(%q, %q) = %q, want %q", tc.text, tc.link, got, tc.want)
		}
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
