package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// tarballFiles are the files beside the binary in every tarball: where they are in the
// repository, and their mode.
var tarballFiles = []struct {
	src  string
	mode int64
}{
	{"README.md", 0o644},
	{"README.ja.md", 0o644},
	{"LICENSE", 0o644},
	{"deploy/systemd/meshd.env.example", 0o644},
	{"deploy/systemd/meshd.service", 0o644},
}

// tarballName is the file name of t's tarball.
func tarballName(s stamp, t target) string {
	return fmt.Sprintf("meshd-%s-%s.tar.gz", s.Version, t.name)
}

// writeTarball writes meshd-VERSION-PLATFORM.tar.gz into out: one directory of that name holding
// the binary, both READMEs, the LICENSE, the example settings and the systemd unit. Entries are
// sorted, owned by root, dated at the commit; the gzip header has no name and no time.
func writeTarball(root string, s stamp, t target, binary, out string) (string, error) {
	dir := fmt.Sprintf("meshd-%s-%s", s.Version, t.name)
	type entry struct {
		name string
		mode int64
		body []byte
	}
	bin, err := os.ReadFile(binary)
	if err != nil {
		return "", err
	}
	entries := []entry{{dir + "/meshd", 0o755, bin}}
	for _, f := range tarballFiles {
		b, err := os.ReadFile(filepath.Join(root, f.src))
		if err != nil {
			return "", fmt.Errorf("tarball: %w", err)
		}
		entries = append(entries, entry{dir + "/" + filepath.Base(f.src), f.mode, b})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return "", err
	}
	tw := tar.NewWriter(gz)
	hdr := func(name string, typ byte, mode, size int64) *tar.Header {
		return &tar.Header{Typeflag: typ, Name: name, Mode: mode, Size: size, ModTime: s.Date,
			Uname: "root", Gname: "root", Format: tar.FormatUSTAR}
	}
	if err := tw.WriteHeader(hdr(dir+"/", tar.TypeDir, 0o755, 0)); err != nil {
		return "", err
	}
	for _, e := range entries {
		if err := tw.WriteHeader(hdr(e.name, tar.TypeReg, e.mode, int64(len(e.body)))); err != nil {
			return "", fmt.Errorf("tarball %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.body); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	name := tarballName(s, t)
	return name, os.WriteFile(filepath.Join(out, name), buf.Bytes(), 0o644)
}
