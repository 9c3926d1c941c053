package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

// The package's installed paths.
const (
	debBinary  = "/usr/bin/meshd"
	debUnit    = "/lib/systemd/system/meshd.service"
	debEnvFile = "/etc/meshd/meshd.env"
	debDocDir  = "/usr/share/doc/meshd"
)

// debMaintainer is the package's Maintainer field.
const debMaintainer = "Smalruby project <smalruby@users.noreply.github.com>"

// debName is the file name of t's package, as Debian names them.
func debName(s stamp, t target) string {
	return fmt.Sprintf("meshd_%s_%s.deb", s.Version, t.debArch)
}

// writeDeb writes t's Debian package into out; generated files go to work first.
func writeDeb(root string, s stamp, t target, binary, work, out string) (string, error) {
	unit, err := os.ReadFile(filepath.Join(root, "deploy/systemd/meshd.service"))
	if err != nil {
		return "", err
	}
	unit, err = packagedUnit(unit)
	if err != nil {
		return "", err
	}
	license, err := os.ReadFile(filepath.Join(root, "LICENSE"))
	if err != nil {
		return "", err
	}
	changelog, err := gzipped(debChangelog(s))
	if err != nil {
		return "", err
	}
	for name, body := range map[string][]byte{"meshd.service": unit, "copyright": debCopyright(license), "changelog.gz": changelog} {
		if err := os.WriteFile(filepath.Join(work, name), body, 0o644); err != nil {
			return "", err
		}
	}
	scripts := filepath.Join(root, "deploy/debian")
	file := func(src, dst, typ string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: mode, MTime: s.Date}}
	}
	info := &nfpm.Info{
		Name:        "meshd",
		Arch:        t.debArch,
		Platform:    "linux",
		Version:     s.Version,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  debMaintainer,
		Homepage:    "https://github.com/smalruby/meshd",
		License:     "MIT",
		Description: debDescription,
		MTime:       s.Date,
		Overridables: nfpm.Overridables{
			Contents: files.Contents{
				file(binary, debBinary, files.TypeFile, 0o755),
				file(filepath.Join(work, "meshd.service"), debUnit, files.TypeFile, 0o644),
				// Settings may hold keys and secrets: readable by root, who starts the service.
				file(filepath.Join(root, "deploy/systemd/meshd.env.example"), debEnvFile, files.TypeConfigNoReplace, 0o600),
				file(filepath.Join(work, "copyright"), debDocDir+"/copyright", files.TypeFile, 0o644),
				file(filepath.Join(work, "changelog.gz"), debDocDir+"/changelog.gz", files.TypeFile, 0o644),
				file(filepath.Join(root, "README.md"), debDocDir+"/README.md", files.TypeFile, 0o644),
				file(filepath.Join(root, "README.ja.md"), debDocDir+"/README.ja.md", files.TypeFile, 0o644),
				file(filepath.Join(scripts, "lintian-overrides"), "/usr/share/lintian/overrides/meshd", files.TypeFile, 0o644),
			},
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(scripts, "postinst"),
				PreRemove:   filepath.Join(scripts, "prerm"),
				PostRemove:  filepath.Join(scripts, "postrm"),
			},
			Deb: nfpm.Deb{Compression: "gzip"},
		},
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("package %s: %w", t.debArch, err)
	}
	var buf bytes.Buffer
	if err := deb.Default.Package(info, &buf); err != nil {
		return "", fmt.Errorf("package %s: %w", t.debArch, err)
	}
	name := debName(s, t)
	return name, os.WriteFile(filepath.Join(out, name), buf.Bytes(), 0o644)
}

// debDescription is the package's synopsis and extended description.
const debDescription = `Mesh v2 realtime API server for the Smalruby 3 editor
 meshd lets pupils' Smalruby 3 editors share variables and events in a
 lesson on the school's own network: one program serving the Mesh v2
 GraphQL API (AWS AppSync-compatible, over HTTP and WebSockets), with its
 state kept in one file. It runs as the service meshd under systemd; the
 teacher's console is at /console/ on the same port.`

// packagedUnit turns the unit in deploy/systemd (for a binary copied to /usr/local/bin, run as
// a dynamic user) into the package's: /usr/bin/meshd, run as the package's meshd user, so that
// the state directory and its admin key stay readable to `sudo -u meshd meshd …` and survive
// upgrades. It fails when the unit no longer has the lines it rewrites.
func packagedUnit(unit []byte) ([]byte, error) {
	s := string(unit)
	for _, r := range []struct{ old, new string }{
		{"ExecStart=/usr/local/bin/meshd\n", "ExecStart=" + debBinary + "\n"},
		{"DynamicUser=yes\n", "User=meshd\nGroup=meshd\n"},
	} {
		if !strings.Contains(s, r.old) {
			return nil, fmt.Errorf("deploy/systemd/meshd.service has no line %q for the package to rewrite", strings.TrimSpace(r.old))
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	// The header tells how to install the unit by hand; the package has done that.
	var head, rest []string
	lines := strings.Split(s, "\n")
	i := 0
	for ; i < len(lines) && strings.HasPrefix(lines[i], "#"); i++ {
		head = append(head, lines[i])
	}
	rest = lines[i:]
	head = []string{head[0], "# Installed by the meshd Debian package; settings go in " + debEnvFile + "."}
	return []byte(strings.Join(append(head, rest...), "\n")), nil
}

// debCopyright is the package's copyright file, in Debian's machine-readable format.
func debCopyright(license []byte) []byte {
	var b strings.Builder
	b.WriteString("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
	b.WriteString("Upstream-Name: meshd\nSource: https://github.com/smalruby/meshd\n\n")
	b.WriteString("Files: *\nCopyright: The Smalruby project\nLicense: Expat\n")
	for _, line := range strings.Split(strings.TrimSpace(string(license)), "\n") {
		if strings.TrimSpace(line) == "" {
			b.WriteString(" .\n")
		} else {
			b.WriteString(" " + line + "\n")
		}
	}
	return []byte(b.String())
}

// debChangelog is the package's changelog: one entry, for this release.
func debChangelog(s stamp) []byte {
	return []byte(fmt.Sprintf("meshd (%s) stable; urgency=medium\n\n  * Release %s, built from commit %s.\n\n -- %s  %s\n",
		s.Version, s.Version, s.Commit, debMaintainer, s.Date.Format("Mon, 02 Jan 2006 15:04:05 -0700")))
}

// gzipped compresses b as Debian wants its documentation: best compression, no name, no time.
func gzipped(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
