package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version, commit and date, when set at build time (go build -ldflags "-X main.version=1.2.3
// -X main.commit=… -X main.date=…", as go run ./deploy/release and the container build do),
// replace the module version, VCS revision and commit time the Go toolchain records.
var version, commit, date string

// buildInfo describes this binary: what the Go toolchain embedded in it.
type buildInfo struct {
	Version  string // module version, "(devel)" for a plain go build without a tag
	Revision string // VCS commit, "" when built outside a repository
	Time     string // VCS commit time, RFC 3339
	Modified bool   // the work tree had changes when it was built
	Go       string // Go version
}

// readBuildInfo reads the build information of the running binary.
func readBuildInfo() buildInfo {
	info, _ := debug.ReadBuildInfo()
	return fromBuildInfo(info)
}

// fromBuildInfo picks meshd's build from what the Go toolchain recorded (nil when it recorded
// nothing), with the -ldflags version, when set, in place of the module version.
func fromBuildInfo(info *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: "(devel)", Go: runtime.Version()}
	if info != nil {
		if info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		if info.GoVersion != "" {
			b.Go = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if version != "" {
		b.Version = version
	}
	if commit != "" {
		b.Revision, b.Modified = commit, false
	}
	if date != "" {
		b.Time = date
	}
	return b
}

// String is the one line `meshd version` prints.
func (b buildInfo) String() string {
	details := []string{}
	if b.Revision != "" {
		rev := "revision " + b.Revision
		if b.Modified {
			rev += " (modified)"
		}
		details = append(details, rev)
	}
	if b.Time != "" {
		details = append(details, "committed "+b.Time)
	}
	details = append(details, b.Go, runtime.GOOS+"/"+runtime.GOARCH)
	return fmt.Sprintf("meshd %s (%s)", b.Version, strings.Join(details, ", "))
}
