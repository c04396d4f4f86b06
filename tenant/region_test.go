package tenant

import (
	"errors"
	"fmt"
	"github.com/chorushq/chorus/tenant/foundation/httpapi"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant/tenanttest"
)

func TestRegionParse(t *testing.T) {
	got, err := ParseRegions("eu=mongodb://u:p%40ss,w;rd@eu-a:27017,eu-b:27017/?replicaSet=rs0 \n us=mongodb+srv://us.example/")
	if err != nil {
		t.Fatal(err)
	}
	want := []Region{{"eu", "mongodb://u:p%40ss,w;rd@eu-a:27017,eu-b:27017/?replicaSet=rs0"}, {"us", "mongodb+srv://us.example/"}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for in, wantErr := range map[string]string{
		"eu":                                    "is not name=",
		"EU=mongodb://x/":                       "region name",
		"eu=mongodb://a/ eu=mongodb://b/":       "listed twice",
		"eu=http://x/":                          "must start with mongodb://",
		"eu=mongodb://user:secret@x/ us":        "is not name=",
		"eu=mongodb://user:secret@x/ us=redis:": "must start with mongodb://",
	} {
		_, err := ParseRegions(in)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParseRegions(%q) = %v, want an error with %q", in, err, wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseRegions(%q) shows the password: %v", in, err)
		}
	}
	if got, err := ParseRegions("  "); err != nil || len(got) != 0 {
		t.Errorf("an empty list: %v, %v", got, err)
	}
}

// twoRegions is a store whose home database and region us are on the
// shared test server and region eu on a second server.
type twoRegions struct {
	s              *Store
	clock          *testClock
	euURI, euDir   string
	homeURI, homeD string
}

func newTwoRegions(t *testing.T, def string) *twoRegions {
	t.Helper()
	uri, db := tenanttest.Mongo(t)
	euURI, euDir := tenanttest.SecondMongo(t)
	clock := tenanttest.NewClock(time.Now().UTC())
	s, err := OpenStore(t.Context(), StoreConfig{URI: uri, Database: db, Kinds: []Kind{noteKind}, Now: clock.Now,
		Regions: []Region{{"eu", euURI}, {"us", uri}}, DefaultRegion: def})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.regions["eu"].db.Drop(t.Context())
		s.Close(t.Context())
	})
	dir, _ := tenanttest.StoreDir(t)
	return &twoRegions{s: s, clock: clock, euURI: euURI, euDir: euDir, homeURI: uri, homeD: dir}
}

// instanceCollections lists the collections of an instance in a region.
func instanceCollections(t *testing.T, db *mongo.Database, id string) []string {
	t.Helper()
	names, err := db.ListCollectionNames(t.Context(), bson.D{{Key: "name", Value: bson.D{{Key: "$regex", Value: "^t_" + id + "_"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestRegionPlacementAndRouting(t *testing.T) {
	r := newTwoRegions(t, "eu")
	ctx := t.Context()
	if _, err := OpenStore(ctx, StoreConfig{URI: r.homeURI, Database: "x", Regions: []Region{{"eu", r.euURI}, {"us", r.euURI}}, DefaultRegion: "eu"}); err == nil || !strings.Contains(err.Error(), "same MongoDB URI") {
		t.Errorf("two regions on one URI: %v", err)
	}
	if _, err := OpenStore(ctx, StoreConfig{URI: r.homeURI, Database: "x", Regions: []Region{{"eu", r.euURI}, {"us", r.homeURI}}}); err == nil || !strings.Contains(err.Error(), "name the default") {
		t.Errorf("two regions without a default: %v", err)
	}
	eu := newTestScope(t, r.s, "eu-corp.example")
	if got := eu.Region(); got != "eu" {
		t.Fatalf("new instance placed in %q, want the default eu", got)
	}
	canary := "canary-eu-" + httpapi.NewID()
	if err := eu.Collection(noteKind).Insert(ctx, bson.D{{Key: "_id", Value: "n1"}, {Key: "text", Value: canary}}); err != nil {
		t.Fatal(err)
	}
	if _, err := eu.ReserveRoute(ctx, "eucode0000000000"); err != nil {
		t.Fatal(err)
	}
	if _, err := eu.ReserveRoute(ctx, "eucode0000000000"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("a taken code reserved again: %v, want ErrDuplicate", err)
	}
	// Every collection of the instance is in eu; none in the home database.
	if got := instanceCollections(t, r.s.regions["eu"].db, eu.InstanceID()); len(got) != len(r.s.kinds) {
		t.Errorf("eu holds %d collections of the instance, want %d: %v", len(got), len(r.s.kinds), got)
	}
	if got := instanceCollections(t, r.s.db, eu.InstanceID()); len(got) != 0 {
		t.Errorf("the home database holds collections of an eu instance: %v", got)
	}
	// The code's route is home, holding its instance only.
	var route bson.M
	if err := r.s.db.Collection(collRoutes).FindOne(ctx, bson.D{{Key: "_id", Value: "eucode0000000000"}}).Decode(&route); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(route)); !slices.Equal(keys, []string{"_id", "created_at", "instance_id"}) || route["instance_id"] != eu.InstanceID() {
		t.Errorf("the home route holds more than the instance: %v", route)
	}
	routed, err := r.s.ResolveRoute(ctx, "eucode0000000000", nil)
	if err != nil || routed.InstanceID() != eu.InstanceID() || routed.Region() != "eu" {
		t.Fatalf("resolve: %s in %q, %v", routed.InstanceID(), routed.Region(), err)
	}
	var note bson.M
	if err := routed.Collection(noteKind).FindOne(ctx, bson.D{{Key: "_id", Value: "n1"}}, &note); err != nil || note["text"] != canary {
		t.Errorf("the routed scope reads %v, %v", note, err)
	}
	if err := eu.DeleteRoutes(ctx, bson.D{{Key: "_id", Value: "eucode0000000000"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.s.ResolveRoute(ctx, "eucode0000000000", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("a deleted route resolves: %v", err)
	}
	if _, err := eu.ReserveRoute(ctx, "eucode0000000001"); err != nil {
		t.Fatal(err)
	}
	// An instance of another region sees nothing of eu's.
	r.s.defaultRegion = "us"
	us := newTestScope(t, r.s, "us-corp.example")
	if us.Region() != "us" {
		t.Fatalf("us instance in %q", us.Region())
	}
	// Nor can it delete eu's routes, nor take their codes.
	if err := us.DeleteRoutes(ctx, bson.D{}); err != nil {
		t.Fatal(err)
	}
	if sc, err := r.s.ResolveRoute(ctx, "eucode0000000001", nil); err != nil || sc.InstanceID() != eu.InstanceID() {
		t.Errorf("eu's route after us deleted its own: %s, %v", sc.InstanceID(), err)
	}
	if _, err := us.ReserveRoute(ctx, "eucode0000000001"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("us reserved eu's code: %v, want ErrDuplicate", err)
	}
	var notes []bson.M
	if err := us.Collection(noteKind).Find(ctx, bson.D{}, &notes); err != nil || len(notes) != 0 {
		t.Errorf("us sees %v, %v", notes, err)
	}
	// An instance placed in a region the configuration lost is refused,
	// not served from elsewhere.
	lost := Scope{store: r.s, inst: Instance{ID: httpapi.NewID(), Placement: Placement{Region: "ap"}}}
	if err := lost.Collection(noteKind).Insert(ctx, bson.D{{Key: "x", Value: 1}}); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("an unknown region: %v", err)
	}
	// The canary never reached the home server's files (the positive
	// control: it is in eu's).
	if r.homeD == "" {
		t.Log("the home server is not embedded (CHORUS_TEST_MONGO_URI): its files are not searched")
		return
	}
	if found := tenanttest.FilesContaining(t, r.homeD, canary); len(found) > 0 {
		t.Errorf("an eu instance's canary is in the home server's files: %v", found)
	}
	if found := tenanttest.FilesContaining(t, r.euDir, canary); len(found) == 0 {
		t.Errorf("the canary is not in eu's files either: the search proves nothing")
	}
}

func TestRegionMove(t *testing.T) {
	r := newTwoRegions(t, "us")
	ctx := t.Context()
	sc := newTestScope(t, r.s, "acme.example")
	canary := "canary-move-" + httpapi.NewID()
	const n = 1234 // more than two copy batches
	docs := make([]any, n)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("n%05d", i)}, {Key: "text", Value: canary}, {Key: "i", Value: int32(i)}, {Key: "f", Value: float64(i) / 3}}
	}
	if err := sc.Collection(noteKind).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if err := sc.Audit(ctx, SystemActor, "test.before_move", sc.InstanceID(), nil); err != nil {
		t.Fatal(err)
	}
	before, err := hashCollection(ctx, r.s.db.Collection(collectionName(sc.InstanceID(), noteKind.Name)))
	if err != nil {
		t.Fatal(err)
	}

	// During the copy the instance reads but does not write, through a
	// scope opened before the move and one opened during it (a request of
	// another process sees the flag once its cache expired).
	stale := sc
	readOnlyChecked := false
	rep, err := r.s.MoveInstance(ctx, sc.InstanceID(), "eu", MoveOptions{Copied: func(kind string) error {
		if kind != noteKind.Name {
			return nil
		}
		during, err := r.s.Open(ctx, sc.InstanceID())
		if err != nil {
			return err
		}
		if err := during.Collection(noteKind).Insert(ctx, bson.D{{Key: "text", Value: "late"}}); !errors.Is(err, ErrMoving) {
			t.Errorf("a write during the copy: %v, want ErrMoving", err)
		}
		if _, err := during.Collection(noteKind).UpdateMany(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "x", Value: 1}}}}); !errors.Is(err, ErrMoving) {
			t.Errorf("an update during the copy: %v, want ErrMoving", err)
		}
		if got, err := during.Collection(noteKind).Count(ctx, bson.D{}); err != nil || got != n {
			t.Errorf("a read during the copy: %d, %v", got, err)
		}
		if _, err := r.s.MoveInstance(ctx, sc.InstanceID(), "eu", MoveOptions{}); !errors.Is(err, ErrMoveInProgress) {
			t.Errorf("a second move at once: %v", err)
		}
		readOnlyChecked = true
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !readOnlyChecked || !rep.Switched || rep.From != "us" || rep.To != "eu" || len(rep.LeftBehind) != 0 {
		t.Fatalf("report %+v (read-only checked: %t)", rep, readOnlyChecked)
	}
	if len(rep.Collections) != len(r.s.kinds) {
		t.Errorf("%d collections copied, want %d", len(rep.Collections), len(r.s.kinds))
	}
	for _, c := range rep.Collections {
		switch c.Kind {
		case noteKind.Name:
			if c.Documents != n || c.SHA256 != before.SHA256 {
				t.Errorf("notes: %d documents, hash %s; want %d, %s", c.Documents, c.SHA256, n, before.SHA256)
			}
		case auditKind.Name:
			if c.Documents < 1 {
				t.Errorf("audit: %d documents copied", c.Documents)
			}
		}
	}
	after, err := hashCollection(ctx, r.s.regions["eu"].db.Collection(collectionName(sc.InstanceID(), noteKind.Name)))
	if err != nil || after != before {
		t.Errorf("eu holds %+v, %v; the source was %+v", after, err, before)
	}
	// Nothing left behind in the old region, and the instance writes again.
	if got := instanceCollections(t, r.s.db, sc.InstanceID()); len(got) != 0 {
		t.Errorf("the old region keeps %v", got)
	}
	var left []bson.M
	for _, name := range []string{collectionName(sc.InstanceID(), noteKind.Name)} {
		cur, err := r.s.db.Collection(name).Find(ctx, bson.D{{Key: "text", Value: canary}})
		if err != nil {
			t.Fatal(err)
		}
		if err := cur.All(ctx, &left); err != nil || len(left) != 0 {
			t.Errorf("canaries left in the old region: %d, %v", len(left), err)
		}
	}
	moved, err := r.s.Open(ctx, sc.InstanceID())
	if err != nil {
		t.Fatal(err)
	}
	if moved.Region() != "eu" || moved.Instance().Placement.MoveID != "" {
		t.Errorf("placement after the move: %+v", moved.Instance().Placement)
	}
	if err := moved.Collection(noteKind).Insert(ctx, bson.D{{Key: "_id", Value: "after"}}); err != nil {
		t.Errorf("a write after the move: %v", err)
	}
	if n, err := moved.VerifyAudit(ctx); err != nil || n < 1 {
		t.Errorf("the audit chain after the move: %d, %v", n, err)
	}
	// A scope loaded before the move still names the old region; its
	// writes there would be lost: the move waited until no process used one.
	if stale.Region() != "us" {
		t.Errorf("stale scope: %s", stale.Region())
	}
	if _, err := r.s.MoveInstance(ctx, sc.InstanceID(), "eu", MoveOptions{}); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("a move to where it is: %v", err)
	}
	if _, err := r.s.MoveInstance(ctx, sc.InstanceID(), "ap", MoveOptions{}); !errors.Is(err, ErrUnknownRegion) {
		t.Errorf("a move to an unknown region: %v", err)
	}
}

func TestRegionMoveFailedStaysWritable(t *testing.T) {
	r := newTwoRegions(t, "us")
	ctx := t.Context()
	sc := newTestScope(t, r.s, "acme.example")
	if err := sc.Collection(noteKind).Insert(ctx, bson.D{{Key: "_id", Value: "n1"}, {Key: "text", Value: "kept"}}); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("interrupted")
	_, err := r.s.MoveInstance(ctx, sc.InstanceID(), "eu", MoveOptions{Copied: func(kind string) error {
		if kind == noteKind.Name {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) {
		t.Fatalf("move: %v", err)
	}
	again, err := r.s.Open(ctx, sc.InstanceID())
	if err != nil {
		t.Fatal(err)
	}
	if again.Region() != "us" || again.Instance().Placement.MoveID != "" {
		t.Errorf("after a failed move: %+v", again.Instance().Placement)
	}
	if err := again.Collection(noteKind).Insert(ctx, bson.D{{Key: "_id", Value: "n2"}}); err != nil {
		t.Errorf("a write after a failed move: %v", err)
	}
	if got := instanceCollections(t, r.s.regions["eu"].db, sc.InstanceID()); len(got) != 0 {
		t.Errorf("the failed move's copy stays in eu: %v", got)
	}
	if n, err := again.Collection(noteKind).Count(ctx, bson.D{}); err != nil || n != 2 {
		t.Errorf("notes after a failed move: %d, %v", n, err)
	}

	// A move whose process died leaves its lease: the instance is
	// read-only until the lease runs out, then writable, and a new move
	// may start.
	if err := r.s.takeMoveLease(ctx, sc.InstanceID(), "eu", httpapi.NewID()); err != nil {
		t.Fatal(err)
	}
	dead, _ := r.s.Open(ctx, sc.InstanceID())
	if err := dead.Collection(noteKind).Insert(ctx, bson.D{{Key: "_id", Value: "n3"}}); !errors.Is(err, ErrMoving) {
		t.Errorf("a write under a live lease: %v", err)
	}
	if err := r.s.takeMoveLease(ctx, sc.InstanceID(), "eu", httpapi.NewID()); !errors.Is(err, ErrMoveInProgress) {
		t.Errorf("a second lease: %v", err)
	}
	r.clock.Add(moveLease + time.Second)
	dead, _ = r.s.Open(ctx, sc.InstanceID())
	if err := dead.Collection(noteKind).Insert(ctx, bson.D{{Key: "_id", Value: "n3"}}); err != nil {
		t.Errorf("a write after the lease ran out: %v", err)
	}
	rep, err := r.s.MoveInstance(ctx, sc.InstanceID(), "eu", MoveOptions{})
	if err != nil || !rep.Switched {
		t.Fatalf("a move after an interrupted one: %+v, %v", rep, err)
	}
	var notes []bson.M
	moved, _ := r.s.Open(ctx, sc.InstanceID())
	if err := moved.Collection(noteKind).Find(ctx, bson.D{}, &notes, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})); err != nil || len(notes) != 3 {
		t.Errorf("notes in eu: %v, %v", notes, err)
	}
}

// TestRegionLegacyRoutesTrimmed hands the home records written whole
// before regions (a route with its owner's fields, as tracked links were)
// to their owner, which moves the fields into the instance's region: they
// resolve with their fields before, the home keeps the route only after,
// and a record of an instance that is gone is left alone.
func TestRegionLegacyRoutesTrimmed(t *testing.T) {
	r := newTwoRegions(t, "eu")
	ctx := t.Context()
	sc := newTestScope(t, r.s, "acme.example")
	type record struct {
		Code       string    `bson:"_id"`
		InstanceID string    `bson:"instance_id"`
		Text       string    `bson:"text"`
		CreatedAt  time.Time `bson:"created_at"`
	}
	legacy := record{Code: "legacy0000000000", InstanceID: sc.InstanceID(), Text: "canary-legacy", CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	orphan := record{Code: "orphan0000000000", InstanceID: "gone", Text: "canary-orphan", CreatedAt: legacy.CreatedAt}
	if _, err := r.s.db.Collection(collRoutes).InsertMany(ctx, []any{legacy, orphan}); err != nil {
		t.Fatal(err)
	}
	var got record
	if routed, err := r.s.ResolveRoute(ctx, legacy.Code, &got); err != nil || got != legacy || routed.InstanceID() != sc.InstanceID() {
		t.Fatalf("a legacy record before the move: %+v in %s, %v", got, routed.InstanceID(), err)
	}
	move := func(sc Scope, raw bson.Raw) error {
		var rec record
		if err := bson.Unmarshal(raw, &rec); err != nil {
			return err
		}
		if err := sc.Collection(noteKind).Insert(ctx, bson.D{{Key: "_id", Value: rec.Code}, {Key: "text", Value: rec.Text}}); err != nil && !errors.Is(err, ErrDuplicate) {
			return err
		}
		return nil
	}
	for i, want := range []int{1, 0} { // idempotent
		if n, err := r.s.TrimRoutes(ctx, bson.D{{Key: "text", Value: bson.D{{Key: "$exists", Value: true}}}}, move); err != nil || n != want {
			t.Fatalf("run %d trimmed %d, %v; want %d", i+1, n, err, want)
		}
	}
	var route bson.M
	if err := r.s.db.Collection(collRoutes).FindOne(ctx, bson.D{{Key: "_id", Value: legacy.Code}}).Decode(&route); err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(route)); !slices.Equal(keys, []string{"_id", "created_at", "instance_id"}) || route["instance_id"] != sc.InstanceID() {
		t.Errorf("the home route after the move: %v", route)
	}
	var notes []bson.M
	if err := sc.Collection(noteKind).Find(ctx, bson.D{}, &notes); err != nil || len(notes) != 1 || notes[0]["text"] != legacy.Text {
		t.Errorf("notes in eu: %v, %v", notes, err)
	}
	if err := r.s.db.Collection(collRoutes).FindOne(ctx, bson.D{{Key: "_id", Value: orphan.Code}}).Decode(&route); err != nil || route["text"] != orphan.Text {
		t.Errorf("the record of an instance that is gone: %v, %v", route, err)
	}
}
