package social

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/chorushq/chorus/content/preview"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Classes of network failures. Connectors return *Error; callers branch
// with errors.Is on these sentinels, and read RetryAfter with errors.As.
var (
	// ErrRetryLater: the network is rate limiting or unavailable; the same
	// request may succeed after Error.RetryAfter (zero: back off).
	ErrRetryLater = errors.New("network busy, retry later")
	// ErrPermanent: the network refused the request as it is (validation,
	// forbidden, not found); retrying the same request cannot succeed.
	ErrPermanent = errors.New("network refused the request")
	// ErrReconnect: the account's authorisation is gone (token invalid,
	// revoked, invalid_grant); the member must connect it again. A
	// connector's *Error has it as Class; the service returns it for a
	// connection already marked so (needs_reconnect).
	ErrReconnect = errors.New("the account must be connected again")
	// ErrAmbiguous: the request was sent but no answer came back; the
	// network may have acted on it. A publish must not be repeated blindly.
	ErrAmbiguous = errors.New("request sent, outcome unknown")
	// ErrOperator: the network refuses Chorus's app itself for a reason
	// only the deployment's operator can mend — LinkedIn no longer (or
	// not yet) serves the configured API version (426), X's usage cap
	// for the app's plan is spent. No member can help and every account
	// meets the same answer, so the network is paused for the whole
	// deployment (Pauses) for Error.RetryAfter, or OperatorPause when the
	// network does not say, and the operator is told (log, /readyz).
	ErrOperator = errors.New("the network refused Chorus's app; the operator must act")
)

// OperatorPause is how long a network stays paused after ErrOperator
// when the network does not say: long enough not to hammer it, short
// enough that a fixed configuration is picked up within the hour.
const OperatorPause = time.Hour

// ErrNetworkPaused: shares to the network wait while it is paused for the
// operator (ErrOperator); a *RetryError carries how long.
var ErrNetworkPaused = errors.New("the network is paused until the operator fixes Chorus's access; the share waits")

// Pauses keeps the networks paused for their operator (ErrOperator),
// shared by every process of the deployment: cmd keeps them in Redis
// (jobs.RateLimiter).
type Pauses interface {
	// Pause holds every publication to network for d, with reason (the
	// network's own explanation) for whoever asks.
	Pause(ctx context.Context, network string, d time.Duration, reason string) error
	// Paused says how long network stays paused (0: it is not) and why.
	Paused(ctx context.Context, network string) (wait time.Duration, reason string, err error)
}

// Error is a failed call to a network, classified by Class (one of the
// sentinels above).
type Error struct {
	Network string
	Op      string // profile, publish, delete, revoke, register, token
	Class   error
	// Status is the HTTP status the network answered, 0 if none.
	Status int
	// RetryAfter is when to try again (ErrRetryLater), 0 if unknown.
	RetryAfter time.Duration
	// Message is the network's own explanation, safe to show the member.
	Message string
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s %s: %v", e.Network, e.Op, e.Class)
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is matches the class sentinel.
func (e *Error) Is(target error) bool { return target == e.Class }

// Unwrap returns the transport error.
func (e *Error) Unwrap() error { return e.Err }

// IgnoreNotFound is err, or nil when err is a network's 404: deleting a
// post that is already gone has done what was asked.
func IgnoreNotFound(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// Errors of the social service.
var (
	// ErrNotFound: no such connection (or another member's or instance's).
	ErrNotFound = tenant.ErrNotFound
	// ErrUnknownNetwork: the network is not served by this deployment.
	ErrUnknownNetwork = fmt.Errorf("unknown network: %w", tenant.ErrNotFound)
	// ErrNotConfigured: a network Chorus supports but this deployment does
	// not serve: the operator has not set its app credentials.
	ErrNotConfigured = errors.New("this network is not set up on this Chorus deployment")
	// ErrNetworkNotAllowed: the instance's admins have not whitelisted the
	// network.
	ErrNetworkNotAllowed = errors.New("your company has not approved this network")
	// ErrServerNotAllowed: the Mastodon server is not on the admins' list.
	ErrServerNotAllowed = errors.New("your company has not approved this server")
	// ErrInvalidState: an OAuth callback whose state is unknown, used,
	// expired or someone else's.
	ErrInvalidState = errors.New("invalid or expired OAuth state")
	// ErrBroken: the connection's tokens cannot be decrypted (a key is
	// missing or the ciphertext was tampered with); it was marked broken
	// and nothing was sent to the network.
	ErrBroken = errors.New("the connection's tokens cannot be read; connect the account again")
	// ErrDisabled: the connection's network is no longer whitelisted.
	ErrDisabled = errors.New("the connection is disabled")
	// ErrInvalidCredentials: a PasswordNetwork refused the identifier and
	// app password given to Connect.
	ErrInvalidCredentials = errors.New("wrong handle or app password")
)

// ConnectionError: a connection listed in a share request cannot be used
// for a reason its member cannot mend (ErrNetworkNotAllowed,
// ErrServerNotAllowed); Field names it as sent (connections[0]).
type ConnectionError struct {
	Field   string
	Network string
	Err     error
}

func (e *ConnectionError) Error() string { return e.Field + " (" + e.Network + "): " + e.Err.Error() }

// Unwrap returns the reason.
func (e *ConnectionError) Unwrap() error { return e.Err }

// ServerAddressError: the server a member named (instance_url) is at an
// address Chorus does not call — private, loopback or otherwise not
// public — or on a port that is not allowed (Port). It is the member's
// to correct, not a network outage.
type ServerAddressError struct {
	// Port is the refused port when the address named one other than
	// 443, else "".
	Port string
	Err  error
}

func (e *ServerAddressError) Error() string { return "server address not allowed: " + e.Err.Error() }

// Unwrap returns the outbound guard's error.
func (e *ServerAddressError) Unwrap() error { return e.Err }

// serverAddressErr is err as a *ServerAddressError when the outbound guard
// refused server's address, else err.
func serverAddressErr(server string, err error) error {
	if !errors.Is(err, preview.ErrBlocked) {
		return err
	}
	e := &ServerAddressError{Err: err}
	if u, perr := url.Parse(server); perr == nil && u.Port() != "" && u.Port() != "443" {
		e.Port = u.Port()
	}
	return e
}

// Problems is social's error table: what each of its errors answers over
// HTTP (content.Problems, then tenant.Problems answer the rest). Order
// matters: the first rule that matches answers.
var Problems = httpapi.Table{
	httpapi.Typed(httpapi.Rule{Status: http.StatusUnprocessableEntity, Code: "server_address_not_allowed"}, func(e *ServerAddressError, p *httpapi.Problem) {
		msg := "private, loopback or non-public addresses are not allowed"
		if e.Port != "" {
			msg = "port " + e.Port + " is not allowed: use the server's https address (port 443)"
		}
		p.Detail = "instance_url: " + msg
		p.Errors = []httpapi.FieldError{{Field: "instance_url", Message: msg}}
	}),
	{Err: ErrShareState, Status: http.StatusConflict, Code: "wrong_state", Detail: "the share is no longer queued or scheduled"},
	{Err: ErrNotConfigured, Status: http.StatusConflict, Code: "network_not_configured",
		Detail: "this network is not set up on this Chorus deployment: its operator must register Chorus with the network and set its app credentials (see docs/connections.md)"},
	{Err: ErrNetworkNotAllowed, Status: http.StatusForbidden, Code: "network_not_allowed", Detail: "your company's admins have not approved this network",
		Refine: connectionDetail("your company's admins no longer allow this network (%s): reconnecting cannot help, ask them to allow it again")},
	{Err: ErrServerNotAllowed, Status: http.StatusForbidden, Code: "instance_not_allowed", Detail: "your company's admins have not approved this server; ask them to add it",
		Refine: connectionDetail("your company's admins no longer allow this account's %s server: reconnecting cannot help, ask them to add it")},
	{Err: ErrInvalidState, Status: http.StatusBadRequest, Code: "invalid_state", Detail: "this connection attempt is unknown, used or expired: start again"},
	{Err: ErrInvalidCredentials, Status: http.StatusBadRequest, Code: "invalid_credentials", Detail: ErrInvalidCredentials.Error()},
	{Err: ErrReconnect, Status: http.StatusConflict, Code: "needs_reconnect", Detail: "the network no longer accepts this connection: connect the account again"},
	{Err: ErrBroken, Status: http.StatusConflict, Code: "connection_broken", Detail: ErrBroken.Error()},
	{Err: ErrDisabled, Status: http.StatusConflict, Code: "connection_disabled", Detail: "your company's admins no longer allow this network"},
	{Err: ErrRetryLater, Status: http.StatusServiceUnavailable, Code: "network_unavailable", Detail: "the network is busy or unavailable: try again later",
		Refine: func(err error, p *httpapi.Problem) {
			if ne := (*Error)(nil); errors.As(err, &ne) {
				p.RetryAfter = ne.RetryAfter
			}
		}},
	{Err: ErrPermanent, Status: http.StatusBadGateway, Code: "network_refused", Detail: "the network refused the request",
		Refine: func(err error, p *httpapi.Problem) {
			if ne := (*Error)(nil); errors.As(err, &ne) && ne.Message != "" {
				p.Detail += ": " + ne.Message
			}
		}},
	httpapi.Typed[*Error](httpapi.Rule{Status: http.StatusBadGateway, Code: "network_error", Detail: "the network did not answer"}, nil),
}

// connectionDetail names, in the detail and the field errors, the
// connection of a share request that cannot be used (*ConnectionError):
// format gets its network.
func connectionDetail(format string) func(err error, p *httpapi.Problem) {
	return func(err error, p *httpapi.Problem) {
		var ce *ConnectionError
		if !errors.As(err, &ce) {
			return
		}
		msg := fmt.Sprintf(format, ce.Network)
		p.Detail = ce.Field + ": " + msg
		p.Errors = []httpapi.FieldError{{Field: ce.Field, Message: msg}}
	}
}
