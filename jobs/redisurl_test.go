package jobs

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hibiken/asynq"
)

func TestParseRedisURL(t *testing.T) {
	tlsAny := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, tt := range []struct {
		url  string
		want asynq.RedisConnOpt
	}{
		{"redis://127.0.0.1:6379", asynq.RedisClientOpt{Network: "tcp", Addr: "127.0.0.1:6379"}},
		{"redis://app:s%40cret@redis:6379/3", asynq.RedisClientOpt{Network: "tcp", Addr: "redis:6379", Username: "app", Password: "s@cret", DB: 3}},
		{"rediss://:pw@redis.example:6380/1", asynq.RedisClientOpt{Network: "tcp", Addr: "redis.example:6380", Password: "pw", DB: 1, TLSConfig: tlsAny}},
		{"redis-socket:///run/redis.sock?db=2", asynq.RedisClientOpt{Network: "unix", Addr: "/run/redis.sock", DB: 2}},
		{"redis-sentinel://:pw@s1:26379,s2:26379,[::1]:26380/mymaster/4", asynq.RedisFailoverClientOpt{
			MasterName: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379", "[::1]:26380"},
			Password: "pw", SentinelPassword: "pw", DB: 4}},
		{"redis-sentinel://:pw@s1:26379/mymaster?sentinel_password=spw", asynq.RedisFailoverClientOpt{
			MasterName: "mymaster", SentinelAddrs: []string{"s1:26379"}, Password: "pw", SentinelPassword: "spw"}},
		{"redis-sentinel://app:pw@s1:26379/mymaster?sentinel_username=sent&sentinel_password=", asynq.RedisFailoverClientOpt{
			MasterName: "mymaster", SentinelAddrs: []string{"s1:26379"}, Username: "app", Password: "pw", SentinelUsername: "sent"}},
		{"rediss-sentinel://s1:26379/m?tls_server_name=redis.internal", asynq.RedisFailoverClientOpt{
			MasterName: "m", SentinelAddrs: []string{"s1:26379"}, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: "redis.internal"}}},
		{"redis-cluster://:pw@n1:7000,n2:7001,n3:7002", asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7001", "n3:7002"}, Password: "pw"}},
		{"rediss-cluster://n1:7000", asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000"}, TLSConfig: tlsAny}},
	} {
		t.Run(tt.url, func(t *testing.T) {
			got, err := ParseRedisURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreUnexported(tls.Config{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRedisURLRefuses(t *testing.T) {
	for _, tt := range []struct{ url, says string }{
		{"127.0.0.1:6379", "want a URL"},
		{"http://h:1", `unknown scheme "http"`},
		{"redis://h", `"h" is not host:port`},
		{"redis://h:0", "no valid port"},
		{"redis://a:1,b:2", "one host:port"},
		{"redis://h:1/x", `database "x"`},
		{"redis://h:1/0?master=m", `unknown parameter "master"`},
		{"redis-sentinel://s:26379", "/master-name[/db]"},
		{"redis-sentinel://s:26379/m/-1", `database "-1"`},
		{"redis-sentinel://s:26379/m?tls_server_name=x", `unknown parameter "tls_server_name": this scheme takes sentinel_password, sentinel_username`},
		{"redis-cluster://n:7000/1", "database 0 only"},
		{"redis-cluster://:s%zzcret@n:7000", "password is not percent-encoded"},
	} {
		t.Run(tt.url, func(t *testing.T) {
			_, err := ParseRedisURL(tt.url)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want one saying %q", err, tt.says)
			}
		})
	}
}

func FuzzParseRedisURL(f *testing.F) {
	for _, s := range []string{"redis://:pw@h:1/2", "redis-sentinel://:pw@a:1,b:2/m/3?sentinel_password=x", "rediss-cluster://a:1,b:2", "redis-socket:///x.sock"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		opt, err := ParseRedisURL(s)
		if err != nil {
			if strings.Contains(s, "pw") && strings.Contains(err.Error(), "pw@") {
				t.Fatalf("error quotes the credentials: %v", err)
			}
			return
		}
		if opt == nil {
			t.Fatal("nil options without an error")
		}
	})
}
