package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/smalruby/meshd/store"
)

// backup is `meshd backup FILE`: a consistent copy of the state file, written to FILE (or to
// stdout for "-"), then checked.
func backup(args, environ []string, stdout io.Writer) error {
	cfg, file, err := stateCommand("backup", args, environ, stdout)
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.dataDir, stateFile)
	write := func(w io.Writer) (int64, error) { return store.BackupFile(path, w) }
	if file == "-" {
		_, err := write(stdout)
		return err
	}
	if err := writeFileAtomically(file, write); err != nil {
		return err
	}
	info, err := store.Inspect(file)
	if err != nil {
		return fmt.Errorf("the backup %s does not check: %w", file, err)
	}
	fmt.Fprintf(stdout, "backup %s: format %d, %d groups, %d members, %d statuses, %d KiB, from %s\n",
		file, info.Format, info.Groups, info.Members, info.Statuses, info.Size>>10, path)
	return nil
}

// restore is `meshd restore FILE`: the state file replaced by the backup FILE, with meshd
// stopped.
func restore(args, environ []string, stdout io.Writer) error {
	cfg, file, err := stateCommand("restore", args, environ, stdout)
	if err != nil {
		return err
	}
	if file == "-" {
		return usageError{errors.New("restore reads a file, not stdin")}
	}
	path := filepath.Join(cfg.dataDir, stateFile)
	_, statErr := os.Stat(path)
	if err := store.Restore(file, path); err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w: stop meshd first (systemctl stop meshd), then restore", err)
		}
		return err
	}
	fmt.Fprintf(stdout, "restored %s from %s\n", path, file)
	if statErr == nil {
		fmt.Fprintf(stdout, "the file it replaced is kept as %s.before-restore\n", path)
	}
	return nil
}

// stateCommand reads the settings and the one FILE argument of backup and restore.
func stateCommand(name string, args, environ []string, help io.Writer) (*config, string, error) {
	cfg, rest, err := parseSettings(args, lookup(environ), help)
	if err != nil {
		return nil, "", err
	}
	if len(rest) != 1 {
		return nil, "", usageError{fmt.Errorf("%s takes one FILE after the flags, got %d arguments", name, len(rest))}
	}
	if cfg.storeKind != "bbolt" {
		return nil, "", usageError{fmt.Errorf("%s works on the bbolt state file; -store is %s", name, cfg.storeKind)}
	}
	return cfg, rest[0], nil
}

// writeFileAtomically writes path through write: into a temporary file beside it, made
// durable, then renamed, so that path is either the old file or the whole new one.
func writeFileAtomically(path string, write func(io.Writer) (int64, error)) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
