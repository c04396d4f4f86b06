//go:build unix

package embeddedmongo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// backupFormat names the archive chorus backup writes: a tar holding
// backupHeader, then pg_basebackup's base.tar.gz, pg_wal.tar.gz and
// backup_manifest.
const (
	backupFormat = "chorus-embedded-documentdb"
	headerName   = "chorus-backup.json"
)

// backupHeader is the archive's first entry.
type backupHeader struct {
	Format    string    `json:"format"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Postgres  string    `json:"postgres"`
}

// Backup writes to w a consistent snapshot of the embedded DocumentDB store
// whose data lives in dir (the directory Start was given): a base backup
// of its PostgreSQL cluster (pg_basebackup, a checkpoint and the WAL
// written while it copies), taken while Chorus runs and writes. When no
// process runs the cluster, Backup starts it for the copy and stops it
// after. The SQLite demo store has no such snapshot: stop Chorus and copy
// its directory.
func Backup(ctx context.Context, dir string, w io.Writer, log *slog.Logger) (err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return err
	}
	pgdata := filepath.Join(dir, pgdataName)
	if !exists(filepath.Join(pgdata, "PG_VERSION")) {
		if sqliteData(dir) {
			return errors.New("the embedded store in " + dir + " is the SQLite demo store: stop Chorus and copy the directory instead")
		}
		return fmt.Errorf("no embedded DocumentDB store in %s", dir)
	}
	in, err := findPostgres(ctx)
	if err != nil {
		return err
	}
	c, shared := runningCluster(ctx, pgdata)
	if !shared {
		unlock, err := lockDir(filepath.Join(dir, lockName))
		if err != nil {
			return err
		}
		c, err = startCluster(ctx, in, dir, pgdata, false, log)
		unlock()
		if err != nil {
			return fmt.Errorf("start the cluster in %s for the backup: %w", pgdata, err)
		}
		defer func() { err = errors.Join(err, c.stop(context.WithoutCancel(ctx))) }()
	}
	tmp, err := os.MkdirTemp("", "chorus-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	target := filepath.Join(tmp, "base")
	cmd := exec.CommandContext(ctx, filepath.Join(in.bindir, "pg_basebackup"), "-h", c.sockDir, "-U", pgUser,
		"-D", target, "-F", "tar", "-z", "-X", "stream", "-c", "fast", "-l", "chorus backup")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_basebackup: %w; its output:\n%s", err, strings.TrimSpace(out.String()))
	}
	version, _ := os.ReadFile(filepath.Join(pgdata, "PG_VERSION"))
	hdr, _ := json.Marshal(backupHeader{Format: backupFormat, Version: 1, CreatedAt: time.Now().UTC(), Postgres: strings.TrimSpace(string(version))})
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: headerName, Mode: 0o600, Size: int64(len(hdr)), ModTime: time.Now()}); err != nil {
		return err
	}
	if _, err := tw.Write(hdr); err != nil {
		return err
	}
	for _, name := range []string{"base.tar.gz", "pg_wal.tar.gz", "backup_manifest"} {
		if err := addFile(tw, filepath.Join(target, name), name); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addFile(tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("the base backup lacks %s: %w", name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

// Restore replaces the embedded DocumentDB store in dir with the snapshot
// r holds (written by Backup). No process may run on dir. The cluster it
// replaces is kept aside, renamed postgres.before-restore-<time>, whose
// path Restore returns ("" when there was none); delete it once the
// restored store is checked. The next Start replays the WAL the backup
// carries and opens the store as it was at the end of the backup.
func Restore(ctx context.Context, dir string, r io.Reader, log *slog.Logger) (aside string, err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	pgdata := filepath.Join(dir, pgdataName)
	if _, running := runningCluster(ctx, pgdata); running {
		return "", fmt.Errorf("a PostgreSQL cluster runs on %s: stop every Chorus process on the data dir first", pgdata)
	}
	cred, err := runAs()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	staging := filepath.Join(dir, pgdataName+".restoring")
	if err := os.RemoveAll(staging); err != nil {
		return "", err
	}
	if err := ownDir(staging, cred); err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(staging)
		}
	}()
	tr := tar.NewReader(r)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read the backup: %w", err)
		}
		if len(seen) == 0 && h.Name != headerName {
			return "", errors.New("not a backup of the embedded store (chorus backup): it does not start with " + headerName)
		}
		switch h.Name {
		case headerName:
			var hdr backupHeader
			if err := json.NewDecoder(io.LimitReader(tr, 1<<16)).Decode(&hdr); err != nil || hdr.Format != backupFormat || hdr.Version != 1 {
				return "", fmt.Errorf("not a backup of the embedded store (chorus backup): %s", h.Name)
			}
		case "base.tar.gz":
			err = extractGzipTar(tr, staging, cred)
		case "pg_wal.tar.gz":
			err = extractGzipTar(tr, filepath.Join(staging, "pg_wal"), cred)
		case "backup_manifest":
		default:
			return "", fmt.Errorf("unexpected %s in the backup", h.Name)
		}
		if err != nil {
			return "", fmt.Errorf("restore %s: %w", h.Name, err)
		}
		seen[h.Name] = true
	}
	if len(seen) == 0 {
		return "", errors.New("not a backup of the embedded store (chorus backup): the file holds no archive entries")
	}
	for _, want := range []string{headerName, "base.tar.gz", "pg_wal.tar.gz"} {
		if !seen[want] {
			return "", fmt.Errorf("the backup is incomplete: it lacks %s", want)
		}
	}
	if exists(pgdata) {
		aside = filepath.Join(dir, pgdataName+".before-restore-"+time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(pgdata, aside); err != nil {
			return "", err
		}
	}
	if err := os.Rename(staging, pgdata); err != nil {
		return aside, err
	}
	log.InfoContext(ctx, "embedded store restored; the next start replays the backup's WAL", slog.String("pgdata", pgdata), slog.String("previous", aside))
	return aside, nil
}

// extractGzipTar unpacks a gzipped tar of pg_basebackup into dir (regular
// files and directories; links are refused), owned by cred's user when set.
func extractGzipTar(r io.Reader, dir string, cred *syscall.Credential) error {
	if err := ownDir(dir, cred); err != nil {
		return err
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("unsafe path %q", h.Name)
		}
		path := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: links and special files are not restored (a tablespace?)", h.Name)
		}
		if cred != nil {
			if err := os.Lchown(path, int(cred.Uid), int(cred.Gid)); err != nil {
				return err
			}
		}
	}
}
