package task

import (
	"context"
	"encoding/json"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceField is the payload field that carries the W3C trace context of
// the code that enqueued a task, so the task's span joins its trace.
const traceField = "trace"

// tracePropagator is W3C Trace Context, whatever the process's global
// propagator is.
var tracePropagator = propagation.TraceContext{}

// WithTrace returns t with the trace context of ctx in its payload (the
// field "trace": {"traceparent": …}), when ctx carries a span and t's
// payload is a JSON object; otherwise t as it is. The context holds IDs
// only, no personal data.
func WithTrace(ctx context.Context, t *asynq.Task) *asynq.Task {
	if !trace.SpanContextFromContext(ctx).IsValid() || len(t.Payload()) == 0 {
		return t
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(t.Payload(), &fields); err != nil {
		return t
	}
	carrier := propagation.MapCarrier{}
	tracePropagator.Inject(ctx, carrier)
	raw, err := json.Marshal(carrier)
	if err != nil {
		return t
	}
	fields[traceField] = raw
	b, err := json.Marshal(fields)
	if err != nil {
		return t
	}
	return asynq.NewTask(t.Type(), b)
}

// TraceContext returns ctx with the remote span context WithTrace put in
// t's payload, or ctx when there is none.
func TraceContext(ctx context.Context, t *asynq.Task) context.Context {
	var p struct {
		Trace map[string]string `json:"trace"`
	}
	if len(t.Payload()) == 0 || json.Unmarshal(t.Payload(), &p) != nil || len(p.Trace) == 0 {
		return ctx
	}
	return tracePropagator.Extract(ctx, propagation.MapCarrier(p.Trace))
}
