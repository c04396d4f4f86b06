package social

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/tenant"
)

// NetworkConfig is what admins configure about a whitelisted network.
type NetworkConfig struct {
	// AllowedInstances, for a federated network (Mastodon), limits members
	// to these server hosts (mastodon.social); empty allows any server.
	AllowedInstances []string `bson:"allowed_instances" json:"allowed_instances"`
}

// Availability is where a network stands for an instance: whether the
// operator configured it for the deployment, then whether the instance's
// admins allow it.
type Availability string

// Availabilities.
const (
	// NotConfigured: the deployment has no app credentials for the
	// network (the operator sets them up; see docs/connections.md).
	NotConfigured Availability = "not_configured"
	NetAllowed    Availability = "allowed"
	NetNotAllowed Availability = "not_allowed"
)

// NetworkState is a network as an instance sees it.
type NetworkState struct {
	Name      string        `json:"name"`
	State     Availability  `json:"state"`
	Allowed   bool          `json:"allowed"`
	Federated bool          `json:"federated"`
	Config    NetworkConfig `json:"config"`
}

// stateOf is the availability of a served network.
func stateOf(allowed bool) Availability {
	if allowed {
		return NetAllowed
	}
	return NetNotAllowed
}

// networkDoc is an instance's whitelist entry of one network; _id is the
// network name.
type networkDoc struct {
	Name      string        `bson:"_id"`
	Allowed   bool          `bson:"allowed"`
	Config    NetworkConfig `bson:"config"`
	UpdatedAt time.Time     `bson:"updated_at"`
	UpdatedBy string        `bson:"updated_by"`
}

var networkKind = tenant.Kind{Name: "networks"}

// Networks lists every network Chorus supports, in display order, with
// its state: not_configured when this deployment does not serve it (no
// app credentials), else whether the scope's instance allows it. Any
// member may call it.
func (s *Service) Networks(ctx context.Context, sc tenant.Scope) ([]NetworkState, error) {
	var docs []networkDoc
	if err := sc.Collection(networkKind).Find(ctx, bson.D{}, &docs); err != nil {
		return nil, err
	}
	out := []NetworkState{}
	for _, name := range Names {
		n, served := s.networks.Get(name)
		if !served {
			out = append(out, NetworkState{Name: name, State: NotConfigured, Config: NetworkConfig{AllowedInstances: []string{}}})
			continue
		}
		_, fed := n.(Federated)
		st := NetworkState{Name: name, State: NetNotAllowed, Federated: fed, Config: NetworkConfig{AllowedInstances: []string{}}}
		for _, d := range docs {
			if d.Name == name {
				st.Allowed, st.State = d.Allowed, stateOf(d.Allowed)
				if d.Config.AllowedInstances != nil {
					st.Config = d.Config
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// whitelisted returns the network's entry if the instance allows it, else
// ErrNetworkNotAllowed.
func (s *Service) whitelisted(ctx context.Context, sc tenant.Scope, name string) (networkDoc, error) {
	var d networkDoc
	err := sc.Collection(networkKind).FindOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "allowed", Value: true}}, &d)
	if isNotFound(err) {
		return networkDoc{}, ErrNetworkNotAllowed
	}
	return d, err
}

// Allow whitelists a network for the scope's instance with cfg, or updates
// its cfg (admins of a verified instance: ErrDomainUnverified otherwise);
// a nil cfg keeps the stored one (none: every server allowed).
// Connections disabled by an earlier Disallow become active again;
// connections on servers cfg does not allow are disabled (their waiting
// shares cancelled, their members told) until a later Allow allows their
// server again. It is idempotent and audited.
func (s *Service) Allow(ctx context.Context, sc tenant.Scope, by tenant.Member, name string, cfg *NetworkConfig) (NetworkState, error) {
	n, err := s.network(name)
	if err != nil {
		return NetworkState{}, err
	}
	if err := tenant.RequireVerified(sc); err != nil {
		return NetworkState{}, err
	}
	_, fed := n.(Federated)
	set := bson.D{{Key: "allowed", Value: true}, {Key: "updated_at", Value: s.timestamp()}, {Key: "updated_by", Value: by.ID}}
	if cfg != nil {
		clean, err := cleanConfig(*cfg, fed)
		if err != nil {
			return NetworkState{}, err
		}
		set = append(set, bson.E{Key: "config", Value: clean})
	}
	if err := sc.Collection(networkKind).Upsert(ctx, bson.D{{Key: "_id", Value: name}}, bson.D{{Key: "$set", Value: set}}); err != nil {
		return NetworkState{}, fmt.Errorf("allow %s: %w", name, err)
	}
	wl, err := s.whitelisted(ctx, sc, name)
	if err != nil {
		return NetworkState{}, fmt.Errorf("allow %s: %w", name, err)
	}
	stored := wl.Config
	if stored.AllowedInstances == nil {
		stored.AllowedInstances = []string{}
	}
	if _, err := s.setStatuses(ctx, sc, name, StatusDisabled, StatusActive, disabledByWhitelist); err != nil {
		return NetworkState{}, err
	}
	disabled, err := s.applyServers(ctx, sc, name, stored)
	if err != nil {
		return NetworkState{}, fmt.Errorf("allow %s: %w", name, err)
	}
	details := map[string]string{}
	if len(stored.AllowedInstances) > 0 {
		details["allowed_instances"] = strings.Join(stored.AllowedInstances, " ")
	}
	if disabled > 0 {
		details["connections_disabled"] = fmt.Sprint(disabled)
	}
	if err := sc.Audit(ctx, tenant.MemberActor(by), "network.allowed", name, details); err != nil {
		return NetworkState{}, err
	}
	return NetworkState{Name: name, State: NetAllowed, Allowed: true, Federated: fed, Config: stored}, nil
}

// Disallow removes a network from the whitelist (admins): its connections
// become disabled and OnNetworkDisallowed runs (cancelling pending shares).
// Disallowing a network that is not allowed is not an error. It is audited.
func (s *Service) Disallow(ctx context.Context, sc tenant.Scope, by tenant.Member, name string) error {
	if _, err := s.network(name); err != nil {
		return err
	}
	err := sc.Collection(networkKind).Upsert(ctx, bson.D{{Key: "_id", Value: name}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "allowed", Value: false},
			{Key: "updated_at", Value: s.timestamp()}, {Key: "updated_by", Value: by.ID}}}})
	if err != nil {
		return fmt.Errorf("disallow %s: %w", name, err)
	}
	// Whitelist first, then connections: a crash in between leaves
	// connections that Start and publishing refuse anyway (they check the
	// whitelist), and a retried DELETE finishes the job.
	disabled, err := s.setStatuses(ctx, sc, name, StatusActive, StatusDisabled, disabledByWhitelist)
	if err != nil {
		return err
	}
	// Nothing is published to a network after it was un-whitelisted: its
	// queued and scheduled shares are cancelled now (and the publish step
	// checks the whitelist again, for a task already running).
	cancelled, err := s.cancelPending(ctx, sc, bson.D{{Key: "network", Value: name}}, "the network is no longer allowed by your company")
	if err != nil {
		return fmt.Errorf("disallow %s: %w", name, err)
	}
	if s.onDisallow != nil {
		if err := s.onDisallow(ctx, sc, name); err != nil {
			return fmt.Errorf("disallow %s: cancel pending shares: %w", name, err)
		}
	}
	return sc.Audit(ctx, tenant.MemberActor(by), "network.disallowed", name,
		map[string]string{"connections_disabled": fmt.Sprint(disabled), "shares_cancelled": fmt.Sprint(cancelled)})
}

// cancelPending cancels the queued and scheduled shares that filter
// selects, giving reason, and deletes their tasks; it returns how many it
// cancelled.
func (s *Service) cancelPending(ctx context.Context, sc tenant.Scope, filter bson.D, reason string) (int64, error) {
	pendingShares := append(filter, bson.E{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{ShareQueued, ShareScheduled}}}})
	var pending []Share
	if err := sc.Collection(shareKind).Find(ctx, pendingShares, &pending, options.Find().SetProjection(shareEndFields)); err != nil {
		return 0, fmt.Errorf("find pending shares: %w", err)
	}
	// One conditional update per share, so that each cancellation this
	// call makes, and only those, leaves the content's counters. A share
	// that started publishing between the two steps keeps its running
	// task (it cannot be deleted) and is refused when it runs.
	cancelled, err := s.cancelEach(ctx, sc, pending, pendingStates,
		bson.D{{Key: "error", Value: reason}, {Key: "updated_at", Value: s.timestamp()}})
	ids := make([]string, len(cancelled))
	for i, p := range cancelled {
		ids[i] = p.ID
	}
	s.dropTasks(ctx, sc, ids)
	if err != nil {
		return int64(len(cancelled)), fmt.Errorf("cancel pending shares: %w", err)
	}
	return int64(len(cancelled)), nil
}

// shareEndFields are what cancelEach needs of a share.
var shareEndFields = bson.D{{Key: "_id", Value: 1}, {Key: "state", Value: 1}, {Key: "member_id", Value: 1}, {Key: "content_id", Value: 1}}

// Why a connection is disabled (Connection.DisabledBy).
const (
	disabledByWhitelist = "whitelist"
	// disabledByServer: its server is not on the admins' list of allowed
	// servers any more.
	disabledByServer = "allowed_instances"
)

// applyServers holds the network's connections to cfg's allowed servers:
// active connections on servers it does not allow are disabled, their
// waiting shares cancelled and their members told; connections disabled
// for that reason whose server is allowed again become active. It
// returns how many it disabled.
func (s *Service) applyServers(ctx context.Context, sc tenant.Scope, network string, cfg NetworkConfig) (int, error) {
	var conns []Connection
	if err := sc.Collection(connectionKind).Find(ctx, bson.D{{Key: "network", Value: network}, {Key: "$or", Value: bson.A{
		bson.D{{Key: "status", Value: StatusActive}},
		bson.D{{Key: "status", Value: StatusDisabled}, {Key: "disabled_by", Value: disabledByServer}},
	}}}, &conns); err != nil {
		return 0, err
	}
	var disabled []Connection
	for _, c := range conns {
		allowed := cfg.serverAllowed(c.InstanceURL)
		var set bson.D
		switch {
		case c.Status == StatusActive && !allowed:
			set = bson.D{{Key: "status", Value: StatusDisabled}, {Key: "disabled_by", Value: disabledByServer}}
		case c.Status == StatusDisabled && allowed:
			set = bson.D{{Key: "status", Value: StatusActive}}
		default:
			continue
		}
		ok, err := sc.Collection(connectionKind).Update(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "status", Value: c.Status}},
			bson.D{{Key: "$set", Value: append(set, bson.E{Key: "updated_at", Value: s.timestamp()})}})
		if err != nil {
			return len(disabled), err
		}
		if ok && c.Status == StatusActive {
			disabled = append(disabled, c)
		}
	}
	for _, c := range disabled {
		if _, err := s.cancelPending(ctx, sc, bson.D{{Key: "connection_id", Value: c.ID}}, "your company no longer allows this account's server"); err != nil {
			return len(disabled), err
		}
		s.tellServerDisallowed(ctx, sc, c)
	}
	return len(disabled), nil
}

// tellServerDisallowed tells a member that their connection was disabled
// because its server is no longer allowed.
func (s *Service) tellServerDisallowed(ctx context.Context, sc tenant.Scope, c Connection) {
	if s.notify == nil {
		return
	}
	title := networkTitle(c.Network)
	subject := "Your " + title + " account can no longer be used in Chorus"
	text := "Your company's admins no longer allow the " + title + " server of your account " + c.Handle +
		", so Chorus no longer posts to it; shares waiting for it were cancelled.\n\n" +
		"Connect an account on a server they allow, or ask them to allow this one.\n"
	if err := s.notify(context.WithoutCancel(ctx), sc, c.MemberID, subject, text); err != nil {
		s.log.WarnContext(ctx, "member not told their server is no longer allowed", "connection_id", c.ID, "err", err)
	}
}

// setStatuses moves the network's connections from one status to another,
// one conditional update each (the store has no updateMany), and returns
// how many moved. Connections disabled for another reason stay disabled.
func (s *Service) setStatuses(ctx context.Context, sc tenant.Scope, network string, from, to Status, reason string) (int, error) {
	var conns []Connection
	f := bson.D{{Key: "network", Value: network}, {Key: "status", Value: from}}
	if from == StatusDisabled {
		f = append(f, bson.E{Key: "disabled_by", Value: reason})
	}
	if err := sc.Collection(connectionKind).Find(ctx, f, &conns); err != nil {
		return 0, err
	}
	set := bson.D{{Key: "status", Value: to}, {Key: "updated_at", Value: s.timestamp()}}
	if to == StatusDisabled {
		set = append(set, bson.E{Key: "disabled_by", Value: reason})
	}
	n := 0
	for _, c := range conns {
		ok, err := sc.Collection(connectionKind).Update(ctx, bson.D{{Key: "_id", Value: c.ID}, {Key: "status", Value: from}},
			bson.D{{Key: "$set", Value: set}})
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}

const maxAllowedInstances = 100

// cleanConfig validates and normalises an admin's configuration.
func cleanConfig(cfg NetworkConfig, federated bool) (NetworkConfig, error) {
	out := NetworkConfig{AllowedInstances: []string{}}
	if len(cfg.AllowedInstances) > 0 && !federated {
		return out, &tenant.ValidationError{Field: "config.allowed_instances", Reason: "applies to federated networks (Mastodon) only"}
	}
	if len(cfg.AllowedInstances) > maxAllowedInstances {
		return out, &tenant.ValidationError{Field: "config.allowed_instances", Reason: fmt.Sprintf("at most %d servers", maxAllowedInstances)}
	}
	for _, raw := range cfg.AllowedInstances {
		h, ok := serverHost(raw)
		if !ok {
			return out, &tenant.ValidationError{Field: "config.allowed_instances", Reason: fmt.Sprintf("%q is not a host name such as mastodon.social", raw)}
		}
		out.AllowedInstances = append(out.AllowedInstances, h)
	}
	slices.Sort(out.AllowedInstances)
	out.AllowedInstances = slices.Compact(out.AllowedInstances)
	return out, nil
}

// serverHost reduces "mastodon.social", "https://Mastodon.Social/" or
// "host:port" to its lower-case host[:port].
func serverHost(raw string) (string, bool) {
	raw = strings.TrimSpace(raw)
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if _, err := netip.ParseAddr(host); err != nil {
		// A DNS name, as domains are checked everywhere (IDN to
		// punycode; no "$where", no "a..b").
		d, err := tenant.NormalizeDomain(host)
		if err != nil {
			return "", false
		}
		host = d
	}
	if p := u.Port(); p != "" {
		return net.JoinHostPort(host, p), true
	}
	return host, true
}

// serverAllowed reports whether a normalised server URL is on the list
// (an empty list allows every server).
func (c NetworkConfig) serverAllowed(server string) bool {
	if len(c.AllowedInstances) == 0 {
		return true
	}
	h, ok := serverHost(server)
	return ok && slices.Contains(c.AllowedInstances, h)
}
