package content

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/tenant"
)

// Source is a feed (RSS or Atom) or a sitemap whose new items become
// content: drafts for review, or published at once when the source is
// trusted. The worker polls the sources that are due (PollDue).
type Source struct {
	ID  string `bson:"_id" json:"id"`
	URL string `bson:"url" json:"url"`
	// Kind is what URL serves: SourceFeed or SourceSitemap. Sources stored
	// before sitemaps existed have none and are feeds.
	Kind      string    `bson:"kind,omitempty" json:"kind"`
	Title     string    `bson:"title" json:"title"`
	Topics    []string  `bson:"topics" json:"topics"`
	Trusted   bool      `bson:"trusted" json:"trusted"`
	CreatedBy string    `bson:"created_by" json:"created_by"`
	CreatedAt time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt time.Time `bson:"updated_at" json:"updated_at"`
	// NextPollAt is when the source is due; the worker walks sources by it.
	NextPollAt   time.Time  `bson:"next_poll_at" json:"next_poll_at"`
	LastPolledAt *time.Time `bson:"last_polled_at,omitempty" json:"last_polled_at,omitempty"`
	// ETag and LastModified are the validators of the last full answer,
	// sent back as If-None-Match and If-Modified-Since.
	ETag         string `bson:"etag,omitempty" json:"-"`
	LastModified string `bson:"last_modified,omitempty" json:"-"`
	// ConsecutiveFailures counts the polls that failed since the last that
	// worked; from FailingAfter on the source is Failing.
	ConsecutiveFailures int    `bson:"consecutive_failures" json:"consecutive_failures"`
	LastError           string `bson:"last_error,omitempty" json:"last_error,omitempty"`
	Failing             bool   `bson:"failing" json:"failing"`
	// ItemsAdded counts the posts the source has made.
	ItemsAdded int64 `bson:"items_added" json:"items_added"`
	// SitemapSince is when a sitemap was last read in full; its pages whose
	// lastmod is later are looked at again. Nil until the first read.
	SitemapSince *time.Time `bson:"sitemap_since,omitempty" json:"-"`
	// SitemapSeen is the set of the page URLs a sitemap listed at its last
	// read (see seenSet).
	SitemapSeen []byte `bson:"sitemap_seen,omitempty" json:"-"`
}

// The kinds of source.
const (
	SourceFeed    = "feed"
	SourceSitemap = "sitemap"
)

// normalise gives a source stored before kinds existed its kind.
func (src *Source) normalise() {
	if src.Kind == "" {
		src.Kind = SourceFeed
	}
}

var sourceKind = tenant.Kind{
	Name: "sources",
	Indexes: []tenant.Index{
		// One source per feed URL in an instance.
		{Keys: bson.D{{Key: "url", Value: 1}}, Unique: true},
		// The worker's walk of the due sources.
		{Keys: bson.D{{Key: "next_poll_at", Value: 1}, {Key: "_id", Value: 1}}},
	},
}

// Polling and limits of sources.
const (
	// PollInterval is how often a healthy source is polled.
	PollInterval = 30 * time.Minute
	// maxBackoff bounds the wait after failures (PollInterval doubled per
	// consecutive failure).
	maxBackoff = 24 * time.Hour
	// FailingAfter consecutive failures flag a source as failing.
	FailingAfter = 3
	// maxSources is how many sources an instance may have.
	maxSources = 200
	// maxItemsPerPoll is how many items of one feed are looked at per poll
	// (feeds list the newest first).
	maxItemsPerPoll = 100
	// pollBatch is how many due sources are read at a time.
	pollBatch = 20
	// maxPollsPerRun bounds one PollDue of one instance; the rest waits
	// for the next run.
	maxPollsPerRun     = 200
	defaultMaxFeedBody = 4 << 20
	maxLastError       = 300
)

// ErrSourceExists: the instance has a source with that URL.
var ErrSourceExists = errors.New("a source with this URL exists")

// SourceDraft is the input of a new or edited source; nil fields are not
// set.
type SourceDraft struct {
	URL     *string
	Kind    *string
	Title   *string
	Topics  *[]string
	Trusted *bool
}

func (s *Service) applySource(ctx context.Context, sc tenant.Scope, src *Source, d SourceDraft) error {
	var errs tenant.ValidationErrors
	if d.URL != nil {
		u, verr := checkURL("url", *d.URL)
		if verr != nil {
			errs = append(errs, verr)
		}
		src.URL = u
	}
	if d.Kind != nil {
		src.Kind = *d.Kind
		if src.Kind != SourceFeed && src.Kind != SourceSitemap {
			errs = append(errs, &tenant.ValidationError{Field: "kind", Reason: `must be "feed" or "sitemap"`})
		}
	}
	if d.Title != nil {
		src.Title = strings.Join(strings.Fields(*d.Title), " ")
		if len([]rune(src.Title)) > maxTitleLen {
			errs = append(errs, &tenant.ValidationError{Field: "title", Reason: fmt.Sprintf("must be at most %d characters", maxTitleLen)})
		}
	}
	if d.Topics != nil {
		topics, err := s.fieldTopics(ctx, sc, *d.Topics, &errs)
		if err != nil {
			return err
		}
		src.Topics = topics
	}
	if d.Trusted != nil {
		src.Trusted = *d.Trusted
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// CreateSource adds a source, due at once; ErrSourceExists if the
// instance has one with that URL.
func (s *Service) CreateSource(ctx context.Context, sc tenant.Scope, by tenant.Member, d SourceDraft) (Source, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	src := Source{ID: httpapi.NewID(), Kind: SourceFeed, Topics: []string{}, CreatedBy: by.ID, CreatedAt: now, UpdatedAt: now, NextPollAt: now}
	if d.URL == nil {
		d.URL = new(string)
	}
	if err := s.applySource(ctx, sc, &src, d); err != nil {
		return Source{}, err
	}
	n, err := sc.Collection(sourceKind).Count(ctx, bson.D{})
	if err != nil {
		return Source{}, err
	}
	if n >= maxSources {
		return Source{}, &tenant.ValidationError{Field: "url", Reason: fmt.Sprintf("an instance has at most %d sources", maxSources)}
	}
	switch err := sc.Collection(sourceKind).Insert(ctx, src); {
	case errors.Is(err, tenant.ErrDuplicate):
		return Source{}, ErrSourceExists
	case err != nil:
		return Source{}, err
	}
	return src, nil
}

// Sources lists the instance's sources, failing ones first, then by title.
func (s *Service) Sources(ctx context.Context, sc tenant.Scope) ([]Source, error) {
	var out []Source
	err := sc.Collection(sourceKind).Find(ctx, bson.D{}, &out,
		options.Find().SetSort(bson.D{{Key: "failing", Value: -1}, {Key: "title", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(maxSources).
			SetProjection(bson.D{{Key: "sitemap_seen", Value: 0}}))
	if out == nil {
		out = []Source{}
	}
	for i := range out {
		out[i].normalise()
	}
	return out, err
}

// GetSource returns one source; ErrNotFound if the instance has none by id.
func (s *Service) GetSource(ctx context.Context, sc tenant.Scope, id string) (Source, error) {
	var src Source
	if id == "" || len(id) > 64 {
		return src, ErrNotFound
	}
	err := sc.Collection(sourceKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &src)
	src.normalise()
	return src, err
}

// EditSource changes a source. A new URL or kind forgets what the old
// one's polls learnt (validators, failures, pages seen) and is due at once.
func (s *Service) EditSource(ctx context.Context, sc tenant.Scope, id string, d SourceDraft) (Source, error) {
	src, err := s.GetSource(ctx, sc, id)
	if err != nil {
		return Source{}, err
	}
	before := src
	if err := s.applySource(ctx, sc, &src, d); err != nil {
		return Source{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	src.UpdatedAt = now
	set := bson.D{{Key: "url", Value: src.URL}, {Key: "kind", Value: src.Kind}, {Key: "title", Value: src.Title}, {Key: "topics", Value: src.Topics},
		{Key: "trusted", Value: src.Trusted}, {Key: "updated_at", Value: now}}
	update := bson.D{{Key: "$set", Value: set}}
	if src.URL != before.URL || src.Kind != before.Kind {
		src.ETag, src.LastModified, src.ConsecutiveFailures, src.LastError, src.Failing, src.NextPollAt = "", "", 0, "", false, now
		src.SitemapSince, src.SitemapSeen = nil, nil
		set = append(set, bson.E{Key: "etag", Value: ""}, bson.E{Key: "last_modified", Value: ""}, bson.E{Key: "consecutive_failures", Value: 0},
			bson.E{Key: "last_error", Value: ""}, bson.E{Key: "failing", Value: false}, bson.E{Key: "next_poll_at", Value: now})
		update = bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "sitemap_since", Value: ""}, {Key: "sitemap_seen", Value: ""}}}}
	}
	ok, err := sc.Collection(sourceKind).Update(ctx, bson.D{{Key: "_id", Value: id}}, update)
	switch {
	case errors.Is(err, tenant.ErrDuplicate):
		return Source{}, ErrSourceExists
	case err != nil:
		return Source{}, err
	case !ok:
		return Source{}, ErrNotFound
	}
	return src, nil
}

// DeleteSource removes a source; the posts it made stay.
func (s *Service) DeleteSource(ctx context.Context, sc tenant.Scope, id string) error {
	if id == "" || len(id) > 64 {
		return ErrNotFound
	}
	ok, err := sc.Collection(sourceKind).Delete(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// PollReport says what a PollDue did.
type PollReport struct {
	Polled, Unchanged, Failed, Added int
}

// PollDue polls the instance's sources that are due, in batches of the
// earliest due, at most maxPollsPerRun of them.
func (s *Service) PollDue(ctx context.Context, sc tenant.Scope) (PollReport, error) {
	var rep PollReport
	for rep.Polled < maxPollsPerRun {
		now := s.now().UTC()
		var due []Source
		err := sc.Collection(sourceKind).Find(ctx, bson.D{{Key: "next_poll_at", Value: bson.D{{Key: "$lte", Value: now}}}}, &due,
			options.Find().SetSort(bson.D{{Key: "next_poll_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(pollBatch))
		if err != nil {
			return rep, err
		}
		if len(due) == 0 {
			return rep, nil
		}
		for _, src := range due {
			res, err := s.PollSource(ctx, sc, src)
			if err != nil {
				return rep, err
			}
			rep.Polled++
			rep.Added += res.Added
			switch {
			case res.Err != nil:
				rep.Failed++
			case res.NotModified:
				rep.Unchanged++
			}
		}
	}
	return rep, nil
}

// PollResult is the outcome of one poll. Err is the feed's failure (kept
// on the source); PollSource's own error is the store's.
type PollResult struct {
	NotModified bool
	Added       int
	Err         error
}

// PollSource fetches one source's feed or sitemap once, adds its new items
// and records the outcome on the source.
func (s *Service) PollSource(ctx context.Context, sc tenant.Scope, src Source) (PollResult, error) {
	if src.Kind == SourceSitemap {
		return s.pollSitemap(ctx, sc, src)
	}
	var res PollResult
	f, err := s.feeds.fetch(ctx, src)
	now := s.now().UTC().Truncate(time.Millisecond)
	if err != nil {
		res.Err = err
		return res, s.recordFailure(ctx, sc, src, now, err)
	}
	res.NotModified = f.notModified
	if f.feed != nil {
		res.Added, err = s.addItems(ctx, sc, src, f.feed, now)
		if err != nil {
			return res, err
		}
	}
	var set bson.D
	if !f.notModified {
		set = bson.D{{Key: "etag", Value: f.etag}, {Key: "last_modified", Value: f.lastModified}}
	}
	return res, s.recordSuccess(ctx, sc, src, now, res.Added, set)
}

// recordSuccess records a poll that worked: due again in PollInterval,
// failures cleared, added counted, and the fields of set stored.
func (s *Service) recordSuccess(ctx context.Context, sc tenant.Scope, src Source, now time.Time, added int, set bson.D) error {
	set = append(bson.D{{Key: "last_polled_at", Value: now}, {Key: "next_poll_at", Value: now.Add(PollInterval)},
		{Key: "consecutive_failures", Value: 0}, {Key: "last_error", Value: ""}, {Key: "failing", Value: false}}, set...)
	_, err := sc.Collection(sourceKind).Update(ctx, bson.D{{Key: "_id", Value: src.ID}},
		bson.D{{Key: "$set", Value: set}, {Key: "$inc", Value: bson.D{{Key: "items_added", Value: added}}}})
	return err
}

// recordFailure counts a failed poll and backs the source off:
// PollInterval doubled per consecutive failure, at most maxBackoff.
func (s *Service) recordFailure(ctx context.Context, sc tenant.Scope, src Source, now time.Time, cause error) error {
	n := src.ConsecutiveFailures + 1
	wait := PollInterval
	for i := 1; i < n && wait < maxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, maxBackoff)
	msg := cause.Error()
	if r := []rune(msg); len(r) > maxLastError {
		msg = string(r[:maxLastError])
	}
	s.log.InfoContext(ctx, "content source poll failed", "source_id", src.ID, "consecutive_failures", n, "err", cause)
	_, err := sc.Collection(sourceKind).Update(ctx, bson.D{{Key: "_id", Value: src.ID}}, bson.D{{Key: "$set", Value: bson.D{
		{Key: "last_polled_at", Value: now}, {Key: "next_poll_at", Value: now.Add(wait)}, {Key: "consecutive_failures", Value: n},
		{Key: "last_error", Value: msg}, {Key: "failing", Value: n >= FailingAfter},
	}}})
	return err
}

// addItems stores the feed's items that no post of the instance has yet
// (by canonical URL): drafts, or published when the source is trusted.
// The existing posts are found with one indexed $in query, and the new
// ones stored with one insert.
func (s *Service) addItems(ctx context.Context, sc tenant.Scope, src Source, feed *gofeed.Feed, now time.Time) (int, error) {
	var fresh []Post
	var canon []string
	seen := map[string]bool{}
	for i, it := range feed.Items {
		if i == maxItemsPerPoll {
			break
		}
		link, verr := checkURL("link", itemLink(it, feed))
		if verr != nil {
			continue
		}
		c := CanonicalURL(link)
		if seen[c] {
			continue
		}
		seen[c] = true
		canon = append(canon, c)
		title := clip(strings.TrimSpace(it.Title), maxTitleLen)
		pv := Preview{Title: title, Description: clip(strings.TrimSpace(it.Description), 1000),
			CanonicalURL: c, SiteName: clip(strings.TrimSpace(feed.Title), 200), Status: "ok", FetchedAt: now}
		if it.Image != nil {
			if u, verr := checkURL("image", it.Image.URL); verr == nil {
				pv.ImageURL = u
			}
		}
		fresh = append(fresh, src.post(link, c, title, pv, now))
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	var known []struct {
		CanonicalURL string `bson:"canonical_url"`
	}
	if err := sc.Collection(postKind).Find(ctx, bson.D{{Key: "canonical_url", Value: bson.D{{Key: "$in", Value: canon}}}}, &known,
		options.Find().SetProjection(bson.D{{Key: "canonical_url", Value: 1}, {Key: "_id", Value: 0}})); err != nil {
		return 0, err
	}
	for _, k := range known {
		delete(seen, k.CanonicalURL)
	}
	var posts []Post
	for _, p := range fresh {
		if seen[p.CanonicalURL] {
			posts = append(posts, p)
		}
	}
	if len(posts) == 0 {
		return 0, nil
	}
	if err := insertSourcePosts(ctx, sc, src, posts); err != nil {
		return 0, fmt.Errorf("store items: %w", err)
	}
	for _, p := range posts {
		s.announce(ctx, sc, p)
	}
	return len(posts), nil
}

// insertSourcePosts stores the posts a poll of src made, authored by the
// source's creator as the poll read it. A creator erased since then is
// a pseudonym on the source now: the erasure renames sources before
// posts, so a post stored after it renamed the posts is found here, by
// reading the source again, and given the pseudonym too (keyed writes of
// the posts just stored).
func insertSourcePosts(ctx context.Context, sc tenant.Scope, src Source, posts []Post) error {
	docs := make([]any, len(posts))
	for i, p := range posts {
		docs[i] = p
	}
	if err := sc.Collection(postKind).InsertMany(ctx, docs); err != nil {
		return err
	}
	var now Source
	if err := sc.Collection(sourceKind).FindOne(ctx, bson.D{{Key: "_id", Value: src.ID}}, &now,
		options.FindOne().SetProjection(bson.D{{Key: "created_by", Value: 1}})); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil // deleted meanwhile: its posts stay as they are
		}
		return err
	}
	if now.CreatedBy == src.CreatedBy {
		return nil
	}
	ops := make([]tenant.KeyedUpdate, len(posts))
	for i, p := range posts {
		ops[i] = tenant.KeyedUpdate{ID: p.ID, Update: bson.D{{Key: "$set", Value: bson.D{{Key: "author_id", Value: now.CreatedBy}}}}}
	}
	return sc.Collection(postKind).UpdateByID(ctx, ops)
}

// post is the post a source makes of one of its items: a draft, or
// published when the source is trusted; by the curator who added the
// source, with its topics.
func (src Source) post(link, canonical, title string, pv Preview, now time.Time) Post {
	p := Post{ID: httpapi.NewID(), State: StateDraft, URL: link, CanonicalURL: canonical, SourceID: src.ID,
		Title: title, ShareTexts: map[string]string{}, Topics: src.Topics,
		PublishAt: now, AuthorID: src.CreatedBy, CreatedAt: now, UpdatedAt: now, Preview: pv, AimedAt: aim(nil)}
	if p.Topics == nil {
		p.Topics = []string{}
	}
	if src.Trusted {
		p.State = StatePublished
	}
	return p
}

// itemLink is an item's link, resolved against the feed's.
func itemLink(it *gofeed.Item, feed *gofeed.Feed) string {
	link := strings.TrimSpace(it.Link)
	if link == "" && len(it.Links) > 0 {
		link = strings.TrimSpace(it.Links[0])
	}
	if link == "" {
		return ""
	}
	if base, err := url.Parse(feed.Link); err == nil && base.IsAbs() {
		if u, err := base.Parse(link); err == nil {
			return u.String()
		}
	}
	return link
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// CanonicalURL is the form of a link that deduplicates content: scheme and
// host lower-case, the scheme's default port dropped, an empty path made
// "/", the fragment and every utm_* query parameter removed and the other
// parameters sorted. The path's case and trailing slash are kept: servers
// may tell them apart. A link that does not parse is its own canonical form.
func CanonicalURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err == nil {
			for k := range q {
				if strings.HasPrefix(strings.ToLower(k), "utm_") {
					delete(q, k)
				}
			}
			u.RawQuery = q.Encode()
		}
	}
	u.ForceQuery = false
	return u.String()
}

// feedPoller fetches feeds with conditional GET, a size cap and the
// preview fetcher's outbound policy.
type feedPoller struct {
	client  *http.Client
	maxBody int64
}

func newFeedPoller(client *http.Client, maxBody int64) feedPoller {
	if client == nil {
		client = preview.New(preview.Config{Timeout: 15 * time.Second}).Client()
	}
	if maxBody <= 0 {
		maxBody = defaultMaxFeedBody
	}
	return feedPoller{client: client, maxBody: maxBody}
}

type fetched struct {
	notModified        bool
	etag, lastModified string
	feed               *gofeed.Feed
}

// ErrFeedTooLarge: the body of a feed or sitemap is larger than the cap.
var ErrFeedTooLarge = errors.New("larger than allowed")

func (fp feedPoller) fetch(ctx context.Context, src Source) (fetched, error) {
	a, err := fp.get(ctx, "feed", src.URL, "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1", src.ETag, src.LastModified)
	if err != nil || a.notModified {
		return fetched{notModified: a.notModified}, err
	}
	feed, err := gofeed.NewParser().Parse(bytes.NewReader(a.body))
	if err != nil {
		return fetched{}, fmt.Errorf("parse feed: %w", err)
	}
	return fetched{etag: a.etag, lastModified: a.lastModified, feed: feed}, nil
}

// answer is what a GET of a source's document gave.
type answer struct {
	notModified        bool
	etag, lastModified string
	body               []byte
}

// get GETs rawURL (what names the document in errors) with the poller's
// client, conditionally when etag or lastModified is set, and reads its
// body up to the cap: a larger body is ErrFeedTooLarge, a status other
// than 200 or 304 an error.
func (fp feedPoller) get(ctx context.Context, what, rawURL, accept, etag, lastModified string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return answer{}, fmt.Errorf("%s request: %w", what, err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "ChorusFeedPoller/1.0 (+https://github.com/chorushq/chorus)")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := fp.client.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("fetch %s: %w", what, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return answer{notModified: true}, nil
	case resp.StatusCode != http.StatusOK:
		return answer{}, fmt.Errorf("fetch %s: the server answered %s", what, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, fp.maxBody+1))
	if err != nil {
		return answer{}, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(body)) > fp.maxBody {
		return answer{}, fmt.Errorf("%s: %w (%d bytes)", what, ErrFeedTooLarge, fp.maxBody)
	}
	return answer{etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified"), body: body}, nil
}
