package tenanttest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// loadExplain reads a recorded explain result (testdata/explain/*.json,
// MongoDB extended JSON).
func loadExplain(t *testing.T, name string) bson.Raw {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "explain", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc bson.Raw
	if err := bson.UnmarshalExtJSON(b, false, &doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc
}

func TestFullScans(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"mongodb-4.0-collscan.json", []string{"COLLSCAN"}},
		{"mongodb-classic-id-ixscan.json", nil},
		{"mongodb-classic-tenant-wide-ixscan.json", []string{"IXSCAN of the whole collection (tenant_id_1_member_id_1_created_at_-1)"}},
		{"mongodb-classic-limit-page-ixscan.json", nil},
		{"mongodb-classic-sort-over-tenant-ixscan.json", []string{"IXSCAN of the whole collection (tenant_id_1_day_1)"}},
		{"mongodb-classic-id-order-ixscan.json", []string{"IXSCAN of the whole collection (_id_)"}},
		{"mongodb-sbe-collscan.json", []string{"COLLSCAN"}},
		{"mongodb-aggregate-cursor-collscan.json", []string{"COLLSCAN"}},
		{"mongodb-express-ixscan.json", nil},
		{"postgresql-seq-scan.json", []string{"Seq Scan on documents_12"}},
		{"documentdb-whole-collection-bitmap.json", []string{"Bitmap Index Scan of the whole collection (_id_)"}},
		{"documentdb-tenant-wide-bitmap.json", []string{"Bitmap Index Scan of the whole collection (tenant_id_1_member_id_1_created_at_-1)"}},
		{"documentdb-id-index-scan.json", nil},
		{"documentdb-limit-sort-index.json", nil},
		{"documentdb-aggregate-bitmap.json", nil},
	} {
		t.Run(c.file, func(t *testing.T) {
			got, err := FullScans(loadExplain(t, c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("full scans %q, want %q", got, c.want)
			}
		})
	}
	if _, err := FullScans(MustMarshal(t, bson.D{{Key: "ok", Value: 1.0}})); err == nil {
		t.Error("a result without a plan passed as one without scans")
	}
}

func TestIndexedFields(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"documentdb-limit-sort-index.json", []string{"member_id", "tenant_id"}},
		{"documentdb-tenant-wide-bitmap.json", []string{"tenant_id"}},
		{"documentdb-whole-collection-bitmap.json", nil},
		{"mongodb-classic-limit-page-ixscan.json", []string{"state", "tenant_id"}},
		{"mongodb-classic-id-order-ixscan.json", nil},
		{"postgresql-seq-scan.json", nil},
	} {
		got, err := IndexedFields(loadExplain(t, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: indexed fields %q, want %q", c.file, got, c.want)
		}
	}
}
