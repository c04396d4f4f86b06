package content

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/chorushq/chorus/tenant"
)

// A network's text limit, and how it counts. The share's link is added to
// the text on X and Mastodon (AppendLink; both count any URL as 23
// characters); on Bluesky, LinkedIn and Facebook it travels as a link
// card, outside the text.
type textLimit struct {
	max   int
	count func(string) int
	// linkInText: the link is appended to the text (AppendLink) and
	// counted with it.
	linkInText bool
	unit       string
}

// Networks whose share texts Chorus knows how to check. Mastodon's 500 is
// the default of a server that says nothing else (max_characters in GET
// /api/v2/instance; a connection keeps its server's).
var textLimits = map[string]textLimit{
	"x":        {max: 280, count: xLength, linkInText: true, unit: "weighted characters (most non-Latin characters and emoji count twice)"},
	"mastodon": {max: 500, count: mastodonLength, linkInText: true, unit: "characters"},
	"bluesky":  {max: 300, count: uniseg.GraphemeClusterCount, unit: "graphemes"},
	"linkedin": {max: 3000, count: utf8.RuneCountInString, unit: "characters"},
	"facebook": {max: 63206, count: utf8.RuneCountInString, unit: "characters"},
}

// Networks lists the networks share texts may be written for.
func Networks() []string {
	ns := make([]string, 0, len(textLimits))
	for n := range textLimits {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

// urlWeight is what X and Mastodon count for any URL (t.co wrapping).
const urlWeight = 23

// AppendLink is the text a network receives whose posts carry the share's
// link in their text (X, Mastodon): text, a blank line and link; text
// alone when it holds link already (or link is empty); link alone when
// text is empty. The connectors send it and the length check counts it,
// so a text the composer accepts is one the network accepts.
func AppendLink(text, link string) string {
	switch {
	case link == "" || strings.Contains(text, link):
		return text
	case text == "":
		return link
	}
	return text + "\n\n" + link
}

// sampleLink stands for a share's tracked link when a text is checked
// before the share exists; any URL counts urlWeight.
const sampleLink = "https://chorus.invalid/r/0"

var urlPattern = regexp.MustCompile(`https?://[^\s]+`)

// withURLsWeighed returns s with each URL replaced by urlWeight ASCII
// characters, and so counts URLs as both networks do.
func withURLsWeighed(s string) string {
	return urlPattern.ReplaceAllLiteralString(s, strings.Repeat("x", urlWeight))
}

func mastodonLength(s string) int { return utf8.RuneCountInString(withURLsWeighed(s)) }

// xLength is twitter-text's weighted length (configuration v3): code
// points in the ranges below weigh 1, all others 2, emoji sequences 2,
// text NFC-normalised by X before counting (callers send NFC text).
func xLength(s string) int {
	n := 0
	state := -1
	rest := withURLsWeighed(s)
	for len(rest) > 0 {
		var cluster string
		cluster, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		if isEmoji(cluster) {
			n += 2
			continue
		}
		for _, r := range cluster {
			n += xWeight(r)
		}
	}
	return n
}

func xWeight(r rune) int {
	switch {
	case r <= 4351, r >= 8192 && r <= 8205, r >= 8208 && r <= 8223, r >= 8242 && r <= 8247:
		return 1
	}
	return 2
}

// isEmoji reports whether a grapheme cluster is an emoji presentation.
func isEmoji(cluster string) bool {
	r, _ := utf8.DecodeRuneInString(cluster)
	return r >= 0x1F000 || (r >= 0x2600 && r <= 0x27BF) || strings.ContainsRune(cluster, 0xFE0F)
}

// checkShareTexts validates suggested texts per network against each
// network's limit, naming the field of every text that does not fit.
func checkShareTexts(texts map[string]string) (map[string]string, tenant.ValidationErrors) {
	return checkShareTextsMax(texts, 0)
}

// checkShareTextsMax is checkShareTexts with max, when positive, as the
// limit instead of the network's default.
func checkShareTextsMax(texts map[string]string, max int) (map[string]string, tenant.ValidationErrors) {
	var errs tenant.ValidationErrors
	out := make(map[string]string, len(texts))
	for network, text := range texts {
		field := "share_texts." + network
		lim, ok := textLimits[network]
		if !ok {
			errs = append(errs, &tenant.ValidationError{Field: field, Reason: "is not a network Chorus posts to (" + strings.Join(Networks(), ", ") + ")"})
			continue
		}
		text = strings.TrimSpace(text)
		if !utf8.ValidString(text) {
			errs = append(errs, &tenant.ValidationError{Field: field, Reason: "must be valid UTF-8"})
			continue
		}
		limit := lim.max
		if max > 0 {
			limit = max
		}
		sent := text
		if lim.linkInText {
			sent = AppendLink(text, sampleLink)
		}
		if n := lim.count(sent); n > limit {
			msg := fmt.Sprintf("is %d %s long, at most %d fit", n, lim.unit, limit)
			if lim.linkInText {
				msg = fmt.Sprintf("is %d %s long with the link appended after a blank line (a link counts %d), at most %d fit", n, lim.unit, urlWeight, limit)
			}
			errs = append(errs, &tenant.ValidationError{Field: field, Reason: msg})
			continue
		}
		if text != "" {
			out[network] = text
		}
	}
	return out, errs
}

// CheckShareText validates a share's text for one network (the link is
// added as the connector adds it, counted as the network counts it); max,
// when positive, is the account's own limit (a Mastodon server's
// max_characters) instead of the network's default. The error is a field
// error on "text".
func CheckShareText(network, text string, max int) error {
	_, errs := checkShareTextsMax(map[string]string{network: text}, max)
	if len(errs) > 0 {
		return &tenant.ValidationError{Field: "text", Reason: errs[0].Reason}
	}
	return nil
}
