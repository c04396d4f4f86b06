package task

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// The trace context rides in the payload beside the Ref, which still
// parses; without a span the payload is left as it was.
func TestTraceTravelsInThePayload(t *testing.T) {
	plain := Publish("inst", "share")
	if got := WithTrace(t.Context(), plain); !bytes.Equal(got.Payload(), plain.Payload()) {
		t.Errorf("without a span the payload became %s", got.Payload())
	}
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	traced := WithTrace(trace.ContextWithSpanContext(t.Context(), sc), plain)
	if traced.Type() != TypePublish {
		t.Errorf("type = %s", traced.Type())
	}
	ref, err := ParseRef(traced)
	if err != nil || ref != (Ref{TenantID: "inst", ID: "share"}) {
		t.Errorf("ParseRef of a traced payload: %+v, %v", ref, err)
	}
	got := trace.SpanContextFromContext(TraceContext(t.Context(), traced))
	if got.TraceID() != tid || got.SpanID() != sid || !got.IsRemote() || !got.IsSampled() {
		t.Errorf("the task's trace context: %+v, want the enqueuer's, remote and sampled (payload %s)", got, traced.Payload())
	}
	if TraceContext(t.Context(), plain) != t.Context() {
		t.Error("a payload without a trace changed the context")
	}
}
