package cluster_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker/cluster/clustertest"
	"github.com/smalruby/meshd/gql/realclient"
)

// tickKey is the variable the host's ticker reports; the editor reports its changes.
const tickKey = "tick"

// editorEvent is one line of gql/testdata/node/failover.mjs: what the pupil's editor saw.
type editorEvent struct {
	At     int64  `json:"at"` // Unix milliseconds
	Ev     string `json:"ev"` // open, ack, close, played, status, note, joined
	Socket int    `json:"socket"`
	Code   int    `json:"code"`
	Name   string `json:"name"`
	Value  string `json:"value"`
	Msg    string `json:"msg"`
}

// tick is the host's tick number in a played broadcast's name or a status value, or -1.
func (e editorEvent) tick() int {
	s := e.Value
	if e.Ev == "played" {
		s = strings.TrimPrefix(e.Name, "tick-")
	}
	n, err := strconv.Atoi(s)
	if err != nil || e.Ev != "played" && e.Ev != "status" {
		return -1
	}
	return n
}

// editor is a pupil's editor — the real aws-appsync client driven from Node as the Mesh
// extension drives it — joined to a group through the load balancer.
type editor struct {
	mu     sync.Mutex
	events []editorEvent
	stdin  io.WriteCloser
	done   chan struct{}
}

// startEditor runs failover.mjs against url (the load balancer's GraphQL URL) and waits until
// the editor has joined the group and its subscription started.
func startEditor(t *testing.T, url, domain, group string) *editor {
	t.Helper()
	node, dir := realclient.Setup(t)
	cmd := exec.Command(node, "failover.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MESHD_HTTP_URL="+url, "MESHD_API_KEY="+realclient.APIKey, "MESHD_GROUP="+group,
		"MESHD_DOMAIN="+domain, "MESHD_WATCH_KEY="+tickKey, "MESHD_FILE_LIMIT_MS=1800000", "NO_COLOR=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &editor{stdin: stdin, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var ev editorEvent
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				ev = editorEvent{At: time.Now().UnixMilli(), Ev: "note", Msg: sc.Text()}
			}
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-e.done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-e.done
		}
		cmd.Wait()
		if stderr.Len() > 0 {
			t.Logf("the editor's stderr:\n%s", stderr.String())
		}
	})
	e.wait(t, "the editor to join and subscribe", 0, func(ev editorEvent) bool { return ev.Ev == "ack" })
	e.wait(t, "the editor to join and subscribe", 0, func(ev editorEvent) bool { return ev.Ev == "joined" })
	return e
}

// mark is the number of events seen so far, to look at what comes after.
func (e *editor) mark() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.events)
}

// since returns the events from mark on.
func (e *editor) since(mark int) []editorEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]editorEvent(nil), e.events[mark:]...)
}

// wait waits up to a minute for an event from mark on that satisfies ok, and returns it.
func (e *editor) wait(t *testing.T, what string, mark int, ok func(editorEvent) bool) editorEvent {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, ev := range e.since(mark) {
			if ok(ev) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s; the editor saw:\n%s", what, e.transcript(mark))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// transcript is what the editor saw from mark on other than the steady broadcasts and
// variable changes.
func (e *editor) transcript(mark int) string {
	var b strings.Builder
	played := 0
	for _, ev := range e.since(mark) {
		if ev.Ev == "played" || ev.Ev == "status" {
			played++
			continue
		}
		fmt.Fprintf(&b, "  %s %s socket %d code %d %s\n", time.UnixMilli(ev.At).UTC().Format("15:04:05.000"), ev.Ev, ev.Socket, ev.Code, ev.Msg)
	}
	fmt.Fprintf(&b, "  and %d broadcasts and variable changes\n", played)
	return b.String()
}

// ticker is the host of the editor's group: through the load balancer it broadcasts tick-N
// and reports its variable tick = N, one N after the other, until stopped.
type ticker struct {
	fired atomic.Int64 // the last N acknowledged
	mu    sync.Mutex
	errs  []string
}

func runTicker(ctx context.Context, lb *clustertest.Node, domain, group string) (*ticker, *sync.WaitGroup) {
	tk := &ticker{}
	var wg sync.WaitGroup
	wg.Go(func() {
		for n := int64(1); ctx.Err() == nil; n++ {
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := lb.Post(rctx, `mutation($g: ID!, $d: String!, $e: String!) { fireEventsByNode(groupId: $g, domain: $d, nodeId: "host-load", events: [{eventName: $e, payload: "", firedAt: "2026-03-01T08:45:02.431Z"}]) { groupId } }`,
				vars("g", group, "d", domain, "e", fmt.Sprint("tick-", n)))
			if err == nil {
				_, err = lb.Post(rctx, `mutation($g: ID!, $d: String!, $v: String!) { reportDataByNode(groupId: $g, domain: $d, nodeId: "host-load", data: [{key: "`+tickKey+`", value: $v}]) { groupId } }`,
					vars("g", group, "d", domain, "v", fmt.Sprint(n)))
			}
			cancel()
			if err != nil {
				tk.mu.Lock()
				tk.errs = append(tk.errs, fmt.Sprintf("tick %d: %v", n, err))
				tk.mu.Unlock()
			}
			tk.fired.Store(n)
			time.Sleep(200 * time.Millisecond)
		}
	})
	return tk, &wg
}

// failures returns and resets the ticks that failed.
func (tk *ticker) failures() []string {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	errs := tk.errs
	tk.errs = nil
	return errs
}

// socketsOpen is how many realtime sockets node n holds, from its metrics.
func socketsOpen(n *clustertest.Node) (int, error) {
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + n.Addr() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	// Sockets closed are counted by close code: sum the codes.
	var open float64
	for _, line := range strings.Split(string(body), "\n") {
		name, value, _ := strings.Cut(line, " ")
		var v float64
		fmt.Sscan(value, &v)
		switch {
		case name == "meshd_realtime_sockets_opened_total":
			open += v
		case strings.HasPrefix(name, "meshd_realtime_sockets_closed_total{"):
			open -= v
		}
	}
	return int(open), nil
}

// holder waits until exactly one node holds a realtime socket — the editor's — and returns it.
func holder(t *testing.T, nodes []*clustertest.Node) *clustertest.Node {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var held []*clustertest.Node
		var errs []string
		for _, n := range nodes {
			c, err := socketsOpen(n)
			if err != nil {
				errs = append(errs, err.Error())
			}
			if c > 0 {
				held = append(held, n)
			}
		}
		if len(held) == 1 && len(errs) == 0 {
			return held[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("not one node holds the editor's socket: %d do (%v)", len(held), errs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkEditor checks what the editor saw from mark on, through a fault of victim that began at
// faultAt: if the victim's process ended (ended) while it held the editor's socket, the
// socket closed (with 1001 going away on a planned stop), the SDK's own retry subscribed
// again through the load balancer on a live node, and the editor then played the host's later
// broadcasts and got its later variable changes; how long it missed is logged. Otherwise the
// editor's socket stayed open throughout. fired is the host's last tick once the fault was
// over.
func checkEditor(t *testing.T, e *editor, mark int, faultAt time.Time, nodes []*clustertest.Node, victim, held *clustertest.Node, ended, planned bool, fired int) {
	t.Helper()
	playedAfter := e.wait(t, "a broadcast sent after the fault", mark, func(ev editorEvent) bool { return ev.Ev == "played" && ev.tick() > fired })
	e.wait(t, "a variable change sent after the fault", mark, func(ev editorEvent) bool { return ev.Ev == "status" && ev.tick() > fired })
	evs := e.since(0)
	closeAt := -1
	for i, ev := range evs[mark:] {
		if ev.Ev == "close" {
			closeAt = mark + i
			break
		}
	}
	if held != victim || !ended {
		if closeAt >= 0 {
			t.Fatalf("the editor's socket on node %s closed although node %s failed:\n%s", held.Name, victim.Name, e.transcript(mark))
		}
		t.Logf("the editor's socket on node %s stayed open; it played tick %d sent after the fault", held.Name, playedAfter.tick())
		return
	}
	if closeAt < 0 {
		t.Fatalf("the editor's socket on node %s, which ended, never closed:\n%s", victim.Name, e.transcript(mark))
	}
	closed := evs[closeAt]
	if planned && closed.Code != 1001 {
		t.Errorf("node %s stopped with the editor's socket closed with %d, want 1001 (going away)", victim.Name, closed.Code)
	}
	ack, lastBefore, firstAfter := -1, editorEvent{Name: "tick-0", Ev: "played"}, -1
	for i, ev := range evs {
		switch {
		case ev.Ev == "played" && i < closeAt:
			lastBefore = ev
		case ev.Ev == "ack" && i > closeAt && ack < 0:
			ack = i
		case ev.Ev == "played" && ack >= 0 && firstAfter < 0:
			firstAfter = i
		}
	}
	if ack < 0 || firstAfter < 0 {
		t.Fatalf("the editor did not subscribe again and resume after its socket closed:\n%s", e.transcript(mark))
	}
	now := holder(t, nodes)
	if now == victim {
		t.Logf("the editor's socket is on node %s again (it came back before the retry)", now.Name)
	}
	resumed := evs[firstAfter]
	missed := "no broadcast (the host's waited too)"
	if n := resumed.tick() - lastBefore.tick() - 1; n > 0 {
		missed = fmt.Sprintf("%d broadcasts (tick %d to %d)", n, lastBefore.tick()+1, resumed.tick()-1)
	}
	t.Logf("the editor's socket on node %s closed (code %d) %s after the fault began; the SDK subscribed again %s after the close, on node %s; it missed %s and played none for %s",
		victim.Name, closed.Code, time.Duration(closed.At-faultAt.UnixMilli())*time.Millisecond, time.Duration(evs[ack].At-closed.At)*time.Millisecond, now.Name,
		missed, time.Duration(resumed.At-lastBefore.At)*time.Millisecond)
}
