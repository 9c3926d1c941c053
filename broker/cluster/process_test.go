package cluster_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/cluster"
	"github.com/smalruby/meshd/broker/cluster/clustertest"
	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
	"github.com/smalruby/meshd/gql/realclient"
)

const (
	createGroup = `mutation($d: String!, $h: ID!, $name: String!) { createGroup(name: $name, hostId: $h, domain: $d) { id domain expiresAt } }`
	joinGroup   = `mutation($g: ID!, $d: String!, $n: ID!) { joinGroup(groupId: $g, domain: $d, nodeId: $n) { id expiresAt } }`
	listNodes   = `query($g: ID!, $d: String!) { listNodesInGroup(groupId: $g, domain: $d) { id } }`
	report      = `mutation($g: ID!, $d: String!, $n: ID!, $v: String!) { reportDataByNode(groupId: $g, domain: $d, nodeId: $n, data: [{key: "v", value: $v}]) { groupId } }`
	record      = `mutation($g: ID!, $d: String!, $n: ID!, $e: String!) { recordEventsByNode(groupId: $g, domain: $d, nodeId: $n, events: [{eventName: $e, firedAt: "2026-03-01T08:45:02.431Z"}]) { recordedCount nextSince } }`
	eventsSince = `query($g: ID!, $d: String!, $s: String!) { getEventsSince(groupId: $g, domain: $d, since: $s) { name cursor } }`
	onMessage   = `subscription($g: ID!, $d: String!) { onMessageInGroup(groupId: $g, domain: $d) { groupId nodeStatus { nodeId data { key value } } } }`
)

func vars(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// TestMain removes the meshd the cluster tests built.
func TestMain(m *testing.M) { meshdtest.Main(m) }

func domainOf(t *testing.T, n *clustertest.Node) string {
	t.Helper()
	return n.MustPost(t, `mutation { createDomain }`, nil)["createDomain"].(string)
}

func create(t *testing.T, n *clustertest.Node, domain, host string) string {
	t.Helper()
	return n.MustPost(t, createGroup, vars("d", domain, "h", host, "name", host))["createGroup"].(map[string]any)["id"].(string)
}

func nodesIn(t *testing.T, n *clustertest.Node, domain, group string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	data, err := n.Post(ctx, listNodes, vars("g", group, "d", domain))
	if err != nil {
		t.Fatalf("node %s cannot list the group: %v", n.Name, err)
	}
	out := map[string]bool{}
	for _, v := range data["listNodesInGroup"].([]any) {
		out[v.(map[string]any)["id"].(string)] = true
	}
	return out
}

// TestProcessCluster runs three meshd processes as one cluster and checks that they answer as
// one server: any node serves any request, an acknowledged change is visible everywhere at
// once, concurrent creates give one group, one message order per group, polling cursors that
// work across nodes.
func TestProcessCluster(t *testing.T) {
	// Node c writes its copy of the log through to disk every 2 s, the others on every write.
	nodes := clustertest.StartEach(t, [][]string{nil, nil, {"-cluster-sync", "2s"}})
	a, b := nodes[0], nodes[1]
	domain := domainOf(t, a)
	for _, n := range nodes[1:] {
		if d := domainOf(t, n); d != domain {
			t.Fatalf("node %s gives domain %q, node a %q", n.Name, d, domain)
		}
	}

	t.Run("read your writes across nodes", func(t *testing.T) {
		for i := range 20 {
			host := fmt.Sprint("host-ryw-", i)
			id := create(t, nodes[i%3], domain, host)
			time.Sleep(time.Millisecond)
			member := fmt.Sprint("member-", i)
			nodes[(i+1)%3].MustPost(t, joinGroup, vars("g", id, "d", domain, "n", member))
			if got := nodesIn(t, nodes[(i+2)%3], domain, id); !got[member] {
				t.Fatalf("round %d: node %s lists %v right after the join on %s", i, nodes[(i+2)%3].Name, got, nodes[(i+1)%3].Name)
			}
		}
		for _, n := range nodes {
			_, err := n.Post(context.Background(), joinGroup, vars("g", "nope", "d", domain, "n", "x"))
			if e, ok := err.(*meshdtest.Error); !ok || e.Type != "GroupNotFound" || e.Message != "Group not found: nope@"+domain {
				t.Fatalf("node %s: join of a missing group = %v", n.Name, err)
			}
		}
	})

	t.Run("concurrent createGroup on two nodes gives one group", func(t *testing.T) {
		for i := range 10 {
			host := fmt.Sprint("host-race-", i)
			ids := make([]string, 2)
			var wg sync.WaitGroup
			for j, n := range []*clustertest.Node{a, b} {
				wg.Go(func() {
					data, err := n.Post(context.Background(), createGroup, vars("d", domain, "h", host, "name", host))
					if err != nil {
						t.Errorf("create on %s: %v", n.Name, err)
						return
					}
					ids[j] = data["createGroup"].(map[string]any)["id"].(string)
				})
			}
			wg.Wait()
			if ids[0] != ids[1] {
				t.Fatalf("round %d: a created %s, b created %s", i, ids[0], ids[1])
			}
		}
	})

	t.Run("one order per group across nodes", func(t *testing.T) {
		group := create(t, a, domain, "host-order")
		var subs []*subscriber
		for _, n := range nodes {
			for range 2 {
				subs = append(subs, subscribe(t, n, domain, group))
			}
		}
		const each = 40
		var wg sync.WaitGroup
		for w, n := range nodes {
			wg.Go(func() {
				for i := range each {
					if _, err := n.Post(context.Background(), report, vars("g", group, "d", domain, "n", fmt.Sprint("w", w), "v", fmt.Sprint(i))); err != nil {
						t.Errorf("report on %s: %v", n.Name, err)
					}
				}
			})
		}
		wg.Wait()
		var first string
		for i, s := range subs {
			got := s.wait(t, 3*each)
			last := map[string]int{"w0": -1, "w1": -1, "w2": -1}
			for _, m := range got {
				who, v, _ := strings.Cut(m, ":")
				var n int
				fmt.Sscan(v, &n)
				if n != last[who]+1 {
					t.Fatalf("subscriber %d: %s's message %d after %d", i, who, n, last[who])
				}
				last[who] = n
			}
			if seq := strings.Join(got, ","); first == "" {
				first = seq
			} else if seq != first {
				t.Fatalf("subscriber %d on node %s saw another order than subscriber 0", i, s.node)
			}
		}
	})

	t.Run("-cluster-sync reaches the embedded server", func(t *testing.T) {
		// The node logs the JetStream configuration its embedded server runs with.
		for i, want := range []string{"fsync=always", "fsync=always", `fsync="every 2s"`} {
			if logs := nodes[i].Logs(); !strings.Contains(logs, `msg="cluster log on disk"`) || !strings.Contains(logs, want) {
				t.Fatalf("node %s's embedded server does not say %s:\n%s", nodes[i].Name, want, logs)
			}
		}
	})

	t.Run("metrics show each node's place in the log", func(t *testing.T) {
		for _, n := range nodes {
			resp, err := http.Get(strings.TrimSuffix(n.URL(), "/graphql") + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var applied, behind float64 = -1, -2
			for _, line := range strings.Split(string(body), "\n") {
				fmt.Sscanf(line, "meshd_cluster_applied_entries_total %g", &applied)
				fmt.Sscanf(line, "meshd_cluster_log_behind_entries %g", &behind)
			}
			if applied < 1 || behind < 0 {
				t.Fatalf("node %s: applied %v, behind %v in\n%s", n.Name, applied, behind, body)
			}
		}
	})

	t.Run("polling across nodes loses and repeats nothing", func(t *testing.T) {
		group := create(t, b, domain, "host-poll")
		since := ""
		seen := map[string]int{}
		const events = 60
		for i := range events {
			nodes[i%3].MustPost(t, record, vars("g", group, "d", domain, "n", "pupil", "e", fmt.Sprint("e", i)))
			if i%4 != 3 && i != events-1 {
				continue
			}
			evs := nodes[(i+1)%3].MustPost(t, eventsSince, vars("g", group, "d", domain, "s", since))["getEventsSince"].([]any)
			for _, e := range evs {
				e := e.(map[string]any)
				seen[e["name"].(string)]++
				since = e["cursor"].(string)
			}
		}
		for i := range events {
			if n := seen[fmt.Sprint("e", i)]; n != 1 {
				t.Fatalf("event e%d polled %d times", i, n)
			}
		}
	})
}

// subscriber is an AppSync-protocol WebSocket subscribed to onMessageInGroup on one node.
type subscriber struct {
	node string
	ws   *websocket.Conn
	mu   sync.Mutex
	msgs []string
	err  error
}

func subscribe(t *testing.T, n *clustertest.Node, domain, group string) *subscriber {
	t.Helper()
	s, err := trySubscribe(t, n, domain, group)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// trySubscribe subscribes, or says why it could not within 20 s.
func trySubscribe(t *testing.T, n *clustertest.Node, domain, group string) (*subscriber, error) {
	header, _ := json.Marshal(map[string]string{"host": "meshd", "x-api-key": realclient.APIKey})
	url := "ws" + strings.TrimPrefix(strings.TrimSuffix(n.URL(), "/graphql"), "http") + "/graphql/realtime?header=" +
		base64.StdEncoding.EncodeToString(header) + "&payload=e30="
	ws, _, err := (&websocket.Dialer{Subprotocols: []string{"graphql-ws"}}).Dial(url, nil)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { ws.Close() })
	ws.WriteJSON(map[string]string{"type": "connection_init"})
	data, _ := json.Marshal(map[string]any{"query": onMessage, "variables": vars("g", group, "d", domain)})
	ws.WriteJSON(map[string]any{"id": "1", "type": "start", "payload": map[string]any{
		"data": string(data), "extensions": map[string]any{"authorization": map[string]string{"host": "meshd", "x-api-key": realclient.APIKey}},
	}})
	for {
		ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		var f map[string]any
		if err := ws.ReadJSON(&f); err != nil {
			ws.Close()
			return nil, fmt.Errorf("subscribe on %s: %w", n.Name, err)
		}
		if f["type"] == "start_ack" {
			break
		}
		if f["type"] == "error" || f["type"] == "connection_error" {
			ws.Close()
			return nil, fmt.Errorf("subscribe on %s: %v", n.Name, f)
		}
	}
	s := &subscriber{node: n.Name, ws: ws}
	go func() {
		for {
			ws.SetReadDeadline(time.Now().Add(60 * time.Second))
			var f struct {
				Type    string
				Payload struct {
					Data struct {
						OnMessageInGroup struct {
							NodeStatus *struct {
								NodeID string
								Data   []struct{ Key, Value string }
							}
						}
					}
				}
			}
			if err := ws.ReadJSON(&f); err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			if st := f.Payload.Data.OnMessageInGroup.NodeStatus; f.Type == "data" && st != nil {
				s.mu.Lock()
				s.msgs = append(s.msgs, st.NodeID+":"+st.Data[0].Value)
				s.mu.Unlock()
			}
		}
	}()
	return s, nil
}

// close closes the socket and returns the messages that arrived.
func (s *subscriber) close() []string {
	s.ws.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// wait waits until n messages arrived, and fails if more or fewer arrive.
func (s *subscriber) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		got, err := append([]string(nil), s.msgs...), s.err
		s.mu.Unlock()
		if len(got) >= n {
			time.Sleep(50 * time.Millisecond)
			s.mu.Lock()
			got = append([]string(nil), s.msgs...)
			s.mu.Unlock()
			if len(got) != n {
				t.Fatalf("subscriber on %s got %d messages, want %d", s.node, len(got), n)
			}
			return got
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("subscriber on %s got %d of %d messages (%v)", s.node, len(got), n, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// load joins new members through the given nodes until stop, and records every join that was
// acknowledged, every error and the slowest acknowledged join and report.
type load struct {
	mu      sync.Mutex
	acked   []string
	errors  []string
	slowest time.Duration
	seq     atomic.Int64
	// ackedAt is when each acknowledged member's report returned.
	ackedAt map[string]time.Time
}

func (l *load) run(ctx context.Context, targets func() []*clustertest.Node, domain, group string, workers int) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil && i < 100000; i++ {
				ns := targets()
				n := ns[(w+i)%len(ns)]
				member := fmt.Sprint("load-", l.seq.Add(1))
				// Not cancelled by stop: a request in flight ends as it would.
				rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				start := time.Now()
				_, err := n.Post(rctx, joinGroup, vars("g", group, "d", domain, "n", member))
				if err == nil {
					_, err = n.Post(rctx, report, vars("g", group, "d", domain, "n", member, "v", "1"))
				}
				cancel()
				l.mu.Lock()
				switch {
				case err == nil:
					l.acked = append(l.acked, member)
					if l.ackedAt == nil {
						l.ackedAt = map[string]time.Time{}
					}
					l.ackedAt[member] = time.Now()
					l.slowest = max(l.slowest, time.Since(start))
				case ctx.Err() != nil:
				default:
					l.errors = append(l.errors, fmt.Sprintf("%s on %s: %v", member, n.Name, err))
				}
				l.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return &wg
}

// ackedAtOf returns when member's report was acknowledged.
func (l *load) ackedAtOf(member string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.ackedAt[member]
	return at, ok
}

// check fails the test if a request failed or a node misses an acknowledged join.
func (l *load) check(t *testing.T, nodes []*clustertest.Node, domain, group string) {
	t.Helper()
	l.mu.Lock()
	acked, errs := append([]string(nil), l.acked...), append([]string(nil), l.errors...)
	l.mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("%d requests failed, first: %s", len(errs), errs[0])
	}
	if len(acked) < 20 {
		t.Fatalf("only %d joins acknowledged under load", len(acked))
	}
	for _, n := range nodes {
		got := nodesIn(t, n, domain, group)
		for _, m := range acked {
			if !got[m] {
				t.Fatalf("node %s lost the acknowledged join of %s (%d acknowledged, %d listed)", n.Name, m, len(acked), len(got))
			}
		}
	}
	t.Logf("%d acknowledged joins present on every node, no request failed; stall: the slowest acknowledged join+report took %s",
		len(acked), l.slowest.Round(time.Millisecond))
}

// leaderOf returns the node that most recently logged that it leads shard, the stream of one
// shard of the cluster log.
func leaderOf(t *testing.T, nodes []*clustertest.Node, shard string) *clustertest.Node {
	t.Helper()
	var leader *clustertest.Node
	var latest string
	for _, n := range nodes {
		for _, line := range strings.Split(n.Logs(), "\n") {
			if !strings.Contains(line, `msg="this node leads the cluster log"`) || !strings.HasSuffix(line, " shard="+shard) {
				continue
			}
			if at, _, ok := strings.Cut(strings.TrimPrefix(line, "time="), " "); ok && at > latest {
				latest, leader = at, n
			}
		}
	}
	if leader == nil {
		t.Fatalf("no node says it leads %s of the cluster log", shard)
	}
	return leader
}

// shardOf is the stream of the shard of the cluster log that holds a group: MESHD for the
// first, MESHD-1, MESHD-2 … for the others.
func shardOf(domain, group string) string {
	if part := broker.PartOf(domain, group, cluster.DefaultShards); part > 0 {
		return fmt.Sprint("MESHD-", part)
	}
	return "MESHD"
}

// readiness polls /readyz of the nodes that must stay ready and counts the answers that
// were not 200.
type readiness struct {
	mu     sync.Mutex
	watch  []*clustertest.Node
	checks int
	lost   []string
}

func (r *readiness) run(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for ctx.Err() == nil {
			r.mu.Lock()
			watch := r.watch
			r.mu.Unlock()
			for _, n := range watch {
				err := n.Ready()
				r.mu.Lock()
				r.checks++
				if err != nil && ctx.Err() == nil {
					r.lost = append(r.lost, n.Name+": "+err.Error())
				}
				r.mu.Unlock()
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	return &wg
}

// lostSoFar is what the watched nodes answered when not ready, so far.
func (r *readiness) lostSoFar() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lost)
}

func (r *readiness) set(nodes []*clustertest.Node) {
	r.mu.Lock()
	r.watch = nodes
	r.mu.Unlock()
}

// check fails the test if a watched node lost its readiness and must not have; otherwise it
// logs the count.
func (r *readiness) check(t *testing.T, must bool) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lost) > 0 && !must {
		t.Logf("known limitation (deploy/cluster.md): nodes that did not fail lost their readiness %d times in %d checks, first: %s", len(r.lost), r.checks, r.lost[0])
		return
	}
	if len(r.lost) > 0 {
		t.Fatalf("a node that did not fail lost its readiness %d times in %d checks, first: %s", len(r.lost), r.checks, r.lost[0])
	}
	t.Logf("%d readiness checks of the nodes that did not fail, all ready", r.checks)
}

// TestProcessClusterFailures runs three meshd processes behind real haproxy with the shipped
// configuration (deploy/haproxy/meshd.cfg). Through it, first, the real clients' compatibility
// suites (gql/testdata/node: aws-appsync, Amplify v6 over haproxy's TLS, the wire fixtures)
// pass as against one meshd. Then, with a load of joins and reports to one group through
// haproxy, the group's host broadcasting and reporting a variable through it, and a pupil's
// editor subscribed through it (the real aws-appsync client driven as the Mesh extension
// drives it), one after the other: it kills with SIGKILL the node holding the editor's socket
// and then another node of the other role (the leader of the group's shard of the log, or a
// node not leading it) and restarts them; freezes a node not leading the shard and its leader
// with SIGSTOP; replaces the shard's leader by a node with an empty data directory and then
// kills a second node; stops with SIGTERM the node holding the editor's socket and then
// another of the other role and restarts them. After each fault: no request through haproxy
// failed and haproxy answered no failure; no node but the failed one reported itself not
// ready (after a freeze's wake excepted: a known limitation, logged; while a node not leading
// the shard is frozen the others stay ready); every acknowledged join is listed on
// every node; the editor played a broadcast and got a variable change sent after the fault —
// when its node ended, after its socket closed and the SDK's own retry subscribed again
// through haproxy on a live node (how long it missed is logged); otherwise with its socket
// untouched. The slowest request of each fault is its stall, logged for deploy/cluster.md's
// failure table.
func TestProcessClusterFailures(t *testing.T) {
	nodes := clustertest.Start(t, 3, "-api-keys", realclient.APIKey)
	h := startHAProxy(t, nodes)
	for _, n := range append([]*clustertest.Node{h.LB}, nodes...) {
		n.APIKey = realclient.APIKey
	}
	t.Run("the real clients' suites through haproxy", func(t *testing.T) {
		node, dir := realclient.Setup(t)
		realclient.Run(t, node, dir, []string{
			"MESHD_HTTP_URL=" + h.LB.URL(),
			"MESHD_HTTPS_URL=" + h.TLSURL,
			"MESHD_API_KEY=" + realclient.APIKey,
			"NODE_EXTRA_CA_CERTS=" + h.CAFile,
		}, "appsync.test.mjs", "amplify.test.mjs", "wire.test.mjs")
		failed, _ := h.failures()
		for name, c := range failed {
			t.Errorf("haproxy answered %d failures from %s during the suites", c, name)
		}
	})

	lb := []*clustertest.Node{h.LB}
	domain := domainOf(t, h.LB)
	group := create(t, h.LB, domain, "host-load")
	// The group's changes go through one shard of the log; its leader is the node whose
	// failure stalls them, as the log's only leader did before the log had shards.
	shard := shardOf(domain, group)
	const (
		leader   = "the leader of the group's shard"
		follower = "a node not leading it"
	)
	ctx, cancel := context.WithCancel(context.Background())
	// The group must outlive the test: the host's heartbeat keeps it.
	go func() {
		for ctx.Err() == nil {
			h.LB.Post(ctx, `mutation($g: ID!, $d: String!) { renewHeartbeat(groupId: $g, domain: $d, hostId: "host-load") { expiresAt } }`, vars("g", group, "d", domain))
			time.Sleep(time.Second)
		}
	}()
	tk, twg := runTicker(ctx, h.LB, domain, group)
	defer func() {
		cancel()
		twg.Wait()
	}()
	ed := startEditor(t, h.LB.URL(), domain, group)
	without := func(dead *clustertest.Node) []*clustertest.Node {
		var out []*clustertest.Node
		for _, n := range nodes {
			if n != dead {
				out = append(out, n)
			}
		}
		return out
	}

	// How a fault treats its victim: whether its process ends (the editor's socket on it
	// closes), whether it stops as planned, whether the other nodes must stay ready.
	type faultKind struct{ ends, planned, keepsReadiness bool }
	var (
		crashes = faultKind{ends: true, keepsReadiness: true}
		freezes = faultKind{}
		stops   = faultKind{ends: true, planned: true, keepsReadiness: true}
	)
	// fault runs the load through haproxy, applies the fault to victim, waits until the
	// victim is ready again and checks.
	fault := func(t *testing.T, victim *clustertest.Node, kind faultKind, apply func(l *load, r *readiness)) {
		t.Helper()
		l := &load{}
		r := &readiness{}
		h.failures()
		tk.failures()
		lctx, stop := context.WithCancel(ctx)
		wg := l.run(lctx, func() []*clustertest.Node { return lb }, domain, group, 6)
		rwg := r.run(lctx)
		time.Sleep(2 * time.Second)
		held, mark, faultAt := holder(t, nodes), ed.mark(), time.Now()
		r.set(without(victim))
		apply(l, r)
		victim.WaitReady(t, 60*time.Second)
		r.set(nodes)
		time.Sleep(3 * time.Second)
		fired := int(tk.fired.Load())
		stop()
		wg.Wait()
		rwg.Wait()
		failed, retried := h.failures()
		for name, c := range failed {
			t.Errorf("haproxy answered %d failures from %s (the failed node is %s)", c, name, victim.Name)
		}
		t.Logf("haproxy tried %d requests again (L7 retries)", retried)
		if errs := tk.failures(); len(errs) > 0 {
			t.Errorf("%d of the host's broadcasts and reports through haproxy failed, first: %s", len(errs), errs[0])
		}
		l.check(t, nodes, domain, group)
		r.check(t, kind.keepsReadiness)
		checkEditor(t, ed, mark, faultAt, nodes, victim, held, kind.ends, kind.planned, fired)
	}
	crash := func(t *testing.T, victim *clustertest.Node, role string) {
		fault(t, victim, crashes, func(*load, *readiness) {
			victim.Kill()
			t.Logf("killed node %s, %s", victim.Name, role)
			time.Sleep(5 * time.Second)
			victim.Restart(t)
		})
	}
	restart := func(t *testing.T, victim *clustertest.Node, role string) {
		fault(t, victim, stops, func(*load, *readiness) {
			if err := victim.Stop(time.Minute); err != nil {
				t.Error(err)
			}
			t.Logf("stopped node %s, %s, with SIGTERM", victim.Name, role)
			if !strings.Contains(victim.Logs(), "handed over") {
				t.Errorf("node %s did not hand over before it stopped:\n%s", victim.Name, victim.Logs())
			}
			victim.Restart(t)
		})
	}
	// editorFirst applies a fault to the node holding the editor's socket, then to another
	// node of the other role: the leader of the group's shard if the first did not lead it,
	// one that does not lead it if the first did.
	editorFirst := func(what string, apply func(t *testing.T, victim *clustertest.Node, role string)) {
		var first *clustertest.Node
		var led bool
		t.Run(what+" of the node holding the editor's socket", func(t *testing.T) {
			first = holder(t, nodes)
			led = first == leaderOf(t, nodes, shard)
			role := follower
			if led {
				role = leader
			}
			apply(t, first, role+", holding the editor's socket")
		})
		t.Run(what+" of a node in the other role", func(t *testing.T) {
			l := leaderOf(t, nodes, shard)
			if !led && l != first {
				apply(t, l, leader)
				return
			}
			for _, n := range without(l) {
				if n != first {
					apply(t, n, follower)
					return
				}
			}
		})
	}

	editorFirst("kill -9", crash)

	for _, role := range []string{follower, leader} {
		t.Run("SIGSTOP of "+role+" for 6 s, then SIGCONT", func(t *testing.T) {
			frozen := leaderOf(t, nodes, shard)
			if role == follower {
				frozen = without(frozen)[0]
			}
			var whileFrozen []string
			fault(t, frozen, freezes, func(_ *load, r *readiness) {
				frozen.Signal(syscall.SIGSTOP)
				t.Logf("froze node %s, %s", frozen.Name, role)
				time.Sleep(6 * time.Second)
				whileFrozen = r.lostSoFar()
				frozen.Signal(syscall.SIGCONT)
			})
			// While a node not leading the group's shard is frozen, the others' reads of the
			// log never wait on its replica (reader.go), so their readiness holds until it
			// wakes; what follows the wake (nats-server's Raft has no pre-vote) is only logged.
			if role == follower && len(whileFrozen) > 0 {
				t.Errorf("while node %s was frozen, nodes that did not fail lost their readiness %d times, first: %s", frozen.Name, len(whileFrozen), whileFrozen[0])
			}
		})
	}

	t.Run("replacement of "+leader+" with an empty data directory", func(t *testing.T) {
		replaced := leaderOf(t, nodes, shard)
		fault(t, replaced, crashes, func(l *load, _ *readiness) {
			replaced.Replace(t)
			t.Logf("replaced node %s, %s, by a process with an empty data directory", replaced.Name, leader)
			// A subscription on the replacement starts only once it has caught up: it
			// receives no report acknowledged before it asked to subscribe.
			asked := time.Now()
			sub, err := trySubscribe(t, replaced, domain, group)
			for attempt := 1; err != nil; attempt++ {
				// The replacement may need longer than one start to catch up on a busy
				// machine; the subscription then fails rather than starting early.
				t.Logf("subscription %d on the replacement: %v", attempt, err)
				if attempt == 5 {
					t.Fatal("no subscription on the replacement after 5 attempts")
				}
				asked = time.Now()
				sub, err = trySubscribe(t, replaced, domain, group)
			}
			time.Sleep(2 * time.Second)
			got := sub.close()
			old := 0
			for _, m := range got {
				member, _, _ := strings.Cut(m, ":")
				if at, ok := l.ackedAtOf(member); ok && at.Before(asked) {
					old++
				}
			}
			if old > 0 {
				t.Errorf("the replacement delivered %d of %d messages of reports acknowledged before it was asked to subscribe", old, len(got))
			}
			t.Logf("the replacement's subscriber received %d messages, none of them old", len(got))
		})
		// Taking away a second original node right after the replacement (which once
		// stalled writes) leaves the replacement and the third node serving.
		crash(t, without(replaced)[0], "right after the replacement")
	})

	editorFirst("graceful restart", restart)

	played := map[string]int{}
	twice := 0
	for _, ev := range ed.since(0) {
		if ev.Ev == "played" {
			if played[ev.Name]++; played[ev.Name] == 2 {
				twice++
			}
		}
	}
	t.Logf("the editor played %d broadcasts, %d of them twice (a broadcast haproxy resent after a crash took effect twice: deploy/cluster.md)", len(played), twice)
}
