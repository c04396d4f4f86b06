package content

import (
	"net/http"

	"github.com/chorushq/chorus/tenant/api"
)

// Problems is content's error table: what each of its errors answers over
// HTTP (tenant.Problems answers the rest).
var Problems = api.Table{
	{Err: ErrWrongState, Status: http.StatusConflict, Code: "wrong_state", Detail: ErrWrongState.Error() + ": reload it",
		Refine: func(err error, p *api.Problem) { p.Detail = err.Error() + ": reload it" }},
	{Err: ErrTopicExists, Status: http.StatusConflict, Code: "topic_exists", Detail: ErrTopicExists.Error(),
		Refine: api.ErrorDetail},
	{Err: ErrNotShareable, Status: http.StatusConflict, Code: "not_shareable", Detail: "this content is not published, not due yet, or expired"},
}
