package content

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// The digest mail: once a week each member of a verified instance gets the
// newest feed content published since their last digest.
const (
	// DigestItems is how many posts a digest lists at most, newest first.
	DigestItems = 10
	// DigestHour is when a week's digests start going out: Monday at this
	// hour in the instance's time zone.
	DigestHour = 8
	// A member's first digest looks back a week (or to when they joined);
	// later ones to the previous digest, but never further than
	// digestMaxLookback (digests were off for a while).
	digestFirstLookback = 7 * 24 * time.Hour
	digestMaxLookback   = 28 * 24 * time.Hour
)

// Digest states: a digest is claimed (sending) before it is mailed and
// marked sent after; a claim stays when the worker died in between, and
// the member gets no second mail that week.
const (
	digestSending = "sending"
	digestSent    = "sent"
)

// digestRecord is the digest of one member and one week. Its ID is the
// member ID and the week, so a week's digest can be claimed once.
type digestRecord struct {
	ID       string `bson:"_id" json:"-"`
	MemberID string `bson:"member_id" json:"-"`
	// Week is the ISO week, e.g. 2026-W48, in the instance's time zone.
	Week  string `bson:"week" json:"week"`
	State string `bson:"state" json:"state"`
	// Since and Until bound the publish times the digest covered.
	Since     time.Time  `bson:"since" json:"since"`
	Until     time.Time  `bson:"until" json:"until"`
	PostIDs   []string   `bson:"post_ids" json:"post_ids"`
	ClaimedAt time.Time  `bson:"claimed_at" json:"claimed_at"`
	SentAt    *time.Time `bson:"sent_at,omitempty" json:"sent_at,omitempty"`
}

var digestKind = tenant.Kind{
	Name:    "digests",
	Indexes: []tenant.Index{{Keys: bson.D{{Key: "member_id", Value: 1}, {Key: "until", Value: -1}}}},
}

// DigestWeek returns the digest week that t falls in for an instance in
// loc: the ISO week, shifted so it starts on Monday at DigestHour.
func DigestWeek(t time.Time, loc *time.Location) string {
	y, w := t.In(loc).Add(-DigestHour * time.Hour).ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

// DigestReport counts what one instance's digest run did.
type DigestReport struct {
	Sent int
	// Skipped: members who objected, already had this week's digest, or
	// had nothing new.
	Skipped int
}

// SendDigests mails this week's digest to every member of the scope's
// instance who has not had it yet, has not withdrawn the digest_mail
// consent, and has new content: the newest DigestItems published posts
// since their last digest, each with its title and its link into the web
// app at base. Unverified instances and instances whose digest setting is
// off get none.
//
// It is idempotent per member and week: a week's digest is claimed (a
// record per member and week) before it is mailed, so re-runs, concurrent
// runs and a run resumed after a crash send nobody a second one. A mail
// the mailer refused releases the claim and is returned as an error (the
// task is retried for those members only); a crash between claiming and
// mailing loses that member's digest for the week rather than risk a
// duplicate.
func (s *Service) SendDigests(ctx context.Context, sc tenant.Scope, mailer tenant.Mailer, base *url.URL) (DigestReport, error) {
	var rep DigestReport
	inst := sc.Instance()
	if mailer == nil || !inst.Verified || inst.Settings.DigestSchedule() != tenant.DigestWeekly {
		return rep, nil
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	week := DigestWeek(now, inst.Settings.Location())
	var errs []error
	after := ""
	for {
		members, err := sc.Members(ctx, after, 100)
		if err != nil {
			return rep, err
		}
		for _, m := range members {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			sent, err := s.sendDigest(ctx, sc, mailer, base, m, week, now)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("digest for member %s: %w", m.ID, err))
			case sent:
				rep.Sent++
			default:
				rep.Skipped++
			}
		}
		if len(members) < 100 {
			break
		}
		after = members[len(members)-1].ID
	}
	return rep, errors.Join(errs...)
}

// sendDigest mails one member's digest of week, reporting whether it did.
func (s *Service) sendDigest(ctx context.Context, sc tenant.Scope, mailer tenant.Mailer, base *url.URL, m tenant.Member, week string, now time.Time) (bool, error) {
	digests := sc.Collection(digestKind)
	id := m.ID + ":" + week
	if n, err := digests.Count(ctx, bson.D{{Key: "_id", Value: id}}); err != nil || n > 0 {
		return false, err
	}
	ok, err := sc.Consented(ctx, m.ID, tenant.PurposeDigestMail)
	if err != nil || !ok {
		return false, err
	}
	since := now.Add(-digestFirstLookback)
	if m.CreatedAt.After(since) {
		since = m.CreatedAt
	}
	var last []digestRecord
	if err := digests.Find(ctx, bson.D{{Key: "member_id", Value: m.ID}}, &last,
		options.Find().SetSort(bson.D{{Key: "until", Value: -1}}).SetLimit(1)); err != nil {
		return false, err
	}
	if len(last) == 1 {
		since = last[0].Until
	}
	if floor := now.Add(-digestMaxLookback); since.Before(floor) {
		since = floor
	}
	aimed, err := memberAim(ctx, sc, m)
	if err != nil {
		return false, err
	}
	posts, err := s.publishedBetween(ctx, sc, since, now, aimed, DigestItems)
	if err != nil || len(posts) == 0 {
		return false, err
	}
	var clicks int64
	if s.memberClicks != nil {
		if clicks, err = s.memberClicks(ctx, sc, m.ID, since, now); err != nil {
			return false, err
		}
	}

	rec := digestRecord{ID: id, MemberID: m.ID, Week: week, State: digestSending, Since: since, Until: now,
		PostIDs: idsOf(posts), ClaimedAt: now}
	switch err := digests.Insert(ctx, rec); {
	case errors.Is(err, tenant.ErrDuplicate):
		return false, nil // another run claimed it a moment ago
	case err != nil:
		return false, err
	}
	if err := mailer.Send(ctx, digestMail(sc.Instance().Name, m, posts, since, clicks, base)); err != nil {
		// Not handed over: release the claim so a retry sends it.
		if _, derr := digests.Delete(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: id}}); derr != nil {
			err = errors.Join(err, fmt.Errorf("release the claim: %w", derr))
		}
		return false, err
	}
	if _, err := digests.Update(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: digestSent}, {Key: "sent_at", Value: s.now().UTC().Truncate(time.Millisecond)}}}}); err != nil {
		return true, err
	}
	// Only the newest digest matters (where the next one starts).
	if _, err := digests.DeleteMany(ctx, bson.D{{Key: "member_id", Value: m.ID}, {Key: "_id", Value: bson.D{{Key: "$ne", Value: id}}}}); err != nil {
		return true, err
	}
	return true, nil
}

// publishedBetween returns up to limit posts of the feed published after
// since and at or before now, unexpired at now, newest first; aimed (a
// member's aimFilter, nil for all) keeps those aimed at the member.
func (s *Service) publishedBetween(ctx context.Context, sc tenant.Scope, since, now time.Time, aimed bson.D, limit int) ([]Post, error) {
	var posts []Post
	and := bson.A{
		bson.D{{Key: "state", Value: StatePublished}, {Key: "publish_at", Value: bson.D{{Key: "$gt", Value: since}, {Key: "$lte", Value: now}}}},
		bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "expires_at", Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: "expires_at", Value: bson.D{{Key: "$gt", Value: now}}}},
		}}},
	}
	if aimed != nil {
		and = append(and, aimed)
	}
	err := sc.Collection(postKind).Find(ctx, bson.D{{Key: "$and", Value: and}}, &posts, options.Find().SetSort(bson.D{{Key: "publish_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	return posts, err
}

// digestMail writes the digest: plain text, what the member's posts got
// since the last one (clicks, when any), links straight into the web app
// (no tracked links, no pixel), and how to stop it.
func digestMail(instance string, m tenant.Member, posts []Post, since time.Time, clicks int64, base *url.URL) tenant.Mail {
	var b strings.Builder
	hello := "Hello"
	if m.Name != "" {
		hello += " " + m.Name
	}
	day := since.UTC().Format("2 January 2006")
	fmt.Fprintf(&b, "%s,\n\n", hello)
	if clicks > 0 {
		unit := "clicks"
		if clicks == 1 {
			unit = "click"
		}
		fmt.Fprintf(&b, "your posts got %d %s since %s. Your impact: %s\n\nNew on %s's Chorus:\n\n",
			clicks, unit, day, base.JoinPath("impact").String(), instance)
	} else {
		fmt.Fprintf(&b, "new on %s's Chorus since %s:\n\n", instance, day)
	}
	for _, p := range posts {
		fmt.Fprintf(&b, "- %s\n  %s\n\n", postTitle(p), base.JoinPath("share", p.ID).String())
	}
	feed := base.JoinPath("feed").String()
	fmt.Fprintf(&b, "All of it in your feed: %s\n\n", feed)
	fmt.Fprintf(&b, "You get this digest once a week. To stop it, withdraw \"Send me the digest mail\" under Consents in your profile: %s\n",
		base.JoinPath("profile").String())
	subject := fmt.Sprintf("%d new posts to share on Chorus", len(posts))
	if len(posts) == 1 {
		subject = "1 new post to share on Chorus"
	}
	return tenant.Mail{To: m.Email, Subject: subject, Text: b.String(), Link: feed}
}

// postTitle is what a digest calls a post: its title, else its page's,
// else its link.
func postTitle(p Post) string {
	for _, t := range []string{p.Title, p.Preview.Title, p.URL} {
		if t = strings.Join(strings.Fields(t), " "); t != "" {
			return t
		}
	}
	return p.ID
}
