package preview

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/japanese"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", s, err)
	}
	return u
}

func TestParse(t *testing.T) {
	long := func(s string, n int) string { return strings.Repeat(s, n) }
	longURL := "https://cdn.example.com/" + long("a", 2100) + ".png"

	tests := []struct {
		name string
		html string
		base string // "" means nil
		want Preview
	}{
		{
			name: "OpenGraph",
			html: `<html><head>
				<meta property="og:title" content="Chorus ships 1.0">
				<meta property="og:description" content="Employee advocacy, self-hosted.">
				<meta property="og:image" content="/img/cover.png">
				<meta property="og:url" content="https://example.com/blog/1">
				<meta property="og:site_name" content="Chorus Blog">
				<title>ignored</title></head></html>`,
			base: "https://example.com/blog/1?utm=x",
			want: Preview{
				Title:        "Chorus ships 1.0",
				Description:  "Employee advocacy, self-hosted.",
				ImageURL:     "https://example.com/img/cover.png",
				CanonicalURL: "https://example.com/blog/1",
				SiteName:     "Chorus Blog",
			},
		},
		{
			name: "Twitter card fallback",
			html: `<head><title>Plain</title>
				<meta name="twitter:title" content="Tweet title">
				<meta name="twitter:description" content="Tweet description">
				<meta name="twitter:image:src" content="img.jpg">
				<meta name="description" content="plain description"></head>`,
			base: "http://example.com/a/b",
			want: Preview{
				Title:       "Tweet title",
				Description: "Tweet description",
				ImageURL:    "http://example.com/a/img.jpg",
			},
		},
		{
			name: "plain HTML fallback",
			html: `<head><title>Plain title</title>
				<meta name="description" content="plain description">
				<link rel="stylesheet" href="/s.css">
				<link rel="Canonical" href="/canonical"></head>`,
			base: "https://example.com/x?y=1",
			want: Preview{
				Title:        "Plain title",
				Description:  "plain description",
				CanonicalURL: "https://example.com/canonical",
			},
		},
		{
			name: "OpenGraph outranks Twitter and HTML",
			html: `<head><title>html</title>
				<meta name="twitter:title" content="twitter">
				<meta name="description" content="html">
				<meta name="twitter:description" content="twitter">
				<meta name="twitter:image" content="https://example.com/twitter.png">
				<link rel="canonical" href="https://example.com/canonical">
				<meta property="og:url" content="https://example.com/og">
				<meta property="og:title" content="og">
				<meta property="og:description" content="og">
				<meta property="og:image" content="https://example.com/og.png"></head>`,
			want: Preview{
				Title:        "og",
				Description:  "og",
				ImageURL:     "https://example.com/og.png",
				CanonicalURL: "https://example.com/canonical",
			},
		},
		{
			name: "og:url when no canonical link",
			html: `<meta property="og:url" content="https://example.com/og">`,
			want: Preview{CanonicalURL: "https://example.com/og"},
		},
		{
			name: "og:image:secure_url when og:image is unusable",
			html: `<meta property="og:image" content="javascript:alert(1)">
				<meta property="og:image:secure_url" content="https://example.com/secure.png">`,
			want: Preview{ImageURL: "https://example.com/secure.png"},
		},
		{
			name: "meta keys in name attribute and any case",
			html: `<meta name="OG:Title" content="by name">`,
			want: Preview{Title: "by name"},
		},
		{
			name: "empty og:title falls back",
			html: `<meta property="og:title" content="  "><meta name="twitter:title" content="twitter">`,
			want: Preview{Title: "twitter"},
		},
		{
			name: "script in og:title is text",
			html: `<meta property="og:title" content="<script>alert(1)</script>">`,
			want: Preview{Title: "<script>alert(1)</script>"},
		},
		{
			name: "escaped markup in og:description is decoded to text",
			html: `<meta property="og:description" content="&lt;img src=x onerror=alert(1)&gt;">`,
			want: Preview{Description: "<img src=x onerror=alert(1)>"},
		},
		{
			name: "markup in title element is text",
			html: `<title><b>bold</b> &lt;i&gt; <script>alert(1)</script></title>`,
			want: Preview{Title: "<b>bold</b> <i> <script>alert(1)</script>"},
		},
		{
			name: "attribute breakout stays inside the value",
			html: `<meta property="og:title" content='"><script>alert(1)</script>'>`,
			want: Preview{Title: `"><script>alert(1)</script>`},
		},
		{
			name: "javascript image dropped",
			html: `<meta property="og:image" content="javascript:alert(1)">`,
			want: Preview{},
		},
		{
			name: "disguised javascript image dropped",
			html: `<meta property="og:image" content=" JaVa&#x09;ScRiPt:alert(1)">`,
			base: "https://example.com/",
			want: Preview{},
		},
		{
			name: "data image dropped, Twitter image used",
			html: `<meta property="og:image" content="data:image/png;base64,iVBORw0KGgo=">
				<meta name="twitter:image" content="https://example.com/t.png">`,
			want: Preview{ImageURL: "https://example.com/t.png"},
		},
		{
			name: "other schemes dropped",
			html: `<meta property="og:image" content="ftp://example.com/a.png">
				<link rel="canonical" href="file:///etc/passwd">
				<meta property="og:url" content="vbscript:msgbox">`,
			want: Preview{},
		},
		{
			name: "userinfo URL dropped",
			html: `<meta property="og:image" content="https://user:pass@example.com/a.png">`,
			want: Preview{},
		},
		{
			name: "relative URL without base dropped",
			html: `<meta property="og:image" content="/a.png"><link rel="canonical" href="page">`,
			want: Preview{},
		},
		{
			name: "protocol-relative URL takes the base scheme",
			html: `<meta property="og:image" content="//cdn.example.com/a.png">`,
			base: "https://example.com/",
			want: Preview{ImageURL: "https://cdn.example.com/a.png"},
		},
		{
			name: "base element",
			html: `<head><base href="https://static.example.com/assets/"><meta property="og:image" content="a.png"></head>`,
			base: "https://example.com/page",
			want: Preview{ImageURL: "https://static.example.com/assets/a.png"},
		},
		{
			name: "javascript base element ignored",
			html: `<head><base href="javascript:alert(1)//"><meta property="og:image" content="a.png"></head>`,
			base: "https://example.com/page",
			want: Preview{ImageURL: "https://example.com/a.png"},
		},
		{
			name: "entities decoded once",
			html: `<meta property="og:title" content="Caf&eacute; &amp; Bar &#x1F600; &amp;lt;">`,
			want: Preview{Title: "Café & Bar 😀 &lt;"},
		},
		{
			name: "whitespace collapsed",
			html: "<title>\n\t  Hello \r\n\t world&nbsp;&nbsp;again \u2028 </title>",
			want: Preview{Title: "Hello world again"},
		},
		{
			name: "control and bidi characters removed",
			html: "<meta property=\"og:title\" content=\"a\x01b\x07c\x1bd\u202ee\u2066f\ufeffg\x7fh\">",
			want: Preview{Title: "abcdefgh"},
		},
		{
			name: "caps",
			html: `<meta property="og:title" content="` + long("a", 400) + `">
				<meta property="og:description" content="` + long("é ", 1500) + `">
				<meta property="og:site_name" content="` + long("s", 150) + `">
				<meta property="og:image" content="` + longURL + `">
				<meta name="twitter:image" content="https://example.com/short.png">`,
			want: Preview{
				Title:       long("a", 299) + "…",
				Description: strings.TrimSpace(long("é ", 500)) + "…",
				SiteName:    long("s", 99) + "…",
				ImageURL:    "https://example.com/short.png",
			},
		},
		{
			name: "exactly at the caps is not cut",
			html: `<meta property="og:title" content="` + long("a", 300) + `">`,
			want: Preview{Title: long("a", 300)},
		},
		{
			name: "SVG title is not the page title",
			html: `<body><svg><title>icon</title></svg></body>`,
			want: Preview{},
		},
		{
			name: "empty document",
			html: ``,
			want: Preview{},
		},
		{
			name: "garbage",
			html: "\x00\xff<<<meta property=og:title content=ok",
			want: Preview{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var base *url.URL
			if tt.base != "" {
				base = mustURL(t, tt.base)
			}
			got, err := Parse(strings.NewReader(tt.html), base)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Parse (-got +want):\n%s", diff)
			}
		})
	}
}

func TestParseCharset(t *testing.T) {
	sjis, err := japanese.ShiftJIS.NewEncoder().String("日本語のページ")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		html string
		want string
	}{
		{"meta charset windows-1252", "<meta charset=windows-1252><title>caf\xe9</title>", "café"},
		{"meta http-equiv ISO-8859-1", `<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1"><title>caf` + "\xe9</title>", "café"},
		{"meta Shift_JIS", "<meta charset=\"Shift_JIS\"><title>" + sjis + "</title>", "日本語のページ"},
		{"UTF-8 BOM", "\xef\xbb\xbf<title>café</title>", "café"},
		{"undeclared UTF-8", "<title>café</title>", "café"},
		{"undeclared non-UTF-8 is windows-1252", "<title>caf\xe9 \x93quoted\x94</title>", "café “quoted”"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.html), nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got.Title != tt.want {
				t.Errorf("Title = %q, want %q", got.Title, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		``,
		`<html><head><title>t</title><meta property="og:image" content="/a.png"></head></html>`,
		`<meta property="og:title" content="<script>alert(1)</script>">`,
		`<meta property="og:image" content="javascript:alert(1)"><link rel=canonical href="//x/y">`,
		`<base href="http://b/"><meta name=twitter:image content="../../x?y#z">`,
		"<meta charset=shift_jis><title>\x93\xfa</title>",
		"<title>\u202e\x00\x01 a \t b</title>",
		`<meta property="og:url" content="http://[::1]:80/">`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	base := mustURL(f, "https://example.com/dir/page?q=1")
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Parse(bytes.NewReader(data), base)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		for _, field := range []struct {
			name string
			val  string
			max  int
		}{
			{"Title", got.Title, maxTitle},
			{"Description", got.Description, maxDescription},
			{"SiteName", got.SiteName, maxSiteName},
		} {
			if n := utf8.RuneCountInString(field.val); n > field.max {
				t.Errorf("%s has %d runes, cap %d", field.name, n, field.max)
			}
			if !utf8.ValidString(field.val) {
				t.Errorf("%s = %q is not valid UTF-8", field.name, field.val)
			}
			if field.val != strings.TrimSpace(field.val) || strings.Contains(field.val, "  ") {
				t.Errorf("%s = %q has uncollapsed whitespace", field.name, field.val)
			}
			for _, r := range field.val {
				if unicode.IsControl(r) || isBidiControl(r) {
					t.Errorf("%s = %q contains control character %U", field.name, field.val, r)
				}
			}
		}
		for _, field := range []struct{ name, val string }{
			{"ImageURL", got.ImageURL},
			{"CanonicalURL", got.CanonicalURL},
		} {
			if field.val == "" {
				continue
			}
			if len(field.val) > maxURL {
				t.Errorf("%s is %d bytes, cap %d", field.name, len(field.val), maxURL)
			}
			u, err := url.Parse(field.val)
			if err != nil {
				t.Errorf("%s = %q does not parse: %v", field.name, field.val, err)
				continue
			}
			if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil {
				t.Errorf("%s = %q is not an absolute http(s) URL", field.name, field.val)
			}
		}
	})
}
