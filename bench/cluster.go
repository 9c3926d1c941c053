package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A cluster under test (deploy/cluster.md): -cluster N starts N meshd processes on loopback as
// one cluster, -target takes one URL per node of a running one. Each group's editors are spread
// over the nodes — the host on one, the members on all of them in turn — and CPU and memory
// are the sums over the nodes.

// clusterReady bounds how long a started cluster may take until every node is ready.
const clusterReady = 90 * time.Second

// via picks the node of a cluster an editor talks to: group g's host (pos 0) on node g, its
// members on the nodes after it in turn.
func via(group, pos, nodes int) int { return (group + pos) % nodes }

// targets parses -target: one GraphQL URL, or several separated by commas (one per node).
func targets(raw string) ([]endpoints, []int, error) {
	var eps []endpoints
	var pids []int
	for _, u := range strings.Split(raw, ",") {
		ep, err := endpointsFor(strings.TrimSpace(u), false)
		if err != nil {
			return nil, nil, err
		}
		_, port, _ := net.SplitHostPort(ep.host)
		p, _ := strconv.Atoi(port)
		eps, pids = append(eps, ep), append(pids, listenerPID(p))
	}
	return eps, pids, nil
}

// startCluster runs n meshd processes as one cluster and waits until every one is ready.
func (o options) startCluster(ctx context.Context, n int, env []string) (server, func() error, error) {
	secret := make([]byte, 16)
	rand.Read(secret)
	env = append(env, "MESH_CLUSTER_SECRET="+hex.EncodeToString(secret), fmt.Sprintf("MESH_CLUSTER_REPLICAS=%d", min(n, 3)))
	routes := make([]string, n)
	for i := range routes {
		addr, err := freePort()
		if err != nil {
			return server{}, nil, err
		}
		routes[i] = addr
	}
	var procs []*process
	var dirs []string
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			var errs []error
			for _, p := range procs {
				select {
				case <-p.Exited():
					// It died during the run (a node killed from outside, to measure a
					// fault): its sockets are reported as dead, its requests as errors.
					continue
				default:
				}
				errs = append(errs, p.stop())
			}
			for _, d := range dirs {
				os.RemoveAll(d)
			}
			stopErr = errors.Join(errs...)
		})
		return stopErr
	}
	srv := server{}
	for i, route := range routes {
		dir, err := os.MkdirTemp("", "meshd-bench-")
		if err != nil {
			stop()
			return server{}, nil, fmt.Errorf("data directory: %w", err)
		}
		dirs = append(dirs, dir)
		name := fmt.Sprintf("meshd-%c", 'a'+i)
		p, err := startProcess(ctx, name, "meshd", o.meshd, []string{
			"-listen-addr", "127.0.0.1:0", "-data-dir", dir, "-node-name", name,
			"-cluster-listen", route, "-cluster-routes", "nats://" + strings.Join(routes, ",nats://"),
		}, env)
		if err != nil {
			stop()
			return server{}, nil, err
		}
		procs = append(procs, p)
		ep, err := endpointsFor("http://"+p.Addr()+"/graphql", false)
		if err != nil {
			stop()
			return server{}, nil, err
		}
		srv.eps, srv.pids = append(srv.eps, ep), append(srv.pids, p.Pid())
	}
	for i, ep := range srv.eps {
		if err := waitReady(ctx, ep); err != nil {
			stop()
			return server{}, nil, fmt.Errorf("%s: %w: %s", procs[i].name, err, procs[i].lastLines())
		}
	}
	srv.ep, srv.pid = srv.eps[0], srv.pids[0]
	return srv, stop, nil
}

// waitReady polls a node's /readyz until it answers 200.
func waitReady(ctx context.Context, ep endpoints) error {
	url := strings.TrimSuffix(ep.graphql, "/graphql") + "/readyz"
	deadline := time.Now().Add(clusterReady)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz %s", resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not ready after %v: %w", clusterReady, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// processes are the server's process ids: every node of a cluster, or the one meshd.
func (s server) processes() []int {
	if len(s.pids) > 0 {
		return s.pids
	}
	if s.pid != 0 {
		return []int{s.pid}
	}
	return nil
}

// cpu is the CPU time of every process of the server.
func (s server) cpu(c *cpuSampler) time.Duration {
	var d time.Duration
	for _, pid := range s.processes() {
		d += c.read(pid)
	}
	return d
}

// memory sums f (rss or peakRSS) over the server's processes.
func (s server) memory(f func(int) (uint64, error)) (uint64, error) {
	var total uint64
	for _, pid := range s.processes() {
		n, err := f(pid)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
