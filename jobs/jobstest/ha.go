package jobstest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisBinaries returns the paths of redis-server and redis-cli, or skips
// the test with how to install them (fails under CI=true).
func redisBinaries(t testing.TB) (server, cli string) {
	t.Helper()
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		msg := "no redis-server and redis-cli for this test: apt-get install redis-server (macOS: brew install redis)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return server, cli
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago, and
// whose cluster bus port (port+10000) was too.
func freePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port
	}
	t.Fatal("no free port pair for a Redis Cluster node")
	return 0
}

// RedisProcess is a redis-server (or sentinel) started by a test.
type RedisProcess struct {
	Addr string
	cmd  *exec.Cmd
	out  *bytes.Buffer
}

// Kill kills the process (SIGKILL) and waits for it.
func (p *RedisProcess) Kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// startRedis runs redis-server with conf (plus port and dir) in dir,
// killed when the test ends, and waits until it answers PING with
// password.
func startRedis(t testing.TB, bin, dir, name, conf, password string, sentinel bool, tc *testTLS) *RedisProcess {
	t.Helper()
	port := freePort(t)
	path := filepath.Join(dir, name+".conf")
	listen := fmt.Sprintf("port %d\n", port)
	if tc != nil {
		listen = fmt.Sprintf("port 0\ntls-port %d\ntls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\ntls-replication yes\n",
			port, tc.certFile, tc.keyFile, tc.caFile)
	}
	full := fmt.Sprintf("%sbind 127.0.0.1\ndir %s\nsave \"\"\nlogfile \"\"\n%s", listen, dir, conf)
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{path}
	if sentinel {
		args = append(args, "--sentinel")
	}
	p := &RedisProcess{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: exec.Command(bin, args...), out: &bytes.Buffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s (%s):\n%s", name, p.Addr, lastLines(p.out.String(), 20))
		}
	})
	rc := redis.NewClient(&redis.Options{Addr: p.Addr, Password: password, MaxRetries: -1, TLSConfig: tc.config()})
	defer rc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rc.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s did not answer PING within 10 s:\n%s", name, p.Addr, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Cluster starts a Redis Cluster of three masters (no replicas) on
// 127.0.0.1, each a redis-server of this test with password, and returns
// its redis-cluster:// URL once every node says the cluster is ok. The
// nodes are killed when the test ends.
func Cluster(t testing.TB, password string) (url string, nodes []*RedisProcess) {
	t.Helper()
	bin, cli := redisBinaries(t)
	dir := t.TempDir()
	var addrs []string
	for i := range 3 {
		conf := fmt.Sprintf("cluster-enabled yes\ncluster-config-file nodes-%d.conf\ncluster-node-timeout 2000\nappendonly no\nrequirepass %s\nmasterauth %s\n", i, password, password)
		p := startRedis(t, bin, dir, fmt.Sprintf("node%d", i), conf, password, false, nil)
		nodes = append(nodes, p)
		addrs = append(addrs, p.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-yes", "-a", password, "--no-auth-warning")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range addrs {
		rc := redis.NewClient(&redis.Options{Addr: a, Password: password})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				rc.Close()
				t.Fatalf("cluster node %s not ok within 20 s: %v %s", a, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		rc.Close()
	}
	return "redis-cluster://:" + password + "@" + strings.Join(addrs, ","), nodes
}

// SentinelSet is a master, its replica and one sentinel watching them
// (quorum 1) under the master name "chorus".
type SentinelSet struct {
	// URL is the redis-sentinel:// URL of database db, with the data
	// password and the sentinel's own.
	URL              string
	Master, Replica  *RedisProcess
	Sentinel         *RedisProcess
	sentinelPassword string
	tls              *tls.Config
}

// Sentinel starts a master and a replica (both requiring password, AOF on)
// and a sentinel requiring sentinelPassword, and returns them once the
// sentinel knows the replica. All are killed when the test ends.
func Sentinel(t testing.TB, password, sentinelPassword string, db int) *SentinelSet {
	t.Helper()
	return sentinelSet(t, password, sentinelPassword, db, nil)
}

// SentinelTLS is Sentinel with every server, the sentinel too, serving TLS
// only (replication over TLS as well), with a certificate for 127.0.0.1
// from a CA of the test; its URL is rediss-sentinel://, and the returned
// pool trusts the CA.
func SentinelTLS(t testing.TB, password, sentinelPassword string, db int) (*SentinelSet, *x509.CertPool) {
	t.Helper()
	tc := newTestTLS(t)
	s := sentinelSet(t, password, sentinelPassword, db, tc)
	s.URL = "rediss" + strings.TrimPrefix(s.URL, "redis")
	return s, tc.pool
}

func sentinelSet(t testing.TB, password, sentinelPassword string, db int, tc *testTLS) *SentinelSet {
	t.Helper()
	bin, _ := redisBinaries(t)
	dir := t.TempDir()
	data := fmt.Sprintf("requirepass %s\nmasterauth %s\nappendonly yes\nappendfsync always\n", password, password)
	master := startRedis(t, bin, filepath.Join(mkdir(t, dir, "master")), "master", data, password, false, tc)
	host, port, _ := net.SplitHostPort(master.Addr)
	replica := startRedis(t, bin, filepath.Join(mkdir(t, dir, "replica")), "replica", data+fmt.Sprintf("replicaof %s %s\n", host, port), password, false, tc)
	conf := fmt.Sprintf("requirepass %s\nsentinel monitor chorus %s %s 1\nsentinel auth-pass chorus %s\nsentinel down-after-milliseconds chorus 2000\nsentinel failover-timeout chorus 10000\n",
		sentinelPassword, host, port, password)
	sentinel := startRedis(t, bin, mkdir(t, dir, "sentinel"), "sentinel", conf, sentinelPassword, true, tc)
	s := &SentinelSet{Master: master, Replica: replica, Sentinel: sentinel, sentinelPassword: sentinelPassword, tls: tc.config(),
		URL: fmt.Sprintf("redis-sentinel://:%s@%s/chorus/%d?sentinel_password=%s", password, sentinel.Addr, db, sentinelPassword)}
	sc := s.client()
	defer sc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		replicas, err := sc.Replicas(context.Background(), "chorus").Result()
		if err == nil && len(replicas) == 1 && replicas[0]["flags"] == "slave" && replicas[0]["master-link-status"] == "ok" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sentinel did not see the replica within 20 s: %v %v", replicas, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testTLS is a CA of the test and a server certificate for 127.0.0.1 that
// it signed, in PEM files.
type testTLS struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
}

func newTestTLS(t testing.TB) *testTLS {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Chorus test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tc := &testTLS{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"), keyFile: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	tc.pool.AddCert(caCert)
	for path, block := range map[string]*pem.Block{tc.caFile: {Type: "CERTIFICATE", Bytes: caDER},
		tc.certFile: {Type: "CERTIFICATE", Bytes: leafDER}, tc.keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return tc
}

// config is the client side: the test CA trusted, each server's address
// checked. nil for no TLS.
func (tc *testTLS) config() *tls.Config {
	if tc == nil {
		return nil
	}
	return &tls.Config{RootCAs: tc.pool, MinVersion: tls.VersionTLS12}
}

func mkdir(t testing.TB, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func (s *SentinelSet) client() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.Sentinel.Addr, Password: s.sentinelPassword, TLSConfig: s.tls})
}

// MasterAddr returns the address the sentinel gives for the master now.
func (s *SentinelSet) MasterAddr(ctx context.Context) (string, error) {
	sc := s.client()
	defer sc.Close()
	a, err := sc.GetMasterAddrByName(ctx, "chorus").Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(a[0], a[1]), nil
}

// Failover forces a failover (SENTINEL FAILOVER) and waits until the
// sentinel names the former replica as the master.
func (s *SentinelSet) Failover(ctx context.Context) error {
	before, err := s.MasterAddr(ctx)
	if err != nil {
		return err
	}
	sc := s.client()
	defer sc.Close()
	if err := sc.Failover(ctx, "chorus").Err(); err != nil {
		return fmt.Errorf("SENTINEL FAILOVER: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, err := s.MasterAddr(ctx)
		if err == nil && now != before {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the master is still %s 30 s after SENTINEL FAILOVER (%v)", now, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
