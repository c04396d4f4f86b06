package embeddedmongo

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// startMongo starts a SQLite server in dir and stops it at cleanup.
func startMongo(t *testing.T, dir string) *Mongo {
	t.Helper()
	return start(t, dir, Options{Engine: EngineSQLite})
}

// start starts a store in dir and stops it at cleanup.
func start(t *testing.T, dir string, opts Options) *Mongo {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	start := time.Now()
	m, err := Start(t.Context(), dir, opts, log)
	if err != nil {
		t.Fatalf("Start(%q, %+v): %v", dir, opts, err)
	}
	t.Logf("started in %v at %s", time.Since(start).Round(time.Millisecond), m.URI())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return m
}

// connect returns a client of m, disconnected at cleanup or by the returned
// func, whichever comes first.
func connect(t *testing.T, m *Mongo) (*mongo.Client, func()) {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(m.URI()))
	if err != nil {
		t.Fatalf("mongo.Connect(%q): %v", m.URI(), err)
	}
	disconnect := func() {
		if err := c.Disconnect(context.Background()); err != nil && err != mongo.ErrClientDisconnected {
			t.Errorf("Disconnect: %v", err)
		}
	}
	t.Cleanup(disconnect)
	return c, disconnect
}

type doc struct {
	ID   string `bson:"_id"`
	Text string `bson:"text"`
}

func insert(t *testing.T, c *mongo.Client, d doc) {
	t.Helper()
	if _, err := c.Database("chorus").Collection("notes").InsertOne(t.Context(), d); err != nil {
		t.Fatalf("InsertOne(%+v): %v", d, err)
	}
}

func find(t *testing.T, c *mongo.Client, id string) (doc, error) {
	t.Helper()
	var got doc
	err := c.Database("chorus").Collection("notes").FindOne(t.Context(), bson.D{{Key: "_id", Value: id}}).Decode(&got)
	return got, err
}

func TestSQLitePersists(t *testing.T) {
	tests := []struct {
		name       string
		dir        func(t *testing.T) string
		wantPrefix string
	}{
		{
			name:       "unix socket",
			dir:        func(t *testing.T) string { return t.TempDir() },
			wantPrefix: "mongodb://%2F",
		},
		{
			name: "tcp when the socket path is too long",
			dir: func(t *testing.T) string {
				return filepath.Join(t.TempDir(), strings.Repeat("d", maxSocketPath))
			},
			wantPrefix: "mongodb://127.0.0.1:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir(t)
			want := doc{ID: "a", Text: "persisted"}

			m := startMongo(t, dir)
			if got := m.URI(); !strings.HasPrefix(got, tt.wantPrefix) {
				t.Errorf("URI() = %q, want prefix %q", got, tt.wantPrefix)
			}
			c, disconnect := connect(t, m)
			insert(t, c, want)
			got, err := find(t, c, want.ID)
			if err != nil {
				t.Fatalf("find before restart: %v", err)
			}
			if got != want {
				t.Errorf("find before restart = %+v, want %+v", got, want)
			}
			disconnect()
			if err := m.Stop(t.Context()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			if err := m.Stop(t.Context()); err != nil {
				t.Errorf("second Stop: %v", err)
			}

			m = startMongo(t, dir)
			c, _ = connect(t, m)
			got, err = find(t, c, want.ID)
			if err != nil {
				t.Fatalf("find after restart: %v", err)
			}
			if got != want {
				t.Errorf("find after restart = %+v, want %+v", got, want)
			}
		})
	}
}

func TestSQLiteSideBySide(t *testing.T) {
	a := startMongo(t, t.TempDir())
	b := startMongo(t, t.TempDir())
	if a.URI() == b.URI() {
		t.Fatalf("both servers have URI %q", a.URI())
	}
	ca, _ := connect(t, a)
	cb, _ := connect(t, b)
	insert(t, ca, doc{ID: "a", Text: "in a"})
	insert(t, cb, doc{ID: "b", Text: "in b"})

	tests := []struct {
		name    string
		c       *mongo.Client
		id      string
		wantErr error
	}{
		{"a has its own", ca, "a", nil},
		{"a lacks b's", ca, "b", mongo.ErrNoDocuments},
		{"b has its own", cb, "b", nil},
		{"b lacks a's", cb, "a", mongo.ErrNoDocuments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := find(t, tt.c, tt.id); err != tt.wantErr {
				t.Errorf("find(%q) error = %v, want %v", tt.id, err, tt.wantErr)
			}
		})
	}
}

func TestSQLiteRefusesBusyDir(t *testing.T) {
	dir := t.TempDir()
	startMongo(t, dir)
	m, err := Start(t.Context(), dir, Options{Engine: EngineSQLite}, slog.New(slog.DiscardHandler))
	if err == nil {
		_ = m.Stop(t.Context())
		t.Fatal("second Start on the same dir succeeded, want an error")
	}
	if !strings.Contains(err.Error(), "already listening") {
		t.Errorf("second Start error = %q, want it to say the dir is in use", err)
	}
}

func TestQuiet(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		msg   string
		want  bool
	}{
		{"debug", slog.LevelDebug, "Request header: …", false},
		{"info", slog.LevelInfo, "Connection started", false},
		{"warn", slog.LevelWarn, "Connection stopped", true},
		{"error", slog.LevelError, "Failed to accept", true},
		{"failed command", slog.LevelWarn, "Response message: …", false},
		{"response closing the connection", slog.LevelError, "Response message: …", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(quiet{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
			log.With("k", "v").WithGroup("g").Log(t.Context(), tt.level, tt.msg)
			if got := buf.Len() > 0; got != tt.want {
				t.Errorf("logged %v %q = %v, want %v (output %q)", tt.level, tt.msg, got, tt.want, buf.String())
			}
		})
	}
}
