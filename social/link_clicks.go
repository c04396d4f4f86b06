package social

import (
	"context"
	"errors"
	"fmt"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// clickKind holds the clicks, in batches (clickBatch), swept by at_max.
var clickKind = tenant.Kind{Name: "clicks", Indexes: []tenant.Index{{Keys: bson.D{{Key: "at_max", Value: 1}}}}}

// Click is one counted visit of a tracked link. The IP is truncated at
// ingest (/24, /48) and no cookie is set or read. Clicks are stored in
// batches (clickBatch).
type Click struct {
	ShareID   string
	ContentID string
	Network   string
	At        time.Time
	IPPrefix  string
	Referrer  string // the referrer's host
	// Visitor is a daily-salted hash of (code, IP prefix) that counts
	// unique clicks: one per link, address prefix and day, whatever the
	// User-Agent says. The salt is discarded, so it identifies no one.
	Visitor string
	// Own: the click came with the session cookie of the member who
	// shared the link (their own visit). It counts as a click, never as a
	// unique click, so it earns no points.
	Own bool
	// Code, UserAgent and SessionMember (the member of this instance
	// whose session cookie came with the click) are known while the batch
	// is recorded, never stored.
	Code          string
	UserAgent     string
	SessionMember string
}

// clickBatch is how raw clicks are stored: one document per batch the
// recorder writes for an instance (at most batchSize clicks, about a
// second's worth), in columns: click i is Links[Link[i]] at At[i] from
// IPPrefix[i], Referrer[i] and Visitor[i]; Own[i] when the batch has
// the column (batches stored before it have none). The embedded database's cost
// is mostly per document and per embedded document, and it shares its CPU
// with the redirects: a document per click took about six times the CPU.
type clickBatch struct {
	ID string `bson:"_id"`
	// AtMin and AtMax are the earliest and the latest click's time: range
	// queries and the retention sweep select batches by them.
	AtMin    time.Time   `bson:"at_min"`
	AtMax    time.Time   `bson:"at_max"`
	N        int         `bson:"n"`
	Links    []clickLink `bson:"links"`
	Link     []int       `bson:"link"`
	At       []time.Time `bson:"at"`
	IPPrefix []string    `bson:"ip_prefix"`
	Referrer []string    `bson:"referrer_host"`
	Visitor  []string    `bson:"visitor"`
	Own      []bool      `bson:"own,omitempty"`
}

// clickLink is what the clicks on one tracked link share.
type clickLink struct {
	ShareID   string `bson:"share_id"`
	ContentID string `bson:"content_id"`
	Network   string `bson:"network"`
}

// newClickBatch stores clicks (at least one) as one batch.
func newClickBatch(clicks []Click) clickBatch {
	b := clickBatch{ID: httpapi.NewID(), AtMin: clicks[0].At, AtMax: clicks[0].At, N: len(clicks),
		Link: make([]int, len(clicks)), At: make([]time.Time, len(clicks)), IPPrefix: make([]string, len(clicks)),
		Referrer: make([]string, len(clicks)), Visitor: make([]string, len(clicks))}
	links := map[clickLink]int{}
	for i, c := range clicks {
		l := clickLink{ShareID: c.ShareID, ContentID: c.ContentID, Network: c.Network}
		n, ok := links[l]
		if !ok {
			n = len(b.Links)
			links[l] = n
			b.Links = append(b.Links, l)
		}
		b.Link[i], b.At[i], b.IPPrefix[i], b.Referrer[i], b.Visitor[i] = n, c.At, c.IPPrefix, c.Referrer, c.Visitor
		if c.Own {
			if b.Own == nil {
				b.Own = make([]bool, len(clicks))
			}
			b.Own[i] = true
		}
		if c.At.Before(b.AtMin) {
			b.AtMin = c.At
		}
		if c.At.After(b.AtMax) {
			b.AtMax = c.At
		}
	}
	return b
}

// clicks returns the batch's clicks.
func (b clickBatch) clicks() ([]Click, error) {
	n := b.N
	if len(b.Link) != n || len(b.At) != n || len(b.IPPrefix) != n || len(b.Referrer) != n || len(b.Visitor) != n ||
		(len(b.Own) != 0 && len(b.Own) != n) {
		return nil, fmt.Errorf("click batch %s: columns do not hold its %d clicks", b.ID, n)
	}
	out := make([]Click, n)
	for i := range n {
		if b.Link[i] < 0 || b.Link[i] >= len(b.Links) {
			return nil, fmt.Errorf("click batch %s: click %d names link %d of %d", b.ID, i, b.Link[i], len(b.Links))
		}
		l := b.Links[b.Link[i]]
		out[i] = Click{ShareID: l.ShareID, ContentID: l.ContentID, Network: l.Network, At: b.At[i],
			IPPrefix: b.IPPrefix[i], Referrer: b.Referrer[i], Visitor: b.Visitor[i], Own: len(b.Own) == n && b.Own[i]}
	}
	return out, nil
}

// SweepClicks deletes the instance's raw click events older than its
// retention period (settings.retention_days) and returns how many; the
// aggregates are kept. The embedded server has no TTL indexes, so a daily
// job calls this. Batches wholly older than the cutoff are deleted; a
// batch straddling it keeps only its clicks from the cutoff on.
func SweepClicks(ctx context.Context, sc tenant.Scope, now time.Time) (int64, error) {
	cutoff := now.UTC().AddDate(0, 0, -sc.Instance().Settings.RetentionPeriod())
	coll := sc.Collection(clickKind)
	var old []clickBatch
	before := bson.D{{Key: "at_max", Value: bson.D{{Key: "$lt", Value: cutoff}}}}
	if err := coll.Find(ctx, before, &old, options.Find().SetProjection(bson.D{{Key: "n", Value: 1}})); err != nil {
		return 0, err
	}
	var deleted int64
	for _, b := range old {
		deleted += int64(b.N)
	}
	// By the same filter, not by ID: a sweep that did not run for weeks
	// would name too many batches for one command. A batch stored since
	// ends after the cutoff, so the filter selects the same batches.
	if len(old) > 0 {
		if _, err := coll.DeleteMany(ctx, before); err != nil {
			return 0, err
		}
	}
	var straddling []clickBatch
	if err := coll.Find(ctx, bson.D{{Key: "at_min", Value: bson.D{{Key: "$lt", Value: cutoff}}},
		{Key: "at_max", Value: bson.D{{Key: "$gte", Value: cutoff}}}}, &straddling); err != nil {
		return deleted, err
	}
	for _, b := range straddling {
		clicks, err := b.clicks()
		if err != nil {
			return deleted, err
		}
		kept := slices.DeleteFunc(clicks, func(c Click) bool { return c.At.Before(cutoff) })
		t := newClickBatch(kept) // at_max ≥ cutoff: at least one click is kept
		ok, err := coll.Update(ctx, bson.D{{Key: "_id", Value: b.ID}, {Key: "n", Value: b.N}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "at_min", Value: t.AtMin}, {Key: "n", Value: t.N},
				{Key: "links", Value: t.Links}, {Key: "link", Value: t.Link}, {Key: "at", Value: t.At},
				{Key: "ip_prefix", Value: t.IPPrefix}, {Key: "referrer_host", Value: t.Referrer}, {Key: "visitor", Value: t.Visitor},
				{Key: "own", Value: t.Own}}}})
		if err != nil {
			return deleted, err
		}
		if ok {
			deleted += int64(b.N - t.N)
		}
	}
	return deleted, nil
}

// legacyClick is a raw click as releases before click batches stored it:
// one document per click, with no at_max, so that neither the retention
// sweep nor the reach readers (which select batches by at_max) saw it.
type legacyClick struct {
	ID        string    `bson:"_id"`
	ShareID   string    `bson:"share_id"`
	ContentID string    `bson:"content_id"`
	Network   string    `bson:"network"`
	At        time.Time `bson:"at"`
	IPPrefix  string    `bson:"ip_prefix"`
	Referrer  string    `bson:"referrer_host"`
	Visitor   string    `bson:"visitor"`
}

// BatchLegacyClicks stores the instance's clicks kept one document per
// click (before batches) as batches, which carry at_max, so retention
// sweeps them and reach reads them; it returns how many clicks it moved.
// It pages through them by _id, legacyPage at a time. It may run again
// after an interruption: each batch's _id derives from its first click's,
// so a batch written before the interruption is written over with the
// same clicks, and its clicks are deleted after it is stored.
func BatchLegacyClicks(ctx context.Context, sc tenant.Scope) (int, error) {
	coll := sc.Collection(clickKind)
	moved := 0
	for {
		var page []legacyClick
		if err := coll.Find(ctx, bson.D{{Key: "at_max", Value: bson.D{{Key: "$exists", Value: false}}}}, &page,
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(legacyPage)); err != nil {
			return moved, err
		}
		if len(page) == 0 {
			return moved, nil
		}
		clicks := make([]Click, len(page))
		ids := make([]string, len(page))
		for i, l := range page {
			clicks[i] = Click{ShareID: l.ShareID, ContentID: l.ContentID, Network: l.Network, At: l.At.UTC(),
				IPPrefix: l.IPPrefix, Referrer: l.Referrer, Visitor: l.Visitor}
			ids[i] = l.ID
		}
		b := newClickBatch(clicks)
		b.ID = "legacy-" + page[0].ID
		if err := coll.Insert(ctx, b); err != nil && !errors.Is(err, tenant.ErrDuplicate) {
			return moved, err
		}
		if _, err := coll.DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}}); err != nil {
			return moved, err
		}
		moved += len(page)
	}
}

// ClickHook is told about every batch of clicks the recorder writes, per
// instance: PrepareClicks before the batch is stored (it may set each
// click's Visitor), ClicksRecorded after. It runs on the recorder's
// goroutine, off the request path.
type ClickHook interface {
	PrepareClicks(ctx context.Context, sc tenant.Scope, clicks []Click)
	ClicksRecorded(ctx context.Context, sc tenant.Scope, clicks []Click)
}

// SetClickHook installs h; call it before the redirector serves.
func (r *Redirector) SetClickHook(h ClickHook) { r.hook = h }

func (r *Redirector) insertClicks(ctx context.Context, sc tenant.Scope, clicks []Click) error {
	if r.hook != nil {
		r.hook.PrepareClicks(ctx, sc, clicks)
	}
	if err := sc.Collection(clickKind).Insert(ctx, newClickBatch(clicks)); err != nil {
		return err
	}
	// The counters and the hook's rollups are apart: written at once.
	var wg sync.WaitGroup
	var counted time.Duration
	wg.Go(func() {
		t0 := time.Now()
		r.countClicks(ctx, sc, clicks)
		counted = time.Since(t0)
	})
	if r.hook != nil {
		r.hook.ClicksRecorded(ctx, sc, clicks)
	}
	wg.Wait()
	if counted > slowCounters {
		r.log.Warn("click counters of links slow to write", "tenant_id", sc.InstanceID(), "count", len(clicks), "took", counted.Round(time.Millisecond))
	}
	return nil
}

// slowCounters is how long a flush's counters may take before it is
// logged.
const slowCounters = 5 * time.Second

// countClicks adds a stored batch's clicks to the click counters of
// their tracked links: keyed $inc updates, one document per link of the
// batch, one bulk (tenant.UpdateByID). A share's clicks are its link's
// (withClicks); a link is a small document with one index, a share
// carries its text and three more, and a flush of a burst touches
// thousands. A post's clicks are the reach totals' (its content span),
// not a counter written here: a post document carries every feed index.
// The batch is stored whatever happens here (a retry would count it
// twice); a failure is logged, and the analytics, which have their own
// totals, are not affected.
func (r *Redirector) countClicks(ctx context.Context, sc tenant.Scope, clicks []Click) {
	byLink := map[string]int64{}
	for _, c := range clicks {
		byLink[c.Code]++
	}
	ops := make([]tenant.KeyedUpdate, 0, len(byLink))
	for code, n := range byLink {
		ops = append(ops, tenant.KeyedUpdate{ID: code, Update: bson.D{{Key: "$inc", Value: bson.D{{Key: "clicks", Value: n}}}}})
	}
	if err := sc.Collection(linkKind).UpdateByID(ctx, ops); err != nil {
		r.log.Warn("click counters of links not updated", "tenant_id", sc.InstanceID(), "count", len(clicks), "err", err)
	}
}

// ClicksSince returns the instance's raw clicks at or after since: every
// click of the batches that end at or after since, but those before it.
func ClicksSince(ctx context.Context, sc tenant.Scope, since time.Time) ([]Click, error) {
	var batches []clickBatch
	if err := sc.Collection(clickKind).Find(ctx, bson.D{{Key: "at_max", Value: bson.D{{Key: "$gte", Value: since}}}}, &batches); err != nil {
		return nil, err
	}
	var clicks []Click
	for _, b := range batches {
		all, err := b.clicks()
		if err != nil {
			return nil, err
		}
		for _, c := range all {
			if !c.At.Before(since) {
				clicks = append(clicks, c)
			}
		}
	}
	return clicks, nil
}

// InsertClicks stores raw clicks as one batch, as the recorder does,
// without the hook (operator tools and benchmarks that load history).
func InsertClicks(ctx context.Context, sc tenant.Scope, clicks []Click) error {
	if len(clicks) == 0 {
		return nil
	}
	return sc.Collection(clickKind).Insert(ctx, newClickBatch(clicks))
}
