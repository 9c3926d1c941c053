package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestReleaseIsReproducible builds every artifact twice — once with GOFLAGS and GOAMD64 set as
// a careless environment might set them — and expects the same bytes, then checks what is in
// them: the stamped version, the tarballs' entries, SHA256SUMS and the SBOM.
func TestReleaseIsReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds meshd six times; not with -short")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStamp(root, "1.2.3-test", "", "")
	if err != nil {
		t.Fatal(err)
	}
	first, second := t.TempDir(), t.TempDir()
	t.Setenv("GOFLAGS", "-ldflags=-X=main.version=wrong")
	t.Setenv("GOAMD64", "v3")
	names, err := buildAll(root, s, targets, first)
	if err != nil {
		t.Fatal(err)
	}
	os.Unsetenv("GOFLAGS")
	os.Unsetenv("GOAMD64")
	again, err := buildAll(root, s, targets, second)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"SHA256SUMS", "meshd-1.2.3-test-linux-amd64.tar.gz", "meshd-1.2.3-test-linux-arm64.tar.gz",
		"meshd-1.2.3-test-linux-armv7.tar.gz", "meshd-1.2.3-test.cdx.json",
		"meshd_1.2.3-test_amd64.deb", "meshd_1.2.3-test_arm64.deb", "meshd_1.2.3-test_armhf.deb",
	}
	if got := sortedCopy(names); strings.Join(got, " ") != strings.Join(want, " ") || strings.Join(sortedCopy(again), " ") != strings.Join(want, " ") {
		t.Fatalf("artifacts %v and %v, want %v", names, again, want)
	}
	for _, n := range names {
		a, _ := os.ReadFile(filepath.Join(first, n))
		b, _ := os.ReadFile(filepath.Join(second, n))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two builds of the same commit (%d and %d bytes)", n, len(a), len(b))
		}
	}

	sums, _ := os.ReadFile(filepath.Join(first, sumsFile))
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, _ := strings.Cut(line, "  ")
		b, err := os.ReadFile(filepath.Join(first, name))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS: %s does not match %s", sum, name)
		}
	}
	if n := strings.Count(string(sums), "\n"); n != len(want)-1 {
		t.Errorf("SHA256SUMS lists %d files, want %d", n, len(want)-1)
	}

	entries := tarEntries(t, filepath.Join(first, "meshd-1.2.3-test-linux-amd64.tar.gz"))
	dir := "meshd-1.2.3-test-linux-amd64/"
	wantEntries := []string{dir, dir + "LICENSE", dir + "README.ja.md", dir + "README.md", dir + "meshd", dir + "meshd.env.example", dir + "meshd.service"}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name)
		if !e.ModTime.Equal(s.Date) || e.Uid != 0 || e.Gid != 0 {
			t.Errorf("%s: time %v owner %d:%d, want %v and root", e.Name, e.ModTime, e.Uid, e.Gid, s.Date)
		}
	}
	if strings.Join(got, " ") != strings.Join(wantEntries, " ") {
		t.Errorf("tarball entries %v, want %v", got, wantEntries)
	}

	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" {
		bin := filepath.Join(t.TempDir(), "meshd")
		os.WriteFile(bin, tarFile(t, filepath.Join(first, "meshd-1.2.3-test-linux-amd64.tar.gz"), dir+"meshd"), 0o755)
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		wantVersion := fmt.Sprintf("meshd 1.2.3-test (revision %s, committed %s, %s, linux/amd64)\n", s.Commit, s.Date.Format("2006-01-02T15:04:05Z"), runtime.Version())
		if string(out) != wantVersion {
			t.Errorf("meshd version = %q, want %q", out, wantVersion)
		}
	}

	var bom cdxBOM
	raw, _ := os.ReadFile(filepath.Join(first, "meshd-1.2.3-test.cdx.json"))
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatal(err)
	}
	refs := map[string]bool{}
	for _, c := range bom.Components {
		refs[c.Name] = true
	}
	for name, linked := range map[string]bool{"go.etcd.io/bbolt": true, "github.com/nats-io/nats-server/v2": true, "stdlib": true,
		"github.com/chromedp/chromedp": false, "github.com/goreleaser/nfpm/v2": false} {
		if refs[name] != linked {
			t.Errorf("SBOM lists %s: %v, want %v (only what is linked into meshd)", name, refs[name], linked)
		}
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Version != "1.2.3-test" || len(bom.Dependencies) < len(bom.Components) {
		t.Errorf("SBOM: format %s, version %s, %d dependencies for %d components", bom.BOMFormat, bom.Metadata.Component.Version, len(bom.Dependencies), len(bom.Components))
	}

}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func tarReader(t *testing.T, path string) *tar.Reader {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("%s: gzip header names %q at %v, want neither", path, gz.Name, gz.ModTime)
	}
	return tar.NewReader(gz)
}

func tarEntries(t *testing.T, path string) []*tar.Header {
	t.Helper()
	tr := tarReader(t, path)
	var hs []*tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}

func tarFile(t *testing.T, path, name string) []byte {
	t.Helper()
	tr := tarReader(t, path)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s has no %s: %v", path, name, err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return b
		}
	}
}
