package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// stamp is what a release build is stamped with: it names every artifact and fixes every time
// in them, so that the same stamp gives the same bytes.
type stamp struct {
	Version string    // 1.2.3, without a leading v
	Commit  string    // the full commit hash
	Date    time.Time // the commit's time, UTC; every file's time in every archive
}

// validVersion is what Debian and semver both accept: 1.2.3, 1.2.3-rc.1, 1.2.3+git.
var validVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+([-+~][0-9A-Za-z.+~-]*)?$`)

// newStamp completes the version, commit and date from the repository at root where they are
// not given.
func newStamp(root, version, commit, date string) (stamp, error) {
	version = strings.TrimPrefix(version, "v")
	if version == "" {
		return stamp{}, errors.New("-version is required, e.g. -version 1.2.3")
	}
	var err error
	if commit == "" {
		if commit, err = git(root, "rev-parse", "HEAD"); err != nil {
			return stamp{}, fmt.Errorf("find the commit (or give -commit): %w", err)
		}
	}
	if date == "" {
		date = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if date == "" {
		if date, err = git(root, "log", "-1", "--format=%ct", commit); err != nil {
			return stamp{}, fmt.Errorf("find the commit's time (or give -date): %w", err)
		}
	}
	t, err := parseDate(date)
	if err != nil {
		return stamp{}, err
	}
	return stamp{Version: version, Commit: commit, Date: t}, nil
}

// parseDate reads Unix seconds or RFC 3339.
func parseDate(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date %q: want Unix seconds or RFC 3339", s)
	}
	return t.UTC(), nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, exit.Stderr)
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// moduleRoot is the directory of meshd's go.mod, wherever the command is run from inside it.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run inside the meshd module (go run ./deploy/release from its root)")
	}
	return filepath.Dir(mod), nil
}
