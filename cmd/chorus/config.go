package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/chorushq/chorus/content"
	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/social"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
)

// config is every setting of chorus serve/worker/all. Each comes from a
// flag or, failing that, from its CHORUS_* environment variable.
type config struct {
	Addr       string
	WorkerAddr string // the worker's /healthz, /readyz and /metrics
	Migrate    bool   // run pending migrations at start
	BaseURL    string // empty: http://<listen address>
	DataDir    string
	MongoURI   string
	// Regions place instances' data (CHORUS_REGIONS); DefaultRegion is
	// where new instances go. Empty Regions: one region on MongoURI.
	Regions          []tenant.Region
	DefaultRegion    string
	EmbeddedStore    embeddedmongo.Engine
	MongoDatabase    string
	RedisURL         string
	DevMailbox       bool
	OperatorToken    string
	MetricsToken     string
	TokenKeys        string
	SMTPURL          string
	MailFrom         string
	TrustedProxies   []string
	MaxBodyBytes     int64
	LogLevel         slog.Level
	LogFormat        string
	SignInPerAddress int
	SignInPerIP      int
	BlockedDomains   []string
	Concurrency      int
	DNSResolver      string
	BaseDomain       string
	OIDC             tenant.OIDCProvider
	OIDCPerIP        int
	// Networks' app credentials; a network without them is not served.
	LinkedInID, LinkedInSecret, LinkedInVersion string
	XID, XSecret                                string
	FacebookID, FacebookSecret, FacebookVersion string

	// LinkedInReadEngagement: the LinkedIn app has r_member_social.
	LinkedInReadEngagement bool
	// FacebookBusinessPages: the Meta app has business_management, so
	// Pages owned by a business portfolio can be connected.
	FacebookBusinessPages bool
	// PublishLimits are the publishing token buckets per network:
	// social.DefaultLimits with CHORUS_PUBLISH_LIMITS over them.
	PublishLimits map[string]social.Limits
	// DevNetworkPorts are 127.0.0.1 ports where social network servers (a
	// local Bluesky PDS or Mastodon) may be reached over plain http:
	// development and browser tests only, refused without the dev mailbox.
	DevNetworkPorts []int
	// VAPIDPrivateKey and VAPIDSubject sign push notifications (RFC
	// 8292); without a key, development keeps a generated one in the data
	// dir. DevPushLoopback accepts http push endpoints on loopback (tests
	// and a local push endpoint; needs the dev mailbox).
	VAPIDPrivateKey string
	VAPIDSubject    string
	DevPushLoopback bool
}

// setting describes one config entry for flags, environment and help.
type setting struct {
	flag, env, def, help string
	secret               bool
}

var settings = []setting{
	{"addr", "CHORUS_ADDR", "127.0.0.1:8080", "listen address of the HTTP server", false},
	{"worker-addr", "CHORUS_WORKER_ADDR", "127.0.0.1:9091", "listen address of the worker's /healthz, /readyz and /metrics (chorus worker; chorus all serves them on CHORUS_ADDR)", false},
	{"migrate", "CHORUS_MIGRATE", "on", "on: serve, worker and all run pending migrations at start (once across processes); off: only chorus migrate runs them", false},
	{"base-url", "CHORUS_BASE_URL", "", "public URL used in links and OAuth redirects (default http://<addr>; must be https unless localhost)", false},
	{"data-dir", "CHORUS_DATA_DIR", "./data", "data of the embedded MongoDB-compatible and Redis servers", false},
	{"mongo-uri", "CHORUS_MONGO_URI", "", "MongoDB URI (MongoDB, or FerretDB v2 on PostgreSQL with DocumentDB); empty starts the embedded store under the data dir", true},
	{"regions", "CHORUS_REGIONS", "", "regions an instance's data may be placed in: name=mongodb://… entries separated by spaces or newlines, e.g. \"eu=mongodb://eu-db/ us=mongodb://us-db/\"; needs CHORUS_MONGO_URI (the home database: instances, domains, sign-in, sessions); empty: one region on CHORUS_MONGO_URI or the embedded store (docs/regions.md)", true},
	{"default-region", "CHORUS_DEFAULT_REGION", "", "region where new instances are placed (the only region when CHORUS_REGIONS lists one; default when it is empty)", false},
	{"embedded-store", "CHORUS_EMBEDDED_STORE", "auto", "engine of the embedded store: documentdb (FerretDB v2 on a private PostgreSQL with DocumentDB), sqlite (FerretDB v1, a demo mode) or auto (documentdb when installed, else sqlite)", false},
	{"mongo-database", "CHORUS_MONGO_DATABASE", "chorus", "MongoDB database name", false},
	{"redis-url", "CHORUS_REDIS_URL", "", "Redis URL (redis://, rediss://, redis-socket://, redis-sentinel://, rediss-sentinel://, redis-cluster://, rediss-cluster://); empty: the data dir's redis-server", true},
	{"dev-mailbox", "CHORUS_DEV_MAILBOX", "0", "1 keeps mail in memory, serves it at /api/v1/dev/mail and logs links (development only)", false},
	{"operator-token", "CHORUS_OPERATOR_TOKEN", "", "bearer token of the operator API /ops/v1 (empty: off)", true},
	{"metrics-token", "CHORUS_METRICS_TOKEN", "", "bearer token /metrics asks for (empty: /metrics is open, so keep it off the public network)", true},
	{"token-keys", "CHORUS_TOKEN_KEYS", "", "keyring encrypting social network tokens: id:base64key,… (newest first; openssl rand -base64 32); with the dev mailbox a development key is kept in the data dir", true},
	{"smtp-url", "CHORUS_SMTP_URL", "", "SMTP server: smtp://user:pass@host:587 (STARTTLS), smtps://…:465, ?tls=none for a local catcher", true},
	{"mail-from", "CHORUS_MAIL_FROM", "", "sender address of mails (default no-reply@<base URL host>)", false},
	{"trusted-proxies", "CHORUS_TRUSTED_PROXIES", "", "comma-separated proxy IPs/CIDRs whose X-Forwarded-For is believed (default: none)", false},
	{"max-body-bytes", "CHORUS_MAX_BODY_BYTES", "1048576", "largest request body accepted", false},
	{"log-level", "CHORUS_LOG_LEVEL", "info", "debug, info, warn or error", false},
	{"log-format", "CHORUS_LOG_FORMAT", "json", "json or text", false},
	{"signin-limit-address", "CHORUS_SIGNIN_LIMIT_ADDRESS", "10", "sign-in mails per address per hour", false},
	{"signin-limit-ip", "CHORUS_SIGNIN_LIMIT_IP", "30", "sign-in requests per client IP (IPv6 /64) per hour", false},
	{"blocked-domains", "CHORUS_BLOCKED_DOMAINS", "", "comma-separated extra email domains that may not sign in", false},
	{"concurrency", "CHORUS_WORKER_CONCURRENCY", "10", "tasks the worker runs at once", false},
	{"oidc-issuer", "CHORUS_OIDC_ISSUER", "", "issuer URL of the global OpenID Connect provider (empty: OIDC sign-in off)", false},
	{"oidc-client-id", "CHORUS_OIDC_CLIENT_ID", "", "client ID registered at the OIDC provider", false},
	{"oidc-client-secret", "CHORUS_OIDC_CLIENT_SECRET", "", "client secret registered at the OIDC provider", true},
	{"oidc-limit-ip", "CHORUS_OIDC_LIMIT_IP", "60", "OIDC sign-in starts per client IP (IPv6 /64) per hour", false},
	{"linkedin-client-id", "CHORUS_LINKEDIN_CLIENT_ID", "", "LinkedIn app client ID (with the secret: LinkedIn is served)", false},
	{"linkedin-client-secret", "CHORUS_LINKEDIN_CLIENT_SECRET", "", "LinkedIn app client secret", true},
	{"linkedin-version", "CHORUS_LINKEDIN_VERSION", "", "LinkedIn-Version header (YYYYMM) of the Posts API; default the connector's", false},
	{"linkedin-read-engagement", "CHORUS_LINKEDIN_READ_ENGAGEMENT", "0", "1 when LinkedIn granted the app r_member_social: members are asked for it and their posts' reactions and comments are read", false},
	{"x-client-id", "CHORUS_X_CLIENT_ID", "", "X OAuth 2.0 client ID (with the secret: X is served)", false},
	{"x-client-secret", "CHORUS_X_CLIENT_SECRET", "", "X OAuth 2.0 client secret", true},
	{"facebook-app-id", "CHORUS_FACEBOOK_APP_ID", "", "Meta app ID (with the secret: Facebook Pages are served)", false},
	{"facebook-app-secret", "CHORUS_FACEBOOK_APP_SECRET", "", "Meta app secret", true},
	{"facebook-graph-version", "CHORUS_FACEBOOK_GRAPH_VERSION", "", "Graph API version such as v24.0; default the connector's", false},
	{"facebook-business-pages", "CHORUS_FACEBOOK_BUSINESS_PAGES", "0", "1 when Meta granted the app business_management: members are asked for it, and Pages owned by a business portfolio (which /me/accounts lists only with it) can be connected", false},
	{"base-domain", "CHORUS_BASE_DOMAIN", "", "domain under which instances get login pages (acme.<domain>); empty: none", false},
	{"dev-network-ports", "CHORUS_DEV_NETWORK_PORTS", "", "development and tests only (needs CHORUS_DEV_MAILBOX=1): comma-separated 127.0.0.1 ports where social network servers such as a local Bluesky PDS may be reached over http", false},
	{"publish-limits", "CHORUS_PUBLISH_LIMITS", "", "raise or lower Chorus's publishing limits per network, e.g. x.connection=300/24h,x.instance=3000/24h (network.connection or network.instance = posts/period); default the networks' documented limits", false},
	{"dns-resolver", "CHORUS_DNS_RESOLVER", "", "host:port of the DNS server that checks domain verification records (default: the system's)", false},
	{"vapid-private-key", "CHORUS_VAPID_PRIVATE_KEY", "", "VAPID private key signing push notifications: 32 bytes base64url (npx web-push generate-vapid-keys); with the dev mailbox a development key is kept in the data dir (docs/notifications.md)", true},
	{"vapid-subject", "CHORUS_VAPID_SUBJECT", "", "contact push services may use about the notifications: mailto:ops@example.com or an https URL (default mailto:no-reply@<base URL host>)", false},
	{"dev-push-loopback", "CHORUS_DEV_PUSH_LOOPBACK", "0", "development and tests only (needs CHORUS_DEV_MAILBOX=1): 1 accepts push subscriptions whose endpoint is http on a loopback address (a local push endpoint)", false},
}

// parseConfig reads flags (args) over environment over defaults and
// validates the result with messages that say what to change. cmd is the
// command they are for: serve, worker, all and config check are held to
// productionProblems too, "operator" (the admin subcommands) is not.
func parseConfig(cmd string, args []string, getenv func(string) string, out io.Writer) (config, error) {
	fs := flag.NewFlagSet("chorus "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	vals := map[string]*string{}
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		vals[s.flag] = fs.String(s.flag, def, s.help+" ["+s.env+"]")
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	get := func(name string) string { return strings.TrimSpace(*vals[name]) }

	var errs []error
	bad := func(env, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", env, fmt.Sprintf(format, args...)))
	}
	atoi := func(name, env string, min int) int {
		n, err := strconv.Atoi(get(name))
		if err != nil || n < min {
			bad(env, "must be a whole number ≥ %d, not %q", min, get(name))
		}
		return n
	}
	c := config{
		Addr:             get("addr"),
		WorkerAddr:       get("worker-addr"),
		BaseURL:          get("base-url"),
		DataDir:          get("data-dir"),
		MongoURI:         get("mongo-uri"),
		MongoDatabase:    get("mongo-database"),
		RedisURL:         get("redis-url"),
		OperatorToken:    get("operator-token"),
		MetricsToken:     get("metrics-token"),
		TokenKeys:        get("token-keys"),
		SMTPURL:          get("smtp-url"),
		MailFrom:         get("mail-from"),
		TrustedProxies:   splitList(get("trusted-proxies")),
		LogFormat:        get("log-format"),
		SignInPerAddress: atoi("signin-limit-address", "CHORUS_SIGNIN_LIMIT_ADDRESS", 0),
		SignInPerIP:      atoi("signin-limit-ip", "CHORUS_SIGNIN_LIMIT_IP", 0),
		BlockedDomains:   splitList(get("blocked-domains")),
		Concurrency:      atoi("concurrency", "CHORUS_WORKER_CONCURRENCY", 1),
		DNSResolver:      get("dns-resolver"),
		BaseDomain:       strings.ToLower(strings.TrimSuffix(get("base-domain"), ".")),
		OIDC:             tenant.OIDCProvider{Issuer: get("oidc-issuer"), ClientID: get("oidc-client-id"), ClientSecret: get("oidc-client-secret")},
		OIDCPerIP:        atoi("oidc-limit-ip", "CHORUS_OIDC_LIMIT_IP", 0),
		LinkedInID:       get("linkedin-client-id"), LinkedInSecret: get("linkedin-client-secret"), LinkedInVersion: get("linkedin-version"),
		XID: get("x-client-id"), XSecret: get("x-client-secret"),
		FacebookID: get("facebook-app-id"), FacebookSecret: get("facebook-app-secret"), FacebookVersion: get("facebook-graph-version"),
		VAPIDPrivateKey: get("vapid-private-key"), VAPIDSubject: get("vapid-subject"),
	}
	c.MaxBodyBytes = int64(atoi("max-body-bytes", "CHORUS_MAX_BODY_BYTES", 1024))

	for _, sw := range []struct {
		name, env string
		to        *bool
	}{{"linkedin-read-engagement", "CHORUS_LINKEDIN_READ_ENGAGEMENT", &c.LinkedInReadEngagement},
		{"facebook-business-pages", "CHORUS_FACEBOOK_BUSINESS_PAGES", &c.FacebookBusinessPages},
		{"dev-push-loopback", "CHORUS_DEV_PUSH_LOOPBACK", &c.DevPushLoopback}} {
		switch v := get(sw.name); v {
		case "1", "true":
			*sw.to = true
		case "0", "false", "":
		default:
			bad(sw.env, "must be 1 or 0, not %q", v)
		}
	}
	switch v := get("dev-mailbox"); v {
	case "1", "true":
		c.DevMailbox = true
	case "0", "false", "":
	default:
		bad("CHORUS_DEV_MAILBOX", "must be 1 or 0, not %q", v)
	}
	for _, p := range splitList(get("dev-network-ports")) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			bad("CHORUS_DEV_NETWORK_PORTS", "%q is not a port number", p)
			continue
		}
		c.DevNetworkPorts = append(c.DevNetworkPorts, n)
	}
	if c.DevPushLoopback && !c.DevMailbox {
		bad("CHORUS_DEV_PUSH_LOOPBACK", "is for development only: it needs CHORUS_DEV_MAILBOX=1")
	}
	if c.VAPIDPrivateKey != "" {
		if _, err := content.ParseVAPIDKeys(c.VAPIDPrivateKey, "mailto:check@example.com"); err != nil {
			bad("CHORUS_VAPID_PRIVATE_KEY", "%v", err)
		}
	}
	if v := c.VAPIDSubject; v != "" && !strings.HasPrefix(v, "mailto:") && !strings.HasPrefix(v, "https://") {
		bad("CHORUS_VAPID_SUBJECT", "must be a mailto: or https: URI, not %q", v)
	}
	if len(c.DevNetworkPorts) > 0 && !c.DevMailbox {
		bad("CHORUS_DEV_NETWORK_PORTS", "is for development only: it needs CHORUS_DEV_MAILBOX=1")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("CHORUS_ADDR", "must be host:port such as 127.0.0.1:8080 (%v)", err)
	}
	if _, _, err := net.SplitHostPort(c.WorkerAddr); err != nil {
		bad("CHORUS_WORKER_ADDR", "must be host:port such as 127.0.0.1:9091 (%v)", err)
	}
	switch v := get("migrate"); v {
	case "on", "1", "true":
		c.Migrate = true
	case "off", "0", "false":
	default:
		bad("CHORUS_MIGRATE", "must be on or off, not %q", v)
	}
	if c.BaseURL != "" {
		if err := checkBaseURL(c.BaseURL); err != nil {
			bad("CHORUS_BASE_URL", "%v", err)
		}
	}
	if c.DevMailbox && cmd != "worker" && !devMailboxSafe(c.Addr, c.BaseURL) {
		bad("CHORUS_DEV_MAILBOX", "hands out every sign-in link to whoever asks: it runs only on a loopback CHORUS_ADDR (127.0.0.1, ::1, localhost) with a plain-http CHORUS_BASE_URL; use CHORUS_SMTP_URL here")
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		bad("CHORUS_MONGO_URI", "must start with mongodb:// or mongodb+srv://")
	}
	if err := c.parseRegions(get("regions"), get("default-region")); err != nil {
		errs = append(errs, err)
	}
	for _, pair := range [][3]string{{c.LinkedInID, c.LinkedInSecret, "CHORUS_LINKEDIN_CLIENT_ID"}, {c.XID, c.XSecret, "CHORUS_X_CLIENT_ID"}, {c.FacebookID, c.FacebookSecret, "CHORUS_FACEBOOK_APP_ID"}} {
		if (pair[0] == "") != (pair[1] == "") {
			bad(pair[2], "set the ID and the secret together, or neither")
		}
	}
	if c.TokenKeys != "" {
		if _, err := social.ParseKeyring(c.TokenKeys); err != nil {
			bad("CHORUS_TOKEN_KEYS", "%v", err)
		}
	}
	if limits, err := social.ParseLimits(get("publish-limits"), social.DefaultLimits); err != nil {
		bad("CHORUS_PUBLISH_LIMITS", "%v", err)
	} else {
		c.PublishLimits = limits
	}
	if c.DNSResolver != "" {
		if _, _, err := net.SplitHostPort(c.DNSResolver); err != nil {
			bad("CHORUS_DNS_RESOLVER", "must be host:port such as 127.0.0.1:53 (%v)", err)
		}
	}
	if o := c.OIDC; (o.Issuer == "") != (o.ClientID == "") || (o.Issuer == "") != (o.ClientSecret == "") {
		bad("CHORUS_OIDC_ISSUER", "set CHORUS_OIDC_ISSUER, CHORUS_OIDC_CLIENT_ID and CHORUS_OIDC_CLIENT_SECRET together, or none")
	} else if o.Issuer != "" {
		if u, err := url.Parse(o.Issuer); err != nil || u.Scheme != "https" && !(u.Scheme == "http" && tenant.IsLoopbackHost(u.Hostname())) {
			bad("CHORUS_OIDC_ISSUER", "must be an https URL (http only on localhost)")
		}
	}
	if c.MongoDatabase == "" {
		bad("CHORUS_MONGO_DATABASE", "must not be empty")
	}
	if e, err := embeddedmongo.ParseEngine(get("embedded-store")); err != nil {
		bad("CHORUS_EMBEDDED_STORE", "must be auto, documentdb or sqlite, not %q", get("embedded-store"))
	} else {
		c.EmbeddedStore = e
	}
	if c.RedisURL != "" {
		if _, err := jobs.ParseRedisURL(c.RedisURL); err != nil {
			bad("CHORUS_REDIS_URL", "%v", err)
		}
	}
	if c.DataDir == "" && (c.MongoURI == "" || c.RedisURL == "") {
		bad("CHORUS_DATA_DIR", "must be set when an embedded server is used")
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("CHORUS_TRUSTED_PROXIES", "%q is neither an IP address nor a CIDR prefix", p)
			}
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("log-level"))); err != nil {
		bad("CHORUS_LOG_LEVEL", "must be debug, info, warn or error")
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		bad("CHORUS_LOG_FORMAT", "must be json or text")
	}
	for _, d := range c.BlockedDomains {
		if _, err := tenant.NormalizeDomain(d); err != nil {
			bad("CHORUS_BLOCKED_DOMAINS", "%q: %v", d, err)
		}
	}
	// The operator's commands (domain, privacy, keys …) send no mail and
	// write no links: they need the store's settings only.
	if cmd != "operator" {
		errs = append(errs, c.productionProblems()...)
	}
	return c, errors.Join(errs...)
}

// productionProblems returns what serve, worker and all need to run for
// real people and lack, one error per setting, each naming it: they are
// checked with the rest of the configuration, before anything connects.
// Development (CHORUS_DEV_MAILBOX=1, as make run sets) keeps a generated
// token key in the data dir and shows mail in the app instead.
//
// Every process gets the same checks: the worker stores tokens (refreshes),
// sends mail (digests, notices, exports) and writes links as much as the
// HTTP server does.
func (c config) productionProblems() []error {
	var errs []error
	if c.TokenKeys == "" && !c.DevMailbox {
		errs = append(errs, errors.New("CHORUS_TOKEN_KEYS: is not set: set a keyring such as k1:$(openssl rand -base64 32) "+
			"to encrypt social network tokens, the same for serve and worker, and keep a copy (tokens are unreadable without it)"))
	}
	if c.VAPIDPrivateKey == "" && !c.DevMailbox {
		errs = append(errs, errors.New("CHORUS_VAPID_PRIVATE_KEY: is not set: set the VAPID key that signs push notifications "+
			"(npx web-push generate-vapid-keys prints one; keep it: browsers' subscriptions are bound to its public key), "+
			"the same for serve and worker, with CHORUS_VAPID_SUBJECT (mailto:ops@example.com)"))
	}
	if c.SMTPURL == "" && !c.DevMailbox {
		errs = append(errs, errors.New("CHORUS_SMTP_URL: set an SMTP server, or CHORUS_DEV_MAILBOX=1 for development: "+
			"sign-in links and the worker's mails must reach people"))
	}
	// Without a base URL, links point at the listen address: right only
	// on the machine itself. (A base URL given is checked for https above.)
	if host, _, err := net.SplitHostPort(c.Addr); err == nil && c.BaseURL == "" && !tenant.IsLoopbackHost(host) {
		errs = append(errs, fmt.Errorf("CHORUS_BASE_URL: is not set while CHORUS_ADDR %s is not a loopback address: "+
			"set the public https URL such as https://chorus.example.com (links in mails, tracked links and OAuth redirects use it)", c.Addr))
	}
	return errs
}

// runConfig is "chorus config check [flags]": the settings serve, worker
// and all would run with, secrets hidden, then every problem; an error
// (exit 1) when there is any.
func runConfig(args []string, getenv func(string) string, out io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(out, "usage: chorus config check [flags of chorus serve]")
		return errUsage
	}
	c, err := parseConfig("config check", args[1:], getenv, out)
	var problems []error
	if err != nil {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			problems = j.Unwrap()
		} else {
			// A flag that does not parse: no settings to show.
			return err
		}
	}
	for _, l := range c.masked() {
		fmt.Fprintln(out, l)
	}
	fmt.Fprintln(out)
	if len(problems) == 0 {
		fmt.Fprintln(out, "no problems: serve, worker and all start with these settings")
		return nil
	}
	n := fmt.Sprintf("%d problems", len(problems))
	if len(problems) == 1 {
		n = "1 problem"
	}
	fmt.Fprintln(out, n+":")
	for _, p := range problems {
		fmt.Fprintln(out, "  "+p.Error())
	}
	return fmt.Errorf("configuration: %s", n)
}

// devMailboxSafe reports whether the dev mailbox may run: the server
// listens on loopback only and the base URL is not https (a deployment).
func devMailboxSafe(addr, baseURL string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !tenant.IsLoopbackHost(host) {
		return false
	}
	u, err := url.Parse(baseURL)
	return err == nil && u.Scheme != "https"
}

// checkBaseURL accepts an absolute http(s) URL with no query or fragment;
// plain http only for localhost.
func checkBaseURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return fmt.Errorf("must be an absolute http(s) URL such as https://chorus.example.com")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("must not have a query, fragment or user info")
	case u.Scheme == "http" && !tenant.IsLoopbackHost(u.Hostname()):
		return fmt.Errorf("must use https unless the host is localhost (session cookies are Secure)")
	}
	return nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// networkOptions returns the outbound rules for social networks: https on
// 443, plus the development ports on loopback over http when set.
func (c config) networkOptions(mailer tenant.Mailer) networkOptions {
	o := networkOptions{cfg: c, mailer: mailer}
	if len(c.DevNetworkPorts) > 0 {
		o.allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		o.ports = append([]int{443}, c.DevNetworkPorts...)
		o.allowHTTP = true
	}
	return o
}

// masked returns the settings as printable lines, secrets hidden.
func (c config) masked() []string {
	show := func(secret bool, v string) string {
		switch {
		case v == "":
			return "(unset)"
		case !secret:
			return v
		}
		if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
			return u.Redacted()
		}
		return "(set, hidden)"
	}
	vals := map[string]string{
		"CHORUS_ADDR": c.Addr, "CHORUS_WORKER_ADDR": c.WorkerAddr, "CHORUS_MIGRATE": onOff(c.Migrate), "CHORUS_BASE_URL": c.BaseURL, "CHORUS_DATA_DIR": c.DataDir,
		"CHORUS_MONGO_URI": c.MongoURI, "CHORUS_REGIONS": "", "CHORUS_DEFAULT_REGION": c.DefaultRegion, "CHORUS_EMBEDDED_STORE": string(c.EmbeddedStore), "CHORUS_MONGO_DATABASE": c.MongoDatabase, "CHORUS_REDIS_URL": c.RedisURL,
		"CHORUS_DEV_MAILBOX": strconv.FormatBool(c.DevMailbox), "CHORUS_OPERATOR_TOKEN": c.OperatorToken, "CHORUS_METRICS_TOKEN": c.MetricsToken,
		"CHORUS_TOKEN_KEYS": c.TokenKeys, "CHORUS_SMTP_URL": c.SMTPURL, "CHORUS_MAIL_FROM": c.MailFrom,
		"CHORUS_TRUSTED_PROXIES": strings.Join(c.TrustedProxies, ","), "CHORUS_MAX_BODY_BYTES": strconv.FormatInt(c.MaxBodyBytes, 10),
		"CHORUS_LOG_LEVEL": c.LogLevel.String(), "CHORUS_LOG_FORMAT": c.LogFormat,
		"CHORUS_SIGNIN_LIMIT_ADDRESS": strconv.Itoa(c.SignInPerAddress), "CHORUS_SIGNIN_LIMIT_IP": strconv.Itoa(c.SignInPerIP),
		"CHORUS_BLOCKED_DOMAINS": strings.Join(c.BlockedDomains, ","), "CHORUS_WORKER_CONCURRENCY": strconv.Itoa(c.Concurrency),
		"CHORUS_DNS_RESOLVER": c.DNSResolver, "CHORUS_DEV_NETWORK_PORTS": joinInts(c.DevNetworkPorts), "CHORUS_BASE_DOMAIN": c.BaseDomain,
		"CHORUS_OIDC_ISSUER": c.OIDC.Issuer, "CHORUS_OIDC_CLIENT_ID": c.OIDC.ClientID,
		"CHORUS_OIDC_CLIENT_SECRET": c.OIDC.ClientSecret, "CHORUS_OIDC_LIMIT_IP": strconv.Itoa(c.OIDCPerIP),
		"CHORUS_LINKEDIN_CLIENT_ID": c.LinkedInID, "CHORUS_LINKEDIN_CLIENT_SECRET": c.LinkedInSecret, "CHORUS_LINKEDIN_VERSION": c.LinkedInVersion,
		"CHORUS_LINKEDIN_READ_ENGAGEMENT": strconv.FormatBool(c.LinkedInReadEngagement), "CHORUS_X_CLIENT_ID": c.XID, "CHORUS_X_CLIENT_SECRET": c.XSecret,
		"CHORUS_FACEBOOK_APP_ID": c.FacebookID, "CHORUS_FACEBOOK_APP_SECRET": c.FacebookSecret, "CHORUS_FACEBOOK_GRAPH_VERSION": c.FacebookVersion,
		"CHORUS_FACEBOOK_BUSINESS_PAGES": strconv.FormatBool(c.FacebookBusinessPages),
		"CHORUS_VAPID_PRIVATE_KEY":       c.VAPIDPrivateKey, "CHORUS_VAPID_SUBJECT": c.VAPIDSubject,
		"CHORUS_DEV_PUSH_LOOPBACK": strconv.FormatBool(c.DevPushLoopback),
	}
	lines := make([]string, 0, len(settings))
	for _, s := range settings {
		v := show(s.secret, vals[s.env])
		if s.env == "CHORUS_REGIONS" && len(c.Regions) > 0 {
			parts := make([]string, len(c.Regions))
			for i, r := range c.Regions {
				parts[i] = r.Name + "=" + show(true, r.URI)
			}
			v = strings.Join(parts, " ")
		}
		lines = append(lines, s.env+"="+v)
	}
	return lines
}

// parseRegions reads CHORUS_REGIONS and CHORUS_DEFAULT_REGION into c,
// returning one line per problem.
func (c *config) parseRegions(list, def string) error {
	regions, err := tenant.ParseRegions(list)
	if err != nil {
		return fmt.Errorf("CHORUS_REGIONS: %v", err)
	}
	c.Regions, c.DefaultRegion = regions, def
	names := make([]string, len(regions))
	for i, r := range regions {
		names[i] = r.Name
	}
	switch {
	case len(regions) > 0 && c.MongoURI == "":
		return errors.New("CHORUS_REGIONS: needs CHORUS_MONGO_URI, the home database of instances, domains, sign-in and sessions: the embedded store is one region (unset CHORUS_REGIONS, or run MongoDB)")
	case def != "" && !tenant.ValidRegionName(def):
		return fmt.Errorf("CHORUS_DEFAULT_REGION: %q is not a region name (1 to 32 lower-case letters, digits and -, starting with a letter)", def)
	case len(regions) > 1 && def == "":
		return fmt.Errorf("CHORUS_DEFAULT_REGION: must name where new instances go, one of %s", strings.Join(names, ", "))
	case len(regions) > 0 && def != "" && !slices.Contains(names, def):
		return fmt.Errorf("CHORUS_DEFAULT_REGION: %s is not in CHORUS_REGIONS (%s)", def, strings.Join(names, ", "))
	}
	seen := map[string]string{}
	for _, r := range regions {
		if other, dup := seen[r.URI]; dup {
			return fmt.Errorf("CHORUS_REGIONS: %s and %s name the same MongoDB URI: a region is a deployment of its own", other, r.Name)
		}
		seen[r.URI] = r.Name
	}
	return nil
}

// storeConfig is the store's configuration: uri is the home database's
// server (CHORUS_MONGO_URI or the embedded store's).
func (c config) storeConfig(uri string, log *slog.Logger) tenant.StoreConfig {
	return tenant.StoreConfig{URI: uri, Database: c.MongoDatabase, Kinds: storeKinds(), Log: log, Regions: c.Regions, DefaultRegion: c.DefaultRegion}
}

// resolver returns the DNS resolver for verification records.
func (c config) resolver() *net.Resolver {
	if c.DNSResolver == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, c.DNSResolver)
	}}
}
