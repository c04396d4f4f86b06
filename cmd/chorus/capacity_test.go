package main

// The capacity measurement: what many instances cost the embedded store
// (FerretDB v2 + DocumentDB on its PostgreSQL cluster), in one run, with
// each count's ratio to the first.
//
//	CHORUS_CAPACITY_INSTANCES=1,100,1000 go test -tags ferretdb_no_postgresql -run '^TestCapacity$' -timeout 0 ./cmd/chorus
//
// One `chorus serve` and one `chorus worker` run on a data dir of their
// own. The first instance is made by signing in and used through the API
// (a verified domain, a network allowed, content, a connection, a share
// published, clicks, an invitation, an export): its collections and
// indexes are counted as the code declares them and as the server lists
// them. Then, for each count, instances are added through the store's
// own path (tenant.Store.EnsureInstance, what a first sign-in calls) from
// the test process, attached to the cluster as `chorus` commands are; the
// serve process is restarted (start-up time: process start to "Chorus is
// running", embedded servers included) and the first instance's /me and
// feed are timed, their throughput with 8 clients taken, and the data
// dir's size, the cluster's relations and files and the memory of the
// serve process with its servers read. CHORUS_CAPACITY_OUT writes the
// table to a file too.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/chorushq/chorus/jobs/task"
	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
	"github.com/chorushq/chorus/tenant/foundation/embeddedredis"
)

// capacityRow is what one count of instances measured.
type capacityRow struct {
	instances int
	// create: the time to create each instance added for this row.
	create     []time.Duration
	startup    time.Duration
	me, feed   latency
	meRate     float64 // /me answered a second, 8 clients
	feedRate   float64
	diskBytes  int64
	pgFiles    int
	relations  int64
	pgBytes    int64
	pssBytes   int64
	loadBefore string
	// stopKilled: the stop before the row's start had to kill PostgreSQL.
	stopKilled   bool
	loadAfter    string
	createdTotal time.Duration
}

func TestCapacity(t *testing.T) {
	spec := os.Getenv("CHORUS_CAPACITY_INSTANCES")
	if spec == "" {
		t.Skip("set CHORUS_CAPACITY_INSTANCES=1,100,1000 to measure what many instances cost the embedded store")
	}
	if os.Getenv(runProcessEnv) != "" {
		t.Skip("inside a process of the test")
	}
	var counts []int
	for f := range strings.SplitSeq(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || (len(counts) > 0 && n <= counts[len(counts)-1]) {
			t.Fatalf("CHORUS_CAPACITY_INSTANCES=%q: want increasing counts of instances from 1, such as 1,100,1000", spec)
		}
		counts = append(counts, n)
	}
	started := time.Now()
	dir, env := dataDirEnv(t)
	fake := mastodontest.New(t, mastodontest.Options{})
	fakeURL, _ := url.Parse(fake.URL)
	env["CHORUS_DEV_NETWORK_PORTS"] = fakeURL.Port()
	env["CHORUS_TOKEN_KEYS"] = "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))

	t0 := time.Now()
	api := startChorus(t, env, "serve")
	base := api.serving()
	firstStart := time.Since(t0)
	worker := startChorus(t, env, "worker")
	worker.working()
	t.Logf("first start (a new data dir): %v", firstStart.Round(time.Millisecond))

	// The first instance, through the API, every kind of data in use.
	newClient := func() *client {
		jar, _ := cookiejar.New(nil)
		return &client{t: t, base: base, http: &http.Client{Jar: jar, Timeout: time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	}
	admin := newClient()
	m := admin.signIn("admin@capacity1.example")
	useEveryFeature(t, env, admin, newClient(), m, fake.URL)
	// The worker would take the data dir over when serve restarts: only
	// serve runs from here on, owning the embedded servers.
	worker.stop()
	instanceID := m.Instance.ID

	mongoDir := filepath.Join(dir, "mongo")
	attach := func() (*tenant.Store, string, func()) {
		log := slog.New(slog.DiscardHandler)
		em, err := embeddedmongo.Start(t.Context(), mongoDir, embeddedmongo.Options{Engine: embeddedmongo.EngineDocumentDB, Attach: true, MaxConns: 4}, log)
		if err != nil {
			t.Fatal(err)
		}
		store, err := tenant.OpenStore(t.Context(), tenant.StoreConfig{URI: em.URI(), Kinds: storeKinds(), Log: log})
		if err != nil {
			t.Fatal(err)
		}
		return store, em.URI(), func() {
			ctx := context.WithoutCancel(t.Context())
			store.Close(ctx)
			em.Stop(ctx)
		}
	}
	store, uri, detach := attach()
	countCollections(t, uri, "chorus", instanceID)

	pgConn := func() *pgx.Conn {
		cs, ok := embeddedmongo.PostgresConnString(t.Context(), mongoDir)
		if !ok {
			t.Fatal("no PostgreSQL cluster on the data dir")
		}
		c, err := pgx.Connect(t.Context(), cs)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	var rows []capacityRow
	have := 1
	for _, n := range counts {
		row := capacityRow{instances: n, loadBefore: loadAverage()}
		begin := time.Now()
		for have < n {
			d := fmt.Sprintf("capacity%d.example", have+1)
			c0 := time.Now()
			if _, err := store.EnsureInstance(t.Context(), d, "admin@"+d); err != nil {
				t.Fatalf("instance %d: %v", have+1, err)
			}
			row.create = append(row.create, time.Since(c0))
			have++
			if have%500 == 0 {
				t.Logf("%d instances, %v", have, time.Since(started).Round(time.Second))
			}
		}
		row.createdTotal = time.Since(begin)
		detach()

		// A restart of the serve process with n instances.
		// A stop that had to kill PostgreSQL (its shutdown checkpoint
		// outlasting Chorus's 30 s under load) is a finding, logged.
		_ = api.cmd.Process.Signal(syscall.SIGTERM)
		if stderr, err := api.exited(2 * time.Minute); err != nil {
			row.stopKilled = true
			t.Logf("serve stopped with %v: %s", err, stderr)
		}
		api, base, row.startup = restartServe(t, env)
		admin.base = base
		get := func(path string) func() error {
			return func() error {
				status, body, err := admin.tryDo("GET", base, path, nil)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("GET %s: %d %s", path, status, body)
				}
				return err
			}
		}
		var err error
		if row.me, err = sampleLatency(10*time.Second, get("/api/v1/me")); err != nil {
			t.Fatal(err)
		}
		if row.feed, err = sampleLatency(10*time.Second, get("/api/v1/content")); err != nil {
			t.Fatal(err)
		}
		row.meRate = throughput(t, 8, 5*time.Second, get("/api/v1/me"))
		row.feedRate = throughput(t, 8, 5*time.Second, get("/api/v1/content"))

		row.diskBytes, row.pgFiles = dirSize(t, filepath.Join(mongoDir, "postgres"))
		pg := pgConn()
		if err := pg.QueryRow(t.Context(), "SELECT count(*) FROM pg_class").Scan(&row.relations); err != nil {
			t.Fatal(err)
		}
		if err := pg.QueryRow(t.Context(), "SELECT sum(pg_database_size(datname))::bigint FROM pg_database").Scan(&row.pgBytes); err != nil {
			t.Fatal(err)
		}
		pg.Close(context.WithoutCancel(t.Context()))
		row.pssBytes = treePss(api.cmd.Process.Pid)
		row.loadAfter = loadAverage()
		rows = append(rows, row)
		// The table so far: a run stopped at a larger count keeps it.
		t.Logf("%d instances measured at %v (load %s)\n%s", n, time.Since(started).Round(time.Second), row.loadAfter, capacityTable(rows, firstStart))
		if out := os.Getenv("CHORUS_CAPACITY_OUT"); out != "" {
			if err := os.WriteFile(out, []byte(capacityTable(rows, firstStart)), 0o644); err != nil {
				t.Error(err)
			}
		}
		if n != counts[len(counts)-1] {
			store, _, detach = attach()
		}
	}
	fmt.Println(capacityTable(rows, firstStart))
	t.Logf("the run took %v", time.Since(started).Round(time.Second))
}

// restartServe starts `chorus serve` on the data dir of env and returns
// it, its URL and how long it took to serve. Under heavy load the stop
// before may have had to kill PostgreSQL, whose backends then hold its
// shared memory for a while: a start refused for that is tried again,
// and only the successful start is timed.
func restartServe(t *testing.T, env map[string]string) (*chorusProc, string, time.Duration) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		s0 := time.Now()
		p := startChorus(t, env, "serve")
		select {
		case u := <-p.url:
			return p, u, time.Since(s0)
		case <-p.done:
			if attempt < 10 && strings.Contains(p.stderr.String(), "shared memory block") {
				t.Logf("serve refused to start (the last PostgreSQL's shared memory still held); trying again in 5 s")
				time.Sleep(5 * time.Second)
				continue
			}
			t.Fatalf("chorus exited before serving (%v): %s", p.err, p.stderr.String())
		case <-time.After(2 * time.Minute):
			t.Fatalf("chorus did not serve within 2 minutes")
		}
	}
}

// useEveryFeature makes the first instance's data through the API: the
// domain verified, Mastodon allowed, content, a member's connection, a
// share published, clicks on its link, an invitation, an export.
func useEveryFeature(t *testing.T, env map[string]string, admin, member *client, m me, network string) {
	t.Helper()
	verify := startChorus(t, env, "domain", "verify", m.Instance.Domains[0], "--reason", "capacity")
	if stderr, err := verify.exited(2 * time.Minute); err != nil {
		t.Fatalf("domain verify: %v %s", err, stderr)
	}
	// The API process caches the instance for 2 s.
	time.Sleep(2100 * time.Millisecond)
	if res := admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusOK {
		t.Fatalf("allow mastodon: %d %s", res.status, res.body)
	}
	var post struct{ ID string }
	admin.do("POST", "/api/v1/content", map[string]any{"url": "https://capacity1.example/launch", "title": "Launch",
		"share_texts": map[string]string{"mastodon": "We launched!"}}).json(t, &post)
	member.signIn("member@capacity1.example")
	conn := connectMastodonAt(t, member, network)
	var out struct{ Items []shareDoc }
	res := member.do("POST", "/api/v1/content/"+post.ID+"/shares", map[string]any{"connections": []string{conn}}, "Idempotency-Key", "capacity-1")
	if res.status != http.StatusAccepted {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	res.json(t, &out)
	var sh shareDoc
	for deadline := time.Now().Add(2 * time.Minute); sh.State != "published"; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("share not published: %+v", sh)
		}
		member.do("GET", "/api/v1/shares/"+out.Items[0].ID, nil).json(t, &sh)
	}
	u, _ := url.Parse(sh.TrackedURL)
	visitor := &client{t: t, base: admin.base, http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	for range 3 {
		if res := visitor.do("GET", u.Path, nil, "User-Agent", "Mozilla/5.0"); res.status != http.StatusFound {
			t.Fatalf("click: %d %s", res.status, res.body)
		}
	}
	if res := admin.do("POST", "/api/v1/invitations", map[string]any{"emails": []string{"carol@capacity1.example"}}); res.status >= 300 {
		t.Fatalf("invite: %d %s", res.status, res.body)
	}
	if res := member.do("POST", "/api/v1/me/exports", nil); res.status >= 300 {
		t.Fatalf("export: %d %s", res.status, res.body)
	}
	now := time.Now().UTC()
	days := "from=" + now.AddDate(0, 0, -30).Format(time.DateOnly) + "&to=" + now.Format(time.DateOnly)
	for _, p := range []string{"/api/v1/analytics/summary?" + days, "/api/v1/analytics/content?" + days, "/api/v1/audit"} {
		if res := admin.do("GET", p, nil); res.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, res.status, res.body)
		}
	}
}

// countCollections compares an instance's collections and indexes as the
// code declares them (storeKinds and the tenant package's own kinds, an
// _id index each) with what the server lists, and logs both with the
// deployment-wide collections.
func countCollections(t *testing.T, uri, database, instanceID string) {
	t.Helper()
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetMaxPoolSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.WithoutCancel(t.Context()))
	db := client.Database(database)
	names, err := db.ListCollectionNames(t.Context(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := "t_" + instanceID + "_"
	var mine, global []string
	listed := 0
	for _, n := range names {
		if !strings.HasPrefix(n, "t_") {
			global = append(global, n)
			continue
		}
		if !strings.HasPrefix(n, prefix) {
			continue
		}
		mine = append(mine, strings.TrimPrefix(n, prefix))
		specs, err := db.Collection(n).Indexes().ListSpecifications(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		listed += len(specs)
	}
	slices.Sort(mine)
	slices.Sort(global)
	kinds := tenant.DeclaredKinds(storeKinds())
	declared := 0
	for _, k := range kinds {
		declared += 1 + len(k.Indexes)
	}
	t.Logf("per instance, declared: %d collections, %d indexes (an _id index each included)", len(kinds), declared)
	t.Logf("per instance, listed by the server: %d collections, %d indexes: %s", len(mine), listed, strings.Join(mine, " "))
	t.Logf("deployment-wide collections in the database: %d: %s", len(global), strings.Join(global, " "))
	if len(mine) != len(kinds) || listed != declared {
		t.Errorf("the server lists %d collections and %d indexes of the instance; the code declares %d and %d", len(mine), listed, len(kinds), declared)
	}
}

// throughput calls f from clients goroutines for d and returns the calls
// answered a second.
func throughput(t *testing.T, clients int, d time.Duration, f func() error) float64 {
	t.Helper()
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	var failed atomic.Pointer[error]
	for range clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				if err := f(); err != nil {
					failed.Store(&err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(*err)
	}
	return float64(n.Load()) / d.Seconds()
}

// dirSize sums the sizes of the regular files under dir and counts them.
func dirSize(t *testing.T, dir string) (int64, int) {
	t.Helper()
	var size int64
	files := 0
	err := filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walking
		}
		if e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				size += fi.Size()
				files++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return size, files
}

// treePss sums the proportional set size (Pss, shared pages divided among
// the processes sharing them) of pid and its descendants, in bytes.
func treePss(pid int) int64 {
	children := map[int][]int{}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		me, _ := strconv.Atoi(strings.Fields(s)[0])
		children[ppid] = append(children[ppid], me)
	}
	var total int64
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		queue = append(queue, children[p]...)
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb * 1024
			}
		}
	}
	return total
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func mib(b int64) string {
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 0, 64) + " MiB"
}

func fratio(x, base float64) string {
	if base <= 0 {
		return "–"
	}
	r := x / base
	if r < 10 {
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return strconv.FormatFloat(r, 'f', 0, 64)
}

// capacityTable is the Markdown table of the rows, ratios to the first.
func capacityTable(rows []capacityRow, firstStart time.Duration) string {
	var b strings.Builder
	b.WriteString("| |")
	for _, r := range rows {
		fmt.Fprintf(&b, " %d |", r.instances)
	}
	b.WriteString("\n|---|")
	for range rows {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	row := func(name string, cell func(r, first capacityRow) string) {
		fmt.Fprintf(&b, "| %s |", name)
		for _, r := range rows {
			fmt.Fprintf(&b, " %s |", cell(r, rows[0]))
		}
		b.WriteString("\n")
	}
	first := rows[0]
	row("load average before / after", func(r, _ capacityRow) string { return r.loadBefore + " / " + r.loadAfter })
	row("time to create an instance p50 / p99 (added for the row)", func(r, _ capacityRow) string {
		if len(r.create) == 0 {
			return "– (the first, by sign-in)"
		}
		return fmt.Sprintf("%s / %s, n=%d, %v in all", ms(percentile(r.create, 0.5)), ms(percentile(r.create, 0.99)), len(r.create), r.createdTotal.Round(time.Second))
	})
	row("start-up of `chorus serve` (embedded servers included)", func(r, _ capacityRow) string {
		killed := ""
		if r.stopKilled {
			killed = "; the stop before killed PostgreSQL"
		}
		return fmt.Sprintf("%v (×%s%s)", r.startup.Round(10*time.Millisecond), ratio(r.startup, first.startup), killed)
	})
	row("/me p50 / p99", func(r, _ capacityRow) string {
		return fmt.Sprintf("%s / %s (×%s / ×%s), n=%d", ms(r.me.p(0.5)), ms(r.me.p(0.99)), ratio(r.me.p(0.5), first.me.p(0.5)), ratio(r.me.p(0.99), first.me.p(0.99)), len(r.me.samples))
	})
	row("feed first page p50 / p99", func(r, _ capacityRow) string {
		return fmt.Sprintf("%s / %s (×%s / ×%s), n=%d", ms(r.feed.p(0.5)), ms(r.feed.p(0.99)), ratio(r.feed.p(0.5), first.feed.p(0.5)), ratio(r.feed.p(0.99), first.feed.p(0.99)), len(r.feed.samples))
	})
	row("/me answered a second (8 clients, 5 s)", func(r, _ capacityRow) string {
		return fmt.Sprintf("%.0f (×%s)", r.meRate, fratio(r.meRate, first.meRate))
	})
	row("feed pages answered a second (8 clients, 5 s)", func(r, _ capacityRow) string {
		return fmt.Sprintf("%.0f (×%s)", r.feedRate, fratio(r.feedRate, first.feedRate))
	})
	row("PostgreSQL data dir: size / files", func(r, _ capacityRow) string {
		return fmt.Sprintf("%s / %d (×%s / ×%s)", mib(r.diskBytes), r.pgFiles, fratio(float64(r.diskBytes), float64(first.diskBytes)), fratio(float64(r.pgFiles), float64(first.pgFiles)))
	})
	row("databases' size (pg_database_size)", func(r, _ capacityRow) string {
		return fmt.Sprintf("%s (×%s)", mib(r.pgBytes), fratio(float64(r.pgBytes), float64(first.pgBytes)))
	})
	row("relations (pg_class rows)", func(r, _ capacityRow) string {
		return fmt.Sprintf("%d (×%s)", r.relations, fratio(float64(r.relations), float64(first.relations)))
	})
	row("memory (Pss) of `chorus serve` with PostgreSQL, FerretDB and Redis", func(r, _ capacityRow) string {
		return fmt.Sprintf("%s (×%s)", mib(r.pssBytes), fratio(float64(r.pssBytes), float64(first.pssBytes)))
	})
	fmt.Fprintf(&b, "\nFirst start on a new data dir: %v.\n", firstStart.Round(10*time.Millisecond))
	return b.String()
}

// TestCapacityRedis measures what a share's publish task costs Redis: N
// tasks enqueued as the share service enqueues them (task ID = share ID,
// the critical queue, 20 retries, kept 24 h once done) on a real
// redis-server, pending, then scheduled, then done (kept for their
// retention), each against the server's used_memory before, with one
// task's MEMORY USAGE. CHORUS_CAPACITY_TASKS sets N (10000).
func TestCapacityRedis(t *testing.T) {
	if os.Getenv("CHORUS_CAPACITY_INSTANCES") == "" && os.Getenv("CHORUS_CAPACITY_TASKS") == "" {
		t.Skip("set CHORUS_CAPACITY_TASKS=10000 (or CHORUS_CAPACITY_INSTANCES) to measure Redis memory per queued task")
	}
	n := 10000
	if v := os.Getenv("CHORUS_CAPACITY_TASKS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("CHORUS_CAPACITY_TASKS=%q: want a number of tasks", v)
		}
	}
	rdir, err := os.MkdirTemp("", "chorus-cap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rdir) })
	rs, err := embeddedredis.Start(t.Context(), rdir, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Stop(context.Background()) })
	rdb := redis.NewClient(&redis.Options{Network: rs.Opt().Network, Addr: rs.Opt().Addr})
	t.Cleanup(func() { rdb.Close() })
	queue := asynq.NewClient(rs.Opt())
	t.Cleanup(func() { queue.Close() })
	used := func() int64 {
		info, err := rdb.Info(t.Context(), "memory").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
				b, _ := strconv.ParseInt(v, 10, 64)
				return b
			}
		}
		t.Fatal("no used_memory in INFO memory")
		return 0
	}
	tenantID := randomBase32()
	enqueue := func(prefix string, at time.Time) []string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = prefix + randomBase32()[len(prefix):]
			if _, err := queue.EnqueueContext(t.Context(), task.Publish(tenantID, ids[i]), asynq.TaskID(ids[i]), asynq.Queue(task.QueueCritical),
				asynq.ProcessAt(at), asynq.MaxRetry(20), asynq.Retention(24*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		return ids
	}
	usage := func(id string) int64 {
		b, err := rdb.MemoryUsage(t.Context(), "asynq:{"+task.QueueCritical+"}:t:"+id).Result()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// used_memory before anything, after the pending, after the
	// scheduled, and once the pending ones are done.
	m0 := used()
	pending := enqueue("p", time.Now())
	m1 := used()
	scheduled := enqueue("s", time.Now().Add(24*time.Hour))
	m2 := used()
	// Done: a worker completes the pending ones; each is kept for its
	// retention (24 h), so that a repeated enqueue of the share is refused.
	var done atomic.Int64
	srv := asynq.NewServer(rs.Opt(), asynq.Config{Concurrency: 20, Queues: map[string]int{task.QueueCritical: 1},
		Logger: asynqLogger{}, LogLevel: asynq.FatalLevel})
	if err := srv.Start(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { done.Add(1); return nil })); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Minute); done.Load() < int64(n); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks done", done.Load(), n)
		}
	}
	srv.Shutdown()
	time.Sleep(time.Second)
	m3 := used()
	per := func(b int64) string { return fmt.Sprintf("%.0f B", float64(b)/float64(n)) }
	lines := []string{
		fmt.Sprintf("| pending (queued now) | %d | %s | %d B |", n, per(m1-m0), usage(pending[0])),
		fmt.Sprintf("| scheduled (for later) | %d | %s | %d B |", n, per(m2-m1), usage(scheduled[0])),
		fmt.Sprintf("| completed (kept 24 h) | %d | %s | %d B |", n, per(m3-m0-(m2-m1)), usage(pending[0])),
	}
	table := "| task state | tasks | used_memory per task | MEMORY USAGE of one task's hash |\n|---|---|---|---|\n" + strings.Join(lines, "\n")
	t.Logf("load average %s\n%s", loadAverage(), table)
	fmt.Println(table)
}

// randomBase32 is an ID as tenant makes them: 26 lower-case base32 letters.
func randomBase32() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}
