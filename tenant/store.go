package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Kind is one kind of tenant data, stored in its own collection per
// instance (t_<instance ID>_<name>). Domain packages declare their kinds;
// cmd hands them all to OpenStore, which creates their indexes for every
// instance. Keep the number of kinds and indexes small: each one costs a
// collection or an index per instance (see docs/mongo-subset.md).
type Kind struct {
	Name    string
	Indexes []Index
}

// Index is a secondary index of a kind. The store puts tenant_id first.
type Index struct {
	Keys   bson.D
	Unique bool
}

// StoreConfig configures OpenStore.
type StoreConfig struct {
	URI      string // mongodb:// URI
	Database string // default "chorus"
	Kinds    []Kind // every tenant kind in use, besides tenant's own
	Log      *slog.Logger
	Now      func() time.Time // default time.Now
	// AuthCacheTTL bounds how long a process keeps the sessions, instances
	// and members of its requests' session checks (default
	// DefaultAuthCacheTTL; negative: no cache).
	AuthCacheTTL time.Duration
	// Monitor, when set, sees every command the store sends (tests count
	// the reads of a request with it).
	Monitor *event.CommandMonitor
	// Regions are the MongoDB deployments instances' data may be placed
	// in (see Region); empty: one region, DefaultRegion, on URI. A region
	// whose URI is URI shares the home database.
	Regions []Region
	// DefaultRegion is where new instances are placed (default: the only
	// region, DefaultRegionName when Regions is empty).
	DefaultRegion string
}

// Store owns the MongoDB client. Nothing outside tenant sees the client:
// global records are reached through Store's methods, tenant data only
// through a Scope.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	kinds  map[string]Kind
	// indexSet fingerprints kinds (indexSetOf), kept on each instance
	// record whose collections have those indexes.
	indexSet string
	log      *slog.Logger
	now      func() time.Time
	ferret   bool
	cache    *authCache
	// regions by name; homeRegion is the one sharing the home database
	// ("" if none), defaultRegion where new instances go.
	regions                   map[string]*regionDB
	homeRegion, defaultRegion string
	// settle is how long a move waits after making an instance read-only
	// before it copies: every process's cached copy of the instance
	// record has expired by then.
	settle time.Duration
}

// Global (non-tenant) collections.
const (
	collInstances  = "instances"
	collDomains    = "domains"
	collSessions   = "sessions"
	collSignIn     = "signin_tokens"
	collRateLimits = "rate_limits"
)

// OpenStore connects to MongoDB (or FerretDB) and prepares the global
// collections. Against FerretDB v1 (the SQLite demo store), which is atomic
// only within one connection, it limits the pool to a single connection and
// says so; FerretDB v2 on PostgreSQL is atomic across connections and gets
// the driver's pool, as MongoDB does.
func OpenStore(ctx context.Context, cfg StoreConfig) (*Store, error) {
	if cfg.Database == "" {
		cfg.Database = "chorus"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{kinds: map[string]Kind{}, log: cfg.Log, now: cfg.Now, cache: newAuthCache(cfg.AuthCacheTTL)}
	for _, k := range append(ownKinds(), cfg.Kinds...) {
		if !validKindName(k.Name) {
			return nil, fmt.Errorf("tenant kind %q: use lower case letters and _", k.Name)
		}
		if _, dup := s.kinds[k.Name]; dup {
			return nil, fmt.Errorf("tenant kind %q declared twice", k.Name)
		}
		s.kinds[k.Name] = k
	}

	s.settle = max(cfg.AuthCacheTTL, DefaultAuthCacheTTL) + time.Second
	var err error
	if s.client, err = s.connect(ctx, cfg.URI, cfg); err != nil {
		return nil, err
	}
	s.db = s.client.Database(cfg.Database)
	if err := s.openRegions(ctx, cfg); err != nil {
		s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := s.ensureGlobalIndexes(ctx); err != nil {
		s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	// Instances made before an index was declared get it from Migrate.
	s.indexSet = indexSetOf(s.kinds)
	return s, nil
}

// connect opens a client of uri with the store's options. Against
// FerretDB v1 the pool is a single connection.
func (s *Store) connect(ctx context.Context, uri string, cfg StoreConfig) (*mongo.Client, error) {
	ferret, err := isFerretDB(ctx, uri)
	if err != nil {
		return nil, err
	}
	opts := options.Client().ApplyURI(uri).SetTimeout(30 * time.Second)
	if cfg.Monitor != nil {
		opts.SetMonitor(cfg.Monitor)
	}
	if ferret {
		s.ferret = true
		opts.SetMaxPoolSize(1)
		s.log.Warn("the MongoDB server is FerretDB v1: using a single connection, since it is atomic only within one connection; use MongoDB or FerretDB v2 with DocumentDB for production load")
	}
	c, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB: %w", storeErr(err))
	}
	return c, nil
}

// isFerretDB asks the server's buildInfo whether it is FerretDB v1, which
// reports ferretdbVersion (v2 reports a ferretdb document instead).
func isFerretDB(ctx context.Context, uri string) (bool, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1).SetServerSelectionTimeout(15 * time.Second))
	if err != nil {
		return false, fmt.Errorf("connect to MongoDB: %v", err)
	}
	defer c.Disconnect(context.WithoutCancel(ctx))
	var info bson.M
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("reach MongoDB (buildInfo): %v", err)
	}
	_, ferret := info["ferretdbVersion"]
	return ferret, nil
}

// DeclaredKinds returns every kind a store opened with kinds keeps per
// instance, a collection each: the tenant package's own, then kinds.
func DeclaredKinds(kinds []Kind) []Kind { return append(ownKinds(), kinds...) }

func validKindName(n string) bool {
	if n == "" || len(n) > 40 {
		return false
	}
	for _, r := range n {
		if (r < 'a' || r > 'z') && r != '_' {
			return false
		}
	}
	return true
}

// Close disconnects from MongoDB (the home database and every region's).
func (s *Store) Close(ctx context.Context) error {
	errs := []error{storeErr(s.client.Disconnect(ctx))}
	for _, r := range s.regions {
		if r.client != nil {
			errs = append(errs, storeErr(r.client.Disconnect(ctx)))
		}
	}
	return errors.Join(errs...)
}

// Ping checks that MongoDB answers, the home database's server and every
// region's; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, nil); err != nil {
		return storeErr(err)
	}
	for _, name := range s.Regions() {
		if r := s.regions[name]; r.client != nil {
			if err := r.client.Ping(ctx, nil); err != nil {
				return fmt.Errorf("region %s: %w", name, storeErr(err))
			}
		}
	}
	return nil
}

// FerretDB reports whether the server is FerretDB v1.
func (s *Store) FerretDB() bool { return s.ferret }

func (s *Store) ensureGlobalIndexes(ctx context.Context) error {
	idx := map[string][]mongo.IndexModel{
		collInstances: {{Keys: bson.D{{Key: "settings.subdomain", Value: 1}}}},
		collDomains:   {{Keys: bson.D{{Key: "instance_id", Value: 1}}}},
		collSessions: {
			{Keys: bson.D{{Key: "instance_id", Value: 1}, {Key: "member_id", Value: 1}}},
			// The expiry sweep deletes by expires_at, as on the two below.
			{Keys: bson.D{{Key: "expires_at", Value: 1}}},
		},
		collSignIn:     {{Keys: bson.D{{Key: "expires_at", Value: 1}}}},
		collRateLimits: {{Keys: bson.D{{Key: "expires_at", Value: 1}}}},
		// share_id: the owner's field on records written before regions
		// (social's tracked links), kept as it was.
		collRoutes: {{Keys: bson.D{{Key: "instance_id", Value: 1}, {Key: "share_id", Value: 1}}}},
	}
	for coll, models := range idx {
		if _, _, err := createMissingIndexes(ctx, s.db.Collection(coll), models); err != nil {
			return err
		}
	}
	return nil
}

// indexSetOf fingerprints kinds: their names and their indexes' keys and
// uniqueness, in a fixed order.
func indexSetOf(kinds map[string]Kind) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(kinds)) {
		fmt.Fprintf(h, "%s;", name)
		for _, ix := range kinds[name].Indexes {
			for _, e := range ix.Keys {
				fmt.Fprintf(h, "%s:%v,", e.Key, e.Value)
			}
			fmt.Fprintf(h, "unique=%t;", ix.Unique)
		}
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// createMissingIndexes creates those of models coll lacks (FerretDB v1
// drops the connection when asked to create an index that exists) and
// says how many it created and whether coll existed.
func createMissingIndexes(ctx context.Context, coll *mongo.Collection, models []mongo.IndexModel) (int, bool, error) {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil && !isNamespaceNotFound(err) {
		return 0, false, fmt.Errorf("list indexes of %s: %w", coll.Name(), storeErr(err))
	}
	have := map[string]bool{}
	for _, sp := range specs {
		have[indexKeyOf(sp.KeysDocument)] = true
	}
	var missing []mongo.IndexModel
	for _, m := range models {
		raw, err := bson.Marshal(m.Keys)
		if err != nil {
			return 0, false, err
		}
		if !have[indexKeyOf(raw)] {
			missing = append(missing, m)
		}
	}
	if len(missing) == 0 {
		return 0, len(specs) > 0, nil
	}
	if _, err := coll.Indexes().CreateMany(ctx, missing); err != nil {
		return 0, false, fmt.Errorf("create indexes of %s: %w", coll.Name(), storeErr(err))
	}
	return len(missing), true, nil
}

// ledger is the erasure ledger. It lives in a database of its own, so that
// restoring the main database from a backup leaves it in place.
func (s *Store) ledger() *mongo.Collection {
	return s.client.Database(s.db.Name() + "_ledger").Collection("erasures")
}

// ensureTenantIndexes creates the collections' indexes of a new instance
// in db, its region's database.
func (s *Store) ensureTenantIndexes(ctx context.Context, db *mongo.Database, instanceID string) error {
	for _, k := range s.kinds {
		models := make([]mongo.IndexModel, 0, len(k.Indexes))
		for _, ix := range k.Indexes {
			keys := append(bson.D{{Key: "tenant_id", Value: 1}}, ix.Keys...)
			models = append(models, mongo.IndexModel{Keys: keys, Options: options.Index().SetUnique(ix.Unique)})
		}
		coll := db.Collection(collectionName(instanceID, k.Name))
		if len(models) == 0 {
			if err := db.CreateCollection(ctx, coll.Name()); err != nil && !isNamespaceExists(err) {
				return fmt.Errorf("create %s: %w", coll.Name(), storeErr(err))
			}
			continue
		}
		if _, err := coll.Indexes().CreateMany(ctx, models); err != nil {
			return fmt.Errorf("create indexes of %s: %w", coll.Name(), storeErr(err))
		}
	}
	return nil
}

// addMissingIndexes creates the declared indexes an existing instance
// lacks (and the collections of kinds added since). It asks which exist
// first: FerretDB v1 drops the connection when asked to create an index
// that exists.
func (s *Store) addMissingIndexes(ctx context.Context, sc Scope) error {
	db, err := sc.database()
	if err != nil {
		return err
	}
	for _, k := range s.kinds {
		coll := db.Collection(collectionName(sc.inst.ID, k.Name))
		models := make([]mongo.IndexModel, 0, len(k.Indexes))
		for _, ix := range k.Indexes {
			keys := append(bson.D{{Key: "tenant_id", Value: 1}}, ix.Keys...)
			models = append(models, mongo.IndexModel{Keys: keys, Options: options.Index().SetUnique(ix.Unique)})
		}
		n, existed, err := createMissingIndexes(ctx, coll, models)
		if err != nil {
			return err
		}
		if !existed && len(models) == 0 {
			if err := db.CreateCollection(ctx, coll.Name()); err != nil && !isNamespaceExists(err) {
				return fmt.Errorf("create %s: %w", coll.Name(), storeErr(err))
			}
		}
		if n > 0 {
			s.log.InfoContext(ctx, "created missing indexes", "collection", coll.Name(), "count", n)
		}
	}
	return nil
}

// indexKeyOf names an index by its fields and directions, whatever
// numeric type the server keeps them in.
func indexKeyOf(keys bson.Raw) string {
	elems, _ := keys.Elements()
	var b strings.Builder
	for _, e := range elems {
		dir := "+"
		if f, ok := e.Value().AsFloat64OK(); ok && f < 0 {
			dir = "-"
		}
		b.WriteString(e.Key() + dir + ",")
	}
	return b.String()
}

func isNamespaceNotFound(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 26 || ce.Name == "NamespaceNotFound")
}

func collectionName(instanceID, kind string) string {
	return "t_" + instanceID + "_" + kind
}

func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")
}

// Store errors. No driver error leaves the package: storeErr turns them into
// these or into an opaque error that keeps only the driver's message.
var (
	// ErrNotFound: no such object in this instance (another instance's
	// objects are not found either).
	ErrNotFound = errors.New("not found")
	// ErrDuplicate: a unique key is taken.
	ErrDuplicate = errors.New("duplicate key")
)

func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return ErrNotFound
	case mongo.IsDuplicateKeyError(err):
		return ErrDuplicate
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("store: %w", context.DeadlineExceeded)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("store: %w", context.Canceled)
	}
	return fmt.Errorf("store: %s", strings.TrimSpace(err.Error()))
}

// Ledger is the content of the erasure ledger's database, by collection.
type Ledger map[string][]bson.Raw

// Entries counts the ledger's documents.
func (l Ledger) Entries() int {
	n := 0
	for _, docs := range l {
		n += len(docs)
	}
	return n
}

// ReadLedger returns every document of the erasure ledger's database (the
// erasures and the offboardings): a restore of the whole store, which
// brings back the ledger as it was at the backup, merges it in again with
// MergeLedger before the erasures are replayed.
func (s *Store) ReadLedger(ctx context.Context) (Ledger, error) {
	db := s.ledger().Database()
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("list the ledger: %w", storeErr(err))
	}
	out := Ledger{}
	for _, name := range names {
		cur, err := db.Collection(name).Find(ctx, bson.D{})
		if err != nil {
			return nil, fmt.Errorf("read the ledger's %s: %w", name, storeErr(err))
		}
		var docs []bson.Raw
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("read the ledger's %s: %w", name, storeErr(err))
		}
		out[name] = docs
	}
	return out, nil
}

// MergeLedger inserts the entries of l the ledger lacks (by _id) and
// returns how many it inserted.
func (s *Store) MergeLedger(ctx context.Context, l Ledger) (int, error) {
	db := s.ledger().Database()
	n := 0
	for name, docs := range l {
		for _, d := range docs {
			_, err := db.Collection(name).InsertOne(ctx, d)
			switch err = storeErr(err); {
			case err == nil:
				n++
			case errors.Is(err, ErrDuplicate):
			default:
				return n, fmt.Errorf("merge the ledger's %s: %w", name, err)
			}
		}
	}
	return n, nil
}
