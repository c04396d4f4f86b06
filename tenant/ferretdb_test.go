package tenant

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// Only FerretDB v1, atomic within one connection, is held to a single
// connection; FerretDB v2 on DocumentDB is atomic across connections.
func TestSingleConnectionOnlyOnFerretDBv1(t *testing.T) {
	tests := []struct {
		engine embeddedmongo.Engine
		want   bool
	}{
		{embeddedmongo.EngineSQLite, true},
		{embeddedmongo.EngineDocumentDB, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.engine), func(t *testing.T) {
			dir := t.TempDir()
			// The cluster runs as the postgres user when the tests run as root.
			if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
				t.Fatal(err)
			}
			m, err := embeddedmongo.Start(t.Context(), filepath.Join(dir, "mongo"), embeddedmongo.Options{Engine: tt.engine, Ephemeral: true}, slog.New(slog.DiscardHandler))
			if errors.Is(err, embeddedmongo.ErrNotInstalled) {
				tenanttest.Missing(t, "PostgreSQL with DocumentDB", "run .ci/build-documentdb ("+err.Error()+")")
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Stop(context.Background()) })
			got, err := isFerretDB(t.Context(), m.URI())
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("isFerretDB on %s = %v, want %v", tt.engine, got, tt.want)
			}
		})
	}
}
