package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/smalruby/meshd/cmd/meshd/tlscert"
	"github.com/smalruby/meshd/store"
)

// check is `meshd check`: it validates the settings, as a start would, and the data directory
// and state file read-only, printing one line per finding. It opens nothing for writing and
// returns an error when it found a problem.
func check(args, environ []string, stdout io.Writer) error {
	cfg, err := parseConfig(args, lookup(environ), stdout)
	if err != nil {
		return err
	}
	r := &findings{out: stdout}
	r.ok("settings are valid")
	for _, u := range unknownVariables(environ) {
		r.problem(u)
	}
	for _, w := range cfg.warnings() {
		r.warning(w)
	}
	if cfg.tlsCert != "" {
		if _, err := tlscert.Load(cfg.tlsCert, cfg.tlsKey); err != nil {
			r.problem(err.Error())
		} else {
			r.ok("TLS certificate " + cfg.tlsCert + " loads")
		}
	}
	if c := cfg.cluster; c.tlsCert != "" {
		if _, err := tlscert.Mutual(c.tlsCert, c.tlsKey, c.tlsCA); err != nil {
			r.problem(err.Error())
		} else {
			r.ok("cluster route certificate " + c.tlsCert + " loads")
		}
	}
	checkDataDir(r, cfg)
	if r.problems > 0 {
		return fmt.Errorf("check: %d problem(s)", r.problems)
	}
	fmt.Fprintln(stdout, "meshd check: no problems")
	return nil
}

// checkDataDir checks the data directory, the secret and the state file without changing them.
func checkDataDir(r *findings, cfg *config) {
	needsDir := cfg.storeKind == "bbolt" || cfg.secret == ""
	if !needsDir {
		return
	}
	fi, err := os.Stat(cfg.dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.ok("data directory " + cfg.dataDir + " does not exist yet: meshd creates it at the first start")
		return
	case err != nil:
		r.problem(fmt.Sprintf("data directory: %v", err))
		return
	case !fi.IsDir():
		r.problem("data directory " + cfg.dataDir + " is not a directory")
		return
	}
	if err := syscall.Access(cfg.dataDir, 2 /* W_OK */); err != nil {
		r.problem(fmt.Sprintf("data directory %s is not writable by this user: %v", cfg.dataDir, err))
	} else {
		r.ok("data directory " + cfg.dataDir + " is writable")
	}
	if needsSecret(cfg) {
		secret := filepath.Join(cfg.dataDir, "secret")
		switch b, err := os.ReadFile(secret); {
		case errors.Is(err, fs.ErrNotExist):
			r.ok("no secret yet: meshd generates " + secret + " at the first start")
		case err != nil:
			r.problem(fmt.Sprintf("secret: %v", err))
		case strings.TrimSpace(string(b)) == "":
			r.warning(secret + " is empty: meshd generates a new secret, and every createDomain answer changes")
		default:
			r.ok("secret " + secret + " is readable")
		}
	}
	if cfg.storeKind != "bbolt" {
		return
	}
	path := filepath.Join(cfg.dataDir, stateFile)
	if msg := unopenable(fi, path); msg != "" {
		r.problem(msg)
	}
	info, err := store.Inspect(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.ok("no state file yet: meshd creates " + path + " at the first start")
	case errors.Is(err, store.ErrLocked):
		r.warning("state file " + path + " is in use by a running meshd: it was not checked (stop meshd, or take a backup and check that)")
	case err != nil:
		r.problem(fmt.Sprintf("state file %s: %v", path, err))
	case info.Format == 0:
		r.ok("state file " + path + " is empty: meshd initialises it at the next start")
	default:
		line := fmt.Sprintf("state file %s: format %d, %s, %d KiB", path, info.Format, counts(info), info.Size>>10)
		if info.Format != store.FormatVersion {
			line += fmt.Sprintf("; the next start upgrades it to format %d and keeps the original as %s.format%d", store.FormatVersion, path, info.Format)
		}
		r.ok(line)
	}
}

// unopenable says why the owner of the data directory — the user meshd runs as — could not
// open the state file at path for writing, or "" when it could or there is no file. check
// often runs as root, who can open anything, so its own access proves nothing.
func unopenable(dir fs.FileInfo, path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	d, ok := dir.Sys().(*syscall.Stat_t)
	f, ok2 := fi.Sys().(*syscall.Stat_t)
	if !ok || !ok2 || d.Uid == 0 {
		return ""
	}
	perm := fi.Mode().Perm()
	var rw fs.FileMode
	switch {
	case f.Uid == d.Uid:
		rw = perm >> 6 & 6
	case f.Gid == d.Gid:
		rw = perm >> 3 & 6
	default:
		rw = perm & 6
	}
	if rw == 6 {
		return ""
	}
	return fmt.Sprintf("state file %s belongs to %s with mode %04o: %s, who owns the data directory and runs meshd, cannot open it (restored or copied as root?); give it back with chown %s %s",
		path, userName(f.Uid), perm, userName(d.Uid), userName(d.Uid), path)
}

// userName is the name of the user uid, or its number when it has none.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

// findings prints what check finds, one a line, and counts the problems.
type findings struct {
	out      io.Writer
	problems int
}

func (r *findings) ok(msg string)      { fmt.Fprintln(r.out, "ok       "+msg) }
func (r *findings) warning(msg string) { fmt.Fprintln(r.out, "warning  "+msg) }
func (r *findings) problem(msg string) {
	r.problems++
	fmt.Fprintln(r.out, "problem  "+msg)
}

// counts is what a state file holds, as check and backup print it: "1 group, 2 members, 0 statuses".
func counts(info store.Info) string {
	return plural(info.Groups, "group") + ", " + plural(info.Members, "member") + ", " + plural(info.Statuses, "status")
}
