package content

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/sync/errgroup"

	"github.com/chorushq/chorus/tenant"
)

// RetryLater is a notification run that must be tried again: a push
// service answered 429 or 5xx. Delay is what its Retry-After said (0:
// the queue's backoff).
type RetryLater struct {
	Delay time.Duration
	Err   error
}

func (e *RetryLater) Error() string { return fmt.Sprintf("push service: try again later: %v", e.Err) }
func (e *RetryLater) Unwrap() error { return e.Err }

// PushMessage is what a device receives: the post, its title and where a
// click leads (the composer for it).
type PushMessage struct {
	PostID string `json:"post_id"`
	Title  string `json:"title"`
	Body   string `json:"body,omitempty"`
	URL    string `json:"url"`
}

// PushReport counts what one notification run did, member by member.
type PushReport struct {
	Sent int
	// Skipped: members who may not see the post, follow none of its
	// topics, withdrew the consent, have no device or had it already.
	Skipped int
	Quiet   int
	Capped  int
	// Gone: devices the push service no longer knows, deleted.
	Gone int
}

// announce queues the notification of a post that is (or will be)
// published; a queue that fails is logged, never failing the publish.
func (s *Service) announce(ctx context.Context, sc tenant.Scope, p Post) {
	if s.push.Enqueue == nil || !s.pushOn() || p.State != StatePublished {
		return
	}
	if err := s.push.Enqueue(ctx, sc, p.ID, p.PublishAt); err != nil {
		s.log.WarnContext(ctx, "push notification not queued", "post_id", p.ID, "err", err)
	}
}

// follows reports whether a member who follows topics gets a post about
// them: as the feed's "followed" filter decides; a member who follows no
// topic gets everything.
func follows(m tenant.Member, p Post) bool {
	if len(m.Topics) == 0 {
		return true
	}
	for _, t := range p.Topics {
		if slices.Contains(m.Topics, t) {
			return true
		}
	}
	return false
}

// pushBatch is how many members a notification run reads at once;
// pushParallel how many of them it notifies at a time.
const (
	pushBatch    = 100
	pushParallel = 8
)

// add counts o into r.
func (r *PushReport) add(o PushReport) {
	r.Sent += o.Sent
	r.Skipped += o.Skipped
	r.Quiet += o.Quiet
	r.Capped += o.Capped
	r.Gone += o.Gone
}

// NotifyPublished sends the push notification of a published post to the
// members of the scope's instance who enabled push, walking only them (an
// index on the enabled ones) in batches. A member is notified when they
// may see the post (Sees), follow one of its topics (or none at all),
// still grant the push consent, are outside their quiet hours (then the
// notification is dropped: the feed and the digest have the post) and
// under the instance's daily cap. A post not published now (scheduled
// later, archived, expired) is left alone, as is one notified more than
// PushMarkDays ago (its marks are swept: SweepPushSent).
//
// It is idempotent: each (post, member) is marked before anything is
// sent, so re-runs notify nobody twice. A push service answering 429 or
// 5xx for every device of a member releases that member's mark and the
// run returns *RetryLater; devices the service no longer knows (404, 410)
// are deleted.
func (s *Service) NotifyPublished(ctx context.Context, sc tenant.Scope, postID string) (PushReport, error) {
	var rep PushReport
	if !s.pushOn() {
		return rep, nil
	}
	p, err := s.Get(ctx, sc, postID)
	if errors.Is(err, ErrNotFound) {
		return rep, nil
	} else if err != nil {
		return rep, err
	}
	if p.StateAt(s.now()) != StatePublished || p.PushSwept {
		return rep, nil
	}
	msg, err := json.Marshal(PushMessage{PostID: p.ID, Title: postTitle(p), Body: sc.Instance().Name, URL: "/share/" + p.ID})
	if err != nil {
		return rep, err
	}
	var retry *RetryLater
	after := ""
	for {
		var batch []pushMember
		filter := bson.D{{Key: "enabled", Value: true}}
		if after != "" {
			filter = append(filter, bson.E{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}})
		}
		if err := sc.Collection(pushMemberKind).Find(ctx, filter, &batch,
			options.Find().SetSort(bson.D{{Key: "enabled", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(pushBatch)); err != nil {
			return rep, err
		}
		// The members of a page are notified side by side: most of the
		// time is spent waiting for push services.
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(pushParallel)
		for _, pm := range batch {
			g.Go(func() error {
				var one PushReport
				err := s.notifyMember(gctx, sc, p, pm, msg, &one)
				mu.Lock()
				defer mu.Unlock()
				rep.add(one)
				var rl *RetryLater
				switch {
				case errors.As(err, &rl):
					if retry == nil || rl.Delay > retry.Delay {
						retry = rl
					}
				case err != nil:
					return fmt.Errorf("notify member %s: %w", pm.ID, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return rep, err
		}
		if len(batch) < pushBatch {
			break
		}
		after = batch[len(batch)-1].ID
	}
	if retry != nil {
		return rep, retry
	}
	return rep, nil
}

// notifyMember notifies one member of p, counting the outcome in rep.
func (s *Service) notifyMember(ctx context.Context, sc tenant.Scope, p Post, pm pushMember, msg []byte, rep *PushReport) error {
	m, err := sc.Member(ctx, pm.ID)
	if errors.Is(err, tenant.ErrNotFound) {
		rep.Skipped++
		return nil
	} else if err != nil {
		return err
	}
	seen, err := s.Sees(ctx, sc, m, p)
	if err != nil {
		return err
	}
	if !seen || !follows(m, p) {
		rep.Skipped++
		return nil
	}
	if ok, err := sc.Consented(ctx, m.ID, tenant.PurposePush); err != nil || !ok {
		rep.Skipped++
		return err
	}
	var subs []PushSubscription
	if err := sc.Collection(pushSubscriptionKind).Find(ctx, bson.D{{Key: "member_id", Value: m.ID}}, &subs); err != nil {
		return err
	}
	if len(subs) == 0 {
		rep.Skipped++
		return nil
	}
	sent := sc.Collection(pushSentKind)
	markID := p.ID + ":" + m.ID
	now := s.now().UTC().Truncate(time.Millisecond)
	switch err := sent.Insert(ctx, pushSent{ID: markID, PostID: p.ID, MemberID: m.ID, State: pushSending, At: now}); {
	case errors.Is(err, tenant.ErrDuplicate):
		rep.Skipped++ // notified (or decided) already
		return nil
	case err != nil:
		return err
	}
	mark := func(state string) error {
		_, err := sent.Update(ctx, bson.D{{Key: "_id", Value: markID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: state}}}})
		return err
	}
	loc := sc.Instance().Settings.Location()
	if pm.TimeZone != "" {
		if l, err := time.LoadLocation(pm.TimeZone); err == nil {
			loc = l
		}
	}
	if pm.QuietHours != nil && pm.QuietHours.Quiet(now, loc) {
		rep.Quiet++
		return mark(pushQuiet)
	}
	day := now.In(loc).Format(time.DateOnly)
	took, err := s.takeDaily(ctx, sc, m.ID, day, sc.Instance().Settings.PushCap())
	if err != nil {
		return errors.Join(err, s.release(ctx, sc, markID, "", ""))
	}
	if !took {
		rep.Capped++
		return mark(pushCapped)
	}
	delivered := 0
	var retry *RetryLater
	for _, sub := range subs {
		err := s.deliver(ctx, sc, sub, msg)
		var rl *RetryLater
		switch {
		case err == nil:
			delivered++
		case errors.Is(err, errGone):
			rep.Gone++
		case errors.As(err, &rl):
			if retry == nil || rl.Delay > retry.Delay {
				retry = rl
			}
		default:
			s.log.WarnContext(ctx, "push notification refused", "member_id", m.ID, "subscription_id", sub.ID, "err", err)
		}
	}
	switch {
	case delivered > 0:
		rep.Sent++
		return mark(pushDone)
	case retry != nil:
		// Nothing reached the member: free the mark and the day's count so
		// the retry notifies them.
		return errors.Join(retry, s.release(ctx, sc, markID, m.ID, day))
	default:
		rep.Skipped++
		return mark(pushUndelivered)
	}
}

// takeDaily counts one notification for the member on day if under cap;
// false when the cap is reached. Each step is one conditional update of
// the member's document.
func (s *Service) takeDaily(ctx context.Context, sc tenant.Scope, memberID, day string, limit int) (bool, error) {
	c := sc.Collection(pushMemberKind)
	ok, err := c.Update(ctx, bson.D{{Key: "_id", Value: memberID}, {Key: "day", Value: day}, {Key: "count", Value: bson.D{{Key: "$lt", Value: limit}}}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: 1}}}})
	if err != nil || ok {
		return ok, err
	}
	return c.Update(ctx, bson.D{{Key: "_id", Value: memberID}, {Key: "day", Value: bson.D{{Key: "$ne", Value: day}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "day", Value: day}, {Key: "count", Value: 1}}}})
}

// release deletes a (post, member) mark and gives back the day's count
// taken for it (memberID "" : none was taken).
func (s *Service) release(ctx context.Context, sc tenant.Scope, markID, memberID, day string) error {
	ctx = context.WithoutCancel(ctx)
	if _, err := sc.Collection(pushSentKind).Delete(ctx, bson.D{{Key: "_id", Value: markID}}); err != nil {
		return err
	}
	if memberID == "" {
		return nil
	}
	_, err := sc.Collection(pushMemberKind).Update(ctx, bson.D{{Key: "_id", Value: memberID}, {Key: "day", Value: day}, {Key: "count", Value: bson.D{{Key: "$gt", Value: 0}}}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "count", Value: -1}}}})
	return err
}

// errGone: the push service no longer knows the subscription.
var errGone = errors.New("push subscription gone")

// deliver encrypts msg for one device (RFC 8291, aes128gcm) and posts it
// with the VAPID signature (RFC 8292). A 404 or 410 deletes the device
// (errGone); 429 and 5xx are *RetryLater.
func (s *Service) deliver(ctx context.Context, sc tenant.Scope, sub PushSubscription, msg []byte) error {
	client := s.push.Client
	if client == nil {
		client = http.DefaultClient
	}
	// A copy each: the library pads the message in place (bytes.NewBuffer
	// over it), which would write into a slice the members of a page share.
	resp, err := webpush.SendNotificationWithContext(ctx, bytes.Clone(msg), &webpush.Subscription{Endpoint: sub.Endpoint,
		Keys: webpush.Keys{P256dh: sub.P256DH, Auth: sub.Auth}}, &webpush.Options{
		HTTPClient: client, Subscriber: s.push.Keys.Subject, TTL: int(pushTTL / time.Second), Urgency: webpush.UrgencyNormal,
		VAPIDPublicKey: s.push.Keys.Public, VAPIDPrivateKey: s.push.Keys.Private,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &RetryLater{Err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusNotFound || code == http.StatusGone:
		if _, err := sc.Collection(pushSubscriptionKind).Delete(ctx, bson.D{{Key: "_id", Value: sub.ID}}); err != nil {
			return err
		}
		return errGone
	case code == http.StatusTooManyRequests || code >= 500:
		return &RetryLater{Delay: retryAfter(resp.Header.Get("Retry-After"), s.now()), Err: fmt.Errorf("status %d", code)}
	default:
		return fmt.Errorf("push service answered %d: %q", code, body)
	}
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at an hour; 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}
