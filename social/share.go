package social

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
)

// ShareState is where a share stands. Every transition is a conditional
// update on the state it leaves, so two workers, or a worker and a cancel,
// never both win.
type ShareState string

// Share states.
const (
	ShareScheduled   ShareState = "scheduled"
	ShareQueued      ShareState = "queued"
	SharePublishing  ShareState = "publishing"
	SharePublished   ShareState = "published"
	ShareFailed      ShareState = "failed"
	ShareUnconfirmed ShareState = "unconfirmed" // may have reached the network: never re-posted automatically
	ShareCancelled   ShareState = "cancelled"
)

// Share is one post of one content to one connection: at most one post at
// the network, whatever fails.
type Share struct {
	ID        string `bson:"_id" json:"id"`
	ContentID string `bson:"content_id" json:"content_id"`
	// ContentTitle is the content's title (else its link) when shared, so
	// a member's list of shares says what each was.
	ContentTitle string     `bson:"content_title,omitempty" json:"content_title,omitempty"`
	ConnectionID string     `bson:"connection_id" json:"connection_id"`
	MemberID     string     `bson:"member_id" json:"-"`
	Network      string     `bson:"network" json:"network"`
	Text         string     `bson:"text" json:"text"`
	State        ShareState `bson:"state" json:"state"`
	TrackedURL   string     `bson:"tracked_url" json:"tracked_url"`
	Destination  string     `bson:"destination" json:"-"`
	PublishAt    time.Time  `bson:"publish_at" json:"publish_at"`
	AttemptID    string     `bson:"attempt_id,omitempty" json:"-"`
	AttemptedAt  *time.Time `bson:"attempted_at,omitempty" json:"-"`
	CheckedAt    *time.Time `bson:"checked_at,omitempty" json:"-"` // unconfirmed: when the network was last asked
	LeaseUntil   *time.Time `bson:"lease_until,omitempty" json:"-"`
	Attempts     int        `bson:"attempts" json:"attempts"`
	RemoteID     string     `bson:"remote_id,omitempty" json:"-"`
	PostURL      string     `bson:"post_url,omitempty" json:"post_url,omitempty"`
	PublishedAt  *time.Time `bson:"published_at,omitempty" json:"published_at,omitempty"`
	Error        string     `bson:"error,omitempty" json:"error,omitempty"`
	// Followers is the connection's follower count when the share was made
	// (its potential reach, "reach" in the API); Engagement the network's
	// latest metrics.
	Followers  int64      `bson:"followers" json:"reach"`
	Engagement Engagement `bson:"engagement" json:"engagement"`
	// Clicks counts the clicks on the share's tracked link, kept by the
	// click recorder as it stores each batch (clicks stored before the
	// counter existed are not in it).
	Clicks int64 `bson:"clicks,omitempty" json:"clicks"`
	// RequestKey and RequestHash make POST …/shares idempotent.
	RequestKey  string    `bson:"request_key,omitempty" json:"-"`
	RequestHash string    `bson:"request_hash,omitempty" json:"-"`
	CreatedAt   time.Time `bson:"created_at" json:"created_at"`
	UpdatedAt   time.Time `bson:"updated_at" json:"updated_at"`
}

var shareKind = tenant.Kind{
	Name: "shares",
	Indexes: []tenant.Index{
		// A member's shares, newest first (GET /shares, export).
		{Keys: bson.D{{Key: "member_id", Value: 1}, {Key: "created_at", Value: -1}}},
		// Reconcile: queued shares not touched for a while, and shares
		// whose publishing lease ran out; ResolveUnconfirmed; the
		// engagement refresh's walk over recently published shares
		// (EachPublishedSince).
		{Keys: bson.D{{Key: "state", Value: 1}, {Key: "updated_at", Value: 1}}},
		// Reconcile: scheduled shares that are due.
		{Keys: bson.D{{Key: "state", Value: 1}, {Key: "publish_at", Value: 1}}},
		// The feed's and the composer's "already shared" marks (SharedNetworks):
		// a member's shares of one page of posts, whatever their history.
		{Keys: bson.D{{Key: "member_id", Value: 1}, {Key: "content_id", Value: 1}}},
	},
}

// Share errors.
var (
	// ErrShareState: the share is no longer in a state that allows this.
	ErrShareState = errors.New("the share is not in a state that allows this")
	// ErrKeyReused: an Idempotency-Key came back with another request
	// (the same error as the other creating POSTs').
	ErrKeyReused = tenant.ErrKeyReused
)

// ShareRequest is a member's request to share a content.
type ShareRequest struct {
	Connections []string
	Text        *string
	PublishAt   *time.Time
	// Key is the request's Idempotency-Key ("" for none).
	Key string
}

// leaseTime bounds one publishing attempt; past it, a share still
// "publishing" is taken to have crashed mid-call (unconfirmed).
const leaseTime = 2 * time.Minute

// unconfirmedText is an unconfirmed share's error until a check says more.
const unconfirmedText = "the network may have received this post but did not confirm it; it is not posted again"

// CreateShares writes one share per connection, then asks Enqueue to
// queue each: the database is the outbox, so a share whose enqueue failed
// is still there for the reconciler. The content must be shareable, each
// connection the member's own, active and on a whitelisted network, and
// the text must fit the network.
//
// With req.Key, the request is idempotent across processes: the first
// request with the key makes the share set, a repeat returns it, another
// request with the key is ErrKeyReused, and one while the first is still
// in flight is ErrKeyInUse. A request that fails deletes the shares it
// wrote, so it leaves no share set (under its key or otherwise).
func (s *Service) CreateShares(ctx context.Context, sc tenant.Scope, me tenant.Member, post content.Post, req ShareRequest) ([]Share, error) {
	hash := req.hash(post.ID)
	var claim *keyClaim
	if req.Key != "" {
		c, prev, err := s.claimKey(ctx, sc, me, req.Key, hash)
		if err != nil || prev != nil {
			return prev, err
		}
		claim = c
	}
	shares, err := s.newShares(ctx, sc, me, post, req, hash)
	if err != nil {
		s.abandon(ctx, sc, claim, nil)
		return nil, err
	}
	// Whether the member is a new sharer of the post, for its colleague
	// counter: one keyed read of at most one of their shares of it.
	sharedBefore, err := s.hasLiveShare(ctx, sc, me.ID, post.ID)
	if err != nil {
		s.abandon(ctx, sc, claim, nil)
		return nil, err
	}
	for i := range shares {
		code := newCode()
		shares[i].TrackedURL = s.baseURL.JoinPath("/r/" + code).String()
		err := sc.CreateLink(ctx, tenant.Link{Code: code, ShareID: shares[i].ID, ContentID: post.ID,
			Network: shares[i].Network, Destination: post.URL})
		if err == nil {
			err = sc.Collection(shareKind).Insert(ctx, shares[i])
		}
		if err != nil {
			s.abandon(ctx, sc, claim, shares[:i+1])
			return nil, err
		}
	}
	if claim != nil {
		ok, err := s.completeClaim(ctx, sc, claim, shares)
		if err == nil && !ok {
			err = ErrKeyInUse // taken over: this request ran past claimTimeout
		}
		if err != nil {
			s.abandon(ctx, sc, claim, shares)
			return nil, err
		}
	}
	newSharer := int64(1)
	if sharedBefore {
		newSharer = 0
	}
	s.countShares(ctx, sc, post.ID, newSharer, int64(len(shares)))
	for _, sh := range shares {
		if s.enqueue == nil {
			continue
		}
		if err := s.enqueue(ctx, sc, sh.ID, sh.PublishAt); err != nil {
			// The share stands; the reconciler queues it again.
			s.log.WarnContext(ctx, "share not queued", "share_id", sh.ID, "err", err)
		}
	}
	return shares, nil
}

// newShares checks a share request and returns its shares, not yet
// written. Errors about a connection name its index as sent.
func (s *Service) newShares(ctx context.Context, sc tenant.Scope, me tenant.Member, post content.Post, req ShareRequest, hash string) ([]Share, error) {
	if len(req.Connections) == 0 || len(req.Connections) > 20 {
		return nil, &tenant.ValidationError{Field: "connections", Reason: "must list 1 to 20 of your connections"}
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	at := now
	if req.PublishAt != nil {
		at = req.PublishAt.UTC().Truncate(time.Millisecond)
		if at.Before(now.Add(-time.Minute)) {
			return nil, &tenant.ValidationError{Field: "publish_at", Reason: "must not be in the past"}
		}
		if post.ExpiresAt != nil && !at.Before(*post.ExpiresAt) {
			return nil, &tenant.ValidationError{Field: "publish_at", Reason: "must be before the content expires"}
		}
	}
	var shares []Share
	for i, id := range req.Connections {
		if slices.Contains(req.Connections[:i], id) {
			return nil, &tenant.ValidationError{Field: fmt.Sprintf("connections[%d]", i), Reason: "is listed twice"}
		}
		c, err := s.Connection(ctx, sc, me, id)
		if errors.Is(err, ErrNotFound) {
			return nil, &tenant.ValidationError{Field: fmt.Sprintf("connections[%d]", i), Reason: "is not one of your connections"}
		} else if err != nil {
			return nil, err
		}
		// What the admins no longer allow comes first: reconnecting cannot
		// help a connection they disabled.
		wl, err := s.whitelisted(ctx, sc, c.Network)
		if errors.Is(err, ErrNetworkNotAllowed) {
			return nil, &ConnectionError{Field: fmt.Sprintf("connections[%d]", i), Network: c.Network, Err: err}
		} else if err != nil {
			return nil, err
		}
		if !wl.Config.serverAllowed(c.InstanceURL) {
			return nil, &ConnectionError{Field: fmt.Sprintf("connections[%d]", i), Network: c.Network, Err: ErrServerNotAllowed}
		}
		if c.Status != StatusActive {
			return nil, &tenant.ValidationError{Field: fmt.Sprintf("connections[%d]", i), Reason: "is " + string(c.Status) + ": reconnect it first"}
		}
		if c.ExpiresAt != nil && c.Refresh == nil && !at.Before(*c.ExpiresAt) {
			return nil, &tenant.ValidationError{Field: "publish_at", Reason: fmt.Sprintf(
				"your %s connection expires on %s and cannot renew itself: reconnect it first, or share earlier",
				c.Network, c.ExpiresAt.Format("2 January 2006"))}
		}
		text := defaultText(post, c.Network)
		if req.Text != nil {
			text = strings.TrimSpace(*req.Text)
		}
		if err := content.CheckShareText(c.Network, text, c.MaxChars); err != nil {
			return nil, err
		}
		state := ShareQueued
		if at.After(now) {
			state = ShareScheduled
		}
		shares = append(shares, Share{ID: newID(), ContentID: post.ID, ConnectionID: c.ID, MemberID: me.ID,
			Network: c.Network, Text: text, State: state, Destination: post.URL, PublishAt: at, Followers: c.Followers,
			ContentTitle: cmp.Or(post.Title, post.URL),
			RequestKey:   req.Key, RequestHash: hash, CreatedAt: now, UpdatedAt: now})
	}
	return shares, nil
}

func (r ShareRequest) hash(contentID string) string {
	b, _ := json.Marshal(struct {
		C    string
		Conn []string
		Text *string
		At   *time.Time
	}{contentID, r.Connections, r.Text, r.PublishAt})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// defaultText is the curators' text for the network, else the title, else
// the page's title. Never the commentary: that is the curators' note to
// colleagues, not meant for the public. The caller checks it against the
// network's limit like any text.
func defaultText(p content.Post, network string) string {
	return cmp.Or(p.ShareTexts[network], p.Title, p.Preview.Title)
}

// newCode returns a tracked link code: 96 random bits, URL-safe.
func newCode() string {
	var b [12]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Shares lists a page of shares newest first (created_at, then ID): the
// member's, or all (admins and analysts). after is the position to
// continue from (nil: the start), as a content.Cursor whose time is the
// created_at of the last share seen. It returns the cursor of the next
// page, nil at the end.
func (s *Service) Shares(ctx context.Context, sc tenant.Scope, me tenant.Member, all bool, limit int, after *content.Cursor) ([]Share, *content.Cursor, error) {
	and := bson.A{}
	if !all {
		and = append(and, bson.D{{Key: "member_id", Value: me.ID}})
	}
	if after != nil {
		// The plain bound lets the index range start at the cursor; the $or
		// only breaks ties at its exact time.
		and = append(and, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lte", Value: after.PublishAt}}}})
		and = append(and, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: after.PublishAt}}}},
			bson.D{{Key: "created_at", Value: after.PublishAt}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: after.ID}}}},
		}}})
	}
	f := bson.D{}
	if len(and) > 0 {
		f = bson.D{{Key: "$and", Value: and}}
	}
	out := []Share{}
	var err error
	if all {
		// Every member's shares: no index on created_at alone to walk in
		// windows (an admin's page, not a hot path).
		err = sc.Collection(shareKind).Find(ctx, f, &out,
			options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit+1)))
	} else {
		// A member's shares, through windows of created_at on the
		// {member_id, created_at} index (tenant.Newest); a share made by a
		// process whose clock runs ahead is read first, from after now.
		w := tenant.Window{Field: "created_at", Now: s.now().UTC()}
		if after != nil {
			w.Before = after.PublishAt
		}
		err = tenant.Newest(ctx, sc.Collection(shareKind), f, w, limit+1, &out)
	}
	if err != nil || len(out) <= limit {
		return out, nil, err
	}
	out = out[:limit]
	last := out[len(out)-1]
	return out, &content.Cursor{PublishAt: last.CreatedAt, ID: last.ID}, nil
}

// GetShare returns one share: the member's own, or any for admins and
// analysts.
func (s *Service) GetShare(ctx context.Context, sc tenant.Scope, me tenant.Member, id string) (Share, error) {
	if !validID(id) {
		return Share{}, ErrNotFound
	}
	f := bson.D{{Key: "_id", Value: id}}
	if !me.Allows(tenant.RoleAdmin, tenant.RoleAnalyst) {
		f = append(f, bson.E{Key: "member_id", Value: me.ID})
	}
	var sh Share
	err := sc.Collection(shareKind).FindOne(ctx, f, &sh)
	return sh, err
}

// CancelShare cancels a queued or scheduled share of the member's;
// otherwise ErrShareState. Another member's share is ErrNotFound; a
// store that fails is its error, not ErrNotFound. A worker that already
// took it wins.
func (s *Service) CancelShare(ctx context.Context, sc tenant.Scope, me tenant.Member, id string) (Share, error) {
	sh, err := s.GetShare(ctx, sc, me, id)
	if err != nil {
		return Share{}, err
	}
	if sh.MemberID != me.ID {
		return Share{}, ErrNotFound
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	ok, err := sc.Collection(shareKind).Update(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{ShareQueued, ShareScheduled}}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: ShareCancelled}, {Key: "error", Value: "cancelled by the member"}, {Key: "updated_at", Value: now}}}})
	if err != nil {
		return Share{}, err
	}
	if !ok {
		return Share{}, ErrShareState
	}
	sh.State, sh.Error, sh.UpdatedAt = ShareCancelled, "cancelled by the member", now
	s.dropTasks(ctx, sc, []string{id})
	s.shareEnded(ctx, sc, sh)
	return sh, nil
}

// shareEnded takes a share that was just cancelled or failed out of its
// content's counters (see sharesEnded).
func (s *Service) shareEnded(ctx context.Context, sc tenant.Scope, sh Share) {
	s.sharesEnded(ctx, sc, []Share{sh})
}

// sharesEnded takes shares that this process just cancelled or failed
// (each by its own conditional update, so no other path counts it) out of
// their contents' counters: per member and content, as many shares less,
// and one sharer less when the member has no other live share of it.
func (s *Service) sharesEnded(ctx context.Context, sc tenant.Scope, ended []Share) {
	type of struct{ member, content string }
	n := map[of]int64{}
	var order []of
	for _, sh := range ended {
		k := of{sh.MemberID, sh.ContentID}
		if n[k] == 0 {
			order = append(order, k)
		}
		n[k]++
	}
	for _, k := range order {
		left := int64(0)
		if still, err := s.hasLiveShare(ctx, sc, k.member, k.content); err != nil {
			s.log.WarnContext(ctx, "share counters of the content not updated", "content_id", k.content, "err", err)
			continue
		} else if !still {
			left = -1
		}
		s.countShares(ctx, sc, k.content, left, -n[k])
	}
}

// cancelEach cancels each of shares still in the state it was read in, one
// conditional update per share (set is the $set, the state included), and
// takes the ones this call cancelled out of their contents' counters: of
// two paths cancelling one share, only the one whose update matched counts
// it. It returns the shares it cancelled.
func (s *Service) cancelEach(ctx context.Context, sc tenant.Scope, shares []Share, set bson.D) ([]Share, error) {
	coll := sc.Collection(shareKind)
	var done []Share
	var err error
	for _, sh := range shares {
		var ok bool
		ok, err = coll.Update(ctx, bson.D{{Key: "_id", Value: sh.ID}, {Key: "state", Value: sh.State}}, bson.D{{Key: "$set", Value: set}})
		if err != nil {
			break
		}
		if ok {
			done = append(done, sh)
		}
	}
	s.sharesEnded(ctx, sc, done)
	return done, err
}

// countShares updates the content's share counters. It cannot fail the
// share or its cancellation, which stand: a counter left behind is only
// a figure shown on the content.
func (s *Service) countShares(ctx context.Context, sc tenant.Scope, contentID string, sharedBy, shares int64) {
	if err := content.CountShares(context.WithoutCancel(ctx), sc, contentID, sharedBy, shares); err != nil {
		s.log.WarnContext(ctx, "share counters of the content not updated", "content_id", contentID, "err", err)
	}
}

// dropTasks deletes the waiting tasks of cancelled shares. It cannot fail
// the cancellation: a task left behind finds its share cancelled.
func (s *Service) dropTasks(ctx context.Context, sc tenant.Scope, ids []string) {
	if s.dequeue == nil || len(ids) == 0 {
		return
	}
	if err := s.dequeue(ctx, sc, ids); err != nil {
		s.log.WarnContext(ctx, "tasks of cancelled shares not deleted; they will find their shares cancelled",
			"tenant_id", sc.InstanceID(), "count", len(ids), "err", err)
	}
}

// RetryError asks the job runner to try again after Delay.
type RetryError struct {
	Delay time.Duration
	Err   error
}

func (e *RetryError) Error() string { return fmt.Sprintf("retry in %s: %v", e.Delay, e.Err) }
func (e *RetryError) Unwrap() error { return e.Err }

// PublishShare publishes a share (the share:publish job). It takes the
// share from queued (or due scheduled) to publishing with a lease, calls
// the network once, and records the outcome: published; failed with a
// reason; unconfirmed when the network may have received it (never posted
// again automatically); back to queued with a *RetryError for a retry-later
// answer. A share in any other state is left alone, so a duplicate task
// posts nothing.
func (s *Service) PublishShare(ctx context.Context, sc tenant.Scope, id string) error {
	var sh Share
	if err := sc.Collection(shareKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &sh); err != nil {
		return err
	}
	now := s.now().UTC()
	if sh.State != ShareQueued && sh.State != ShareScheduled {
		return nil
	}
	if sh.PublishAt.After(now) {
		// Asynq keeps whole seconds: never start early.
		return &RetryError{Delay: sh.PublishAt.Sub(now), Err: errors.New("not due yet")}
	}
	coll := sc.Collection(shareKind)
	// Member, content and whitelist are checked again: any may have
	// changed since the share was made.
	reason, err := s.blocker(ctx, sc, sh)
	if err != nil {
		return err
	}
	if reason != "" {
		ok, err := coll.Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: sh.State}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: ShareCancelled}, {Key: "error", Value: reason}, {Key: "updated_at", Value: now}}}})
		if ok {
			s.shareEnded(ctx, sc, sh)
		}
		return err
	}
	if wait, reason := s.paused(ctx, sh.Network); wait > 0 {
		// Not one request while the operator has not acted: the share
		// waits, saying why.
		if _, err := coll.Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: sh.State}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "error", Value: pausedText(sh.Network, reason)}, {Key: "updated_at", Value: now}}}}); err != nil {
			return err
		}
		return &RetryError{Delay: wait, Err: ErrNetworkPaused}
	}
	if s.throttle != nil {
		wait, err := s.throttle(ctx, sc, sh.Network, sh.ConnectionID)
		if err != nil {
			s.log.WarnContext(ctx, "publishing limits unavailable; publishing without them", "share_id", id, "err", err)
		} else if wait > 0 {
			return &RetryError{Delay: wait, Err: ErrRateLimited}
		}
	}
	attempt := newID()
	lease := now.Add(leaseTime)
	ok, err := coll.Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "state", Value: sh.State}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: SharePublishing}, {Key: "attempt_id", Value: attempt},
			{Key: "lease_until", Value: lease}, {Key: "attempted_at", Value: now}, {Key: "updated_at", Value: now}}}, {Key: "$inc", Value: bson.D{{Key: "attempts", Value: 1}}}})
	if err != nil || !ok {
		return err // another worker took it, or it was cancelled
	}
	link, _ := url.Parse(sh.TrackedURL)
	pub, perr := s.Publish(ctx, sc, sh.ConnectionID, Post{Text: sh.Text, Link: link.String(), IdempotencyKey: sh.ID})
	mine := bson.D{{Key: "_id", Value: id}, {Key: "state", Value: SharePublishing}, {Key: "attempt_id", Value: attempt}}
	set := func(fields bson.D) error {
		fields = append(fields, bson.E{Key: "updated_at", Value: s.now().UTC()})
		ok, err := coll.Update(context.WithoutCancel(ctx), mine, bson.D{{Key: "$set", Value: fields}, {Key: "$unset", Value: bson.D{{Key: "lease_until", Value: ""}}}})
		// A share that failed or was cancelled leaves its content's counters.
		if st := fields[0].Value; ok && (st == ShareFailed || st == ShareCancelled) {
			s.shareEnded(ctx, sc, sh)
		}
		return err
	}
	if s.outcome != nil {
		s.outcome(sh.Network, outcomeOf(perr))
	}
	var nerr *Error
	switch {
	case perr == nil:
		at := pub.At
		if at.IsZero() {
			at = s.now().UTC()
		}
		if err := set(bson.D{{Key: "state", Value: SharePublished}, {Key: "remote_id", Value: pub.RemoteID},
			{Key: "post_url", Value: pub.URL}, {Key: "published_at", Value: at}, {Key: "error", Value: ""}}); err != nil {
			return err
		}
		s.sharePublished(ctx, sc, id)
		return nil
	case errors.Is(perr, ErrAmbiguous):
		return set(bson.D{{Key: "state", Value: ShareUnconfirmed}, {Key: "error", Value: unconfirmedText}})
	case errors.Is(perr, ErrOperator):
		delay, msg := OperatorPause, ""
		if errors.As(perr, &nerr) {
			msg = nerr.Message
			if nerr.RetryAfter > 0 {
				delay = nerr.RetryAfter
			}
		}
		s.pause(ctx, sh.Network, delay, msg, perr)
		if err := set(bson.D{{Key: "state", Value: ShareQueued}, {Key: "error", Value: pausedText(sh.Network, msg)}}); err != nil {
			return err
		}
		return &RetryError{Delay: delay, Err: perr}
	case errors.Is(perr, ErrRetryLater):
		delay := 30 * time.Second
		if errors.As(perr, &nerr) && nerr.RetryAfter > 0 {
			delay = nerr.RetryAfter
		}
		if err := set(bson.D{{Key: "state", Value: ShareQueued}, {Key: "error", Value: "the network asked to wait; retrying"}}); err != nil {
			return err
		}
		return &RetryError{Delay: delay, Err: perr}
	case errors.Is(perr, ErrReconnect), errors.Is(perr, ErrBroken):
		return set(bson.D{{Key: "state", Value: ShareFailed}, {Key: "error", Value: "needs_reconnect: connect the account again"}})
	case errors.Is(perr, ErrDisabled):
		return set(bson.D{{Key: "state", Value: ShareCancelled}, {Key: "error", Value: "the network is no longer allowed by your company"}})
	case errors.Is(perr, ErrServerNotAllowed):
		return set(bson.D{{Key: "state", Value: ShareCancelled}, {Key: "error", Value: "your company no longer allows this account's server"}})
	default:
		return set(bson.D{{Key: "state", Value: ShareFailed}, {Key: "error", Value: failureText(perr)}})
	}
}

// pausedText is what a member is told about a share waiting for the
// operator.
func pausedText(network, reason string) string {
	text := "waiting: " + network + " refuses this deployment's app until its operator acts; the share is posted once they have"
	if reason != "" {
		text += " (" + network + ": " + reason + ")"
	}
	return text
}

// pause pauses network for d after err (ErrOperator), deployment-wide,
// and tells the operator: an error in the log, the pause on /readyz.
func (s *Service) pause(ctx context.Context, network string, d time.Duration, reason string, err error) {
	s.log.ErrorContext(ctx, "network refuses the deployment's app: publishing to it is paused until the operator acts",
		"network", network, "pause", d.String(), "err", err)
	if s.pauses == nil {
		return
	}
	if perr := s.pauses.Pause(ctx, network, d, reason); perr != nil {
		s.log.WarnContext(ctx, "network pause not recorded; each share waits on its own", "network", network, "err", perr)
	}
}

// paused is how long network stays paused for the operator (0: it is
// not) and why. A store that cannot say lets the share go ahead: the
// network answers again and pauses again.
func (s *Service) paused(ctx context.Context, network string) (time.Duration, string) {
	if s.pauses == nil {
		return 0, ""
	}
	wait, reason, err := s.pauses.Paused(ctx, network)
	if err != nil {
		s.log.WarnContext(ctx, "network pauses unavailable; publishing without them", "network", network, "err", err)
		return 0, ""
	}
	return wait, reason
}

// NetworkPause is a network paused for the operator.
type NetworkPause struct {
	Network string        `json:"network"`
	For     time.Duration `json:"-"`
	Until   time.Time     `json:"until"`
	Reason  string        `json:"reason"`
}

// PausedNetworks lists the served networks paused for the operator, for
// the health page; a store that cannot say is an error.
func (s *Service) PausedNetworks(ctx context.Context) ([]NetworkPause, error) {
	if s.pauses == nil {
		return nil, nil
	}
	var out []NetworkPause
	for _, n := range s.networks.Names() {
		wait, reason, err := s.pauses.Paused(ctx, n)
		if err != nil {
			return nil, err
		}
		if wait > 0 {
			out = append(out, NetworkPause{Network: n, For: wait, Until: s.now().UTC().Add(wait).Truncate(time.Second), Reason: reason})
		}
	}
	return out, nil
}

// outcomeOf names what a network's answer to a publication came to, as
// PublishShare records it.
func outcomeOf(perr error) PublishOutcome {
	switch {
	case perr == nil:
		return OutcomePublished
	case errors.Is(perr, ErrAmbiguous):
		return OutcomeUnconfirmed
	case errors.Is(perr, ErrOperator):
		return OutcomePaused
	case errors.Is(perr, ErrRetryLater):
		return OutcomeRetried
	case errors.Is(perr, ErrDisabled), errors.Is(perr, ErrServerNotAllowed):
		return OutcomeCancelled
	}
	return OutcomeFailed
}

// blocker says why a share may not be published any more, or "".
func (s *Service) blocker(ctx context.Context, sc tenant.Scope, sh Share) (string, error) {
	// Removal and erasure cancel a member's shares; a share that escaped
	// them (a task already running) still never posts for someone who
	// left.
	switch _, err := sc.Member(ctx, sh.MemberID); {
	case errors.Is(err, tenant.ErrNotFound):
		return "the member is no longer in the company", nil
	case err != nil:
		return "", err
	}
	if s.content != nil {
		if _, err := s.content.Shareable(ctx, sc, sh.ContentID); err != nil {
			return "the content is no longer published", nil
		}
	}
	if _, err := s.whitelisted(ctx, sc, sh.Network); err != nil {
		return "the network is no longer allowed by your company", nil
	}
	return "", nil
}

// failureText is what the member is told about a permanent failure.
func failureText(err error) string {
	var nerr *Error
	if errors.As(err, &nerr) && nerr.Message != "" {
		return "the network refused the post: " + nerr.Message
	}
	return "the post could not be published"
}

// Reconcile repairs what a lost task or a crash left: shares queued (or
// due scheduled) for more than stale with no live task are queued again
// (enqueue must dedupe by share ID) unless a failed request with an
// Idempotency-Key left them (see keyClaim), and shares whose publishing lease ran
// out become unconfirmed. It returns how many of each it found.
func (s *Service) Reconcile(ctx context.Context, sc tenant.Scope, stale time.Duration) (requeued, unconfirmed int, err error) {
	now := s.now().UTC()
	coll := sc.Collection(shareKind)
	requeue := func(page []Share) error {
		page, err := s.claimed(ctx, sc, page)
		if err != nil {
			return err
		}
		for _, sh := range page {
			if s.enqueue != nil {
				if err := s.enqueue(ctx, sc, sh.ID, sh.PublishAt); err != nil {
					return err
				}
			}
			requeued++
		}
		return nil
	}
	// Each walk reads the index in pages, never the collection: queued
	// shares not touched for stale, then scheduled ones due for stale.
	old := bson.D{{Key: "$lt", Value: now.Add(-stale)}}
	if err := walkShares(ctx, coll, bson.D{{Key: "state", Value: ShareQueued}, {Key: "updated_at", Value: old}}, "updated_at", requeue); err != nil {
		return requeued, unconfirmed, err
	}
	if err := walkShares(ctx, coll, bson.D{{Key: "state", Value: ShareScheduled}, {Key: "publish_at", Value: bson.D{{Key: "$lte", Value: now}}},
		{Key: "updated_at", Value: old}}, "publish_at", requeue); err != nil {
		return requeued, unconfirmed, err
	}
	err = walkShares(ctx, coll, bson.D{{Key: "state", Value: SharePublishing}, {Key: "lease_until", Value: bson.D{{Key: "$lt", Value: now}}}}, "updated_at",
		func(page []Share) error {
			for _, sh := range page {
				ok, err := coll.Update(ctx, bson.D{{Key: "_id", Value: sh.ID}, {Key: "state", Value: SharePublishing}, {Key: "attempt_id", Value: sh.AttemptID}},
					bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: ShareUnconfirmed}, {Key: "updated_at", Value: now},
						{Key: "error", Value: "publishing was interrupted; the post may exist at the network and is not posted again"}}}})
				if err != nil {
					return err
				}
				if ok {
					unconfirmed++
				}
			}
			return nil
		})
	return requeued, unconfirmed, err
}

// walkBatch is how many shares a walk reads at a time.
const walkBatch = 200

// walkShares hands fn the shares that match filter (whose first field is
// state) in pages of walkBatch, in the order of by (a time field of an
// index on {state, by}) and _id, each page read after the last one's
// position: the walk reads the index range, never the collection, and
// ends even if fn changes the shares it is handed.
func walkShares(ctx context.Context, coll *tenant.Collection, filter bson.D, by string, fn func([]Share) error) error {
	opts := options.Find().SetSort(bson.D{{Key: by, Value: 1}, {Key: "_id", Value: 1}}).SetLimit(walkBatch)
	var after bson.D
	for {
		var page []Share
		if err := coll.Find(ctx, append(slices.Clone(filter), after...), &page, opts); err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		if err := fn(page); err != nil {
			return err
		}
		if len(page) < walkBatch {
			return nil
		}
		last := page[len(page)-1]
		at := last.UpdatedAt
		if by == "publish_at" {
			at = last.PublishAt
		}
		after = bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: by, Value: bson.D{{Key: "$gt", Value: at}}}},
			bson.D{{Key: by, Value: at}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: last.ID}}}},
		}}}
	}
}

// hasLiveShare reports whether the member has a share of the content that
// did not fail and was not cancelled: one read of at most one share
// through the (member_id, content_id) index, whatever their history.
func (s *Service) hasLiveShare(ctx context.Context, sc tenant.Scope, memberID, contentID string) (bool, error) {
	var found []Share
	err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "member_id", Value: memberID}, {Key: "content_id", Value: contentID},
		{Key: "state", Value: bson.D{{Key: "$nin", Value: bson.A{ShareFailed, ShareCancelled}}}}}, &found,
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}).SetLimit(1))
	return len(found) > 0, err
}

// SharedNetworks returns, per content ID, the networks the member shared
// it to (shares not failed or cancelled), for the feed and the composer.
// It reads the member's shares of these contents only, through the
// (member_id, content_id) index: its cost follows the page, not the
// history of shares.
func (s *Service) SharedNetworks(ctx context.Context, sc tenant.Scope, memberID string, contentIDs []string) (map[string][]string, error) {
	var shares []Share
	err := sc.Collection(shareKind).Find(ctx, bson.D{{Key: "member_id", Value: memberID},
		{Key: "content_id", Value: bson.D{{Key: "$in", Value: contentIDs}}},
		{Key: "state", Value: bson.D{{Key: "$nin", Value: bson.A{ShareFailed, ShareCancelled}}}}}, &shares,
		options.Find().SetProjection(bson.D{{Key: "content_id", Value: 1}, {Key: "network", Value: 1}}))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, sh := range shares {
		if !slices.Contains(out[sh.ContentID], sh.Network) {
			out[sh.ContentID] = append(out[sh.ContentID], sh.Network)
		}
	}
	for _, ns := range out {
		slices.Sort(ns)
	}
	return out, nil
}
