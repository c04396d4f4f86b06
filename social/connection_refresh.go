package social

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/oauth2"

	"github.com/chorushq/chorus/tenant"
)

const (
	// refreshMargin: an access token this close to expiry is refreshed
	// before use.
	refreshMargin = time.Minute
	// refreshLeaseTTL bounds how long one process may hold a connection's
	// refresh; a crashed holder's lease expires after it.
	refreshLeaseTTL = 30 * time.Second
)

// refresh renews connection id's access token. Within a process, callers
// share one refresh per connection; across processes a lease on the
// connection document lets one refresh while the others wait and then read
// its result. The rotated refresh token is persisted before the new access
// token is used, and the refresh runs to its end even if the caller goes
// away, so a token the network already rotated is never lost.
func (s *Service) refresh(ctx context.Context, sc tenant.Scope, n Network, id string) (Account, error) {
	ch := s.refreshes.DoChan(sc.InstanceID()+"/"+id, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshLeaseTTL)
		defer cancel()
		return s.refreshOnce(ctx, sc, n, id)
	})
	select {
	case <-ctx.Done():
		return Account{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return Account{}, r.Err
		}
		return r.Val.(Account), nil
	}
}

func (s *Service) refreshOnce(ctx context.Context, sc tenant.Scope, n Network, id string) (Account, error) {
	coll := sc.Collection(connectionKind)
	var (
		c     Connection
		lease time.Time
	)
	for {
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &c); err != nil {
			return Account{}, err
		}
		switch c.Status {
		case StatusActive:
		case StatusBroken:
			return Account{}, ErrBroken
		case StatusDisabled:
			return Account{}, ErrDisabled
		default:
			return Account{}, ErrReconnect
		}
		now := s.timestamp()
		if c.ExpiresAt == nil || c.Refresh == nil || c.ExpiresAt.After(now.Add(refreshMargin)) {
			return s.account(ctx, sc, c) // another process refreshed meanwhile
		}
		lease = now.Add(refreshLeaseTTL)
		// The lease is taken only on the token read above: a refresh
		// that ended (and released its lease) since then has replaced it,
		// and refreshing again with the old refresh token would fail.
		ok, err := coll.Update(ctx,
			bson.D{{Key: "_id", Value: id}, {Key: "status", Value: StatusActive}, {Key: "expires_at", Value: *c.ExpiresAt}, {Key: "$or", Value: bson.A{
				bson.D{{Key: "refresh_lease", Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "refresh_lease", Value: bson.D{{Key: "$lt", Value: now}}}},
			}}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "refresh_lease", Value: lease}}}})
		if err != nil {
			return Account{}, err
		}
		if ok {
			break
		}
		select {
		case <-ctx.Done():
			return Account{}, &Error{Network: c.Network, Op: "token", Class: ErrRetryLater, Message: "another refresh of this connection is in progress", Err: ctx.Err()}
		case <-time.After(50 * time.Millisecond):
		}
	}
	release := func(set bson.D) {
		u := bson.D{{Key: "$unset", Value: bson.D{{Key: "refresh_lease", Value: ""}}}}
		if len(set) > 0 {
			u = append(u, bson.E{Key: "$set", Value: set})
		}
		if _, err := coll.Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "refresh_lease", Value: lease}}, u); err != nil {
			s.log.ErrorContext(ctx, "refresh lease not released", "connection_id", id, "err", err)
		}
	}
	acct, err := s.account(ctx, sc, c)
	if err != nil {
		return Account{}, err
	}
	rt, err := s.keys.Open(*c.Refresh, tokenAD(sc.InstanceID(), c.ID, "refresh"))
	if err != nil {
		return Account{}, ErrBroken // account already opened it; unreachable in practice
	}
	var tok *oauth2.Token
	if pn, ok := n.(PasswordNetwork); ok {
		var toks Tokens
		if toks, err = pn.Refresh(ctx, c.InstanceURL, rt); err == nil {
			tok = &oauth2.Token{AccessToken: toks.Access.Reveal(), RefreshToken: toks.Refresh.Reveal(), Expiry: toks.Expiry}
		}
	} else {
		cfg := n.OAuth(c.InstanceURL, acct.App).Config(s.redirectURL(c.Network))
		tok, err = cfg.TokenSource(s.oauthContext(ctx), &oauth2.Token{RefreshToken: rt.Reveal()}).Token()
	}
	if err != nil {
		if ne := (*Error)(nil); !errors.As(err, &ne) {
			err = s.tokenError(n, err)
		}
		if errors.Is(err, ErrReconnect) {
			release(bson.D{{Key: "status", Value: StatusNeedsReconnect}, {Key: "updated_at", Value: s.timestamp()}})
			s.tellReconnect(ctx, sc, id)
			return Account{}, fmt.Errorf("connection %s: %w (%v)", id, ErrReconnect, err)
		}
		release(nil)
		return Account{}, err
	}
	updated := c
	if err := s.sealTokens(sc, &updated, tok); err != nil {
		release(nil)
		return Account{}, err
	}
	set := bson.D{{Key: "access", Value: updated.Access}, {Key: "updated_at", Value: s.timestamp()}}
	if updated.Refresh != nil {
		set = append(set, bson.E{Key: "refresh", Value: *updated.Refresh})
	}
	if updated.ExpiresAt != nil {
		set = append(set, bson.E{Key: "expires_at", Value: *updated.ExpiresAt})
	}
	ok, err := coll.Update(ctx, bson.D{{Key: "_id", Value: id}, {Key: "refresh_lease", Value: lease}},
		bson.D{{Key: "$set", Value: set}, {Key: "$unset", Value: bson.D{{Key: "refresh_lease", Value: ""}}}})
	if err != nil {
		return Account{}, fmt.Errorf("store refreshed tokens of %s: %w", id, err)
	}
	if !ok {
		// Our lease expired and another process took over: the token we
		// hold may already be superseded. Do not use it.
		return Account{}, fmt.Errorf("store refreshed tokens of %s: %w", id, tenant.ErrConflict)
	}
	acct.AccessToken = Secret(tok.AccessToken)
	return acct, nil
}

// RotateReport counts what a rotation did.
type RotateReport struct {
	// Rotated were re-encrypted to the current key; Current already were.
	Rotated, Current int
	// Broken could not be decrypted and are marked broken.
	Broken int
}

// Rotate re-encrypts connection id's tokens under the keyring's current
// key and reports whether it changed anything. A connection whose tokens
// do not decrypt is marked broken (ErrBroken). A concurrent refresh wins:
// its tokens are already sealed with the current key.
func (s *Service) Rotate(ctx context.Context, sc tenant.Scope, id string) (bool, error) {
	var c Connection
	if err := sc.Collection(connectionKind).FindOne(ctx, bson.D{{Key: "_id", Value: id}}, &c); err != nil {
		return false, err
	}
	cur := s.keys.Current()
	if c.Access.KeyID == cur && (c.Refresh == nil || c.Refresh.KeyID == cur) {
		return false, nil
	}
	adA, adR := tokenAD(sc.InstanceID(), c.ID, "access"), tokenAD(sc.InstanceID(), c.ID, "refresh")
	access, err := s.keys.Open(c.Access, adA)
	var refresh Secret
	if err == nil && c.Refresh != nil {
		refresh, err = s.keys.Open(*c.Refresh, adR)
	}
	if err != nil {
		s.setStatus(ctx, sc, c.ID, StatusBroken)
		return false, fmt.Errorf("rotate %s: %w", id, ErrBroken)
	}
	sealedA, err := s.keys.Seal(access, adA)
	if err != nil {
		return false, err
	}
	set := bson.D{{Key: "access", Value: sealedA}}
	if c.Refresh != nil {
		sealedR, err := s.keys.Seal(refresh, adR)
		if err != nil {
			return false, err
		}
		set = append(set, bson.E{Key: "refresh", Value: sealedR})
	}
	_, err = sc.Collection(connectionKind).Update(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "access.key_id", Value: c.Access.KeyID}, {Key: "access.data", Value: c.Access.Data}},
		bson.D{{Key: "$set", Value: set}})
	return err == nil, err
}

// RotateAll re-encrypts every connection token and app secret of the
// scope's instance under the current key (the operator's key rotation,
// per instance). Run it until it reports nothing rotated before removing
// an old key from CHORUS_TOKEN_KEYS.
func (s *Service) RotateAll(ctx context.Context, sc tenant.Scope) (RotateReport, error) {
	var r RotateReport
	var conns []Connection
	if err := sc.Collection(connectionKind).Find(ctx, bson.D{}, &conns); err != nil {
		return r, err
	}
	for _, c := range conns {
		changed, err := s.Rotate(ctx, sc, c.ID)
		switch {
		case errors.Is(err, ErrBroken):
			r.Broken++
		case err != nil:
			return r, err
		case changed:
			r.Rotated++
		default:
			r.Current++
		}
	}
	var apps []appDoc
	if err := sc.Collection(appKind).Find(ctx, bson.D{}, &apps); err != nil {
		return r, err
	}
	for _, a := range apps {
		if a.ClientSecret.KeyID == s.keys.Current() {
			continue
		}
		secret, err := s.keys.Open(a.ClientSecret, appAD(sc.InstanceID(), a.ID))
		if err != nil {
			s.log.ErrorContext(ctx, "app secret does not decrypt", "app_id", a.ID, "err", err)
			continue
		}
		sealed, err := s.keys.Seal(secret, appAD(sc.InstanceID(), a.ID))
		if err != nil {
			return r, err
		}
		if _, err := sc.Collection(appKind).Update(ctx, bson.D{{Key: "_id", Value: a.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "client_secret", Value: sealed}}}}); err != nil {
			return r, err
		}
	}
	return r, nil
}
