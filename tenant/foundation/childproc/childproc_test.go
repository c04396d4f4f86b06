package childproc

import (
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string // tail
	}{
		{"whole lines", []string{"a\nb\n"}, "a\nb"},
		{"split lines", []string{"a", "b\nc", "\n"}, "ab\nc"},
		{"crlf and blank lines", []string{"a\r\n\n  \nb\n"}, "a\nb"},
		{"partial line not yet logged", []string{"a\nb"}, "a"},
		{"tail keeps the last lines", []string{strings.Repeat("x\n", tailLines) + "y\n"}, strings.Repeat("x\n", tailLines-1) + "y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New(slog.New(slog.DiscardHandler), slog.LevelDebug)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
				}
			}
			if got := w.Tail(); got != tt.want {
				t.Errorf("Tail() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSocketDirIsTheSameForTheSameDir(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	a, err := SocketDir("chorus-test-", "/data/one", os.Geteuid())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SocketDir("chorus-test-", "/data/one", os.Geteuid())
	c, _ := SocketDir("chorus-test-", "/data/two", os.Geteuid())
	if a != b || a == c {
		t.Errorf("socket dirs %q, %q (same data dir), %q (another)", a, b, c)
	}
	if err := os.Chmod(a, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := SocketDir("chorus-test-", "/data/one", os.Geteuid()); err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Errorf("a socket dir others may enter: %v, want a refusal", err)
	}
}
