// Package clustertest runs real meshd processes as a cluster on loopback for tests: N
// meshdtest processes, each with its own ports and data directory, that can be killed, frozen
// and restarted one by one.
package clustertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
)

// Secret is the cluster secret every test node shares.
const Secret = "clustertest-secret"

// Node is one meshd process of a test cluster.
type Node struct {
	*meshdtest.Process
	Name string
	// APIKey, when set, goes with every Post (for nodes started with -api-keys).
	APIKey  string
	dataDir string
}

// Post is meshdtest's Post with the node's API key, if it has one.
func (n *Node) Post(ctx context.Context, query string, vars map[string]any, header ...string) (map[string]any, error) {
	if n.APIKey != "" {
		header = append(header, "x-api-key", n.APIKey)
	}
	return n.Process.Post(ctx, query, vars, header...)
}

// Start runs an n-node cluster, each node with extra appended to its arguments, and waits
// until every node is ready. The package's TestMain must call meshdtest.Main.
func Start(t testing.TB, n int, extra ...string) []*Node {
	t.Helper()
	each := make([][]string, n)
	for i := range each {
		each[i] = extra
	}
	return StartEach(t, each)
}

// StartEach is Start with arguments of each node's own: a cluster of len(extra) nodes, node i
// with extra[i] appended to its arguments.
func StartEach(t testing.TB, extra [][]string) []*Node {
	t.Helper()
	n := len(extra)
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "nats://" + freeAddr(t)
	}
	nodes := make([]*Node, n)
	for i := range nodes {
		name, dir := string(rune('a'+i)), t.TempDir()
		p, err := meshdtest.Start(context.Background(), meshdtest.Options{
			Args: append([]string{
				// A fixed port, so that a load balancer finds the node again after a restart.
				"-listen-addr", freeAddr(t),
				"-data-dir", dir,
				"-cluster-listen", strings.TrimPrefix(routes[i], "nats://"),
				"-cluster-routes", strings.Join(routes, ","),
				"-cluster-name", "test",
				"-node-name", name,
			}, extra[i]...),
			Env: []string{"MESH_CLUSTER_SECRET=" + Secret},
		})
		if err != nil {
			t.Fatalf("node %s: %v", name, err)
		}
		nodes[i] = &Node{Process: p, Name: name, dataDir: dir}
		t.Cleanup(func() { p.Kill() })
	}
	for _, node := range nodes {
		node.WaitReady(t, 60*time.Second)
	}
	return nodes
}

// freeAddr is meshdtest.FreeAddr for a test: a free loopback address that stays the node's
// across restarts.
func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := meshdtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Replace kills the node, empties its data directory and starts a new process with the same
// name, as the replacement of a machine that died for good would be. It returns once the
// new process listens, without waiting until it is ready.
func (n *Node) Replace(t testing.TB) {
	t.Helper()
	n.Kill()
	if err := os.RemoveAll(n.dataDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(n.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := n.Process.Restart(context.Background()); err != nil {
		t.Fatalf("node %s: %v", n.Name, err)
	}
}

// Restart starts the node again on its data directory and waits until it is ready.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.Process.Restart(context.Background()); err != nil {
		t.Fatalf("node %s: %v", n.Name, err)
	}
	n.WaitReady(t, 60*time.Second)
}

// Ready reports the node's /readyz answer.
func (n *Node) Ready() error {
	url := "http://" + n.Addr() + "/readyz"
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
			t.Fatalf("node %s not ready after %s: %v\n%s", n.Name, d, err, n.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
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
