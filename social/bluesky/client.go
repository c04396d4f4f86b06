package bluesky

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/chorushq/chorus/social"
)

// refreshMargin: an access token this close to expiry is renewed before
// use.
const refreshMargin = time.Minute

// Client acts for one account with its whole session and renews the
// session when it must: before a call once Session.Expires is near, and
// after a call the server refused for its token (401, or 400 ExpiredToken
// or InvalidToken), which is then made once more with the new token. A
// renewal the server refuses is social.ErrReconnect, as is a refusal of
// the renewed token.
//
// The renewed session is handed to save before it is used: the server
// rotated the refresh token, and a lost one disconnects the account once
// the old one's two-hour grace is over. A failing save fails the call.
//
// This is what social's service must do for Bluesky connections (see the
// package comment). A Client is safe for concurrent use; concurrent
// callers share one renewal.
type Client struct {
	n    *Network
	save func(context.Context, Session) error

	mu sync.Mutex
	s  Session
}

// Client returns a client acting with s; save (nil: none) keeps renewed
// sessions.
func (n *Network) Client(s Session, save func(context.Context, Session) error) *Client {
	return &Client{n: n, save: save, s: s}
}

// Session returns the current session.
func (c *Client) Session() Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

// Profile is Network.Profile with renewal.
func (c *Client) Profile(ctx context.Context) (social.Profile, error) {
	var p social.Profile
	err := c.do(ctx, "profile", func(a social.Account) (err error) {
		p, err = c.n.profile(ctx, a)
		return err
	})
	return p, err
}

// Publish is Network.Publish with renewal. The call repeated after a
// renewal writes under the same record key, so it cannot post twice.
func (c *Client) Publish(ctx context.Context, p social.Post) (social.Published, error) {
	var pub social.Published
	err := c.do(ctx, "publish", func(a social.Account) (err error) {
		pub, err = c.n.publish(ctx, a, p)
		return err
	})
	return pub, err
}

// Delete is Network.Delete with renewal.
func (c *Client) Delete(ctx context.Context, remoteID string) error {
	return c.do(ctx, "delete", func(a social.Account) error { return c.n.delete(ctx, a, remoteID) })
}

// Logout ends the session at the server (Network.EndSession).
func (c *Client) Logout(ctx context.Context) error {
	return c.n.EndSession(ctx, c.Session())
}

func (c *Client) do(ctx context.Context, op string, f func(social.Account) error) error {
	s, err := c.current(ctx)
	if err != nil {
		return err
	}
	err = f(s.Account())
	var refused *failure
	if !errors.As(err, &refused) || !refused.auth() {
		return classify(op, err)
	}
	if s, err = c.renew(ctx, s.Access); err != nil {
		return err
	}
	return classify(op, f(s.Account()))
}

// current returns the session, renewed first if its access token expires
// within refreshMargin.
func (c *Client) current(ctx context.Context) (Session, error) {
	s := c.Session()
	if s.Expires.IsZero() || s.Expires.After(c.n.opts.Now().Add(refreshMargin)) {
		return s, nil
	}
	return c.renew(ctx, s.Access)
}

// renew renews the session unless another caller already replaced the
// stale access token.
func (c *Client) renew(ctx context.Context, stale social.Secret) (Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.Access != stale {
		return c.s, nil
	}
	s, err := c.n.RefreshSession(ctx, c.s)
	if err != nil {
		return Session{}, err
	}
	if c.save != nil {
		if err := c.save(ctx, s); err != nil {
			return Session{}, fmt.Errorf("keep the renewed session of %s: %w", s.DID, err)
		}
	}
	c.s = s
	return s, nil
}
