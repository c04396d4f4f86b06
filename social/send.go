package social

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
)

// Send sends a connector's request through client and reads the answer,
// up to max bytes. What it cannot deliver it classifies by whether the
// request had left: failing before that is ErrRetryLater; failing after
// it was written — or a success whose body was cut off — is ErrAmbiguous
// for a request that changes something (the network may have acted), and
// ErrRetryLater for a GET. A context cancelled before sending comes back
// as is. Errors are *Error of network and op; the caller classifies the
// status codes of the answers it does get.
func Send(client *http.Client, req *http.Request, network, op string, max int64) (*http.Response, []byte, error) {
	fail := func(class error, status int, err error) *Error {
		return &Error{Network: network, Op: op, Class: class, Status: status, Err: err}
	}
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(),
		&httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }}))
	changes := req.Method != http.MethodGet && req.Method != http.MethodHead
	res, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) && !wrote.Load() {
			return nil, nil, err
		}
		if wrote.Load() && changes {
			return nil, nil, fail(ErrAmbiguous, 0, err)
		}
		return nil, nil, fail(ErrRetryLater, 0, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, max))
	if err != nil {
		if changes && res.StatusCode < 300 {
			return res, nil, fail(ErrAmbiguous, res.StatusCode, err)
		}
		return res, nil, fail(ErrRetryLater, res.StatusCode, err)
	}
	return res, b, nil
}
