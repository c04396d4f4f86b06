package tenant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// Monitor, if set, is told of every command (tests and benchmarks
	// count the reads of an operation).
	Monitor *event.CommandMonitor
}

// Store owns the MongoDB client. Nothing outside tenant sees the client:
// global records are reached through Store's methods, tenant data only
// through a Scope.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	kinds  map[string]Kind
	log    *slog.Logger
	now    func() time.Time
	ferret bool
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
// collections. Against FerretDB, which is atomic only within one
// connection, it limits the pool to a single connection and says so.
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
	s := &Store{kinds: map[string]Kind{}, log: cfg.Log, now: cfg.Now}
	for _, k := range append(ownKinds(), cfg.Kinds...) {
		if !validKindName(k.Name) {
			return nil, fmt.Errorf("tenant kind %q: use lower case letters and _", k.Name)
		}
		if _, dup := s.kinds[k.Name]; dup {
			return nil, fmt.Errorf("tenant kind %q declared twice", k.Name)
		}
		s.kinds[k.Name] = k
	}

	ferret, err := isFerretDB(ctx, cfg.URI)
	if err != nil {
		return nil, err
	}
	opts := options.Client().ApplyURI(cfg.URI).SetTimeout(30 * time.Second)
	if cfg.Monitor != nil {
		opts.SetMonitor(cfg.Monitor)
	}
	if ferret {
		s.ferret = true
		opts.SetMaxPoolSize(1)
		s.log.Warn("the MongoDB server is FerretDB: using a single connection, since FerretDB is atomic only within one connection; use MongoDB for production load")
	}
	s.client, err = mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to MongoDB: %w", storeErr(err))
	}
	s.db = s.client.Database(cfg.Database)
	if err := s.ensureGlobalIndexes(ctx); err != nil {
		s.client.Disconnect(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// isFerretDB asks the server's buildInfo whether it is FerretDB.
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

// Close disconnects from MongoDB.
func (s *Store) Close(ctx context.Context) error {
	return storeErr(s.client.Disconnect(ctx))
}

// Ping checks that MongoDB answers; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error {
	return storeErr(s.client.Ping(ctx, nil))
}

// FerretDB reports whether the server is FerretDB.
func (s *Store) FerretDB() bool { return s.ferret }

func (s *Store) ensureGlobalIndexes(ctx context.Context) error {
	idx := map[string][]mongo.IndexModel{
		collInstances: {{Keys: bson.D{{Key: "settings.subdomain", Value: 1}}}},
		collDomains:   {{Keys: bson.D{{Key: "instance_id", Value: 1}}}},
		collSessions:  {{Keys: bson.D{{Key: "instance_id", Value: 1}, {Key: "member_id", Value: 1}}}},
		collLinks:     {{Keys: bson.D{{Key: "instance_id", Value: 1}, {Key: "share_id", Value: 1}}}},
	}
	for coll, models := range idx {
		if _, err := s.db.Collection(coll).Indexes().CreateMany(ctx, models); err != nil {
			return fmt.Errorf("create indexes of %s: %w", coll, storeErr(err))
		}
	}
	return nil
}

// ledger is the erasure ledger. It lives in a database of its own, so that
// restoring the main database from a backup leaves it in place.
func (s *Store) ledger() *mongo.Collection {
	return s.client.Database(s.db.Name() + "_ledger").Collection("erasures")
}

// ensureTenantIndexes creates the collections' indexes of a new instance.
func (s *Store) ensureTenantIndexes(ctx context.Context, instanceID string) error {
	for _, k := range s.kinds {
		models := make([]mongo.IndexModel, 0, len(k.Indexes))
		for _, ix := range k.Indexes {
			keys := append(bson.D{{Key: "tenant_id", Value: 1}}, ix.Keys...)
			models = append(models, mongo.IndexModel{Keys: keys, Options: options.Index().SetUnique(ix.Unique)})
		}
		coll := s.db.Collection(collectionName(instanceID, k.Name))
		if len(models) == 0 {
			if err := s.db.CreateCollection(ctx, coll.Name()); err != nil && !isNamespaceExists(err) {
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
