// Package childproc holds what the servers Chorus runs as child processes
// (redis-server, PostgreSQL, FerretDB) have in common: their output, each
// line logged and the last few kept for the error that says why a child
// failed, and the check that one accepts connections on its unix socket.
package childproc

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// tailLines is how many lines Tail returns at most.
const tailLines = 10

// maxLine bounds a line without a newline, so output cannot grow memory.
const maxLine = 64 << 10

// Lines is an io.Writer that logs each line written to it and
// remembers the last few for error messages. Its methods may be called from
// any goroutine; the zero value is not usable, use New.
type Lines struct {
	log   *slog.Logger
	level slog.Level

	mu      sync.Mutex
	partial []byte
	last    []string
}

// New returns a Lines that logs each line to log at level.
func New(log *slog.Logger, level slog.Level) *Lines { return &Lines{log: log, level: level} }

func (w *Lines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			if len(w.partial) < maxLine {
				return len(p), nil
			}
			i = len(w.partial)
		}
		w.line(string(bytes.TrimRight(w.partial[:i], "\r")))
		w.partial = w.partial[min(i+1, len(w.partial)):]
	}
}

// line logs one line; w.mu is held.
func (w *Lines) line(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	w.log.Log(context.Background(), w.level, s)
	if len(w.last) == tailLines {
		w.last = w.last[1:]
	}
	w.last = append(w.last, s)
}

// Tail returns the last lines written, most recent last.
func (w *Lines) Tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.last, "\n")
}

// DialUnix returns nil if something accepts connections on the unix socket
// at path (within a second).
func DialUnix(ctx context.Context, path string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return err
	}
	return conn.Close()
}
