package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// chorus healthcheck is the container healthcheck of an image without a
// shell or curl: exit 0 on a 2xx answer, an error naming the status or
// the failure otherwise.
func TestHealthcheckCommand(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	check := func(args ...string) (string, error) {
		var out strings.Builder
		err := run(t.Context(), append([]string{"healthcheck"}, args...), func(string) string { return "" }, &out)
		return out.String(), err
	}
	if out, err := check(srv.URL + "/readyz"); err != nil {
		t.Errorf("healthy: %v %s", err, out)
	}
	status = http.StatusServiceUnavailable
	if _, err := check(srv.URL + "/readyz"); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("unready: %v, want an error naming 503", err)
	}
	if _, err := check(srv.URL + "/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing path: %v, want an error naming 404", err)
	}
	srv.Close()
	if _, err := check(srv.URL + "/readyz"); err == nil {
		t.Error("no server: no error")
	}
	for _, args := range [][]string{nil, {"ftp://x/readyz"}, {"http://a/", "http://b/"}} {
		if _, err := check(args...); err == nil || !strings.Contains(err.Error(), "usage: chorus healthcheck") {
			t.Errorf("healthcheck %q: %v, want the usage", args, err)
		}
	}
}
