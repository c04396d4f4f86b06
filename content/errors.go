package content

import (
	"net/http"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// Problems is content's error table: what each of its errors answers over
// HTTP (tenant.Problems answers the rest).
var Problems = httpapi.Table{
	{Err: ErrWrongState, Status: http.StatusConflict, Code: "wrong_state", Detail: ErrWrongState.Error() + ": reload it",
		Refine: func(err error, p *httpapi.Problem) { p.Detail = err.Error() + ": reload it" }},
	{Err: ErrTopicExists, Status: http.StatusConflict, Code: "topic_exists", Detail: ErrTopicExists.Error(),
		Refine: httpapi.ErrorDetail},
	{Err: ErrSourceExists, Status: http.StatusConflict, Code: "source_exists", Detail: ErrSourceExists.Error(),
		Refine: httpapi.ErrorDetail},
	{Err: ErrNotShareable, Status: http.StatusConflict, Code: "not_shareable", Detail: "this content is not published, not due yet, or expired"},
	{Err: ErrPushConsent, Status: http.StatusConflict, Code: "push_consent_required", Detail: ErrPushConsent.Error()},
	{Err: ErrPushOff, Status: http.StatusServiceUnavailable, Code: "push_not_configured", Detail: ErrPushOff.Error()},
	{Err: ErrCampaignArchived, Status: http.StatusConflict, Code: "campaign_archived", Detail: ErrCampaignArchived.Error() + ": it takes no edits or posts"},
}
