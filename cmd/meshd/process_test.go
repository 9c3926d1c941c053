package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

// meshdBinary is the binary meshdtest built for this test binary.
func meshdBinary(t *testing.T) string {
	t.Helper()
	bin, err := meshdtest.Shared()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// process is a running meshd.
type process struct {
	*meshdtest.Process
	// URL is its GraphQL endpoint.
	URL string
	// key is sent as x-api-key when set.
	key string
}

// startMeshd runs the binary with args on a random loopback port and waits until it serves.
func startMeshd(t *testing.T, args ...string) *process {
	t.Helper()
	return startMeshdEnv(t, nil, args...)
}

// startMeshdEnv is startMeshd with environ added to the test's environment.
func startMeshdEnv(t *testing.T, environ []string, args ...string) *process {
	t.Helper()
	return startCommand(t, nil, environ, args...)
}

// dataDir is a fresh data directory whose path names no test: a test that looks for a string
// in meshd's command line (as the pprof redaction test does) must not find it in the path.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "meshd-data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startCommand is startMeshdEnv with the binary run through wrapper (such as prlimit).
func startCommand(t *testing.T, wrapper, environ []string, args ...string) *process {
	t.Helper()
	// A data directory of its own unless args name one: the secret is written even for -store memory.
	mp, err := meshdtest.Start(context.Background(), meshdtest.Options{
		Prefix: wrapper,
		Args:   append([]string{"-listen-addr", "127.0.0.1:0", "-data-dir", dataDir(t)}, args...),
		Env:    environ,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mp.Kill() })
	return &process{Process: mp, URL: mp.URL()}
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	code, err := p.Wait(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// post sends a GraphQL document and returns the decoded data, failing on errors.
func (p *process) post(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	data, err := p.send(query, vars)
	if err != nil || data == nil {
		t.Fatalf("%s: %v %v", query, err, data)
	}
	return data
}

// postQuiet is post for load loops: nil when the request failed in any way.
func (p *process) postQuiet(query string, vars map[string]any) map[string]any {
	data, err := p.send(query, vars)
	if err != nil {
		return nil
	}
	return data
}

// send posts a document with the process's API key, if it has one.
func (p *process) send(query string, vars map[string]any) (map[string]any, error) {
	var header []string
	if p.key != "" {
		header = []string{"x-api-key", p.key}
	}
	return p.Post(context.Background(), query, vars, header...)
}

func TestBinaryServesAndStopsGracefully(t *testing.T) {
	dir := t.TempDir()
	p := startMeshd(t, "-data-dir", dir)
	d := p.post(t, `mutation { createDomain }`, nil)["createDomain"].(string)
	g := p.post(t, `mutation($d: String!) { createGroup(name: "n", hostId: "h", domain: $d) { id } }`, map[string]any{"d": d})
	id := g["createGroup"].(map[string]any)["id"].(string)
	p.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.Logs())
	}
	secret, err := os.ReadFile(filepath.Join(dir, "secret"))
	if err != nil || len(strings.TrimSpace(string(secret))) != 64 {
		t.Fatalf("generated secret: %q, %v", secret, err)
	}

	again := startMeshd(t, "-data-dir", dir)
	if d2 := again.post(t, `mutation { createDomain }`, nil)["createDomain"]; d2 != d {
		t.Fatalf("domain changed across a restart: %q then %q", d, d2)
	}
	list := again.post(t, `query($d: String!) { listGroupsByDomain(domain: $d) { id } }`, map[string]any{"d": d})
	if l := list["listGroupsByDomain"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != id {
		t.Fatalf("group lost across a restart: %v", l)
	}
}

func TestBinaryRejectsBadConfig(t *testing.T) {
	cmd := exec.Command(meshdBinary(t), "-store", "redis")
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "-store must be bbolt or memory") {
		t.Fatalf("exit %v: %s", err, out)
	}
}

func TestBinaryRefusesAStoreInUse(t *testing.T) {
	dir := t.TempDir()
	startMeshd(t, "-data-dir", dir)
	second := exec.Command(meshdBinary(t), "-listen-addr", "127.0.0.1:0", "-data-dir", dir)
	out, err := second.CombinedOutput()
	if err == nil || second.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "locked by another process") {
		t.Fatalf("second meshd on the same data directory: %v\n%s", err, out)
	}
	corrupt := t.TempDir()
	os.WriteFile(filepath.Join(corrupt, "meshd.db"), []byte(strings.Repeat("garbage!", 4096)), 0o600)
	third := exec.Command(meshdBinary(t), "-listen-addr", "127.0.0.1:0", "-data-dir", corrupt)
	out, err = third.CombinedOutput()
	if err == nil || third.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "corrupt") {
		t.Fatalf("meshd on a corrupt file: %v\n%s", err, out)
	}
}
