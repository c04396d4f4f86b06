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
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
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
	// Clicks counts the clicks on the share's tracked link. The click
	// recorder counts them on the link (withClicks adds them up); what
	// the share document holds was counted before, or set by chorus
	// counters recount.
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
		if err == nil && prev != nil {
			// A repeated request answers with the shares it made, clicked
			// since (new shares have no clicks to read).
			err = withClicks(ctx, sc, prev)
		}
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
		err := CreateLink(ctx, sc, TrackedLink{Code: code, ShareID: shares[i].ID, ContentID: post.ID,
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
		shares = append(shares, Share{ID: httpapi.NewID(), ContentID: post.ID, ConnectionID: c.ID, MemberID: me.ID,
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
	if !httpapi.ValidID(id) {
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
	ok, err := s.transition(ctx, sc, id, shareMove{From: pendingStates, To: ShareCancelled,
		Set: bson.D{{Key: "error", Value: "cancelled by the member"}, {Key: "updated_at", Value: now}}})
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
