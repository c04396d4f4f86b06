package main

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/jobs/task"
)

func TestQueuesConsoleNeedsTheOperatorToken(t *testing.T) {
	a := newTestApp(t, map[string]string{"CHORUS_OPERATOR_TOKEN": "op-secret"})
	client := asynq.NewClient(a.queue)
	defer client.Close()
	if _, err := client.Enqueue(task.HealthPing(), asynq.Queue(task.QueueLow)); err != nil {
		t.Fatal(err)
	}
	c := a.client(t)
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:op-secret"))
	for _, tc := range []struct {
		name, method, path, auth string
		status                   int
		contains                 string
	}{
		{"no token", "GET", "/ops/queues", "", http.StatusUnauthorized, ""},
		{"no token, API", "GET", "/ops/queues/api/queues", "", http.StatusUnauthorized, ""},
		{"wrong token", "GET", "/ops/queues", "Bearer op-secreT", http.StatusUnauthorized, ""},
		{"wrong Basic password", "GET", "/ops/queues/api/queues", "Basic " + base64.StdEncoding.EncodeToString([]byte("ops:nope")), http.StatusUnauthorized, ""},
		{"bearer token", "GET", "/ops/queues", "Bearer op-secret", http.StatusOK, "<html"},
		{"browser with Basic", "GET", "/ops/queues/", basic, http.StatusOK, "<html"},
		{"the queues", "GET", "/ops/queues/api/queues", "Bearer op-secret", http.StatusOK, `"queue":"low"`},
		{"the operator API's name for it", "GET", "/ops/v1/queues", "Bearer op-secret", http.StatusFound, ""},
		{"the operator API's name, no token", "GET", "/ops/v1/queues", "", http.StatusUnauthorized, ""},
		{"read-only: no deleting", "DELETE", "/ops/queues/api/queues/low", "Bearer op-secret", http.StatusMethodNotAllowed, ""},
		{"read-only: no pausing", "POST", "/ops/queues/api/queues/low:pause", "Bearer op-secret", http.StatusMethodNotAllowed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.auth != "" {
				h = []string{"Authorization", tc.auth}
			}
			res := c.do(tc.method, tc.path, nil, h...)
			if res.status != tc.status || !strings.Contains(string(res.body), tc.contains) {
				t.Errorf("%s %s: %d %.200s, want %d containing %q", tc.method, tc.path, res.status, res.body, tc.status, tc.contains)
			}
			if res.status == http.StatusUnauthorized && !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: the browser cannot ask for the token")
			}
		})
	}
	insp := asynq.NewInspector(a.queue)
	defer insp.Close()
	if info, err := insp.GetQueueInfo(task.QueueLow); err != nil || info.Paused || info.Size != 1 {
		t.Errorf("the queue after the refused changes: %+v, %v", info, err)
	}

	off := newTestApp(t, nil)
	if res := off.client(t).do("GET", "/ops/queues", nil, "Authorization", "Bearer "); res.status != http.StatusNotFound {
		t.Errorf("without an operator token configured: %d, want 404", res.status)
	}
}
