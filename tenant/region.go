package tenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Region is one MongoDB deployment that holds instances' data: an
// instance's members, content, shares, connections, tracked links, clicks,
// rollups, audit log, exports and idempotency records live in its
// region's database (named as the home database). The directory —
// instances, domains, sign-in, sessions — stays in the home database.
type Region struct {
	Name string
	URI  string
}

// DefaultRegionName names the one region of a store configured with a
// single MongoDB URI (or the embedded store) when nothing else names it.
const DefaultRegionName = "default"

// Errors of regions.
var (
	// ErrUnknownRegion: no region of that name is configured.
	ErrUnknownRegion = errors.New("unknown region")
	// ErrMoving: the instance is being moved to another region and is
	// read-only until the copy is done.
	ErrMoving = errors.New("the instance is being moved to another region and is read-only meanwhile")
	// ErrRegionFixed: a verified instance's region is changed only by the
	// operator (chorus instance move).
	ErrRegionFixed = errors.New("the region of a verified instance is changed only by the operator")
)

// MovingRetryAfter is what writes refused during a move ask clients to
// wait before trying again.
const MovingRetryAfter = 30 * time.Second

// ValidRegionName reports whether n can name a region: 1 to 32 lower-case
// letters, digits and '-', starting with a letter.
func ValidRegionName(n string) bool {
	if n == "" || len(n) > 32 || n[0] < 'a' || n[0] > 'z' {
		return false
	}
	for _, r := range n {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// ParseRegions reads a list of regions, name=URI entries separated by
// white space or newlines: a URI holds no unencoded white space, while
// commas and semicolons may appear in its password or its host list.
func ParseRegions(s string) ([]Region, error) {
	var out []Region
	seen := map[string]bool{}
	for _, f := range strings.Fields(s) {
		name, uri, ok := strings.Cut(f, "=")
		switch {
		case !ok || uri == "":
			return nil, fmt.Errorf("%q is not name=mongodb://…", redactEntry(f))
		case !ValidRegionName(name):
			return nil, fmt.Errorf("region name %q: use 1 to 32 lower-case letters, digits and -, starting with a letter", name)
		case seen[name]:
			return nil, fmt.Errorf("region %s is listed twice", name)
		case !strings.HasPrefix(uri, "mongodb://") && !strings.HasPrefix(uri, "mongodb+srv://"):
			return nil, fmt.Errorf("region %s: the URI must start with mongodb:// or mongodb+srv://", name)
		}
		seen[name] = true
		out = append(out, Region{Name: name, URI: uri})
	}
	return out, nil
}

// redactEntry keeps what stands before the first ':' of a malformed
// entry: it may hold a password.
func redactEntry(f string) string {
	if i := strings.IndexByte(f, ':'); i >= 0 {
		return f[:i] + ":…"
	}
	return f
}

// regionDB is a region's connection.
type regionDB struct {
	name   string
	uri    string
	client *mongo.Client // nil when it shares the home connection
	db     *mongo.Database
}

// openRegions connects to every region of cfg; a region on the home URI
// shares the home connection and database.
func (s *Store) openRegions(ctx context.Context, cfg StoreConfig) error {
	regions := cfg.Regions
	if len(regions) == 0 {
		name := cfg.DefaultRegion
		if name == "" {
			name = DefaultRegionName
		}
		regions = []Region{{Name: name, URI: cfg.URI}}
	}
	s.regions = map[string]*regionDB{}
	uris := map[string]string{}
	for _, r := range regions {
		if !ValidRegionName(r.Name) {
			return fmt.Errorf("region name %q: use 1 to 32 lower-case letters, digits and -, starting with a letter", r.Name)
		}
		if _, dup := s.regions[r.Name]; dup {
			return fmt.Errorf("region %s is configured twice", r.Name)
		}
		if other, dup := uris[r.URI]; dup {
			return fmt.Errorf("regions %s and %s name the same MongoDB URI: a region is a deployment of its own", other, r.Name)
		}
		uris[r.URI] = r.Name
		if r.URI == cfg.URI {
			s.regions[r.Name] = &regionDB{name: r.Name, uri: r.URI, db: s.db}
			s.homeRegion = r.Name
			continue
		}
		c, err := s.connect(ctx, r.URI, cfg)
		if err != nil {
			return fmt.Errorf("region %s: %w", r.Name, err)
		}
		s.regions[r.Name] = &regionDB{name: r.Name, uri: r.URI, client: c, db: c.Database(s.db.Name())}
	}
	s.defaultRegion = cfg.DefaultRegion
	if s.defaultRegion == "" {
		if len(regions) > 1 {
			return fmt.Errorf("%d regions are configured: name the default one", len(regions))
		}
		s.defaultRegion = regions[0].Name
	}
	if _, ok := s.regions[s.defaultRegion]; !ok {
		return fmt.Errorf("the default region %s is not among the configured ones (%s)", s.defaultRegion, strings.Join(s.Regions(), ", "))
	}
	return nil
}

// Regions returns the names of the configured regions, sorted.
func (s *Store) Regions() []string {
	names := make([]string, 0, len(s.regions))
	for n := range s.regions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DefaultRegion returns the region new instances are placed in.
func (s *Store) DefaultRegion() string { return s.defaultRegion }

// RegionOf names the region where inst's data is stored. An instance
// placed before regions existed is in the home database: its region is
// the one configured on the home URI ("home" when none is).
func (s *Store) RegionOf(inst Instance) string {
	if inst.Placement.Region != "" {
		return inst.Placement.Region
	}
	if s.homeRegion != "" {
		return s.homeRegion
	}
	return "home"
}

// database returns the database of a region by name; "" is the home
// database (instances placed before regions existed).
func (s *Store) database(region string) (*mongo.Database, error) {
	if region == "" {
		return s.db, nil
	}
	r, ok := s.regions[region]
	if !ok {
		return nil, fmt.Errorf("%w %q: it is not configured (CHORUS_REGIONS)", ErrUnknownRegion, region)
	}
	return r.db, nil
}

// moving reports whether a move of the placement holds the instance
// read-only at now.
func (p Placement) moving(now time.Time) bool {
	return p.MoveID != "" && p.MoveUntil != nil && now.Before(*p.MoveUntil)
}
