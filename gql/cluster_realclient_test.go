package gql_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker/cluster/clustertest"
	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
	"github.com/smalruby/meshd/gql/realclient"
)

// TestMain removes the meshd the cluster tests built.
func TestMain(m *testing.M) { meshdtest.Main(m) }

// TestRealClientAcrossClusterNodes runs the editor's SDK, aws-appsync, against three real
// meshd processes forming one cluster: the host's client talks only to node A, the members'
// only to B and C, each over HTTP and its own node's WebSocket (testdata/node/cluster.test.mjs).
func TestRealClientAcrossClusterNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three meshd processes and Node; not with -short")
	}
	node, dir := realclient.Setup(t)

	nodes := clustertest.Start(t, 3, "-api-keys", realClientAPIKey)
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.URL()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-force-exit", "--test-reporter=spec", "cluster.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"MESHD_CLUSTER_URLS="+strings.Join(urls, ","),
		"MESHD_API_KEY="+realClientAPIKey,
		"NO_COLOR=1",
	)
	if err := realclient.Stream(t, cmd); err != nil {
		for _, n := range nodes {
			t.Logf("node %s:\n%s", n.Name, n.Logs())
		}
		t.Fatalf("node --test cluster.test.mjs: %v (the real client failed against the cluster; see the log above)", err)
	}
}
