package main

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKill9LosesNothingAcknowledged crashes meshd with SIGKILL in the middle of a load of
// creates, joins, leaves and reports, restarts it on the same file, and checks that every
// acknowledged control-plane change is there and that statuses are at most one flush interval
// behind. The crash is repeated in a bounded loop.
func TestKill9LosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	const (
		cycles = 5
		flush  = 100 * time.Millisecond
		// slack lets a loaded machine finish the flush that was due when it was killed.
		slack = time.Second
	)
	args := []string{"-data-dir", dir, "-status-flush-interval", flush.String(), "-domain-mode", "fixed"}
	acked := newLedger()
	for cycle := range cycles {
		p := startMeshd(t, args...)
		acked.verify(t, p, flush+slack)

		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() { acked.load(t, p, fmt.Sprintf("c%dw%d", cycle, w), stop) })
		}
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond) // let the load run, then crash at a random point
		p.cmd.Process.Signal(syscall.SIGKILL)
		killedAt := time.Now()
		p.wait(t)
		close(stop)
		wg.Wait()
		acked.killedAt = killedAt
	}
	p := startMeshd(t, args...)
	acked.verify(t, p, flush+slack)
	if acked.groups() < cycles {
		t.Fatalf("only %d groups were acknowledged: the load did not run", acked.groups())
	}
}

// ledger records what meshd acknowledged.
type ledger struct {
	mu       sync.Mutex
	domain   string
	members  map[string]map[string]membership // group → node → state
	reports  map[string][]report              // group/node → acknowledged reports in order
	killedAt time.Time
}

// membership is what the ledger knows of a node: a join or leave meshd acknowledged, or one
// that was in flight at the crash and may or may not have happened.
type membership int

const (
	joined membership = iota
	left
	joining
	leaving
)

type report struct {
	value string
	acked time.Time
}

func newLedger() *ledger {
	return &ledger{members: map[string]map[string]membership{}, reports: map[string][]report{}}
}

func (l *ledger) groups() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.members)
}

// try sends a document and reports whether meshd acknowledged it; a request cut off by the
// crash is not an acknowledgement.
func try(p *process, query string, vars map[string]any) (map[string]any, bool) {
	out := p.postQuiet(query, vars)
	return out, out != nil
}

// load creates a group, joins members, has one leave and everyone report, until stop or the
// first refused request.
func (l *ledger) load(t *testing.T, p *process, worker string, stop <-chan struct{}) {
	for i := 0; i < 200; i++ {
		select {
		case <-stop:
			return
		default:
		}
		host := fmt.Sprintf("%s-host%d", worker, i)
		d, ok := try(p, `mutation { createDomain }`, nil)
		if !ok {
			return
		}
		domain := d["createDomain"].(string)
		g, ok := try(p, `mutation($n: String!, $h: ID!, $d: String!) { createGroup(name: $n, hostId: $h, domain: $d) { id } }`, map[string]any{"n": host, "h": host, "d": domain})
		if !ok {
			return
		}
		id := g["createGroup"].(map[string]any)["id"].(string)
		l.mu.Lock()
		l.domain = domain
		l.members[id] = map[string]membership{}
		l.mu.Unlock()
		change := func(query, node string, during, after membership) bool {
			l.mu.Lock()
			l.members[id][node] = during
			l.mu.Unlock()
			_, ok := try(p, query, map[string]any{"g": id, "d": domain, "n": node})
			if ok {
				l.mu.Lock()
				l.members[id][node] = after
				l.mu.Unlock()
			}
			return ok
		}
		for n := range 3 {
			if !change(`mutation($g: ID!, $d: String!, $n: ID!) { joinGroup(groupId: $g, domain: $d, nodeId: $n) { id } }`, fmt.Sprintf("n%d", n), joining, joined) {
				return
			}
		}
		if !change(`mutation($g: ID!, $d: String!, $n: ID!) { leaveGroup(groupId: $g, domain: $d, nodeId: $n) { peerId } }`, "n2", leaving, left) {
			return
		}
		for round := range 3 {
			for _, node := range []string{"n0", "n1"} {
				value := fmt.Sprintf("%s-%d", node, round)
				if _, ok := try(p, `mutation($g: ID!, $d: String!, $n: ID!, $v: String!) { reportDataByNode(groupId: $g, domain: $d, nodeId: $n, data: [{key: "v", value: $v}]) { groupId } }`,
					map[string]any{"g": id, "d": domain, "n": node, "v": value}); !ok {
					return
				}
				l.mu.Lock()
				l.reports[id+"/"+node] = append(l.reports[id+"/"+node], report{value, time.Now()})
				l.mu.Unlock()
			}
		}
	}
}

// verify checks a restarted meshd against everything acknowledged before the last crash.
func (l *ledger) verify(t *testing.T, p *process, lag time.Duration) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.domain == "" {
		return
	}
	list := p.post(t, `query($d: String!) { listGroupsByDomain(domain: $d) { id } }`, map[string]any{"d": l.domain})
	live := map[string]bool{}
	for _, g := range list["listGroupsByDomain"].([]any) {
		live[g.(map[string]any)["id"].(string)] = true
	}
	for id, members := range l.members {
		if !live[id] {
			t.Fatalf("acknowledged group %s is gone after the crash", id)
		}
		nodes := p.post(t, `query($g: ID!, $d: String!) { listNodesInGroup(groupId: $g, domain: $d) { id } }`, map[string]any{"g": id, "d": l.domain})
		present := map[string]bool{}
		for _, n := range nodes["listNodesInGroup"].([]any) {
			present[n.(map[string]any)["id"].(string)] = true
		}
		for node, state := range members {
			if state == joined && !present[node] || state == left && present[node] {
				t.Fatalf("group %s after the crash: %s present=%v, but its last acknowledged change says %v", id, node, present[node], state == joined)
			}
			members[node] = left
			if present[node] {
				members[node] = joined
			}
			delete(present, node)
		}
		if len(present) > 0 {
			t.Fatalf("group %s has members nobody tried to join: %v", id, present)
		}
		statuses := p.post(t, `query($g: ID!, $d: String!) { listGroupStatuses(groupId: $g, domain: $d) { nodeId data { value } } }`, map[string]any{"g": id, "d": l.domain})
		restored := map[string]string{}
		for _, s := range statuses["listGroupStatuses"].([]any) {
			m := s.(map[string]any)
			restored[m["nodeId"].(string)] = m["data"].([]any)[0].(map[string]any)["value"].(string)
		}
		for _, node := range []string{"n0", "n1"} {
			l.checkStatus(t, id, node, restored[node], lag)
		}
	}
}

// checkStatus checks one restored status; what was restored becomes the truth the next crash
// is checked against, since reports lost within the flush lag are gone for good.
func (l *ledger) checkStatus(t *testing.T, group, node, restored string, lag time.Duration) {
	t.Helper()
	key := group + "/" + node
	reports := l.reports[key]
	defer func() {
		if len(reports) > 0 && restored != "" {
			l.reports[key] = []report{{restored, reports[len(reports)-1].acked}}
		} else {
			delete(l.reports, key)
		}
	}()
	if len(reports) == 0 {
		if restored != "" {
			t.Fatalf("%s/%s has status %q that was never acknowledged", group, node, restored)
		}
		return
	}
	last := reports[len(reports)-1]
	if l.killedAt.Sub(last.acked) > lag && restored != last.value {
		t.Fatalf("%s/%s: restored %q, but %q was acknowledged %v before the crash (flush lag allowed %v)", group, node, restored, last.value, l.killedAt.Sub(last.acked), lag)
	}
	if restored == "" {
		return
	}
	for _, r := range reports {
		if r.value == restored {
			return
		}
	}
	t.Fatalf("%s/%s: restored %q was never acknowledged", group, node, restored)
}
