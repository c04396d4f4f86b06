package social

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/tenant"
)

// Link is the channel of a share that Chorus does not post: the member
// copies its tracked link, or sends it by mail or a messenger, from the
// composer. It works whatever networks the deployment serves and the
// admins allow.
const Link = "link"

// LinkShare returns the member's link share of post: a share on the link
// channel, published at once with its own tracked link, that counts in My
// shares and in the analytics like any share and is never queued for
// publishing. There is one per member and content: a repeat returns the
// first (created false). Its ID derives from the member and the content,
// so two requests at once meet on one document.
func (s *Service) LinkShare(ctx context.Context, sc tenant.Scope, me tenant.Member, post content.Post) (sh Share, created bool, err error) {
	id := linkShareID(me.ID, post.ID)
	coll := sc.Collection(shareKind)
	switch err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &sh); {
	case err == nil:
		return sh, false, nil
	case !isNotFound(err):
		return Share{}, false, err
	}
	now := s.timestamp()
	code := newCode()
	sh = Share{ID: id, ContentID: post.ID, ContentTitle: cmp.Or(post.Title, post.URL), MemberID: me.ID, Network: Link,
		Text: defaultText(post, Link), State: SharePublished, TrackedURL: s.baseURL.JoinPath("/r/" + code).String(),
		Destination: post.URL, PublishAt: now, PublishedAt: &now, CreatedAt: now, UpdatedAt: now}
	// The link first: a share never names a code that leads nowhere. A
	// link whose share lost the race below is never handed out.
	if err := CreateLink(ctx, sc, TrackedLink{Code: code, ShareID: id, ContentID: post.ID, Network: Link, Destination: post.URL}); err != nil {
		return Share{}, false, err
	}
	switch err := coll.Insert(ctx, sh); {
	case errors.Is(err, tenant.ErrDuplicate):
		var first Share
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &first); err != nil {
			return Share{}, false, err
		}
		return first, false, nil
	case err != nil:
		return Share{}, false, err
	}
	s.sharePublished(ctx, sc, id)
	return sh, true, nil
}

// linkShareID is the ID of a member's link share of a content: a share
// ID's form (26 base32 characters), derived rather than random.
func linkShareID(memberID, contentID string) string {
	h := sha256.Sum256([]byte("link\x00" + memberID + "\x00" + contentID))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h[:16]))
}
