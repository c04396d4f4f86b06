package content

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// Limits of a sitemap poll (see docs/sources.md).
const (
	// maxSitemapChildren is how many child sitemaps of a sitemap index are
	// read per poll, the most recently modified first.
	maxSitemapChildren = 5
	// maxSitemapURLs is how many page URLs of one poll are looked at, the
	// sitemap protocol's limit of one file.
	maxSitemapURLs = 50_000
	// maxPagesPerPoll is how many pages' previews one poll of a sitemap
	// fetches, and so how many posts it makes at most. Each is a request to
	// the company's site (timeout 5 s), made pagesAtOnce at a time: a poll
	// stays under half a minute and does not hammer the site.
	maxPagesPerPoll = 20
	pagesAtOnce     = 4
)

// ErrNotSitemap: the document is XML but neither a urlset nor a
// sitemapindex.
var ErrNotSitemap = errors.New("not a sitemap (urlset or sitemapindex)")

const sitemapAccept = "application/xml, text/xml;q=0.9, application/gzip;q=0.5, */*;q=0.1"

// sitemapDoc is a sitemap (urlset) or a sitemap index (sitemapindex) of
// the sitemaps.org protocol. Only loc and lastmod are read.
type sitemapDoc struct {
	XMLName  xml.Name
	URLs     []sitemapLoc `xml:"url"`
	Sitemaps []sitemapLoc `xml:"sitemap"`
}

type sitemapLoc struct {
	Loc     string `xml:"loc"`
	LastMod string `xml:"lastmod"`
}

// sitemapPage is a page a sitemap lists.
type sitemapPage struct {
	url, canonical string
	lastMod        time.Time // zero: not given
}

// parseSitemap reads a sitemap document, gzip-compressed (.xml.gz) or
// not; a compressed one may not inflate beyond max bytes.
func parseSitemap(body []byte, max int64) (sitemapDoc, error) {
	if len(body) > 2 && body[0] == 0x1f && body[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return sitemapDoc{}, fmt.Errorf("gunzip sitemap: %w", err)
		}
		inflated, err := io.ReadAll(io.LimitReader(zr, max+1))
		if err != nil {
			return sitemapDoc{}, fmt.Errorf("gunzip sitemap: %w", err)
		}
		if int64(len(inflated)) > max {
			return sitemapDoc{}, fmt.Errorf("sitemap: %w (%d bytes inflated)", ErrFeedTooLarge, max)
		}
		body = inflated
	}
	var doc sitemapDoc
	// encoding/xml expands no external entities and reads no DTD: a
	// document cannot make it fetch or grow anything.
	if err := xml.Unmarshal(body, &doc); err != nil {
		return sitemapDoc{}, fmt.Errorf("parse sitemap: %w", err)
	}
	if doc.XMLName.Local != "urlset" && doc.XMLName.Local != "sitemapindex" {
		return sitemapDoc{}, fmt.Errorf("parse sitemap: %w: root element <%s>", ErrNotSitemap, doc.XMLName.Local)
	}
	return doc, nil
}

// lastModOf parses a W3C Datetime (the sitemap's lastmod); zero if it
// does not parse.
func lastModOf(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// sameSite reports whether loc is an http(s) URL on host, the sitemap's
// own (the protocol's rule: a sitemap lists its own site's pages).
func sameSite(loc, host string) (string, bool) {
	u, verr := checkURL("loc", strings.TrimSpace(loc))
	if verr != nil {
		return "", false
	}
	p, err := url.Parse(u)
	if err != nil || !strings.EqualFold(p.Host, host) {
		return "", false
	}
	return u, true
}

type sitemapFetched struct {
	notModified        bool
	etag, lastModified string
	pages              []sitemapPage
}

// fetchSitemap reads a source's sitemap with conditional GET; for a
// sitemap index, the maxSitemapChildren most recently modified of its
// sitemaps (unconditionally). Every document is held to the size cap and
// the outbound policy; a child that fails fails the poll. Pages not on the
// sitemap's host are left out.
func (fp feedPoller) fetchSitemap(ctx context.Context, src Source) (sitemapFetched, error) {
	root, err := url.Parse(src.URL)
	if err != nil {
		return sitemapFetched{}, fmt.Errorf("sitemap URL: %w", err)
	}
	a, err := fp.get(ctx, "sitemap", src.URL, sitemapAccept, src.ETag, src.LastModified)
	if err != nil || a.notModified {
		return sitemapFetched{notModified: a.notModified}, err
	}
	doc, err := parseSitemap(a.body, fp.maxBody)
	if err != nil {
		return sitemapFetched{}, err
	}
	out := sitemapFetched{etag: a.etag, lastModified: a.lastModified}
	docs := []sitemapDoc{doc}
	if doc.XMLName.Local == "sitemapindex" {
		var children []sitemapPage
		for _, sm := range doc.Sitemaps {
			if u, ok := sameSite(sm.Loc, root.Host); ok {
				children = append(children, sitemapPage{url: u, lastMod: lastModOf(sm.LastMod)})
			}
		}
		newestFirst(children)
		for _, child := range children[:min(len(children), maxSitemapChildren)] {
			a, err := fp.get(ctx, "sitemap", child.url, sitemapAccept, "", "")
			if err != nil {
				return sitemapFetched{}, fmt.Errorf("child %s: %w", child.url, err)
			}
			d, err := parseSitemap(a.body, fp.maxBody)
			if err != nil {
				return sitemapFetched{}, fmt.Errorf("child %s: %w", child.url, err)
			}
			if d.XMLName.Local == "urlset" { // an index in an index is not followed
				docs = append(docs, d)
			}
		}
	}
	seen := map[string]bool{}
	for _, d := range docs {
		for _, e := range d.URLs {
			if len(out.pages) == maxSitemapURLs {
				return out, nil
			}
			u, ok := sameSite(e.Loc, root.Host)
			if !ok {
				continue
			}
			c := CanonicalURL(u)
			if seen[c] {
				continue
			}
			seen[c] = true
			out.pages = append(out.pages, sitemapPage{url: u, canonical: c, lastMod: lastModOf(e.LastMod)})
		}
	}
	return out, nil
}

// newestFirst sorts pages by lastmod, the newest first and those without
// one last, keeping the document's order otherwise.
func newestFirst(pages []sitemapPage) {
	slices.SortStableFunc(pages, func(a, b sitemapPage) int {
		return cmp.Compare(b.lastMod.UnixNano(), a.lastMod.UnixNano())
	})
}

// seenSet is the set of a sitemap's page URLs at its last read: the
// sorted 64-bit FNV-1a digests of their canonical forms, 8 bytes each
// (at most 400 KB for maxSitemapURLs).
type seenSet []uint64

func digest(canonical string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(canonical))
	return h.Sum64()
}

func seenSetOf(b []byte) seenSet {
	s := make(seenSet, len(b)/8)
	for i := range s {
		s[i] = binary.BigEndian.Uint64(b[i*8:])
	}
	return s
}

func (s seenSet) has(canonical string) bool {
	_, ok := slices.BinarySearch(s, digest(canonical))
	return ok
}

func seenBytes(pages []sitemapPage, except map[string]bool) []byte {
	ds := make([]uint64, 0, len(pages))
	for _, p := range pages {
		if !except[p.canonical] {
			ds = append(ds, digest(p.canonical))
		}
	}
	slices.Sort(ds)
	ds = slices.Compact(ds)
	b := make([]byte, 8*len(ds))
	for i, d := range ds {
		binary.BigEndian.PutUint64(b[i*8:], d)
	}
	return b
}

// pollSitemap polls a sitemap source: see addPages for which pages become
// posts. A poll that left pages for later (the caps) keeps no validators,
// so the next one reads the sitemap in full again.
func (s *Service) pollSitemap(ctx context.Context, sc tenant.Scope, src Source) (PollResult, error) {
	var res PollResult
	f, err := s.feeds.fetchSitemap(ctx, src)
	now := s.now().UTC().Truncate(time.Millisecond)
	if err != nil {
		res.Err = err
		return res, s.recordFailure(ctx, sc, src, now, err)
	}
	if f.notModified {
		res.NotModified = true
		return res, s.recordSuccess(ctx, sc, src, now, 0, nil)
	}
	added, deferred, err := s.addPages(ctx, sc, src, f.pages, now)
	if err != nil {
		return res, err
	}
	res.Added = added
	if len(deferred) > 0 {
		f.etag, f.lastModified = "", ""
	}
	return res, s.recordSuccess(ctx, sc, src, now, added, bson.D{
		{Key: "etag", Value: f.etag}, {Key: "last_modified", Value: f.lastModified},
		{Key: "sitemap_since", Value: now}, {Key: "sitemap_seen", Value: seenBytes(f.pages, deferred)},
	})
}

// addPages makes posts of a sitemap's new pages: those not listed at the
// last read, or whose lastmod is later than it. The first read takes the
// maxPagesPerPoll newest pages and counts the rest as seen: a site's back
// catalogue is not new content. Later reads look at the new pages newest
// first, at most maxItemsPerPoll of them, skip those a post of the
// instance has (canonical URL), and fetch the preview of at most
// maxPagesPerPoll; the pages left over are deferred (returned, and not
// counted as seen) to the next poll. A page whose preview the outbound
// policy refuses, or that is not HTML, makes no post.
func (s *Service) addPages(ctx context.Context, sc tenant.Scope, src Source, pages []sitemapPage, now time.Time) (int, map[string]bool, error) {
	seen := seenSetOf(src.SitemapSeen)
	var cand []sitemapPage
	for _, p := range pages {
		updated := src.SitemapSince != nil && p.lastMod.After(*src.SitemapSince)
		if src.SitemapSince == nil || updated || !seen.has(p.canonical) {
			cand = append(cand, p)
		}
	}
	newestFirst(cand)
	limit := maxItemsPerPoll
	if src.SitemapSince == nil {
		limit = maxPagesPerPoll
	}
	deferred := map[string]bool{}
	if src.SitemapSince != nil {
		for _, p := range cand[min(len(cand), limit):] {
			deferred[p.canonical] = true
		}
	}
	cand = cand[:min(len(cand), limit)]
	if len(cand) == 0 {
		return 0, deferred, nil
	}
	canon := make([]string, len(cand))
	for i, p := range cand {
		canon[i] = p.canonical
	}
	var known []struct {
		CanonicalURL string `bson:"canonical_url"`
	}
	if err := sc.Collection(postKind).Find(ctx, bson.D{{Key: "canonical_url", Value: bson.D{{Key: "$in", Value: canon}}}}, &known,
		options.Find().SetProjection(bson.D{{Key: "canonical_url", Value: 1}, {Key: "_id", Value: 0}})); err != nil {
		return 0, nil, err
	}
	exists := map[string]bool{}
	for _, k := range known {
		exists[k.CanonicalURL] = true
	}
	var fresh []sitemapPage
	for _, p := range cand {
		switch {
		case exists[p.canonical]:
		case len(fresh) == maxPagesPerPoll:
			deferred[p.canonical] = true
		default:
			fresh = append(fresh, p)
		}
	}
	posts := s.pagePosts(ctx, src, fresh, now)
	if len(posts) == 0 {
		return 0, deferred, nil
	}
	if err := insertSourcePosts(ctx, sc, src, posts); err != nil {
		return 0, nil, fmt.Errorf("store pages: %w", err)
	}
	for _, p := range posts {
		if p.Preview.Status == "failed" && s.retryPreview != nil {
			if err := s.retryPreview(ctx, sc, p.ID); err != nil {
				s.log.WarnContext(ctx, "preview retry not queued", "post_id", p.ID, "err", err)
			}
		}
	}
	return len(posts), deferred, nil
}

// pagePosts fetches the pages' previews, pagesAtOnce at a time, and makes
// their posts, in the pages' order. A preview that failed for a reason
// that may pass gives a post with a failed preview (retried by the
// preview job); one refused for good, none.
func (s *Service) pagePosts(ctx context.Context, src Source, pages []sitemapPage, now time.Time) []Post {
	out := make([]*Post, len(pages))
	sem := make(chan struct{}, pagesAtOnce)
	var wg sync.WaitGroup
	for i, pg := range pages {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pv, err := s.fetchPreview(ctx, pg.url)
			if errors.Is(err, ErrPreviewRefused) {
				s.log.InfoContext(ctx, "sitemap page refused", "source_id", src.ID, "err", err)
				return
			}
			p := src.post(pg.url, pg.canonical, clip(strings.TrimSpace(pv.Title), maxTitleLen), pv, now)
			out[i] = &p
		})
	}
	wg.Wait()
	var posts []Post
	for _, p := range out {
		if p != nil {
			posts = append(posts, *p)
		}
	}
	return posts
}
