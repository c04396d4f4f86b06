//go:build !unix

package embedded

import (
	"context"
	"fmt"
	"log/slog"
)

// findPostgres reports that the DocumentDB engine runs on Unix systems only
// (its child processes rely on unix sockets and Unix credentials).
func findPostgres(context.Context) (struct{}, error) {
	return struct{}{}, fmt.Errorf("%w: the embedded DocumentDB store runs on Linux and macOS only", ErrNotInstalled)
}

func startDocumentDB(context.Context, struct{}, string, Options, *slog.Logger) (*Mongo, error) {
	return nil, fmt.Errorf("embedded store: %w", ErrNotInstalled)
}
