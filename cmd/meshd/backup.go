package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/atomicfile"
	"github.com/smalruby/meshd/cmd/meshd/running"
	"github.com/smalruby/meshd/store"
)

// backupPath is where a running meshd serves a backup of its state file, to admin keys only,
// beside the console (on -console-addr when that is set).
const backupPath = "/console/api/backup"

// backup is `meshd backup FILE`: a consistent copy of the state file, written to FILE (or to
// stdout for "-"), then checked. A stopped meshd's file is read directly; a running meshd
// holds its file, so the copy comes from it over HTTP, with an admin key.
func backup(ctx context.Context, args, environ []string, stdout io.Writer) error {
	cfg, file, err := stateCommand("backup", args, environ, stdout)
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.dataDir, stateFile)
	source := path
	write := func(w io.Writer) (int64, error) {
		n, err := store.BackupFile(path, w)
		if errors.Is(err, store.ErrLocked) {
			var url string
			url, n, err = backupOverHTTP(ctx, cfg, w)
			source = "the running meshd at " + url
		}
		return n, err
	}
	if file == "-" {
		_, err := write(stdout)
		return err
	}
	if err := atomicfile.Write(file, write); err != nil {
		return err
	}
	info, err := store.Inspect(file)
	if err != nil {
		return fmt.Errorf("the backup %s does not check: %w", file, err)
	}
	fmt.Fprintf(stdout, "backup %s: format %d, %s, %d KiB, from %s\n", file, info.Format, counts(info), info.Size>>10, source)
	return nil
}

// backupOverHTTP copies the state file of the meshd running on cfg's data directory to w,
// through its backup endpoint at the address it recorded there, and returns the endpoint's
// URL. An answer from any other server is refused before a byte is written.
func backupOverHTTP(ctx context.Context, cfg *config, w io.Writer) (string, int64, error) {
	var key string
	if len(cfg.adminKeys) > 0 {
		key = cfg.adminKeys[0]
	} else {
		k, _, err := readAdminKey(cfg.dataDir)
		if err != nil {
			return "", 0, fmt.Errorf("a meshd runs on %s, so the backup comes from it and needs an admin key (-admin-keys, MESH_ADMIN_KEYS, or the admin-key file meshd generates): %w", cfg.dataDir, err)
		}
		key = k
	}
	rec, err := running.Read(cfg.dataDir)
	if err != nil {
		return "", 0, fmt.Errorf("a meshd holds %s, but: %w", filepath.Join(cfg.dataDir, stateFile), err)
	}
	client, err := running.Client(rec.URL, cfg.tlsCert)
	if err != nil {
		return "", 0, err
	}
	url := rec.URL + backupPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return url, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := client.Do(req)
	if err != nil {
		return url, 0, fmt.Errorf("backup from the running meshd: %w", err)
	}
	defer resp.Body.Close()
	if err := rec.Check(resp, cfg.dataDir); err != nil {
		return url, 0, fmt.Errorf("backup: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return url, 0, fmt.Errorf("backup: %s answered %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return url, n, fmt.Errorf("backup from %s broke off after %d bytes: %w", url, n, err)
	}
	return url, n, nil
}

// backupEndpoint is the admin endpoint that serves backups of a bbolt state file; none for
// the memory store.
func backupEndpoint(st store.Store, log *slog.Logger) map[string]http.Handler {
	b, ok := st.(*store.Bolt)
	if !ok {
		return nil
	}
	return map[string]http.Handler{"GET " + backupPath: serveBackup(b, log)}
}

// backupTimeout is how long a backup download may take: one that is read more slowly is cut,
// so that a stalled reader does not hold its copy of the state file for ever.
const backupTimeout = 10 * time.Minute

// serveBackup writes a consistent copy of the open state file. A failure after the first byte
// aborts the response, so that the client sees a broken download, never a short file. The
// copy never holds commits, however slowly it is read (see store.Bolt.Backup).
func serveBackup(st *store.Bolt, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(backupTimeout))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="meshd-`+time.Now().UTC().Format("20060102T150405Z")+`.db"`)
		w.Header().Set("Cache-Control", "no-store")
		n, err := st.Backup(w)
		if err != nil {
			log.Error("backup failed", "err", err, "written", n)
			panic(http.ErrAbortHandler)
		}
		log.Info("backup taken", "bytes", n, "remote", r.RemoteAddr)
	}
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
