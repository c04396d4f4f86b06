package tenanttest

import (
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// errNoPlan: an explain result holds no plan FullScans knows (FerretDB v1
// answers explain without one).
var errNoPlan = errors.New("the explain result holds no plan this test knows (a MongoDB winningPlan or a PostgreSQL plan)")

// FullScans returns the full scans in an explain result:
//   - MongoDB: a COLLSCAN stage of a winning plan (rejected plans are not
//     looked at);
//   - PostgreSQL, whose plan FerretDB v2 with DocumentDB returns as its
//     queryPlanner: a Seq Scan;
//   - on both, an index scan whose only condition is the tenant: every
//     index of a tenant kind starts with tenant_id and a tenant's
//     collection holds only its documents, so such a scan reads all of
//     them, unless a limit stops it in index order (a page).
//
// It fails on a result that holds neither kind of plan, so that a format
// it does not know never passes as a plan without scans.
func FullScans(explain bson.Raw) ([]string, error) {
	scans, _, err := readPlan(explain)
	return scans, err
}

// IndexedFields returns the fields the index scans of an explain result's
// winning plan narrow: on MongoDB those whose indexBounds are not the
// whole range, on DocumentDB those its Index Cond compares. A read of a
// window of publish_at whose plan narrows publish_at scans only the
// window's part of the index.
func IndexedFields(explain bson.Raw) ([]string, error) {
	_, fields, err := readPlan(explain)
	return fields, err
}

// readPlan returns an explain result's full scans (FullScans) and the
// fields its index scans narrow (IndexedFields).
func readPlan(explain bson.Raw) ([]string, []string, error) {
	var v any
	if err := bson.Unmarshal(explain, &v); err != nil {
		return nil, nil, err
	}
	var scans []string
	indexed := map[string]bool{}
	plans := 0
	var walk func(v any, winning bool, above []string)
	walk = func(v any, winning bool, above []string) {
		switch x := v.(type) {
		case bson.D:
			m := map[string]any{}
			for _, e := range x {
				m[e.Key] = e.Value
			}
			if stage, ok := m["stage"].(string); ok && winning {
				switch {
				case stage == "COLLSCAN":
					scans = append(scans, "COLLSCAN")
				case strings.HasSuffix(stage, "IXSCAN"):
					b, _ := m["indexBounds"].(bson.D)
					for _, e := range b {
						if !wholeRange(e.Value) {
							indexed[e.Key] = true
						}
					}
					if b != nil && tenantWideBounds(b) && !limitedInOrder(above, "LIMIT", "SORT") {
						name, _ := m["indexName"].(string)
						scans = append(scans, "IXSCAN of the whole collection ("+name+")")
					}
				}
				above = append(above, stage)
			}
			if node, ok := m["Node Type"].(string); ok {
				plans++
				cond, _ := m["Index Cond"].(string)
				keys, _ := conditionKeys(cond)
				for k := range keys {
					if k != "" {
						indexed[k] = true
					}
				}
				switch {
				case node == "Seq Scan":
					rel, _ := m["Relation Name"].(string)
					scans = append(scans, "Seq Scan on "+rel)
				case (node == "Bitmap Index Scan" || (strings.HasPrefix(node, "Index") && !limitedInOrder(above, "Limit", "Sort", "Aggregate", "Hash", "Materialize", "Unique"))) &&
					wholeCollectionCondition(cond):
					name, _ := m["Index Name"].(string)
					scans = append(scans, node+" of the whole collection ("+name+")")
				}
				above = append(above, node)
			}
			for _, e := range x {
				switch e.Key {
				case "rejectedPlans", "command", "originalCommand", "indexBounds":
				case "winningPlan":
					plans++
					walk(e.Value, true, above)
				default:
					walk(e.Value, winning, above)
				}
			}
		case bson.A:
			for _, y := range x {
				walk(y, winning, above)
			}
		}
	}
	walk(bsonD(v), false, nil)
	if plans == 0 {
		return nil, nil, errNoPlan
	}
	fields := slices.Sorted(maps.Keys(indexed))
	return scans, fields, nil
}

// limitedInOrder reports whether the nearest of the stages above (closest
// last) that is limit or one of the others is limit: a limit reached
// without a sort, grouping or the like in between stops the scan after a
// page.
func limitedInOrder(above []string, limit string, others ...string) bool {
	for i := len(above) - 1; i >= 0; i-- {
		switch {
		case above[i] == limit:
			return true
		case slices.Contains(others, above[i]):
			return false
		}
	}
	return false
}

// tenantWideBounds reports whether MongoDB index bounds leave every
// field of the index but tenant_id its whole range: the scan reads the
// whole tenant's collection.
func tenantWideBounds(b bson.D) bool {
	for _, e := range b {
		if e.Key == "tenant_id" {
			continue
		}
		if !wholeRange(e.Value) {
			return false
		}
	}
	return true
}

// wholeRange reports whether the MongoDB bounds of one index field are its
// whole range.
func wholeRange(bounds any) bool {
	ivs, _ := bounds.(bson.A)
	return len(ivs) == 1 && (ivs[0] == "[MinKey, MaxKey]" || ivs[0] == "[MaxKey, MinKey]")
}

// wholeCollectionCondition reports whether a DocumentDB index condition
// selects a whole collection, or all of a tenant's documents: it names
// only the collection (shard_key_value, how DocumentDB scans a whole
// collection through its _id index) or compares only tenant_id. Document
// operands are BSON written as 'BSONHEX…' literals; a condition on _id
// names object_id.
func wholeCollectionCondition(cond string) bool {
	if cond == "" || strings.Contains(cond, "object_id") {
		return false
	}
	keys, ok := conditionKeys(cond)
	if !ok {
		return false
	}
	return (len(keys) == 0 && strings.Contains(cond, "shard_key_value")) || (len(keys) == 1 && keys["tenant_id"])
}

// conditionKeys returns the fields a DocumentDB index condition compares:
// the keys of its document operands, BSON written as 'BSONHEX…' literals.
// ok is false when an operand does not decode.
func conditionKeys(cond string) (keys map[string]bool, ok bool) {
	keys = map[string]bool{}
	for _, part := range strings.Split(cond, "'BSONHEX")[1:] {
		hexDoc, _, _ := strings.Cut(part, "'")
		b, err := hex.DecodeString(hexDoc)
		if err != nil {
			return keys, false
		}
		elems, err := bson.Raw(b).Elements()
		if err != nil {
			return keys, false
		}
		for _, e := range elems {
			keys[e.Key()] = true
		}
	}
	return keys, true
}

// bsonD makes bson.Unmarshal's default map types ordered documents.
func bsonD(v any) any {
	switch x := v.(type) {
	case bson.D:
		for i := range x {
			x[i].Value = bsonD(x[i].Value)
		}
		return x
	case bson.M:
		d := make(bson.D, 0, len(x))
		for k, val := range x {
			d = append(d, bson.E{Key: k, Value: bsonD(val)})
		}
		return d
	case bson.A:
		for i := range x {
			x[i] = bsonD(x[i])
		}
		return x
	}
	return v
}
