package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// target is one platform meshd is released for.
type target struct {
	goos, goarch, goarm string
	name                string // in the tarball's name: linux-armv7
	debArch             string // Debian's name: armhf
}

// targets are the released platforms: PCs and servers, and Raspberry Pi OS 64- and 32-bit.
var targets = []target{
	{goos: "linux", goarch: "amd64", name: "linux-amd64", debArch: "amd64"},
	{goos: "linux", goarch: "arm64", name: "linux-arm64", debArch: "arm64"},
	{goos: "linux", goarch: "arm", goarm: "7", name: "linux-armv7", debArch: "armhf"},
}

// buildEnv are the variables that change what go build writes; the build sets every one of
// them itself, so that the caller's environment (GOFLAGS=-ldflags=…, GOAMD64=v3) cannot change
// a release.
var buildEnv = []string{"GOFLAGS", "GOOS", "GOARCH", "GOARM", "GOAMD64", "GOARM64", "CGO_ENABLED", "GOEXPERIMENT", "GOTOOLCHAIN"}

// ldflags are the linker flags of every meshd build that carries a version: the release
// artifacts and the container image (which builds through -binary).
func ldflags(s stamp) string {
	return strings.Join([]string{
		"-s", "-w", "-buildid=",
		"-X main.version=" + s.Version,
		"-X main.commit=" + s.Commit,
		"-X main.date=" + s.Date.Format("2006-01-02T15:04:05Z"),
	}, " ")
}

// goBuild builds meshd for t into out: static, -trimpath, no VCS stamp of its own (the
// stamp's commit stands in for it, so a dirty work tree or a missing .git changes nothing).
func goBuild(root string, s stamp, t target, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags(s), "-o", abs, "./cmd/meshd")
	cmd.Dir = root
	cmd.Env = append(without(os.Environ(), buildEnv), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local",
		"GOOS="+t.goos, "GOARCH="+t.goarch, "GOARM="+t.goarm, "GOAMD64=v1", "GOARM64=v8.0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s/%s: %w\n%s", t.goos, t.goarch, err, b)
	}
	return nil
}

// without is environ less the variables named in keys.
func without(environ, keys []string) []string {
	var out []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, key := range keys {
			drop = drop || k == key
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// selectTargets returns the targets named in list (comma-separated), all when it is empty.
func selectTargets(list string) ([]target, error) {
	if list == "" {
		return targets, nil
	}
	var ts []target
	for _, name := range strings.Split(list, ",") {
		found := false
		for _, t := range targets {
			if t.name == strings.TrimSpace(name) {
				ts, found = append(ts, t), true
			}
		}
		if !found {
			return nil, fmt.Errorf("-platforms: no platform %q (linux-amd64, linux-arm64, linux-armv7)", name)
		}
	}
	return ts, nil
}

// buildAll writes the artifacts of ts into out and returns their names, sorted.
func buildAll(root string, s stamp, ts []target, out string) ([]string, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", out, err)
	}
	work, err := os.MkdirTemp("", "meshd-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var names []string
	var firstBinary string
	for _, t := range ts {
		bin := filepath.Join(work, t.name, "meshd")
		if err := goBuild(root, s, t, bin); err != nil {
			return nil, err
		}
		if firstBinary == "" {
			firstBinary = bin
		}
		tgz, err := writeTarball(root, s, t, bin, out)
		if err != nil {
			return nil, err
		}
		deb, err := writeDeb(root, s, t, bin, filepath.Join(work, t.name), out)
		if err != nil {
			return nil, err
		}
		names = append(names, tgz, deb)
	}
	sbom, err := writeSBOM(root, s, firstBinary, out)
	if err != nil {
		return nil, err
	}
	names = append(names, sbom)
	sort.Strings(names)
	if err := writeSums(out, names); err != nil {
		return nil, err
	}
	return append(names, sumsFile), nil
}
