package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// One trace runs from the HTTP request that shares, through the enqueue
// and the publication task (its context carried in the task's payload),
// to the call to the network.
func TestOneTraceFromRequestToNetworkCall(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev); _ = tp.Shutdown(t.Context()) })

	a, employee, connID, postID := shareSetup(t)
	// The caller's trace context, as a browser or proxy may send it.
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	res := employee.do("POST", "/api/v1/content/"+postID+"/shares", map[string]any{"connections": []string{connID}},
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if res.status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	if n := runPublishTasks(t, a); n != 1 {
		t.Fatalf("%d publication tasks, want 1", n)
	}
	if len(a.mastodon.Statuses()) != 1 {
		t.Fatal("nothing was posted")
	}

	byName := map[string]tracetest.SpanStub{}
	var names []string
	for _, s := range spans.GetSpans() {
		if s.SpanContext.TraceID().String() != traceID {
			continue
		}
		names = append(names, s.Name)
		if _, ok := byName[s.Name]; !ok {
			byName[s.Name] = s
		}
	}
	find := func(prefix string, kind trace.SpanKind) tracetest.SpanStub {
		t.Helper()
		for name, s := range byName {
			if strings.HasPrefix(name, prefix) && s.SpanKind == kind {
				return s
			}
		}
		t.Fatalf("no %s span %q… in the request's trace; its spans: %v", kind, prefix, names)
		return tracetest.SpanStub{}
	}
	request := find("POST /api/v1/content/:id/shares", trace.SpanKindServer)
	enqueue := find("enqueue share:publish", trace.SpanKindProducer)
	run := find("task share:publish", trace.SpanKindConsumer)
	call := find("HTTP POST 127.0.0.1:", trace.SpanKindClient)
	if enqueue.Parent.SpanID() != request.SpanContext.SpanID() {
		t.Errorf("the enqueue's parent is %s, want the request's span %s", enqueue.Parent.SpanID(), request.SpanContext.SpanID())
	}
	if run.Parent.SpanID() != enqueue.SpanContext.SpanID() || !run.Parent.IsRemote() {
		t.Errorf("the task's parent is %s (remote %t), want the enqueue's span %s carried in the payload", run.Parent.SpanID(), run.Parent.IsRemote(), enqueue.SpanContext.SpanID())
	}
	// The network call is the task's descendant.
	parents := map[trace.SpanID]trace.SpanID{}
	for _, s := range spans.GetSpans() {
		parents[s.SpanContext.SpanID()] = s.Parent.SpanID()
	}
	descends := false
	for id := call.Parent.SpanID(); id.IsValid(); id = parents[id] {
		if id == run.SpanContext.SpanID() {
			descends = true
			break
		}
	}
	if !descends {
		t.Errorf("the network call's span does not descend from the task's")
	}
}

// With OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported over OTLP/HTTP
// to <endpoint>/v1/traces (flushed at the latest when Chorus stops).
func TestTracesGoToTheOTLPEndpoint(t *testing.T) {
	got := make(chan string, 16)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type") + " " + strconv.Itoa(len(body))
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	bad := externalMongoEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"})
	if err := run(t.Context(), []string{"all"}, func(k string) string { return bad[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL") {
		t.Errorf("a malformed endpoint: %v", err)
	}
	env := externalMongoEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL + "/"})
	base, stop := startRun(t, env)
	if res, err := http.Get(base + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		if !strings.HasPrefix(req, "POST /v1/traces application/x-protobuf ") || strings.HasSuffix(req, " 0") {
			t.Errorf("the collector got %q, want a POST of spans to /v1/traces", req)
		}
	default:
		t.Fatal("no spans reached the OTLP endpoint")
	}
}
