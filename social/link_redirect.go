package social

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Redirector serves GET /r/{code}: a 302 to the stored destination with
// UTM parameters, never shaped by the request. Links are cached for
// cacheLifetime (a minute): a deleted link stops redirecting in every
// process within that. Clicks are recorded off the request path in
// batches. When the recorder falls behind and its queue is full, a
// redirect waits up to queueWait for room (backpressure); only then is
// its click dropped, counted and logged.
type Redirector struct {
	store   *tenant.Store
	log     *slog.Logger
	now     func() time.Time
	mu      sync.Mutex
	cache   map[string]*cached
	clicks  chan pending
	dropped atomic.Int64
	stored  atomic.Int64
	done    chan struct{}
	// closing guards the queue: senders hold it for reading, Close for
	// writing, so nothing is sent on a closed channel.
	closing sync.RWMutex
	closed  bool
	hook    ClickHook
	// cookie is the session cookie's name ("" reads none).
	cookie string
	// flushed is told how long each flush took (metrics).
	flushed func(time.Duration)
	// dropLog rate-limits the log line about dropped clicks: the count
	// when last logged and when.
	dropMu      sync.Mutex
	dropLogged  int64
	dropLogTime time.Time
}

// pending is a click as the request path leaves it: the rest (ID, IP
// truncation, referrer host, whose session) is worked out by the
// recorder, off the path.
type pending struct {
	link     *cached
	at       time.Time
	remote   string
	referrer string
	agent    string
	session  string // the session cookie's value, "" without one
}

// cached is a resolved link with its Location worked out once, good
// until its lifetime runs out.
type cached struct {
	link     TrackedLink
	location string
	until    time.Time
}

const (
	// cacheLifetime bounds how long a process keeps redirecting a link
	// deleted elsewhere (an offboarded instance's): every process reads
	// the link again after it.
	cacheLifetime = time.Minute
	cacheSize     = 100000
	// clickQueue holds 25 s of a 2,000 clicks/s burst should the store
	// stall (about 150 bytes a click).
	clickQueue = 50000
	// queueWait is how long a redirect waits for room in a full queue.
	queueWait = time.Second
	batchSize = 10000
	// flushParallel bounds the instances whose clicks are written at
	// once; flushTimeout bounds one instance's write.
	flushParallel = 4
	flushTimeout  = time.Minute
	// dropLogEvery rate-limits the log line about dropped clicks.
	dropLogEvery = 10 * time.Second
)

// NewRedirector starts the click recorder; Close flushes it.
func NewRedirector(store *tenant.Store, log *slog.Logger, now func() time.Time) *Redirector {
	if now == nil {
		now = time.Now
	}
	r := &Redirector{store: store, log: log, now: now, cache: map[string]*cached{},
		clicks: make(chan pending, clickQueue), done: make(chan struct{})}
	go r.record()
	return r
}

// Dropped and Stored count clicks lost to a full queue and clicks written.
func (r *Redirector) Dropped() int64 { return r.dropped.Load() }

// Stored counts clicks written.
func (r *Redirector) Stored() int64 { return r.stored.Load() }

// Queued is how many clicks wait in the queue.
func (r *Redirector) Queued() int { return len(r.clicks) }

// SetSessionCookie names the session cookie: a click that carries the
// sharer's own session is recorded as Own. Call it before the redirector
// serves.
func (r *Redirector) SetSessionCookie(name string) { r.cookie = name }

// SetFlushObserver installs f, told how long each flush of the recorder
// took (a metric). Call it before the redirector serves.
func (r *Redirector) SetFlushObserver(f func(time.Duration)) { r.flushed = f }

// validCode reports whether s can be a code made by newCode.
func validCode(s string) bool {
	if len(s) != 16 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// resolve returns the code's link, from the cache while its lifetime
// lasts.
func (r *Redirector) resolve(ctx context.Context, code string) (*cached, error) {
	now := r.now()
	r.mu.Lock()
	c, ok := r.cache[code]
	r.mu.Unlock()
	if ok && now.Before(c.until) {
		return c, nil
	}
	l, err := ResolveLink(ctx, r.store, code)
	if errors.Is(err, tenant.ErrNotFound) && ok {
		r.mu.Lock()
		delete(r.cache, code)
		r.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	loc, err := withUTM(l)
	if err != nil {
		return nil, tenant.ErrNotFound // a destination that is not a web URL leads nowhere
	}
	c = &cached{link: l, location: loc, until: now.Add(cacheLifetime)}
	r.mu.Lock()
	if len(r.cache) >= cacheSize {
		for k := range r.cache { // evict one arbitrary entry
			delete(r.cache, k)
			break
		}
	}
	r.cache[code] = c
	r.mu.Unlock()
	return c, nil
}

// Handle is the gin handler of GET and HEAD /r/:code. HEAD (link
// unfurlers) answers the same redirect and records no click.
func (r *Redirector) Handle(c *gin.Context) {
	code := c.Param("code")
	if !validCode(code) {
		httpapi.Write(c, httpapi.ErrNotFound)
		return
	}
	l, err := r.resolve(c.Request.Context(), code)
	if err != nil {
		if !errors.Is(err, tenant.ErrNotFound) {
			r.log.ErrorContext(c.Request.Context(), "resolve tracked link", "err", err)
			httpapi.Write(c, httpapi.Internal)
			return
		}
		httpapi.Write(c, httpapi.ErrNotFound)
		return
	}
	if c.Request.Method == http.MethodGet && !isBot(c.Request.UserAgent()) {
		// ClientIP: the visitor's address, not a trusted proxy's
		// (CHORUS_TRUSTED_PROXIES), so unique clicks stay unique behind one.
		r.enqueue(l, c.Request, c.ClientIP())
	}
	h := c.Writer.Header()
	h["Location"] = []string{l.location}
	h["Cache-Control"] = noStore
	c.Status(http.StatusFound)
}

// noStore is shared by every redirect; nothing appends to it.
var noStore = []string{"private, no-store"}

// withUTM adds the campaign parameters to the stored destination; the
// destination's own parameters are kept.
func withUTM(l TrackedLink) (string, error) {
	u, err := url.Parse(l.Destination)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("bad destination")
	}
	q := u.Query()
	for k, v := range map[string]string{"utm_source": l.Network, "utm_medium": "employee_advocacy", "utm_campaign": l.ContentID} {
		if q.Get(k) == "" {
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// bots are link-preview and crawler user agents; their visits are not
// clicks.
var bots = []string{"linkedinbot", "twitterbot", "facebookexternalhit", "facebot", "slackbot", "mastodon/",
	"bluesky", "discordbot", "telegrambot", "whatsapp", "googlebot", "bingbot", "applebot", "skypeuripreview",
	"redditbot", "embedly", "iframely", "pinterestbot", "vkshare"}

func isBot(ua string) bool {
	for _, b := range bots {
		if containsFold(ua, b) {
			return true
		}
	}
	return false
}

// containsFold reports whether s contains the lower-case ASCII needle,
// ignoring ASCII case, without allocating.
func containsFold(s, needle string) bool {
	for i := 0; i+len(needle) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(needle)], needle) {
			return true
		}
	}
	return false
}

// truncateIP keeps the network part: /24 of IPv4, /48 of IPv6.
func truncateIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return ""
	}
	ip = ip.Unmap()
	bits := 48
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p.String()
}

func (r *Redirector) enqueue(l *cached, req *http.Request, remote string) {
	p := pending{link: l, at: r.now(), remote: remote, referrer: req.Referer(), agent: req.UserAgent()}
	if r.cookie != "" && len(req.Header["Cookie"]) > 0 {
		if c, err := req.Cookie(r.cookie); err == nil {
			p.session = c.Value
		}
	}
	r.closing.RLock()
	defer r.closing.RUnlock()
	if r.closed {
		r.drop()
		return
	}
	select {
	case r.clicks <- p:
		return
	default:
	}
	// Full: the recorder is behind. Wait for room rather than lose the
	// click; the visitor's redirect waits with it.
	t := time.NewTimer(queueWait)
	defer t.Stop()
	select {
	case r.clicks <- p:
	case <-t.C:
		r.drop()
	case <-req.Context().Done():
		r.drop()
	}
}

// drop counts a lost click and says so in the log, at most once every
// dropLogEvery.
func (r *Redirector) drop() {
	n := r.dropped.Add(1)
	now := time.Now()
	r.dropMu.Lock()
	defer r.dropMu.Unlock()
	if now.Sub(r.dropLogTime) < dropLogEvery {
		return
	}
	r.log.Warn("clicks dropped: the click recorder's queue stayed full (or it was stopped)", "dropped", n-r.dropLogged, "dropped_total", n, "queued", len(r.clicks))
	r.dropLogged, r.dropLogTime = n, now
}

// sessionMember returns the member of the instance whose session the
// cookie secret is, or "" (the store's session cache keeps it cheap).
func (r *Redirector) sessionMember(ctx context.Context, secret, instanceID string) string {
	if secret == "" {
		return ""
	}
	inst, member, err := r.store.SessionMember(ctx, secret)
	if err != nil && !errors.Is(err, tenant.ErrNoSession) {
		r.log.Warn("session of a click not read: counted as a visitor's", "err", err)
		return ""
	}
	if inst != instanceID {
		return ""
	}
	return member
}

// record writes clicks in batches per instance until Close. A batch is
// what waited when the tick came, up to batchSize: when the store falls
// behind, batches grow with the queue, and a batch's clicks on the same
// share, content and day are written as one.
func (r *Redirector) record() {
	defer close(r.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	batch := map[string][]Click{}
	links := map[string]TrackedLink{}
	n := 0
	flush := func() {
		start := time.Now()
		r.flushInstances(batch, links)
		clear(batch)
		clear(links)
		n = 0
		if r.flushed != nil {
			r.flushed(time.Since(start))
		}
		// A tick that came during a long flush would flush the next
		// few clicks alone.
		select {
		case <-tick.C:
		default:
		}
	}
	add := func(p pending) {
		l := p.link.link
		click := Click{ShareID: l.ShareID, ContentID: l.ContentID, Network: l.Network,
			At: p.at.UTC().Truncate(time.Millisecond), IPPrefix: truncateIP(p.remote), Code: l.Code, UserAgent: p.agent}
		if ref, err := url.Parse(p.referrer); err == nil {
			click.Referrer = ref.Hostname()
		}
		if p.session != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			click.SessionMember = r.sessionMember(ctx, p.session, l.InstanceID)
			cancel()
		}
		batch[l.InstanceID] = append(batch[l.InstanceID], click)
		links[l.InstanceID] = l
		n++
	}
	for {
		select {
		case p, ok := <-r.clicks:
			if !ok {
				flush()
				return
			}
			if add(p); n >= batchSize {
				flush()
			}
		case <-tick.C:
			// Take what else waits, up to batchSize.
		more:
			for n < batchSize {
				select {
				case p, ok := <-r.clicks:
					if !ok {
						break more
					}
					add(p)
				default:
					break more
				}
			}
			if n > 0 {
				flush()
			}
		}
	}
}

// flushInstances writes each instance's clicks, up to flushParallel
// instances at once, each within flushTimeout.
func (r *Redirector) flushInstances(batch map[string][]Click, links map[string]TrackedLink) {
	sem := make(chan struct{}, flushParallel)
	var wg sync.WaitGroup
	for inst, clicks := range batch {
		link := links[inst]
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
			defer cancel()
			sc, err := r.store.Open(ctx, link.InstanceID)
			if err == nil {
				err = r.insertClicks(ctx, sc, clicks)
			}
			if err != nil {
				r.log.Error("clicks not recorded", "tenant_id", inst, "count", len(clicks), "err", err)
				return
			}
			r.stored.Add(int64(len(clicks)))
		})
	}
	wg.Wait()
}

// Close stops taking clicks and waits until every queued one is written
// (or ctx ends).
func (r *Redirector) Close(ctx context.Context) error {
	r.closing.Lock()
	if !r.closed {
		r.closed = true
		close(r.clicks)
	}
	r.closing.Unlock()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// legacyPage is how many legacy clicks BatchLegacyClicks makes one batch.
const legacyPage = 500

// IsBot reports whether a User-Agent is a link-preview bot or crawler,
// whose visits are not clicks.
func IsBot(ua string) bool { return isBot(ua) }
