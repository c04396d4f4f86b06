package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracerName names the spans cmd starts (HTTP requests, enqueues, calls
// to the networks).
const tracerName = "github.com/chorushq/chorus"

// tracer returns the process's tracer: a no-op until setupTracing
// installs an exporter (tests install their own provider).
func tracer() trace.Tracer { return otel.Tracer(tracerName) }

// setupTracing turns OpenTelemetry tracing on when an OTLP endpoint is
// configured (OTEL_EXPORTER_OTLP_ENDPOINT, or _TRACES_ENDPOINT for traces
// only): spans go there over OTLP/HTTP, sampled as OTEL_TRACES_SAMPLER
// says (default: every trace a caller sampled or that starts here). Off
// otherwise, at no cost. The returned function flushes and stops it.
func setupTracing(ctx context.Context, getenv func(string) string, cmd string, log *slog.Logger) (func(context.Context) error, error) {
	name, endpoint := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		if name, endpoint = "OTEL_EXPORTER_OTLP_ENDPOINT", getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); endpoint == "" {
			return func(context.Context) error { return nil }, nil
		}
		// The base endpoint gets the signal's path, as the specification says.
		endpoint = strings.TrimSuffix(endpoint, "/") + "/v1/traces"
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s: must be an http(s) URL such as http://otel-collector:4318, not %q", name, endpoint)
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	service := getenv("OTEL_SERVICE_NAME")
	if service == "" {
		service = "chorus-" + cmd
	}
	v, commit := release()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(resource.NewSchemaless(
		attribute.String("service.name", service), attribute.String("service.version", v), attribute.String("vcs.ref.head.revision", commit))))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	log.Info("tracing on: spans go to the OTLP endpoint", "endpoint", endpoint, "service", service)
	return func(ctx context.Context) error {
		otel.SetTracerProvider(prev)
		return tp.Shutdown(ctx)
	}, nil
}

// traced starts a server span for each request, named by its route
// template, continuing a caller's W3C trace context.
func traced() gin.HandlerFunc {
	prop := propagation.TraceContext{}
	return func(c *gin.Context) {
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		ctx := prop.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
		ctx, span := tracer().Start(ctx, c.Request.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", c.Request.Method), attribute.String("http.route", route)))
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		status := c.Writer.Status()
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	}
}

// tracedTransport gives each call to a social network a client span
// (method, host and status; no path or query, which may carry IDs or
// tokens). It sends no trace context to the network.
type tracedTransport struct{ base http.RoundTripper }

func (t tracedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, span := tracer().Start(r.Context(), "HTTP "+r.Method+" "+r.URL.Host, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Hostname())))
	defer span.End()
	res, err := t.base.RoundTrip(r.WithContext(ctx))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "no answer")
		return res, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", res.StatusCode))
	if res.StatusCode >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(res.StatusCode))
	}
	return res, nil
}
