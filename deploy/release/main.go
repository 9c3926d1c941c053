// Command release builds every release artifact of meshd into one directory: the binaries for
// linux/amd64, linux/arm64 and linux/armv7 as tarballs, Debian packages for amd64, arm64 and
// armhf, an SBOM of the Go module graph and SHA256SUMS over all of them. Building twice from the
// same commit gives the same bytes.
//
//	go run ./deploy/release -version 1.2.3            # into dist/
//	go run ./deploy/release -version 1.2.3 -out /tmp/r -platforms linux-amd64
//	go run ./deploy/release -version 1.2.3 -binary /out/meshd   # one binary for GOOS/GOARCH (the container build)
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
)

func main() {
	fs := flag.NewFlagSet("release", flag.ExitOnError)
	version := fs.String("version", "", "the release's version, e.g. 1.2.3 (required)")
	out := fs.String("out", "dist", "directory the artifacts are written to")
	commit := fs.String("commit", "", "commit to stamp (default: git rev-parse HEAD)")
	date := fs.String("date", "", "commit time to stamp, RFC 3339 or Unix seconds (default: the commit's, or $SOURCE_DATE_EPOCH)")
	binary := fs.String("binary", "", "build only the binary for $GOOS/$GOARCH (default: this machine's) into this file")
	platforms := fs.String("platforms", "", "build only these platforms, comma-separated (default: all of linux-amd64,linux-arm64,linux-armv7)")
	fs.Parse(os.Args[1:])
	if err := run(*version, *out, *commit, *date, *binary, *platforms); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(version, out, commit, date, binary, platforms string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	s, err := newStamp(root, version, commit, date)
	if err != nil {
		return err
	}
	if binary != "" {
		t := target{goos: env("GOOS", runtime.GOOS), goarch: env("GOARCH", runtime.GOARCH), goarm: os.Getenv("GOARM")}
		return goBuild(root, s, t, binary)
	}
	// Packages need a version Debian can order; a single binary takes any (git describe's).
	if !validVersion.MatchString(s.Version) {
		return fmt.Errorf("-version %q: want MAJOR.MINOR.PATCH, optionally followed by -PRERELEASE", s.Version)
	}
	ts, err := selectTargets(platforms)
	if err != nil {
		return err
	}
	names, err := buildAll(root, s, ts, out)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Println(n)
	}
	return nil
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
