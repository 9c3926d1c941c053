package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

// meshd keeps a generated secret only where a domain it shapes must outlive the process or
// stay unguessable; -store memory with the fixed mode needs none and writes none.
func TestBinaryWritesASecretOnlyWhenNeeded(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		secret bool
		domain string // the domain createDomain must answer, when it is known
	}{
		{"memory, fixed", []string{"-store", "memory"}, false, broker.DomainHash("", "meshd")},
		{"memory, ip", []string{"-store", "memory", "-domain-mode", "ip"}, true, ""},
		{"bbolt, fixed", nil, true, ""},
		{"configured", []string{"-secret-key", "lesson", "-domain-mode", "fixed"}, false, broker.DomainHash("lesson", "meshd")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := startMeshd(t, append([]string{"-data-dir", dir}, tt.args...)...)
			domain := p.post(t, `mutation { createDomain }`, nil)["createDomain"]
			_, err := os.Stat(filepath.Join(dir, "secret"))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if written := err == nil; written != tt.secret {
				t.Fatalf("secret written: %v, want %v", written, tt.secret)
			}
			if tt.domain != "" && domain != tt.domain {
				t.Fatalf("createDomain %q, want %q", domain, tt.domain)
			}
		})
	}
}

// TestMain removes the meshd the tests built, and fails the package's tests when one of them
// left a data directory in the source tree, as a meshd started without -data-dir would.
func TestMain(m *testing.M) {
	meshdtest.Main(noDataDirLeft{m})
}

// noDataDirLeft runs the tests and fails them when they left meshd-data/ behind.
type noDataDirLeft struct{ m *testing.M }

func (n noDataDirLeft) Run() int {
	_, before := os.Stat("meshd-data")
	code := n.m.Run()
	if _, after := os.Stat("meshd-data"); after == nil && before != nil {
		fmt.Fprintln(os.Stderr, "a test left meshd-data/ in cmd/meshd: give meshd a -data-dir under t.TempDir()")
		os.RemoveAll("meshd-data")
		code = 1
	}
	return code
}
