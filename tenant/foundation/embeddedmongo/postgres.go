//go:build unix

package embeddedmongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chorushq/chorus/tenant/foundation/childproc"
)

const (
	// pgMajor is the PostgreSQL release the DocumentDB build targets.
	pgMajor = "15"

	// pgUser is the superuser of the private cluster, and the system user
	// the cluster runs as when Chorus runs as root (initdb refuses root).
	pgUser = "postgres"

	// confName is the file Chorus rewrites at every start of the cluster;
	// postgresql.conf includes it.
	confName = "chorus.conf"

	// pgReadyTimeout bounds how long a start waits for the cluster to accept
	// connections (a cold start also creates the extension, which loads
	// PostGIS: seconds).
	pgReadyTimeout = 60 * time.Second
	// pgStopGrace is how long stop waits after a fast shutdown request
	// before an immediate one, and again before SIGKILL.
	pgStopGrace = 30 * time.Second
)

// pgInstall is where PostgreSQL's programs and extensions are.
type pgInstall struct {
	ferretdb  string // FerretDB v2's binary, installed beside postgres
	bindir    string
	sharedir  string
	pkglibdir string
}

// findPostgres finds PostgreSQL 15 with the DocumentDB extension and
// FerretDB v2 (installed beside it by .ci/build-documentdb): Debian's
// tree first, then pg_config on PATH. It returns an error wrapping
// ErrNotInstalled that says what is missing and how to install it.
func findPostgres(ctx context.Context) (pgInstall, error) {
	pgConfig := "/usr/lib/postgresql/" + pgMajor + "/bin/pg_config"
	if _, err := os.Stat(pgConfig); err != nil {
		p, err := exec.LookPath("pg_config")
		if err != nil {
			return pgInstall{}, fmt.Errorf("%w: no PostgreSQL %s (pg_config not found); run .ci/build-documentdb from a Chorus checkout (Debian, Ubuntu) to install it", ErrNotInstalled, pgMajor)
		}
		pgConfig = p
	}
	out, err := exec.CommandContext(ctx, pgConfig, "--bindir", "--sharedir", "--pkglibdir", "--version").Output()
	if err != nil {
		return pgInstall{}, fmt.Errorf("%w: %s: %v", ErrNotInstalled, pgConfig, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 {
		return pgInstall{}, fmt.Errorf("%w: %s printed %q", ErrNotInstalled, pgConfig, out)
	}
	in := pgInstall{bindir: lines[0], sharedir: lines[1], pkglibdir: lines[2], ferretdb: filepath.Join(lines[0], "ferretdb")}
	if v := lines[3]; !strings.HasPrefix(v, "PostgreSQL "+pgMajor+".") {
		return pgInstall{}, fmt.Errorf("%w: %s is %s, the DocumentDB build needs PostgreSQL %s", ErrNotInstalled, pgConfig, v, pgMajor)
	}
	for _, f := range []string{
		filepath.Join(in.bindir, "postgres"),
		filepath.Join(in.bindir, "initdb"),
		filepath.Join(in.sharedir, "extension", "documentdb.control"),
		filepath.Join(in.pkglibdir, "pg_documentdb.so"),
		filepath.Join(in.pkglibdir, "pg_cron.so"),
		in.ferretdb,
	} {
		if _, err := os.Stat(f); err != nil {
			return pgInstall{}, fmt.Errorf("%w: %s is missing; run .ci/build-documentdb from a Chorus checkout (Debian, Ubuntu) to build and install it", ErrNotInstalled, f)
		}
	}
	return in, nil
}

// runAs says which system user the cluster's processes run as: nil for
// this process's own user, the postgres user when this process is root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(pgUser)
	if err != nil {
		return nil, fmt.Errorf("running as root, the cluster runs as the %q user, which does not exist: %w (create it, or run Chorus as another user)", pgUser, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", pgUser, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", pgUser, u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// ownDir creates dir with mode 0700 if missing and, when cred is set, hands
// it to that user.
func ownDir(dir string, cred *syscall.Credential) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if cred == nil {
		return nil
	}
	return os.Chown(dir, int(cred.Uid), int(cred.Gid))
}

// reachable makes sure the user of cred can walk down to pgdata. The
// directories that Chorus made (dir, the embedded store's directory, what
// lies between it and pgdata, and the data directory holding dir) get the
// search bit for others where they lack it (0711: no listing); a directory
// above them without it is an error that says which one.
func reachable(dir, pgdata string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	ours := filepath.Dir(dir)
	for d := filepath.Dir(pgdata); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if perm := fi.Mode().Perm(); perm&0o001 == 0 {
			if d != ours && !strings.HasPrefix(d, ours+string(filepath.Separator)) {
				return fmt.Errorf("the %s user cannot reach %s: %s is not searchable by others (chmod o+x %s, or choose a data directory it can reach)", pgUser, pgdata, d, d)
			}
			if err := os.Chmod(d, perm|0o011); err != nil {
				return err
			}
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// cluster is a PostgreSQL cluster serving pgdata on a unix socket in
// sockDir: started by this process (postmaster set) or by another one.
type cluster struct {
	pgdata  string
	sockDir string

	postmaster *child // nil when another process runs the cluster
	cleanup    func() // removes a temporary socket directory
}

// connString returns a libpq connection string for database db.
func (c *cluster) connString(db string) string {
	return fmt.Sprintf("host=%s user=%s dbname=%s sslmode=disable", c.sockDir, pgUser, db)
}

// PostgresConnString returns a libpq connection string to the postgres
// database of the cluster a process serves for the embedded store in dir
// (as its superuser), if one runs: for tests that change its settings.
func PostgresConnString(ctx context.Context, dir string) (string, bool) {
	c, ok := runningCluster(ctx, filepath.Join(dir, "postgres"))
	if !ok {
		return "", false
	}
	return c.connString("postgres"), true
}

// runningCluster returns the cluster another process serves on pgdata, if
// its postmaster.pid names a live postmaster that accepts connections.
func runningCluster(ctx context.Context, pgdata string) (*cluster, bool) {
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return nil, false
	}
	// postmaster.pid: pid, data dir, start time, port, socket directory, …
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		return nil, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) == syscall.ESRCH {
		return nil, false
	}
	c := &cluster{pgdata: pgdata, sockDir: strings.TrimSpace(lines[4])}
	if c.sockDir == "" || c.ping(ctx) != nil {
		return nil, false
	}
	return c, true
}

// ping connects to the postgres database and runs a query.
func (c *cluster) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.connString("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// clusterConfig returns chorus.conf: no TCP, the unix socket in sockDir,
// the libraries and settings DocumentDB needs (its packaging/10-preload.sh;
// DocumentDB and pg_cron connect back to the cluster through libpq, by
// default over TCP to localhost, here through the socket), and, for an ephemeral cluster, no flushing to disk.
//
// defaultUseCompositeOpClass makes every index created without options
// one whose keys are composite terms (DocumentDB's "ordered" index): an
// equality on the leading fields and a range on the next one read only
// their part of the index. The default index keeps one term per field and
// intersects them, so a condition on tenant_id (the same in every document
// of a tenant's collection) or on a state such as published reads the
// whole collection's worth of entries: the 30-day analytics summary cost
// 38 ms instead of 4 ms among 73,000 daily totals, a window of the feed
// 13 ms instead of 2.6 ms among 10,000 posts (docs/scaling.md).
func clusterConfig(sockDir string, ephemeral bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by Chorus at every start of its embedded cluster; edits are lost.
listen_addresses = ''
unix_socket_directories = '%[1]s'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 128MB
shared_preload_libraries = 'pg_cron,pg_documentdb_core,pg_documentdb'
cron.database_name = 'postgres'
cron.log_run = off
cron.host = '%[1]s'
documentdb.localhost_connection_string = 'host=%[1]s'
documentdb.enableCompact = true
documentdb.enableLetAndCollationForQueryMatch = true
documentdb.enableNowSystemVariable = true
documentdb.enableSortbyIdPushDownToPrimaryKey = true
documentdb.enableSchemaValidation = true
documentdb.enableBypassDocumentValidation = true
documentdb.enableUserCrud = true
documentdb.maxUserLimit = 100
documentdb.defaultUseCompositeOpClass = true
logging_collector = off
log_destination = 'stderr'
log_min_messages = warning
`, strings.ReplaceAll(sockDir, "'", "''"))
	if ephemeral {
		b.WriteString("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
	}
	return b.String()
}

// includeConf makes the postgresql.conf at path include chorus.conf, once.
func includeConf(path string) error {
	line := fmt.Sprintf("include = '%s'", confName)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if bytes.Contains(b, []byte(line)) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\n# Chorus's settings, rewritten at every start.\n%s\n", line)
	return errors.Join(err, f.Close())
}

// startCluster initialises pgdata if it holds no cluster yet, starts a
// postmaster on it as a child process and waits until it accepts
// connections; the first start creates the documentdb extension.
func startCluster(ctx context.Context, in pgInstall, dir, pgdata string, ephemeral bool, log *slog.Logger) (_ *cluster, err error) {
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	if err := ownDir(pgdata, cred); err != nil {
		return nil, fmt.Errorf("create %s: %w", pgdata, err)
	}
	if err := reachable(dir, pgdata, cred); err != nil {
		return nil, err
	}
	c := &cluster{pgdata: pgdata, sockDir: pgdata, cleanup: func() {}}
	// The socket is sockDir/.s.PGSQL.5432: keep it under the sun_path limit.
	if len(filepath.Join(pgdata, ".s.PGSQL.5432")) >= maxSocketPath {
		// The same directory for pgdata in every process: the FerretDBs
		// of other processes find a cluster that one of them restarts.
		uid := os.Geteuid()
		if cred != nil {
			uid = int(cred.Uid)
		}
		c.sockDir, err = childproc.SocketDir("chorus-pg-", pgdata, uid)
		if err != nil {
			return nil, fmt.Errorf("socket directory: %w", err)
		}
		if err := ownDir(c.sockDir, cred); err != nil {
			_ = os.RemoveAll(c.sockDir)
			return nil, fmt.Errorf("socket directory: %w", err)
		}
		d := c.sockDir
		c.cleanup = func() { _ = os.RemoveAll(d) }
		defer func() {
			if err != nil {
				c.cleanup()
			}
		}()
	}
	fresh := false
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		fresh = true
		args := []string{"-D", pgdata, "-U", pgUser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-instructions"}
		if ephemeral {
			args = append(args, "--no-sync")
		}
		cmd := exec.CommandContext(ctx, filepath.Join(in.bindir, "initdb"), args...)
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("initdb %s: %w; its output:\n%s", pgdata, err, strings.TrimSpace(out.String()))
		}
	}
	if err := includeConf(filepath.Join(pgdata, "postgresql.conf")); err != nil {
		return nil, fmt.Errorf("postgresql.conf: %w", err)
	}
	conf := filepath.Join(pgdata, confName)
	if err := os.WriteFile(conf, []byte(clusterConfig(c.sockDir, ephemeral)), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", conf, err)
	}
	if cred != nil {
		if err := os.Chown(conf, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}

	c.postmaster, err = startChild("postgres", filepath.Join(in.bindir, "postgres"), []string{"-D", pgdata}, cred, syscall.SIGINT, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = c.stop(context.WithoutCancel(ctx))
		}
	}()
	sock := filepath.Join(c.sockDir, ".s.PGSQL.5432")
	err = c.postmaster.waitReady(ctx, pgReadyTimeout, func(ctx context.Context) error {
		if err := childproc.DialUnix(ctx, sock); err != nil {
			return err
		}
		return c.ping(ctx)
	})
	if err != nil {
		return nil, err
	}
	if err := c.ensureExtension(ctx); err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "embedded PostgreSQL cluster started",
		slog.Int("pid", c.postmaster.cmd.Process.Pid), slog.String("pgdata", pgdata),
		slog.String("socket_dir", c.sockDir), slog.Bool("initialised", fresh))
	return c, nil
}

// ensureExtension creates the documentdb extension (and, by CASCADE, the
// ones it requires) in the postgres database, where FerretDB works, when it
// is not there yet.
func (c *cluster) ensureExtension(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.connString("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS documentdb CASCADE"); err != nil {
		return fmt.Errorf("create extension documentdb: %w", err)
	}
	return nil
}

// stop stops a postmaster this process started: a fast shutdown (SIGINT:
// sessions are ended, the data is checkpointed), then an immediate one
// (SIGQUIT) and SIGKILL if it has not exited after pgStopGrace each, or
// SIGKILL when ctx ends. A cluster of another process is left running. stop
// is idempotent.
func (c *cluster) stop(ctx context.Context) error {
	if c.postmaster == nil {
		return nil
	}
	defer c.cleanup()
	return c.postmaster.stop(ctx, pgStopGrace, syscall.SIGINT, syscall.SIGQUIT)
}
