package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/chorushq/chorus/tenant"
	"github.com/chorushq/chorus/tenant/foundation/embeddedmongo"
)

// embeddedOnly returns the configuration of a backup or restore command,
// which work on the embedded store only (MongoDB has mongodump).
func embeddedOnly(cmd string, getenv func(string) string, stdout io.Writer) (config, error) {
	cfg, err := parseConfig("operator", nil, getenv, stdout)
	if err != nil {
		return cfg, fmt.Errorf("configuration:\n%w", err)
	}
	if cfg.MongoURI != "" {
		return cfg, fmt.Errorf("chorus %s is for the embedded store, and CHORUS_MONGO_URI is set: use mongodump --oplog and mongorestore --oplogReplay (docs/backup.md)", cmd)
	}
	return cfg, nil
}

// runBackup is `chorus backup <file>`: a consistent snapshot of the
// embedded store, taken while Chorus runs (see embeddedmongo.Backup).
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	if len(args) != 1 || args[0] == "" || args[0][0] == '-' {
		return errors.New("usage: chorus backup <file>")
	}
	cfg, err := embeddedOnly("backup", getenv, stdout)
	if err != nil {
		return err
	}
	// Written beside the file, then renamed: a failed backup leaves no
	// file that looks whole.
	tmp, err := os.CreateTemp(filepath.Dir(args[0]), ".chorus-backup-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	log := slog.New(slog.DiscardHandler)
	err = embeddedmongo.Backup(ctx, filepath.Join(cfg.DataDir, "mongo"), tmp, log)
	if err = errors.Join(err, tmp.Sync(), tmp.Close()); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), args[0]); err != nil {
		return err
	}
	fi, err := os.Stat(args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up the embedded store of %s to %s (%d bytes); keep CHORUS_TOKEN_KEYS with it: stored social network tokens are unreadable without them\n",
		cfg.DataDir, args[0], fi.Size())
	return nil
}

// runRestore is `chorus restore <file>`: replaces the embedded store with a
// backup, keeping the erasure ledger's entries made since the backup, so
// that `chorus privacy replay-erasures` erases again whoever was erased
// after it. Every Chorus process on the data dir must be stopped.
func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	usage := errors.New("usage: chorus restore [--without-current-ledger] <file>")
	fs := flag.NewFlagSet("chorus restore", flag.ContinueOnError)
	fs.SetOutput(stdout)
	noLedger := fs.Bool("without-current-ledger", false, "restore even when the current store cannot be read: erasures made since the backup are then not replayed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usage
	}
	file := fs.Arg(0)
	cfg, err := embeddedOnly("restore", getenv, stdout)
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	dir := filepath.Join(cfg.DataDir, "mongo")
	log := slog.New(slog.DiscardHandler)

	var ledger tenant.Ledger
	if _, err := os.Stat(filepath.Join(dir, "postgres", "PG_VERSION")); err == nil && !*noLedger {
		err := withEmbeddedStore(ctx, cfg, dir, log, func(s *tenant.Store) (err error) {
			ledger, err = s.ReadLedger(ctx)
			return err
		})
		if err != nil {
			return fmt.Errorf("read the current erasure ledger, which the restore keeps: %w (fix the store, or restore --without-current-ledger and erase again by hand whoever was erased after the backup)", err)
		}
	}
	aside, err := embeddedmongo.Restore(ctx, dir, f, log)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	merged := 0
	if err := withEmbeddedStore(ctx, cfg, dir, log, func(s *tenant.Store) (err error) {
		merged, err = s.MergeLedger(ctx, ledger)
		return err
	}); err != nil {
		return fmt.Errorf("the restored store: %w", err)
	}
	fmt.Fprintf(stdout, "restored the embedded store of %s from %s\n", cfg.DataDir, file)
	if aside != "" {
		fmt.Fprintf(stdout, "the store it replaced is kept in %s: delete it once the restore is checked\n", aside)
	}
	fmt.Fprintf(stdout, "erasure ledger: %d entries made since the backup kept\n", merged)
	fmt.Fprintln(stdout, "next: chorus privacy replay-erasures, then start Chorus")
	return nil
}

// withEmbeddedStore starts the embedded DocumentDB store in dir, runs f
// on it and stops it.
func withEmbeddedStore(ctx context.Context, cfg config, dir string, log *slog.Logger, f func(*tenant.Store) error) (err error) {
	m, err := embeddedmongo.Start(ctx, dir, embeddedmongo.Options{Engine: embeddedmongo.EngineDocumentDB}, log)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, m.Stop(context.WithoutCancel(ctx))) }()
	s, err := tenant.OpenStore(ctx, tenant.StoreConfig{URI: m.URI(), Database: cfg.MongoDatabase, Log: log})
	if err != nil {
		return err
	}
	defer s.Close(context.WithoutCancel(ctx))
	return f(s)
}
