package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// runHealthcheck is `chorus healthcheck <url>`: the container healthcheck
// of an image that has no shell or curl (compose's healthcheck runs it in
// the container). Exit 0 when the URL answers 2xx within 5 s.
func runHealthcheck(ctx context.Context, args []string, stdout io.Writer) error {
	const usage = "usage: chorus healthcheck <http URL>, e.g. http://127.0.0.1:8080/readyz"
	if len(args) != 1 {
		return errors.New(usage)
	}
	u, err := url.Parse(args[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New(usage)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("healthcheck: %s answered %s", u.Redacted(), res.Status)
	}
	fmt.Fprintf(stdout, "%s: %s\n", u.Redacted(), res.Status)
	return nil
}
