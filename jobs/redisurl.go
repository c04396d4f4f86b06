package jobs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
)

// ParseRedisURL parses CHORUS_REDIS_URL into the options of every Redis
// client Chorus makes (Asynq's, and through MakeRedisClient the token
// buckets', the scheduler's lease and the reach counters'):
//
//	redis://[[user]:password@]host:port[/db]            one server
//	rediss://…                                          the same over TLS
//	redis-socket://[[user]:password@]/path/redis.sock[?db=N]
//	redis-sentinel://[[user]:password@]host:port[,host:port…]/master[/db][?sentinel_password=…&sentinel_username=…]
//	rediss-sentinel://…                                 the same over TLS
//	redis-cluster://[[user]:password@]host:port[,host:port…]
//	rediss-cluster://…                                  the same over TLS
//
// With Sentinel the password (and user) authenticate to the master and to
// the sentinels, unless sentinel_password (and sentinel_username) give the
// sentinels' own. A Redis Cluster has only database 0. Over TLS the server
// name checked is each server's host, or tls_server_name. Any other query
// parameter is an error, and so is anything missing; errors say what is
// wrong and never quote the password.
func ParseRedisURL(s string) (asynq.RedisConnOpt, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, errors.New("want a URL such as redis://host:6379/0, redis-sentinel://host:26379/mymaster or redis-cluster://host:7000,host:7001")
	}
	if scheme == "redis-socket" {
		opt, err := asynq.ParseRedisURI(s)
		if err != nil {
			return nil, errors.New("redis-socket: want redis-socket:///path/to/redis.sock[?db=N]")
		}
		return opt, nil
	}
	base, secure := strings.CutPrefix(scheme, "rediss")
	if !secure {
		base, _ = strings.CutPrefix(scheme, "redis")
	}
	if base != "" && base != "-sentinel" && base != "-cluster" {
		return nil, fmt.Errorf("unknown scheme %q: want redis, rediss, redis-socket, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster", scheme)
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	var user, password string
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		var err error
		if user, password, err = userinfo(authority[:at]); err != nil {
			return nil, err
		}
		authority = authority[at+1:]
	}
	addrs := strings.Split(authority, ",")
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return nil, fmt.Errorf("%s: %q is not host:port", scheme, a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%s: %q has no valid port", scheme, a)
		}
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%s: query: %w", scheme, err)
	}
	allowed := []string{}
	if secure {
		allowed = append(allowed, "tls_server_name")
	}
	if base == "-sentinel" {
		allowed = append(allowed, "sentinel_password", "sentinel_username")
	}
	for k := range q {
		if !slices.Contains(allowed, k) && len(allowed) == 0 {
			return nil, fmt.Errorf("%s: unknown parameter %q: this scheme takes none", scheme, k)
		} else if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("%s: unknown parameter %q: this scheme takes %s", scheme, k, strings.Join(allowed, ", "))
		}
	}
	var tlsConfig *tls.Config
	if secure {
		// An empty ServerName makes each connection check its own host.
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: q.Get("tls_server_name")}
	}
	segs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	db := func(seg string) (int, error) {
		n, err := strconv.Atoi(seg)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s: database %q is not a number ≥ 0", scheme, seg)
		}
		return n, nil
	}
	switch base {
	case "":
		if len(addrs) != 1 {
			return nil, fmt.Errorf("%s: one host:port; for several use redis-sentinel:// or redis-cluster://", scheme)
		}
		opt := asynq.RedisClientOpt{Network: "tcp", Addr: addrs[0], Username: user, Password: password, TLSConfig: tlsConfig}
		switch len(segs) {
		case 0:
		case 1:
			if opt.DB, err = db(segs[0]); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: the path is the database number only, not %q", scheme, path)
		}
		return opt, nil
	case "-sentinel":
		if len(segs) == 0 || len(segs) > 2 {
			return nil, fmt.Errorf("%s: the path is /master-name[/db], not %q", scheme, "/"+path)
		}
		opt := asynq.RedisFailoverClientOpt{MasterName: segs[0], SentinelAddrs: addrs, Username: user, Password: password,
			SentinelUsername: user, SentinelPassword: password, TLSConfig: tlsConfig}
		if len(segs) == 2 {
			if opt.DB, err = db(segs[1]); err != nil {
				return nil, err
			}
		}
		if q.Has("sentinel_password") {
			opt.SentinelPassword = q.Get("sentinel_password")
		}
		if q.Has("sentinel_username") {
			opt.SentinelUsername = q.Get("sentinel_username")
		}
		return opt, nil
	default: // -cluster
		if len(segs) > 0 {
			return nil, fmt.Errorf("%s: a Redis Cluster has database 0 only: no path, not %q", scheme, "/"+path)
		}
		return asynq.RedisClusterClientOpt{Addrs: addrs, Username: user, Password: password, TLSConfig: tlsConfig}, nil
	}
}

// userinfo decodes "[user]:password" or "user" (percent-encoded).
func userinfo(s string) (user, password string, err error) {
	u, p, hasPassword := strings.Cut(s, ":")
	if user, err = url.PathUnescape(u); err != nil {
		return "", "", errors.New("the user name is not percent-encoded correctly")
	}
	if hasPassword {
		if password, err = url.PathUnescape(p); err != nil {
			return "", "", errors.New("the password is not percent-encoded correctly")
		}
	}
	return user, password, nil
}
