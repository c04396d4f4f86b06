package main

// TestHotQueriesUseIndexes records every command the hot paths send (a
// MongoDB wire protocol proxy between the store and the server), then
// asks the server to explain each query among them and fails on a full
// collection scan: a COLLSCAN in MongoDB's winning plan, a Seq Scan in
// the PostgreSQL plan that FerretDB v2 (DocumentDB) returns. New queries
// are covered as soon as a hot path sends them.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"

	"github.com/hibiken/asynq"

	"github.com/chorushq/chorus/jobs"
	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/tenant/tenanttest"
)

// boundedKinds are tenant kinds whose size configuration bounds (a
// document per supported network, per topic, per OAuth app): reading one
// whole is reading a page.
var boundedKinds = map[string]string{
	"networks":   "one document per supported network",
	"topics":     "the instance's topic list, set by its admins",
	"groups":     "the instance's group list (at most 200), set by its admins and cached per process",
	"oauth_apps": "one document per network server the instance uses",
	// The periodic jobs visit every instance and the digest every member:
	// these walks read each document once whatever the history, and their
	// size is the number of companies and of employees.
	"instances": "one document per company instance, each visited by the periodic jobs",
	"members":   "one document per employee, walked in pages by the digest and counted by the analytics summary (adoption)",
}

func TestHotQueriesUseIndexes(t *testing.T) {
	uri, _ := tenanttest.Mongo(t)
	engine, err := storeEngine(t.Context(), uri)
	if err != nil {
		t.Fatal(err)
	}
	if engine == engineFerretV1 {
		t.Skip("the server is FerretDB v1 (SQLite): its explain is not meaningful, since it pushes only {_id: …} filters down " +
			"and every other query scans its collection. This test runs on MongoDB and on FerretDB v2 (DocumentDB): point CHORUS_TEST_MONGO_URI at one")
	}
	rec := startWireRecorder(t, uri)
	a := newTestAppVia(t, map[string]string{"CHORUS_SIGNIN_LIMIT_IP": "1000000"}, nil, nil, rec.uri)
	// Enough history that a planner prefers an index where one serves.
	e := seedScale(t, a, scaleSize{name: "explain", members: 3, posts: 500, shares: 2000, clicks: 5000}, mrand.New(mrand.NewPCG(3, 4)))

	// A group (an admin's action, not a hot path), so the analytics by
	// group have a line to add up.
	if res := e.admin.do("POST", "/api/v1/groups", map[string]any{"name": "Explained",
		"rules": []map[string]any{{"attribute": "department", "values": []string{"x"}}}}); res.status != http.StatusCreated {
		t.Fatalf("new group: %d %s", res.status, res.body)
	}
	explainCampaign(t, e)
	rec.record(true)
	hotWalk(t, e)
	rec.record(false)

	queries := explainable(rec.commands(), a.mongoDB)
	if len(queries) == 0 {
		t.Fatal("the walk through the hot paths sent no query")
	}
	c, db := rawMongo(t, a)
	var full []string
	for _, q := range queries {
		if q.manyByIDs && engine == engineFerretV2 {
			full = append(full, fmt.Sprintf("%s (sent by %s): DocumentDB scans the collection for a write of many documents by {_id: {$in: …}}; "+
				"send keyed writes (tenant.Collection.UpdateByID)", q.shape, q.origin))
			continue
		}
		cmd := q.cmd
		if q.write != nil && engine == engineMongoDB {
			cmd = q.write
		}
		var res bson.Raw
		err := c.Database(db).RunCommand(t.Context(), bson.D{{Key: "explain", Value: cmd}, {Key: "verbosity", Value: "queryPlanner"}}).Decode(&res)
		if err != nil {
			t.Errorf("explain %s: %v", q.shape, err)
			continue
		}
		scans, err := tenanttest.FullScans(res)
		if err != nil {
			t.Errorf("explain %s: %v\n%s", q.shape, err, res)
			continue
		}
		if len(scans) == 0 {
			continue
		}
		if why, ok := boundedKinds[kindOf(q.coll)]; ok {
			t.Logf("full scan of a bounded collection (%s): %s", why, q.shape)
			continue
		}
		full = append(full, fmt.Sprintf("%s (sent by %s): %s", q.shape, q.origin, strings.Join(scans, ", ")))
	}
	t.Logf("%d distinct queries explained on %s", len(queries), engine)
	if len(full) > 0 {
		slices.Sort(full)
		t.Errorf("%d hot queries scan a whole collection: give each an index (tenant.Kind.Indexes) or bound it:\n%s", len(full), strings.Join(full, "\n"))
	}
}

// hotWalk goes through the hot paths as members, curators, analysts and
// the worker do: feed, composer, share, publish, click flush, analytics,
// /me, reconcile and the periodic jobs.
func hotWalk(t *testing.T, e *scaleEnv) {
	t.Helper()
	a, m := e.a, e.members[0]
	ok := func(res response, what string) response {
		t.Helper()
		if res.status >= 300 {
			t.Fatalf("%s: %d %s", what, res.status, res.body)
		}
		return res
	}
	ok(m.do("GET", "/api/v1/me", nil), "/me")
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}
	ok(m.do("GET", "/api/v1/content?limit=5", nil), "feed").json(t, &page)
	if page.NextCursor != nil {
		ok(m.do("GET", "/api/v1/content?limit=5&cursor="+url.QueryEscape(*page.NextCursor), nil), "feed, second page")
	}
	post := page.Items[0].ID
	ok(m.do("GET", "/api/v1/content/"+post, nil), "composer: the post")
	ok(m.do("GET", "/api/v1/connections", nil), "composer: connections")
	ok(m.do("GET", "/api/v1/networks", nil), "composer: networks")
	ok(e.admin.do("POST", "/api/v1/content", map[string]any{"url": a.pages.url("/explain?ref=site"), "title": "Explained"}), "curator: new post")
	// Campaigns (set up by explainCampaign): the feed's strip and filter.
	var active struct{ Items []struct{ ID string } }
	ok(m.do("GET", "/api/v1/campaigns/active", nil), "feed: running campaigns").json(t, &active)
	if len(active.Items) != 1 {
		t.Fatalf("running campaigns: %+v, want explainCampaign's", active.Items)
	}
	camp := active.Items[0]
	ok(m.do("GET", "/api/v1/content?limit=5&campaign="+camp.ID, nil), "feed of a campaign")
	var out struct{ Items []shareDoc }
	ok(m.do("POST", "/api/v1/content/"+post+"/shares", map[string]any{"connections": []string{e.conns[0]}}, "Idempotency-Key", "explain-1"), "share").json(t, &out)
	runPublishTasks(t, a)
	ok(m.do("GET", "/api/v1/shares", nil), "my shares")
	ok(m.do("GET", "/api/v1/shares/"+out.Items[0].ID, nil), "one share")
	counted := clicksCounted(a)
	u, _ := url.Parse(out.Items[0].TrackedURL)
	visitor := a.client(t)
	for _, path := range []string{u.Path, "/r/" + e.codes[0], "/r/" + e.codes[1]} {
		if res := visitor.do("GET", path, nil, "User-Agent", "Mozilla/5.0"); res.status != http.StatusFound {
			t.Fatalf("GET %s: %d", path, res.status)
		}
	}
	if err := waitCounted(a, counted+3, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	today := a.clock.Now().UTC()
	period := "from=" + today.AddDate(0, 0, -29).Format(time.DateOnly) + "&to=" + today.Format(time.DateOnly)
	for _, p := range []string{"summary?", "timeseries?metric=clicks&", "content?", "members?", "networks?", "groups?"} {
		ok(e.admin.do("GET", "/api/v1/analytics/"+p+period, nil), "analytics "+p)
	}
	// A year reads whole months from the monthly totals, and a period
	// long past the content table's daily totals.
	year := "from=" + today.AddDate(-1, 0, 1).Format(time.DateOnly) + "&to=" + today.Format(time.DateOnly)
	past := "from=" + today.AddDate(0, -3, 0).Format(time.DateOnly) + "&to=" + today.AddDate(0, -1, 0).Format(time.DateOnly)
	for _, p := range []string{"summary?" + year, "content?" + year, "members?" + year, "networks?" + year, "content?" + past} {
		ok(e.admin.do("GET", "/api/v1/analytics/"+p, nil), "analytics "+p)
	}
	ok(m.do("GET", "/api/v1/analytics/me?"+period, nil), "my analytics")
	ok(e.admin.do("GET", "/api/v1/campaigns?limit=5", nil), "campaigns")
	ok(e.admin.do("GET", "/api/v1/campaigns/"+camp.ID+"/progress", nil), "campaign progress")
	w, err := jobs.NewWorker(jobs.Config{Store: a.store, Content: a.content, Social: a.social, Now: a.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range []*asynq.Task{task.Reconcile(), task.RefreshEngagement(), task.SweepExpired(), task.SweepRetention(), task.WarnExpiring()} {
		if err := w.Handler().ProcessTask(t.Context(), tk); err != nil {
			t.Fatalf("%s: %v", tk.Type(), err)
		}
	}
}

// explainCampaign gives the walk a running campaign holding the feed's
// newest post. Curators create campaigns now and then, not on a hot
// path: this is not recorded.
func explainCampaign(t *testing.T, e *scaleEnv) {
	t.Helper()
	now := e.a.clock.Now().UTC()
	var camp struct{ ID string }
	res := e.admin.do("POST", "/api/v1/campaigns", map[string]any{"name": "Explained", "start": now.Add(-time.Hour).Format(time.RFC3339),
		"end": now.Add(48 * time.Hour).Format(time.RFC3339), "goal": map[string]any{"metric": "clicks", "target": 10}})
	if res.status != http.StatusCreated {
		t.Fatalf("campaign: %d %s", res.status, res.body)
	}
	res.json(t, &camp)
	var page struct{ Items []struct{ ID string } }
	e.admin.do("GET", "/api/v1/content?limit=1", nil).json(t, &page)
	if res := e.admin.do("PATCH", "/api/v1/content/"+page.Items[0].ID, map[string]any{"campaign_id": camp.ID}); res.status != http.StatusOK {
		t.Fatalf("post into the campaign: %d %s", res.status, res.body)
	}
}

// hotQuery is a query to explain: a find, aggregate or count command.
type hotQuery struct {
	cmd    bson.D
	coll   string
	shape  string // the command with its values replaced by their types
	origin string // the command that sent it (find, update…)
	// write is an update's or delete's own command with its one
	// statement: MongoDB explains it as it is (FerretDB v2 explains no
	// write, so cmd is its filter as a find).
	write bson.D
	// manyByIDs: the write changes every document whose _id is in a
	// list. DocumentDB plans it unlike the find of the same filter: it
	// scans the collection (docs/mongo-subset.md), which no explain of
	// FerretDB v2 shows.
	manyByIDs bool
}

// explainable turns recorded commands against db into the distinct
// queries they make: finds, aggregates and counts as they are; the query
// parts of updates, deletes, findAndModify and distinct as finds (which
// is how FerretDB v2 can explain them), updates and deletes also with
// their own command (MongoDB explains those).
func explainable(cmds []bson.Raw, db string) []hotQuery {
	seen := map[string]bool{}
	var out []hotQuery
	add := func(origin, coll string, cmd bson.D, write ...hotQuery) {
		q := hotQuery{cmd: cmd, coll: coll, origin: origin}
		if len(write) > 0 {
			q.write, q.manyByIDs = write[0].write, write[0].manyByIDs
		}
		q.shape = shapeString(cmd, coll)
		if q.manyByIDs {
			q.shape += " (many by _id)"
		}
		if !seen[q.shape] {
			seen[q.shape] = true
			out = append(out, q)
		}
	}
	for _, raw := range cmds {
		if d, _ := raw.Lookup("$db").StringValueOK(); d != db {
			continue
		}
		elems, err := raw.Elements()
		if err != nil || len(elems) == 0 {
			continue
		}
		name := elems[0].Key()
		coll, _ := elems[0].Value().StringValueOK()
		keep := func(keys ...string) bson.D {
			d := bson.D{{Key: name, Value: coll}}
			for _, k := range keys {
				if v, err := raw.LookupErr(k); err == nil {
					d = append(d, bson.E{Key: k, Value: v})
				}
			}
			return d
		}
		find := func(filter any, rest ...bson.E) bson.D {
			return append(bson.D{{Key: "find", Value: coll}, {Key: "filter", Value: filter}}, rest...)
		}
		switch name {
		case "find":
			add(name, coll, keep("filter", "sort", "projection", "limit", "skip", "hint"))
		case "aggregate":
			add(name, coll, keep("pipeline", "cursor", "hint"))
		case "count":
			add(name, coll, keep("query", "limit", "skip", "hint"))
		case "distinct":
			add(name, coll, find(raw.Lookup("query")))
		case "findAndModify":
			q := find(raw.Lookup("query"), bson.E{Key: "limit", Value: 1})
			if s, err := raw.LookupErr("sort"); err == nil {
				q = append(q, bson.E{Key: "sort", Value: s})
			}
			add(name, coll, q)
		case "update", "delete":
			list := "updates"
			if name == "delete" {
				list = "deletes"
			}
			stmts, _ := raw.Lookup(list).Array().Values()
			for _, s := range stmts {
				doc := s.Document()
				q := find(doc.Lookup("q"))
				multi, _ := doc.Lookup("multi").BooleanOK()
				limit, ok := doc.Lookup("limit").AsInt64OK()
				one := (name == "update" && !multi) || (ok && limit == 1)
				if one {
					q = append(q, bson.E{Key: "limit", Value: 1})
				}
				w := hotQuery{write: bson.D{{Key: name, Value: coll}, {Key: list, Value: bson.A{doc}}}}
				if ids, ok := doc.Lookup("q", "_id").DocumentOK(); ok && !one {
					_, in := ids.Lookup("$in").ArrayOK()
					w.manyByIDs = in
				}
				add(name, coll, q, w)
			}
		}
	}
	return out
}

// shapeString is cmd with every leaf value replaced by its BSON type and
// per-instance collection names by their kind: two queries of one shape
// plan alike.
func shapeString(cmd bson.D, coll string) string {
	raw, err := bson.Marshal(cmd)
	if err != nil {
		return coll
	}
	var b strings.Builder
	writeShape(&b, bson.RawValue{Type: bson.TypeEmbeddedDocument, Value: raw}, true)
	return strings.Replace(b.String(), `"`+coll+`"`, `"`+kindOf(coll)+`"`, 1)
}

func writeShape(b *strings.Builder, v bson.RawValue, top bool) {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		elems, _ := v.Document().Elements()
		b.WriteString("{")
		for i, e := range elems {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.Key() + ": ")
			if top && i == 0 {
				fmt.Fprintf(b, "%q", e.Value().StringValue())
				continue
			}
			writeShape(b, e.Value(), false)
		}
		b.WriteString("}")
	case bson.TypeArray:
		vals, _ := v.Array().Values()
		b.WriteString("[")
		for i, x := range vals {
			if i > 0 {
				b.WriteString(", ")
			}
			if i == 2 { // a long $in list is one shape whatever its length
				b.WriteString("…")
				break
			}
			writeShape(b, x, false)
		}
		b.WriteString("]")
	default:
		b.WriteString(v.Type.String())
	}
}

// kindOf is a collection's kind: t_<instance>_<kind> → <kind>; a global
// collection's name as it is.
func kindOf(coll string) string {
	if rest, ok := strings.CutPrefix(coll, "t_"); ok {
		if _, kind, ok := strings.Cut(rest, "_"); ok {
			return kind
		}
	}
	return coll
}

// Engines the tests tell apart.
const (
	engineMongoDB  = "MongoDB"
	engineFerretV1 = "FerretDB v1"
	engineFerretV2 = "FerretDB v2"
)

// storeEngine asks the server which it is. FerretDB v1 answers buildInfo
// with a ferretdbVersion string, v2 with a ferretdb document; the version
// strings themselves say "unknown" when FerretDB runs embedded.
func storeEngine(ctx context.Context, uri string) (string, error) {
	c, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(1))
	if err != nil {
		return "", err
	}
	defer c.Disconnect(context.WithoutCancel(ctx))
	var info bson.Raw
	if err := c.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return "", fmt.Errorf("buildInfo: %w", err)
	}
	return engineOf(info), nil
}

// engineOf tells the engine from a buildInfo answer.
func engineOf(buildInfo bson.Raw) string {
	switch {
	case buildInfo.Lookup("ferretdbVersion").Type == bson.TypeString:
		return engineFerretV1
	case buildInfo.Lookup("ferretdb").Type == bson.TypeEmbeddedDocument:
		return engineFerretV2
	}
	return engineMongoDB
}

// wireRecorder is a MongoDB wire protocol proxy on 127.0.0.1:0: it
// forwards every byte both ways and, while recording, keeps each command
// (OP_MSG) the client sends, its document sequences (an update's updates)
// added as arrays.
type wireRecorder struct {
	ln   net.Listener
	dial func() (net.Conn, error)
	// uri returns the URI of the server behind the proxy rewritten to the
	// proxy.
	uri func(string) string

	mu   sync.Mutex
	on   bool
	cmds []bson.Raw
}

// startWireRecorder starts a recorder in front of the server of uri
// (TCP or unix socket), stopped when the test ends.
func startWireRecorder(t *testing.T, uri string) *wireRecorder {
	t.Helper()
	cs, err := connstring.ParseAndValidate(uri)
	if err != nil {
		t.Fatal(err)
	}
	host := cs.Hosts[0]
	network := "tcp"
	if strings.HasSuffix(host, ".sock") {
		network = "unix"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &wireRecorder{ln: ln, dial: func() (net.Conn, error) { return net.Dial(network, host) }}
	r.uri = func(u string) string { return proxiedURI(u, ln.Addr().String()) }
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := r.dial()
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, s)
			mu.Unlock()
			conns.Go(func() { io.Copy(c, s); c.Close() })
			conns.Go(func() { r.forward(s, c); s.Close() })
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	return r
}

// proxiedURI is uri with its (first) host replaced by addr and a direct
// connection asked for, so the driver talks only to the proxy.
func proxiedURI(uri, addr string) string {
	rest := strings.TrimPrefix(uri, "mongodb://")
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	user := ""
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		user = authority[:i+1]
	}
	path, query, _ := strings.Cut(tail, "?")
	if path == "" {
		path = "/"
	}
	q, _ := url.ParseQuery(query)
	q.Set("directConnection", "true")
	q.Del("replicaSet")
	return "mongodb://" + user + addr + path + "?" + q.Encode()
}

func (r *wireRecorder) record(on bool) {
	r.mu.Lock()
	r.on = on
	r.mu.Unlock()
}

// commands returns the commands recorded so far.
func (r *wireRecorder) commands() []bson.Raw {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.cmds)
}

// forward copies client messages to the server, recording commands.
func (r *wireRecorder) forward(to io.Writer, from io.Reader) {
	var header [16]byte
	for {
		if _, err := io.ReadFull(from, header[:]); err != nil {
			return
		}
		size := int(binary.LittleEndian.Uint32(header[0:4]))
		if size < 16 || size > 64<<20 {
			return
		}
		msg := make([]byte, size)
		copy(msg, header[:])
		if _, err := io.ReadFull(from, msg[16:]); err != nil {
			return
		}
		if _, err := to.Write(msg); err != nil {
			return
		}
		const opMsg = 2013
		if binary.LittleEndian.Uint32(header[12:16]) != opMsg {
			continue
		}
		r.mu.Lock()
		on := r.on
		r.mu.Unlock()
		if !on {
			continue
		}
		if cmd, err := parseOpMsg(msg[16:]); err == nil {
			r.mu.Lock()
			r.cmds = append(r.cmds, cmd)
			r.mu.Unlock()
		}
	}
}

// parseOpMsg decodes an OP_MSG body (after the header) into its command
// document, each document sequence added as an array field.
func parseOpMsg(body []byte) (bson.Raw, error) {
	if len(body) < 5 {
		return nil, errors.New("short OP_MSG")
	}
	flags := binary.LittleEndian.Uint32(body[:4])
	body = body[4:]
	if flags&1 != 0 { // checksumPresent
		body = body[:len(body)-4]
	}
	var cmd bson.D
	var seqs []bson.E
	for len(body) > 0 {
		kind := body[0]
		body = body[1:]
		if len(body) < 4 {
			return nil, errors.New("truncated section")
		}
		n := int(binary.LittleEndian.Uint32(body[:4]))
		if n < 4 || n > len(body) {
			return nil, errors.New("bad section size")
		}
		switch kind {
		case 0:
			if err := bson.Unmarshal(body[:n], &cmd); err != nil {
				return nil, err
			}
		case 1:
			sec := body[4:n]
			i := slices.Index(sec, 0)
			if i < 0 {
				return nil, errors.New("bad sequence identifier")
			}
			id, docs := string(sec[:i]), sec[i+1:]
			var arr bson.A
			for len(docs) >= 4 {
				m := int(binary.LittleEndian.Uint32(docs[:4]))
				if m < 5 || m > len(docs) {
					return nil, errors.New("bad sequence document")
				}
				arr = append(arr, bson.Raw(docs[:m]))
				docs = docs[m:]
			}
			seqs = append(seqs, bson.E{Key: id, Value: arr})
		default:
			return nil, fmt.Errorf("unknown section kind %d", kind)
		}
		body = body[n:]
	}
	return bson.Marshal(append(cmd, seqs...))
}

func TestEngineOf(t *testing.T) {
	for _, c := range []struct {
		info bson.D
		want string
	}{
		// FerretDB v1 embedded (its version unknown), v2 (v2.7.0 from the Go proxy), MongoDB 7.
		{bson.D{{Key: "version", Value: "7.0.42"}, {Key: "ferretdbVersion", Value: "unknown"}, {Key: "ferretdbFeatures", Value: bson.D{}}}, engineFerretV1},
		{bson.D{{Key: "version", Value: "7.0.77"}, {Key: "ferretdb", Value: bson.D{{Key: "version", Value: "v2.7.0"}, {Key: "package", Value: "unknown"}}}}, engineFerretV2},
		{bson.D{{Key: "version", Value: "7.0.14"}, {Key: "gitVersion", Value: "ce59cfc6a3c5e5c067dca0d30697edd68d4f5188"}}, engineMongoDB},
	} {
		if got := engineOf(tenanttest.MustMarshal(t, c.info)); got != c.want {
			t.Errorf("engineOf(%v) = %s, want %s", c.info, got, c.want)
		}
	}
}

func TestExplainable(t *testing.T) {
	up := func(q bson.D, multi bool) bson.Raw {
		return tenanttest.MustMarshal(t, bson.D{{Key: "q", Value: q}, {Key: "u", Value: bson.D{{Key: "$set", Value: bson.D{{Key: "a", Value: 1}}}}}, {Key: "multi", Value: multi}})
	}
	cmds := []bson.D{
		{{Key: "find", Value: "t_i1_posts"}, {Key: "filter", Value: bson.D{{Key: "tenant_id", Value: "i1"}, {Key: "state", Value: "published"}}},
			{Key: "sort", Value: bson.D{{Key: "publish_at", Value: -1}}}, {Key: "limit", Value: int64(21)}, {Key: "lsid", Value: bson.D{}}, {Key: "$db", Value: "d"}},
		// The same shape again, other values: one query.
		{{Key: "find", Value: "t_i1_posts"}, {Key: "filter", Value: bson.D{{Key: "tenant_id", Value: "i1"}, {Key: "state", Value: "draft"}}},
			{Key: "sort", Value: bson.D{{Key: "publish_at", Value: -1}}}, {Key: "limit", Value: int64(5)}, {Key: "$db", Value: "d"}},
		{{Key: "update", Value: "t_i1_shares"}, {Key: "updates", Value: bson.A{up(bson.D{{Key: "_id", Value: "s"}}, false), up(bson.D{{Key: "state", Value: "queued"}}, true)}}, {Key: "$db", Value: "d"}},
		// Many by _id: flagged, whatever the find of its filter plans.
		{{Key: "update", Value: "t_i1_shares"}, {Key: "updates", Value: bson.A{up(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"a", "b"}}}}}, true)}}, {Key: "$db", Value: "d"}},
		{{Key: "delete", Value: "t_i1_clicks"}, {Key: "deletes", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"a"}}}}}}, {Key: "limit", Value: int32(0)}}}}, {Key: "$db", Value: "d"}},
		{{Key: "insert", Value: "t_i1_clicks"}, {Key: "documents", Value: bson.A{bson.D{}}}, {Key: "$db", Value: "d"}},
		{{Key: "find", Value: "links"}, {Key: "filter", Value: bson.D{{Key: "_id", Value: "c"}}}, {Key: "$db", Value: "other"}},
	}
	var raws []bson.Raw
	for _, c := range cmds {
		raws = append(raws, tenanttest.MustMarshal(t, c))
	}
	var got []string
	for _, q := range explainable(raws, "d") {
		got = append(got, q.origin+" "+q.shape)
		if q.origin != "find" && (q.write == nil || q.write[0].Key != q.origin) {
			t.Errorf("%s %s: its own command is %v", q.origin, q.shape, q.write)
		}
	}
	want := []string{
		`find {find: "posts", filter: {tenant_id: string, state: string}, sort: {publish_at: 32-bit integer}, limit: 64-bit integer}`,
		`update {find: "shares", filter: {_id: string}, limit: 32-bit integer}`,
		`update {find: "shares", filter: {state: string}}`,
		`update {find: "shares", filter: {_id: {$in: [string, string]}}} (many by _id)`,
		`delete {find: "clicks", filter: {_id: {$in: [string]}}} (many by _id)`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("explainable:\n got %q\nwant %q", got, want)
	}
}

func TestParseOpMsgAndProxiedURI(t *testing.T) {
	doc := tenanttest.MustMarshal(t, bson.D{{Key: "update", Value: "c"}, {Key: "$db", Value: "d"}})
	stmt := tenanttest.MustMarshal(t, bson.D{{Key: "q", Value: bson.D{{Key: "_id", Value: "x"}}}})
	var body []byte
	body = binary.LittleEndian.AppendUint32(body, 0)
	body = append(body, 0)
	body = append(body, doc...)
	seq := append([]byte("updates\x00"), stmt...)
	body = append(body, 1)
	body = binary.LittleEndian.AppendUint32(body, uint32(4+len(seq)))
	body = append(body, seq...)
	cmd, err := parseOpMsg(body)
	if err != nil {
		t.Fatal(err)
	}
	if got := cmd.Lookup("updates", "0", "q", "_id").StringValue(); got != "x" {
		t.Errorf("the update's statement: %s", cmd)
	}
	for _, c := range []struct{ in, want string }{
		{"mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:1/?directConnection=true"},
		{"mongodb://u:p@db.example:27017/?authSource=admin&replicaSet=rs0", "mongodb://u:p@127.0.0.1:1/?authSource=admin&directConnection=true"},
		{"mongodb://%2Ftmp%2Fx%2Fferretdb.sock", "mongodb://127.0.0.1:1/?directConnection=true"},
	} {
		if got := proxiedURI(c.in, "127.0.0.1:1"); got != c.want {
			t.Errorf("proxiedURI(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
