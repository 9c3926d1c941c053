package main

import (
	"bytes"
	"debug/buildinfo"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name string
		info *debug.BuildInfo
		want string
	}{
		{"nothing recorded", nil, "meshd (devel) (" + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"},
		{"a tagged module", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.4.0"}},
			"meshd v1.4.0 (go1.26.1, " + runtime.GOOS + "/" + runtime.GOARCH + ")"},
		{"a VCS stamp", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.0.0-20261201083513-c7d8c49abcde+dirty"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "c7d8c49abcdef0123456789abcdef0123456789a"},
			{Key: "vcs.time", Value: "2026-12-01T08:35:13Z"}, {Key: "vcs.modified", Value: "true"}}},
			"meshd v0.0.0-20261201083513-c7d8c49abcde+dirty (revision c7d8c49abcdef0123456789abcdef0123456789a (modified), committed 2026-12-01T08:35:13Z, go1.26.1, " + runtime.GOOS + "/" + runtime.GOARCH + ")"},
		{"a clean VCS stamp", &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc"}, {Key: "vcs.modified", Value: "false"}}},
			"meshd (devel) (revision abc, go1.26.1, " + runtime.GOOS + "/" + runtime.GOARCH + ")"},
	}
	for _, tt := range tests {
		if got := fromBuildInfo(tt.info).String(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// versionOf runs the binary's version command in each of its spellings and returns what they
// printed, failing unless they all agree.
func versionOf(t *testing.T, bin string) string {
	t.Helper()
	var first string
	for _, arg := range []string{"version", "-version", "--version", "-v"} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, arg)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Fatalf("meshd %s: %v\n%s", arg, err, &stderr)
		}
		if first == "" {
			first = stdout.String()
		} else if stdout.String() != first {
			t.Fatalf("meshd %s printed %q, meshd version %q", arg, &stdout, first)
		}
	}
	return first
}

// TestVersionMatchesTheBuild checks what the real binary prints against what the Go toolchain
// recorded in it (the VCS stamp, where the build had one) and against a version set at build
// time with -ldflags.
func TestVersionMatchesTheBuild(t *testing.T) {
	bin := meshdBinary(t)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := versionOf(t, bin), fromBuildInfo(info).String()+"\n"; got != want {
		t.Errorf("meshd version = %q, the binary records %q", got, want)
	}

	stamped := filepath.Join(t.TempDir(), "meshd")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.8.7-test", "-o", stamped, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	info, err = buildinfo.ReadFile(stamped)
	if err != nil {
		t.Fatal(err)
	}
	recorded := fromBuildInfo(info)
	recorded.Version = "v9.8.7-test"
	if got, want := versionOf(t, stamped), recorded.String()+"\n"; got != want {
		t.Errorf("meshd version = %q, want %q", got, want)
	}
	if err := exec.Command(stamped, "version", "extra").Run(); err == nil {
		t.Error("meshd version extra succeeded")
	}
}
