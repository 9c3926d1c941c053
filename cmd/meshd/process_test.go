package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// meshdBinary builds the real binary once per test run.
func meshdBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meshd-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "meshd")
		out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build meshd: %v\n%s", buildErr, binary)
	}
	return binary
}

// process is a running meshd.
type process struct {
	cmd    *exec.Cmd
	URL    string
	stderr *syncBuffer
	exited chan error
	// key is sent as x-api-key when set.
	key string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`msg="meshd listening" addr=(\S+)`)

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
	argv := append(append(wrapper, meshdBinary(t), "-listen-addr", "127.0.0.1:0", "-data-dir", dataDir(t)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append(os.Environ(), "MESH_LOG_FORMAT=text"), environ...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if m := listening.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case a := <-addr:
		p.URL = "http://" + a + "/graphql"
	case err := <-p.exited:
		t.Fatalf("meshd exited before serving: %v\n%s", err, p.stderr)
	case <-time.After(60 * time.Second):
		t.Fatalf("meshd did not start:\n%s", p.stderr)
	}
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(60 * time.Second):
		t.Fatalf("meshd did not exit:\n%s", p.stderr)
		return -1
	}
}

// post sends a GraphQL document and returns the decoded data, failing on errors.
func (p *process) post(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	data, raw, err := p.send(query, vars)
	if err != nil || data == nil {
		t.Fatalf("%s: %v %s", query, err, raw)
	}
	return data
}

// postQuiet is post for load loops: nil when the request failed in any way.
func (p *process) postQuiet(query string, vars map[string]any) map[string]any {
	data, _, _ := p.send(query, vars)
	return data
}

func (p *process) send(query string, vars map[string]any) (map[string]any, []byte, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, p.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if p.key != "" {
		req.Header.Set("x-api-key", p.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, raw, err
	}
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, raw, err
	}
	if len(out.Errors) > 0 {
		return nil, raw, fmt.Errorf("errors: %v", out.Errors)
	}
	return out.Data, raw, nil
}

func TestBinaryServesAndStopsGracefully(t *testing.T) {
	dir := t.TempDir()
	p := startMeshd(t, "-data-dir", dir)
	d := p.post(t, `mutation { createDomain }`, nil)["createDomain"].(string)
	g := p.post(t, `mutation($d: String!) { createGroup(name: "n", hostId: "h", domain: $d) { id } }`, map[string]any{"d": d})
	id := g["createGroup"].(map[string]any)["id"].(string)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.stderr)
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
