// Package preview owns link previews: fetching the page behind a curated
// link without letting that fetch reach anything but the public internet
// (the SSRF policy lives here too), and reading the page's own description
// of itself (OpenGraph, Twitter cards, plain HTML) into a [Preview].
//
// HTML is read with goquery (github.com/PuerkitoBio/goquery) over
// golang.org/x/net/html rather than with github.com/otiai10/opengraph: the
// precedence rules below mix OpenGraph, Twitter cards, <title>, <meta
// name=description> and <link rel=canonical>, which a selector layer over
// the standard HTML5 parser expresses directly, whereas the OpenGraph
// library models only og:* and does its own HTTP fetching, which must go
// through the guarded client in this package instead.
package preview

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/transform"
)

// Preview is what a link's page says about itself. Every field is plain
// text (never HTML: display code must escape it like any other user input)
// and may be empty. ImageURL and CanonicalURL are either empty or absolute
// http(s) URLs.
type Preview struct {
	Title, Description, ImageURL, CanonicalURL, SiteName string
}

// Caps on what a preview holds; longer text is cut and ends in "…".
const (
	maxTitle       = 300  // runes
	maxDescription = 1000 // runes
	maxSiteName    = 100  // runes
	maxURL         = 2048 // bytes; a longer URL is dropped, since a cut URL is a wrong URL
)

// Parse reads an HTML document and returns its preview.
//
// Precedence: og:title > twitter:title > <title>; og:description >
// twitter:description > <meta name=description>; og:image >
// og:image:secure_url > og:image:url > twitter:image > twitter:image:src;
// <link rel=canonical> > og:url; og:site_name. The first candidate that
// survives cleaning wins, so an unusable og:image (javascript:, data:, too
// long) falls back to twitter:image. Meta keys are matched in either the
// property or the name attribute, case-insensitively.
//
// Relative URLs resolve against the document's <base href> if any, then
// against base (which may be nil); only absolute http(s) URLs without
// userinfo and at most 2048 bytes long are kept. Text is entity-decoded,
// stripped of control and bidi-override characters, whitespace-collapsed
// and capped: title 300 runes, description 1000, site name 100.
//
// The document is decoded from the charset its BOM or <meta charset>
// declares, else UTF-8 if valid, else windows-1252. Parse reads r to EOF and
// returns an error only if reading fails; malformed HTML is not an error.
func Parse(r io.Reader, base *url.URL) (Preview, error) {
	return parse(r, "", base)
}

// parse is Parse with the Content-Type header of the response, whose charset
// parameter outranks the document's <meta charset>.
func parse(r io.Reader, contentType string, base *url.URL) (Preview, error) {
	r, err := decode(r, contentType)
	if err != nil {
		return Preview{}, err
	}
	doc, err := goquery.NewDocumentFromReader(r)
	if err != nil {
		return Preview{}, fmt.Errorf("parse HTML: %w", err)
	}
	return extract(doc, base), nil
}

// decode converts r to UTF-8. Unlike charset.NewReader it accepts an empty
// document.
func decode(r io.Reader, contentType string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1024)
	head, err := br.Peek(1024)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read HTML: %w", err)
	}
	e, _, _ := charset.DetermineEncoding(head, contentType)
	if e == encoding.Nop {
		return br, nil
	}
	return transform.NewReader(br, e.NewDecoder()), nil
}

func extract(doc *goquery.Document, base *url.URL) Preview {
	meta := map[string][]string{}
	doc.Find("meta[content]").Each(func(_ int, s *goquery.Selection) {
		content, _ := s.Attr("content")
		for _, attr := range []string{"property", "name"} {
			if key, ok := s.Attr(attr); ok {
				key = strings.ToLower(strings.TrimSpace(key))
				meta[key] = append(meta[key], content)
			}
		}
	})

	// Browsers resolve every relative URL against the first <base href>.
	if href, ok := doc.Find("base[href]").First().Attr("href"); ok {
		if u, err := url.Parse(cleanURLText(href)); err == nil {
			if base != nil {
				u = base.ResolveReference(u)
			}
			if u.Scheme == "http" || u.Scheme == "https" {
				base = u
			}
		}
	}

	var title []string
	doc.Find("title").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if n := s.Get(0); n.Namespace == "" { // not an SVG <title>
			title = append(title, s.Text())
			return false
		}
		return true
	})

	var canonical []string
	doc.Find("link[rel][href]").Each(func(_ int, s *goquery.Selection) {
		rel, _ := s.Attr("rel")
		for _, tok := range strings.Fields(rel) {
			if strings.EqualFold(tok, "canonical") {
				href, _ := s.Attr("href")
				canonical = append(canonical, href)
				break
			}
		}
	})

	return Preview{
		Title:       firstText(maxTitle, meta["og:title"], meta["twitter:title"], title),
		Description: firstText(maxDescription, meta["og:description"], meta["twitter:description"], meta["description"]),
		ImageURL: firstURL(base, meta["og:image"], meta["og:image:secure_url"], meta["og:image:url"],
			meta["twitter:image"], meta["twitter:image:src"]),
		CanonicalURL: firstURL(base, canonical, meta["og:url"]),
		SiteName:     firstText(maxSiteName, meta["og:site_name"]),
	}
}

// firstText returns the first candidate that is not empty once cleaned.
func firstText(max int, candidates ...[]string) string {
	for _, list := range candidates {
		for _, s := range list {
			if s = cleanText(s, max); s != "" {
				return s
			}
		}
	}
	return ""
}

// firstURL returns the first candidate that is a usable absolute URL.
func firstURL(base *url.URL, candidates ...[]string) string {
	for _, list := range candidates {
		for _, s := range list {
			if s = cleanURL(s, base); s != "" {
				return s
			}
		}
	}
	return ""
}

// cleanText makes s safe and tidy to show as one line of plain text: it drops
// invalid UTF-8, control characters and bidi overrides (which can make a
// title display as something it is not), collapses whitespace runs to one
// space, trims, and cuts to max runes, the last of them "…". The HTML parser
// has already decoded entities once; s is not decoded again, so a page that
// says "&amp;lt;" means the text "&lt;".
func cleanText(s string, max int) string {
	var b strings.Builder
	n := 0 // runes written; stops a little past max, so work is bounded
	space := false
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				continue // an invalid byte, not a real U+FFFD
			}
		}
		if unicode.IsSpace(r) {
			space = n > 0
			continue
		}
		if unicode.IsControl(r) || isBidiControl(r) {
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r)
		n++
		if n > max {
			break
		}
	}
	if n <= max {
		return b.String()
	}
	runes := []rune(b.String())
	return strings.TrimRightFunc(string(runes[:max-1]), unicode.IsSpace) + "…"
}

// isBidiControl reports the explicit directional formatting characters and
// the byte-order mark, which reorder or hide text without being visible.
func isBidiControl(r rune) bool {
	switch {
	case r >= '\u202a' && r <= '\u202e', // LRE RLE PDF LRO RLO
		r >= '\u2066' && r <= '\u2069',              // LRI RLI FSI PDI
		r == '\u200e', r == '\u200f', r == '\u061c', // LRM RLM ALM
		r == '\ufeff':
		return true
	}
	return false
}

// cleanURLText strips what the URL standard strips from attribute values:
// leading and trailing C0 controls and spaces, and ASCII tabs and newlines
// anywhere.
func cleanURLText(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}

// cleanURL resolves s against base and returns it if it is an absolute
// http(s) URL with a host, no userinfo and at most maxURL bytes; else "".
func cleanURL(s string, base *url.URL) string {
	s = cleanURLText(s)
	if s == "" || len(s) > 4*maxURL {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	out := u.String()
	if len(out) > maxURL || !utf8.ValidString(out) {
		return ""
	}
	// What we return must read back as the same kind of URL.
	if v, err := url.Parse(out); err != nil || v.Scheme != u.Scheme || v.Hostname() == "" {
		return ""
	}
	return out
}
