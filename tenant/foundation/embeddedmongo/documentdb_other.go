//go:build !unix

package embeddedmongo

import (
	"context"
	"fmt"
	"io"
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

// Backup needs the DocumentDB engine, which runs on Unix systems only.
func Backup(context.Context, string, io.Writer, *slog.Logger) error {
	return fmt.Errorf("embedded store: %w", ErrNotInstalled)
}

// Restore needs the DocumentDB engine, which runs on Unix systems only.
func Restore(context.Context, string, io.Reader, *slog.Logger) (string, error) {
	return "", fmt.Errorf("embedded store: %w", ErrNotInstalled)
}

// PostgresConnString: no cluster runs on systems without the DocumentDB
// engine.
func PostgresConnString(context.Context, string) (string, bool) { return "", false }
