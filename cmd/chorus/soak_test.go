package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chorushq/chorus/social/mastodon/mastodontest"
	"github.com/chorushq/chorus/tenant/foundation/embeddedredis"
)

var (
	soakShares  = flag.Int("soak.shares", 60, "TestSoak: shares to make")
	soakMembers = flag.Int("soak.members", 3, "TestSoak: members sharing")
	soakSettle  = flag.Duration("soak.settle", 4*time.Minute, "TestSoak: how long the shares may take to end")
)

// faultyNetwork is a Mastodon fake behind a proxy that, for posts of
// statuses, answers 503 (5%), 429 with Retry-After (1%), or passes the
// post on and drops the connection before the answer (1%: a lost answer),
// on a fixed schedule so that a short run meets each fault.
type faultyNetwork struct {
	fake *mastodontest.Server
	srv  *http.Server
	url  string
	port int

	mu                       sync.Mutex
	posts                    int
	failed5xx, limited, lost atomic.Int64
}

func newFaultyNetwork(t *testing.T) *faultyNetwork {
	t.Helper()
	n := &faultyNetwork{fake: mastodontest.New(t, mastodontest.Options{})}
	target, _ := url.Parse(n.fake.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.port = ln.Addr().(*net.TCPAddr).Port
	n.url = "http://" + ln.Addr().String()
	n.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/statuses" {
			proxy.ServeHTTP(w, r)
			return
		}
		// A fixed schedule of faults: every 20th post from the 8th, and the
		// 14th and 43rd of every hundred.
		n.mu.Lock()
		k := n.posts
		n.posts++
		n.mu.Unlock()
		switch {
		case k%20 == 7:
			n.failed5xx.Add(1)
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		case k%100 == 13:
			n.limited.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"Too many requests"}`, http.StatusTooManyRequests)
		case k%100 == 42:
			// The post is made; its answer never arrives.
			n.lost.Add(1)
			rec := &discard{header: http.Header{}}
			proxy.ServeHTTP(rec, r)
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
				}
			}
		default:
			proxy.ServeHTTP(w, r)
		}
	})}
	go n.srv.Serve(ln)
	t.Cleanup(func() { n.srv.Close() })
	return n
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// tryDo is client.do that returns transport errors instead of failing:
// the process asked may have just been killed.
func (c *client) tryDo(method, base, path string, body any, headers ...string) (int, []byte, error) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	checkRequest(c.t, req, raw, false)
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes(), err
}

// TestSoak runs two API and three worker processes on one embedded
// DocumentDB data dir and a redis-server with its append-only file, while
// members share through a network that fails 5% of posts with 5xx, limits
// 1% with 429 and loses 1% of answers. A worker is SIGKILLed and
// restarted, then an API process, then Redis restarts from its AOF.
// At the end every share is published, none is at the network twice,
// none is lost, and the clicks counted equal the clicks made. The counts
// are printed. Flags: -soak.shares, -soak.members, -soak.settle.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("starts seven processes")
	}
	if os.Getenv(runProcessEnv) != "" {
		t.Skip("inside a process of the test")
	}
	started := time.Now()
	_, env := dataDirEnv(t)
	// Redis of the test, restarted by it; a short directory keeps its
	// socket path across restarts.
	rdir, err := os.MkdirTemp("", "chorus-soak-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(rdir) })
	rs, err := embeddedredis.Start(t.Context(), rdir, false, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Stop(context.Background()) })
	network := newFaultyNetwork(t)
	env["CHORUS_REDIS_URL"] = rs.URL()
	env["CHORUS_TOKEN_KEYS"] = "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	env["CHORUS_DEV_NETWORK_PORTS"] = strconv.Itoa(network.port)

	api := []*chorusProc{startChorus(t, env, "serve")}
	urls := []string{api[0].serving()}
	api = append(api, startChorus(t, env, "serve"))
	urls = append(urls, api[1].serving())
	workers := []*chorusProc{startChorus(t, env, "worker"), startChorus(t, env, "worker"), startChorus(t, env, "worker")}
	for _, w := range workers {
		w.working()
	}

	newClient := func() *client {
		jar, _ := cookiejar.New(nil)
		return &client{t: t, base: urls[0], http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	}
	admin := newClient()
	m := admin.signIn("admin@acme.example")
	verify := startChorus(t, env, "domain", "verify", m.Instance.Domains[0], "--reason", "soak")
	if stderr, err := verify.exited(2 * time.Minute); err != nil {
		t.Fatalf("domain verify: %v %s", err, stderr)
	}
	// The API processes cache the instance for 2 s.
	time.Sleep(2100 * time.Millisecond)
	if res := admin.do("PUT", "/api/v1/networks/mastodon", nil); res.status != http.StatusOK {
		t.Fatalf("allow mastodon: %d %s", res.status, res.body)
	}
	var post struct{ ID string }
	admin.do("POST", "/api/v1/content", map[string]any{"url": "https://acme.example/launch", "title": "Launch",
		"share_texts": map[string]string{"mastodon": "We launched!"}}).json(t, &post)
	type member struct {
		c    *client
		conn string
	}
	var members []member
	for i := range *soakMembers {
		c := newClient()
		c.signIn(fmt.Sprintf("member%d@acme.example", i))
		members = append(members, member{c, connectMastodonAt(t, c, network.url)})
	}

	// Share, with a fault now and then.
	var (
		ids   []string
		kills []string
	)
	for i := range *soakShares {
		switch i {
		case *soakShares / 4:
			workers[0].kill()
			workers[0] = startChorus(t, env, "worker")
			workers[0].working()
			kills = append(kills, "worker SIGKILL")
		case *soakShares / 2:
			api[1].kill()
			api[1] = startChorus(t, env, "serve")
			urls[1] = api[1].serving()
			kills = append(kills, "API SIGKILL")
		case 3 * *soakShares / 4:
			if err := rs.Stop(t.Context()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			if rs, err = embeddedredis.Start(t.Context(), rdir, false, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			kills = append(kills, "Redis restart from AOF")
		}
		mb := members[i%len(members)]
		key := "soak-" + strconv.Itoa(i)
		for attempt := 0; ; attempt++ {
			status, body, err := mb.c.tryDo("POST", urls[(i+attempt)%2], "/api/v1/content/"+post.ID+"/shares",
				map[string]any{"connections": []string{mb.conn}}, "Idempotency-Key", key)
			if err == nil && status == http.StatusAccepted {
				var out struct{ Items []shareDoc }
				if err := json.Unmarshal(body, &out); err != nil || len(out.Items) != 1 {
					t.Fatalf("share %d: %s", i, body)
				}
				ids = append(ids, out.Items[0].ID)
				break
			}
			if attempt > 20 {
				t.Fatalf("share %d not accepted: %d %s %v", i, status, body, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Every share ends.
	owner := map[string]member{}
	for i, id := range ids {
		owner[id] = members[i%len(members)]
	}
	states := map[string]shareDoc{}
	pending := func() int {
		n := 0
		for _, id := range ids {
			status, body, err := owner[id].c.tryDo("GET", urls[0], "/api/v1/shares/"+id, nil)
			var sh shareDoc
			if err != nil || status != http.StatusOK || json.Unmarshal(body, &sh) != nil {
				n++
				continue
			}
			states[id] = sh
			if sh.State != "published" && sh.State != "failed" && sh.State != "cancelled" {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(*soakSettle); pending() > 0; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			left := map[string]int{}
			for _, sh := range states {
				left[sh.State]++
			}
			// What keeps each unfinished share, and what the workers said
			// about shares.
			for i, id := range ids {
				if sh := states[id]; sh.State != "published" && sh.State != "failed" && sh.State != "cancelled" {
					t.Logf("share %d (%s) is %s: %s", i, id, sh.State, sh.Error)
				}
			}
			for _, w := range workers {
				for _, l := range w.lines(1 << 20) {
					if strings.Contains(l, "unconfirmed") || strings.Contains(l, "reconciled") {
						t.Logf("worker %d: %s", w.cmd.Process.Pid, l)
					}
				}
			}
			t.Fatalf("after %v, shares by state: %v", *soakSettle, left)
		}
	}

	// Nothing lost, nothing twice.
	posts := network.fake.Statuses()
	published, duplicates, lostShares := 0, 0, 0
	for _, id := range ids {
		sh := states[id]
		n := 0
		for _, p := range posts {
			if strings.Contains(p.Text, sh.TrackedURL) {
				n++
			}
		}
		switch {
		case n > 1:
			duplicates++
		case sh.State == "published" && n == 1:
			published++
		default:
			lostShares++
			t.Errorf("share %s is %s (%s) and at the network %d times", id, sh.State, sh.Error, n)
		}
	}
	if duplicates > 0 || len(posts) != published {
		t.Errorf("%d shares at the network more than once; %d posts for %d published shares", duplicates, len(posts), published)
	}

	// Clicks on every tracked link, through both API processes.
	clicks := 0
	visitor := newClient()
	for i, id := range ids {
		u, _ := url.Parse(states[id].TrackedURL)
		for k := range 1 + i%3 {
			status, _, err := visitor.tryDo("GET", urls[(i+k)%2], u.Path, nil, "User-Agent", "Mozilla/5.0")
			if err != nil || status != http.StatusFound {
				t.Fatalf("click %s: %d %v", u.Path, status, err)
			}
			clicks++
		}
	}
	// A graceful stop writes every queued click. The owner of the data
	// dir stops last: the others need its servers to write theirs.
	api[1].stop()
	api[0].stop()
	stopped := slices.Clone(api)
	api[0] = startChorus(t, env, "serve")
	admin.base = api[0].serving()
	var counted int64
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		var sum struct {
			Clicks int64 `json:"clicks"`
		}
		now := time.Now().UTC()
		res := admin.do("GET", "/api/v1/analytics/summary?from="+now.AddDate(0, 0, -1).Format(time.DateOnly)+"&to="+now.AddDate(0, 0, 1).Format(time.DateOnly), nil)
		if res.status != http.StatusOK {
			t.Fatalf("summary: %d %s", res.status, res.body)
		}
		res.json(t, &sum)
		if counted = sum.Clicks; counted == int64(clicks) || time.Now().After(deadline) {
			break
		}
	}
	if counted != int64(clicks) {
		t.Errorf("%d clicks counted, %d made", counted, clicks)
		for _, p := range stopped {
			for _, l := range p.lines(1 << 20) {
				if strings.Contains(l, "click") && (strings.Contains(l, `"level":"ERROR"`) || strings.Contains(l, `"level":"WARN"`)) {
					t.Logf("process %d: %s", p.cmd.Process.Pid, l)
				}
			}
		}
	}

	network.mu.Lock()
	asked := network.posts
	network.mu.Unlock()
	summary := fmt.Sprintf("soak: %d shares by %d members, 2 API + 3 worker processes; network faults injected: %d of %d posts answered 5xx, %d 429, %d answers lost; faults: %s; published %d, duplicates %d, lost %d; clicks made %d, counted %d; %v",
		len(ids), len(members), network.failed5xx.Load(), asked, network.limited.Load(), network.lost.Load(), strings.Join(kills, ", "),
		published, duplicates, lostShares, clicks, counted, time.Since(started).Round(time.Second))
	t.Log(summary)
	fmt.Println(summary)
}
