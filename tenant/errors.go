package tenant

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Errors of sign-in and sessions.
var (
	// ErrInvalidToken: a sign-in link that is unknown, used or expired.
	ErrInvalidToken = errors.New("invalid or expired sign-in link")
	// ErrNoSession: no live session for the request.
	ErrNoSession = errors.New("no session")
	// ErrForbidden: the member's role does not allow the action.
	ErrForbidden = errors.New("forbidden")
)

// RateLimitError says a limit was reached and when to try again.
type RateLimitError struct {
	What       string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string { return "too many " + e.What }

// ValidationError names one invalid input field.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// ValidationErrors are all the invalid fields of one input.
type ValidationErrors []*ValidationError

func (es ValidationErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// ErrConflict: the object changed concurrently; reload and retry.
var ErrConflict = errors.New("conflicting concurrent change")

// Errors of Idempotency-Key (Idempotent).
var (
	// ErrKeyReused: the key came with another request.
	ErrKeyReused = errors.New("this Idempotency-Key was used for another request")
	// ErrKeyInUse: the key's first request is still running.
	ErrKeyInUse = errors.New("a request with this Idempotency-Key is still being processed")
)

// errNoLoginPage: the host names no company's login page.
var errNoLoginPage = errors.New("this host is no company's login page")

// Problems is tenant's error table: what each of its errors answers over
// HTTP. Member and Public walk it after the domain's own table.
var Problems = httpapi.Table{
	{Err: errNoLoginPage, Status: http.StatusNotFound, Code: "not_found", Detail: "this host is no company's login page"},
	{Err: ErrNoPendingIdentity, Status: http.StatusNotFound, Code: "not_found", Detail: ErrNoPendingIdentity.Error(), Refine: httpapi.ErrorDetail},
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: "not_found", Detail: "no such object"},
	{Err: ErrNoSession, Status: http.StatusUnauthorized, Code: "unauthenticated", Detail: "sign in first"},
	{Err: ErrForbidden, Status: http.StatusForbidden, Code: "forbidden", Detail: "your role does not allow this"},
	{Err: ErrSSORequired, Status: http.StatusForbidden, Code: "sso_required", Detail: "your company signs in only through its identity provider: use single sign-on"},
	{Err: ErrSSOInUse, Status: http.StatusConflict, Code: "sso_in_use", Detail: "the join policy sso needs the identity provider: change the join policy first"},
	{Err: ErrSSONotConfigured, Status: http.StatusUnprocessableEntity, Code: "sso_not_configured",
		Detail: "the join policy sso needs the instance's own identity provider: configure it first (Admin → Single sign-on)",
		Refine: func(_ error, p *httpapi.Problem) {
			p.Errors = []httpapi.FieldError{{Field: "join_policy", Message: "configure the instance's identity provider first"}}
		}},
	{Err: ErrNoKeys, Status: http.StatusServiceUnavailable, Code: "keys_unavailable", Detail: "this deployment has no encryption keys (CHORUS_TOKEN_KEYS) to keep a client secret"},
	{Err: ErrDomainUnverified, Status: http.StatusForbidden, Code: "domain_unverified", Detail: "verify your company's domain first (Admin → Domains: publish the TXT record, then verify)"},
	{Err: ErrSubdomainTaken, Status: http.StatusConflict, Code: "subdomain_taken", Detail: "another company uses this subdomain"},
	{Err: ErrDomainTaken, Status: http.StatusConflict, Code: "domain_taken", Detail: "this domain belongs to another company instance"},
	{Err: ErrRecordMissing, Status: http.StatusUnprocessableEntity, Code: "verification_failed", Detail: ErrRecordMissing.Error(), Refine: httpapi.ErrorDetail},
	{Err: ErrNotInvited, Status: http.StatusForbidden, Code: "not_invited", Detail: ErrNotInvited.Error(), Refine: httpapi.ErrorDetail},
	{Err: ErrInvitationClosed, Status: http.StatusConflict, Code: "invitation_closed", Detail: "this invitation was revoked, accepted or has expired"},
	{Err: ErrNoSupportGrant, Status: http.StatusForbidden, Code: "support_grant_required", Detail: "operators read an instance's data only under a live support grant its admins gave (X-Support-Grant)"},
	{Err: ErrLastAdmin, Status: http.StatusConflict, Code: "last_admin", Detail: "the instance needs at least one admin: make someone else admin first"},
	{Err: ErrMoving, Status: http.StatusServiceUnavailable, Code: "instance_moving", Detail: movingDetail, Refine: retryWhileMoving},
	{Err: ErrMoveInProgress, Status: http.StatusServiceUnavailable, Code: "instance_moving", Detail: movingDetail, Refine: retryWhileMoving},
	{Err: ErrRegionFixed, Status: http.StatusConflict, Code: "region_fixed", Detail: "the region is picked while the instance is pending; once a domain is verified, the operator moves the data (chorus instance move)",
		Refine: func(_ error, p *httpapi.Problem) {
			p.Errors = []httpapi.FieldError{{Field: "region", Message: "can no longer be changed here"}}
		}},
	{Err: ErrConflict, Status: http.StatusConflict, Code: "conflict", Detail: "the object changed at the same time: reload and try again"},
	{Err: ErrInvalidToken, Status: http.StatusBadRequest, Code: "invalid_token", Detail: "this sign-in link is unknown, used or expired: ask for a new one"},
	{Err: ErrMalformedEmail, Status: http.StatusBadRequest, Code: "validation_failed", Detail: "email: must be a plain email address such as alice@example.com",
		Refine: func(_ error, p *httpapi.Problem) {
			p.Errors = []httpapi.FieldError{{Field: "email", Message: "must be a plain email address such as alice@example.com"}}
		}},
	{Err: ErrKeyReused, Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused", Detail: "this Idempotency-Key was used for another request: use a new key for a new request"},
	{Err: ErrKeyInUse, Status: http.StatusConflict, Code: "idempotency_key_in_use", Detail: "a request with this Idempotency-Key is still being processed: try again in a moment"},
	{Err: ErrExportNotReady, Status: http.StatusConflict, Code: "export_not_ready", Detail: "the export is being prepared, was downloaded already, failed or expired"},
	// OIDC sign-in.
	{Err: ErrOIDCDisabled, Status: http.StatusNotFound, Code: "oidc_not_configured", Detail: "sign-in with an identity provider is not configured here: sign in by email"},
	{Err: ErrInvalidState, Status: http.StatusBadRequest, Code: "invalid_state", Detail: "this sign-in is unknown, used, expired or was started in another browser: start again"},
	{Err: ErrOIDCRefused, Status: http.StatusBadRequest, Code: "oidc_refused", Detail: "the identity provider did not complete the sign-in: start again"},
	{Err: ErrInvalidIDToken, Status: http.StatusBadRequest, Code: "invalid_id_token", Detail: "the identity provider's answer could not be verified: start again"},
	{Err: ErrEmailUnverified, Status: http.StatusForbidden, Code: "email_unverified", Detail: "your identity provider does not confirm that the email address is verified: verify it there, or sign in by email"},
	{Err: ErrIdentityPending, Status: http.StatusForbidden, Code: "identity_pending", Detail: "an admin must approve this new sign-in identity; until then, sign in as before"},
	{Err: ErrWrongInstance, Status: http.StatusForbidden, Code: "wrong_instance", Detail: "you signed in with an address that does not belong to this company's instance"},
	{Err: ErrOIDCUnavailable, Status: http.StatusBadGateway, Code: "idp_unavailable", Detail: "the identity provider cannot be reached; try again later"},
	// Typed errors.
	httpapi.Typed(httpapi.Rule{Status: http.StatusUnprocessableEntity, Code: "idp_discovery_failed"}, func(e *IdPError, p *httpapi.Problem) {
		p.Detail = e.Reason
		p.Errors = []httpapi.FieldError{{Field: "issuer", Message: e.Reason}}
	}),
	httpapi.Typed(httpapi.Rule{Status: http.StatusUnprocessableEntity, Code: "invalid_email_domain"}, func(e *DomainError, p *httpapi.Problem) {
		p.Detail = e.Domain + " addresses cannot be used for a company instance: " + domainReasonText(e.Reason)
	}),
	httpapi.Typed(httpapi.Rule{Status: http.StatusTooManyRequests, Code: "rate_limited"}, func(e *RateLimitError, p *httpapi.Problem) {
		p.Detail = "too many " + e.What + "; try again later"
		p.RetryAfter = e.RetryAfter
	}),
	httpapi.Typed(httpapi.Rule{Status: http.StatusUnprocessableEntity, Code: "invalid_email_domain", Detail: "some addresses cannot be invited; nobody was invited"},
		func(e *InviteError, p *httpapi.Problem) { p.Errors = fieldErrors(e.Errors) }),
	httpapi.Typed(httpapi.Rule{Status: http.StatusBadRequest, Code: "validation_failed"}, func(e *ValidationError, p *httpapi.Problem) {
		*p = *httpapi.Invalid(httpapi.FieldError{Field: e.Field, Message: e.Reason})
	}),
	httpapi.Typed(httpapi.Rule{Status: http.StatusBadRequest, Code: "validation_failed"}, func(es ValidationErrors, p *httpapi.Problem) {
		*p = *httpapi.Invalid(fieldErrors(es)...)
	}),
	// Audiences (group.go, group_import.go).
	{Err: ErrGroupNameTaken, Status: http.StatusConflict, Code: "group_name_taken", Detail: "another group of this company has this name",
		Refine: func(_ error, p *httpapi.Problem) {
			p.Errors = []httpapi.FieldError{{Field: "name", Message: "is taken by another group"}}
		}},
	{Err: ErrTooManyGroups, Status: http.StatusUnprocessableEntity, Code: "too_many_groups", Detail: "a company has at most 200 groups: delete one first"},
	{Err: ErrMalformedImport, Status: http.StatusBadRequest, Code: "malformed_csv", Detail: ErrMalformedImport.Error(), Refine: func(err error, p *httpapi.Problem) {
		p.Detail = err.Error()
		p.Errors = []httpapi.FieldError{{Field: "csv", Message: err.Error()}}
	}},
	httpapi.Typed(httpapi.Rule{Status: http.StatusUnprocessableEntity, Code: "import_rows_invalid", Detail: "some rows cannot be imported; nothing was written"},
		func(e *ImportError, p *httpapi.Problem) {
			for _, r := range e.Rows {
				p.Errors = append(p.Errors, httpapi.FieldError{Field: fmt.Sprintf("csv[row %d].%s", r.Row, r.Column), Message: r.Message})
			}
		}),
}

func fieldErrors(ves ValidationErrors) []httpapi.FieldError {
	fes := make([]httpapi.FieldError, len(ves))
	for i, v := range ves {
		fes[i] = httpapi.FieldError{Field: v.Field, Message: v.Reason}
	}
	return fes
}

func domainReasonText(r DomainReason) string {
	switch r {
	case ReasonFreemail:
		return "it is a free email provider, use your work address"
	case ReasonDisposable:
		return "it is a disposable email provider"
	case ReasonPublicSuffix:
		return "it is a public suffix, not a company's domain"
	case ReasonIPLiteral:
		return "an IP address is not a domain"
	case ReasonMixedScript:
		return "it mixes scripts like a lookalike domain"
	}
	return "it is not a valid domain"
}

// movingDetail is what a write answers while the instance moves to
// another region.
const movingDetail = "your company's data is being moved to another region: it is read-only for a few minutes, try again then"

// retryWhileMoving says when to try again during a move.
func retryWhileMoving(_ error, p *httpapi.Problem) { p.RetryAfter = MovingRetryAfter }
