package httpapi

import (
	"encoding/json"
	"net/http"
)

// problemRender renders a problem with its own media type.
type problemRender struct{ p *Problem }

func (r problemRender) Render(w http.ResponseWriter) error {
	r.WriteContentType(w)
	return json.NewEncoder(w).Encode(r.p)
}

func (problemRender) WriteContentType(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
}
