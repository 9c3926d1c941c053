// Package clustertest runs real meshd processes as a cluster on loopback for tests: it builds
// the binary once, gives every node its own ports and data directory, and can kill, freeze and
// restart single nodes.
package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
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

// Secret is the cluster secret every test node shares.
const Secret = "clustertest-secret"

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds meshd with the race detector, once per test binary.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meshd-cluster-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "meshd")
		out, err := exec.Command("go", "build", "-race", "-o", binary, "github.com/smalruby/meshd/cmd/meshd").CombinedOutput()
		if err != nil {
			buildErr, binary = err, string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build meshd: %v\n%s", buildErr, binary)
	}
	return binary
}

// Node is one meshd process of a test cluster.
type Node struct {
	Name string
	// URL is the node's GraphQL endpoint (http://127.0.0.1:port/graphql); it changes when the
	// node restarts.
	URL  string
	args []string
	t    testing.TB

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *bytes.Buffer
}

var listening = regexp.MustCompile(`msg="meshd listening" addr=(\S+)`)

// Start runs an n-node cluster, each node with extra appended to its arguments, and waits
// until every node is ready.
func Start(t testing.TB, n int, extra ...string) []*Node {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "nats://" + freeAddr(t)
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		name := string(rune('a' + i))
		nodes[i] = &Node{Name: name, t: t, args: append([]string{
			// A fixed port, so that a load balancer finds the node again after a restart.
			"-listen-addr", freeAddr(t),
			"-data-dir", t.TempDir(),
			"-cluster-listen", strings.TrimPrefix(routes[i], "nats://"),
			"-cluster-routes", strings.Join(routes, ","),
			"-cluster-name", "test",
			"-node-name", name,
			"-log-format", "text",
		}, extra...)}
	}
	for _, node := range nodes {
		node.start(t)
		t.Cleanup(node.Kill)
	}
	for _, node := range nodes {
		node.WaitReady(t, 60*time.Second)
	}
	return nodes
}

// freeAddr finds a free loopback port below the kernel's ephemeral range (32768 and up on
// Linux), so that while a node is down no outgoing connection takes its port as a source
// port and keeps it from listening again.
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free loopback port between 20000 and 32000")
	return ""
}

func (n *Node) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(Binary(t), n.args...)
	cmd.Env = append(os.Environ(), "MESH_CLUSTER_SECRET="+Secret)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	logBuf := &bytes.Buffer{}
	addr := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			n.mu.Lock()
			logBuf.WriteString(line + "\n")
			n.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		cmd.Wait()
	}()
	select {
	case a := <-addr:
		n.mu.Lock()
		n.cmd, n.exited, n.log, n.URL = cmd, exited, logBuf, "http://"+a+"/graphql"
		n.mu.Unlock()
	case <-exited:
		t.Fatalf("node %s exited before serving:\n%s", n.Name, logBuf)
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("node %s did not start", n.Name)
	}
}

// Log returns what the node's current process wrote to stderr.
func (n *Node) Log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.log.String()
}

// Kill ends the node's process with SIGKILL, as a crash would, and waits for it to exit.
func (n *Node) Kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGCONT)
	cmd.Process.Kill()
	<-exited
}

// Signal sends sig (SIGSTOP, SIGCONT, SIGTERM) to the node's process.
func (n *Node) Signal(sig syscall.Signal) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cmd.Process.Signal(sig)
}

// Stop ends the node's process with SIGTERM, as a planned stop would, and waits for it to
// exit.
func (n *Node) Stop() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
}

// Replace kills the node, empties its data directory and starts a new process with the same
// name, as the replacement of a machine that died for good would be. It returns once the
// new process listens, without waiting until it is ready.
func (n *Node) Replace(t testing.TB) {
	t.Helper()
	n.Kill()
	for i, a := range n.args {
		if a == "-data-dir" && i+1 < len(n.args) {
			if err := os.RemoveAll(n.args[i+1]); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(n.args[i+1], 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	n.start(t)
}

// Restart starts the node again on its data directory and waits until it is ready.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	n.Kill()
	n.start(t)
	n.WaitReady(t, 60*time.Second)
}

// Ready reports the node's /readyz answer.
func (n *Node) Ready() error {
	n.mu.Lock()
	url := strings.TrimSuffix(n.URL, "/graphql") + "/readyz"
	n.mu.Unlock()
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// WaitReady waits up to d until the node's /readyz answers 200.
func (n *Node) WaitReady(t testing.TB, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := n.Ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not ready after %s: %v\n%s", n.Name, d, err, n.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Post sends a GraphQL document to the node and returns its data; a transport failure or a
// GraphQL error is an error carrying the errorType.
func (n *Node) Post(ctx context.Context, query string, vars map[string]any) (map[string]any, error) {
	n.mu.Lock()
	url := n.URL
	n.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []struct {
			ErrorType string `json:"errorType"`
			Message   string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("node %s answered %d %q: %w", n.Name, resp.StatusCode, raw, err)
	}
	if len(out.Errors) > 0 {
		return out.Data, &Error{Type: out.Errors[0].ErrorType, Message: out.Errors[0].Message}
	}
	return out.Data, nil
}

// MustPost is Post that fails the test on any error.
func (n *Node) MustPost(t testing.TB, query string, vars map[string]any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data, err := n.Post(ctx, query, vars)
	if err != nil {
		t.Fatalf("node %s: %s: %v", n.Name, strings.Fields(query)[1], err)
	}
	return data
}

// Error is a GraphQL error a node answered with.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }
