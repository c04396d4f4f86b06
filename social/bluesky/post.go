package bluesky

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/rivo/uniseg"

	"github.com/chorushq/chorus/social"
)

// Limits of a post's text in the app.bsky.feed.post lexicon: grapheme
// clusters (what people count as characters) and bytes of UTF-8.
const (
	MaxGraphemes = 300
	MaxTextBytes = 3000
)

// Collection is the collection of posts in a repository.
const Collection = "app.bsky.feed.post"

// post is an app.bsky.feed.post record.
type post struct {
	Type      string  `json:"$type"`
	Text      string  `json:"text"`
	Facets    []facet `json:"facets,omitempty"`
	Embed     *embed  `json:"embed,omitempty"`
	CreatedAt string  `json:"createdAt"`
}

// facet marks a range of the text, in UTF-8 bytes, as a link.
type facet struct {
	Index    byteSlice `json:"index"`
	Features []feature `json:"features"`
}

type byteSlice struct {
	ByteStart int `json:"byteStart"`
	ByteEnd   int `json:"byteEnd"`
}

type feature struct {
	Type string `json:"$type"`
	URI  string `json:"uri"`
}

// embed is an app.bsky.embed.external: the link's card.
type embed struct {
	Type     string   `json:"$type"`
	External external `json:"external"`
}

type external struct {
	URI         string `json:"uri"`
	Title       string `json:"title"`
	Description string `json:"description"`
}

// checkText refuses a text Bluesky would refuse, before anything is sent.
func checkText(text string) error {
	msg := ""
	if n := uniseg.GraphemeClusterCount(text); n > MaxGraphemes {
		msg = fmt.Sprintf("the text is %d characters long; Bluesky allows %d", n, MaxGraphemes)
	} else if len(text) > MaxTextBytes {
		msg = fmt.Sprintf("the text takes %d bytes; Bluesky allows %d", len(text), MaxTextBytes)
	}
	if msg != "" {
		return &social.Error{Network: social.Bluesky, Op: "publish", Class: social.ErrPermanent, Message: msg}
	}
	return nil
}

// newPost builds the record of p: the text as written (Bluesky shows the
// link as a card, so it is not appended), a link facet wherever the text
// holds the link, and the card. social.Post has no title or description
// for the link yet, so the card's title is the link's host and its
// description empty.
func newPost(p social.Post, now time.Time) post {
	rec := post{Type: Collection, Text: p.Text, CreatedAt: now.UTC().Format("2006-01-02T15:04:05.000Z")}
	if p.Link == "" {
		return rec
	}
	for i := 0; ; {
		j := strings.Index(p.Text[i:], p.Link)
		if j < 0 {
			break
		}
		start := i + j
		rec.Facets = append(rec.Facets, facet{Index: byteSlice{ByteStart: start, ByteEnd: start + len(p.Link)},
			Features: []feature{{Type: "app.bsky.richtext.facet#link", URI: p.Link}}})
		i = start + len(p.Link)
	}
	title := p.Link
	if u, err := url.Parse(p.Link); err == nil && u.Host != "" {
		title = u.Host
	}
	rec.Embed = &embed{Type: "app.bsky.embed.external", External: external{URI: p.Link, Title: title}}
	return rec
}
