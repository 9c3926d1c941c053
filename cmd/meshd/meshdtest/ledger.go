package meshdtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Ledger records what a meshd acknowledged while it was loaded and killed, and checks a
// restarted meshd against it: groups, joins and leaves exactly (those in flight at the kill
// either way), and each node's latest report exactly once it was acknowledged more than Lag
// before the kill. What a check finds becomes the truth the next kill is checked against.
type Ledger struct {
	// Lag is how long a report may be acknowledged before a kill and still be lost: meshd's
	// status flush interval plus slack for a loaded machine.
	Lag time.Duration

	mu       sync.Mutex
	groups   map[string]*ledgerGroup // by id
	reports  int
	killedAt time.Time
}

type ledgerGroup struct {
	domain  string
	members map[string]membership
	reports map[string][]report // by node, oldest first
}

// membership is what the ledger knows of a node: a join or leave meshd acknowledged, or one in
// flight at the kill that may or may not have happened.
type membership int

const (
	joined membership = iota
	left
	joining
	leaving
)

// report is one report of a node's status; acked is zero while it is in flight.
type report struct {
	value string
	acked time.Time
}

// Classroom is the shape of one group of the load.
type Classroom struct {
	// Members join the host's group; the last Leaves of them leave it again.
	Members, Leaves int
	// Reports is how many reports the members who stayed send, in turn; zero sends them until
	// the load stops.
	Reports int
	// Every paces the reports; zero sends them as fast as meshd answers.
	Every time.Duration
}

// Play runs one classroom on p: the host creates its group in a new domain, the members join,
// some leave, and the others report. It returns false when stop closed or meshd did not
// acknowledge a request (the kill), true when the classroom finished.
func (l *Ledger) Play(p *Process, name string, c Classroom, stop <-chan struct{}) bool {
	d, err := post(p, `mutation { createDomain }`, nil)
	if err != nil {
		return false
	}
	domain := d["createDomain"].(string)
	created, err := post(p, `mutation($n: String!, $h: ID!, $d: String!) { createGroup(name: $n, hostId: $h, domain: $d, useWebSocket: true) { id } }`,
		map[string]any{"n": name, "h": name, "d": domain})
	if err != nil {
		return false
	}
	id := created["createGroup"].(map[string]any)["id"].(string)
	g := &ledgerGroup{domain: domain, members: map[string]membership{}, reports: map[string][]report{}}
	l.mu.Lock()
	if l.groups == nil {
		l.groups = map[string]*ledgerGroup{}
	}
	l.groups[id] = g
	l.mu.Unlock()
	vars := func(node string) map[string]any { return map[string]any{"g": id, "d": domain, "n": node} }
	change := func(query, node string, during, after membership) bool {
		l.mu.Lock()
		g.members[node] = during
		l.mu.Unlock()
		if _, err := post(p, query, vars(node)); err != nil {
			return false
		}
		l.mu.Lock()
		g.members[node] = after
		l.mu.Unlock()
		return true
	}
	nodes := make([]string, c.Members)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("m%02d", i)
		if stopped(stop) || !change(`mutation($g: ID!, $d: String!, $n: ID!) { joinGroup(groupId: $g, domain: $d, nodeId: $n) { id } }`, nodes[i], joining, joined) {
			return false
		}
	}
	stayed := nodes[:max(0, c.Members-c.Leaves)]
	for _, node := range nodes[len(stayed):] {
		if stopped(stop) || !change(`mutation($g: ID!, $d: String!, $n: ID!) { leaveGroup(groupId: $g, domain: $d, nodeId: $n) { peerId } }`, node, leaving, left) {
			return false
		}
	}
	var tick <-chan time.Time
	if c.Every > 0 {
		t := time.NewTicker(c.Every)
		defer t.Stop()
		tick = t.C
	}
	for round := 0; len(stayed) > 0 && (c.Reports == 0 || round < c.Reports); round++ {
		if tick == nil && stopped(stop) {
			return false
		}
		if tick != nil {
			select {
			case <-stop:
				return false
			case <-tick:
			}
		}
		node := stayed[round%len(stayed)]
		value := fmt.Sprintf("%s-%d", node, round)
		l.mu.Lock()
		g.reports[node] = append(g.reports[node], report{value: value})
		l.mu.Unlock()
		v := vars(node)
		v["v"] = value
		if _, err := post(p, `mutation($g: ID!, $d: String!, $n: ID!, $v: String!) { reportDataByNode(groupId: $g, domain: $d, nodeId: $n, data: [{key: "score", value: $v}]) { groupId } }`, v); err != nil {
			return false
		}
		l.mu.Lock()
		g.reports[node][len(g.reports[node])-1].acked = time.Now()
		l.reports++
		l.mu.Unlock()
	}
	return true
}

// post sends one request of the load; an error means meshd did not acknowledge it.
func post(p *Process, query string, vars map[string]any) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return p.Post(ctx, query, vars)
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// Killed notes when meshd was killed: reports acknowledged more than Lag before it must
// survive.
func (l *Ledger) Killed(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.killedAt = at
}

// Groups counts the groups whose creation meshd acknowledged.
func (l *Ledger) Groups() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.groups)
}

// Memberships counts the nodes that ever joined a group.
func (l *Ledger) Memberships() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, g := range l.groups {
		n += len(g.members)
	}
	return n
}

// Reports counts the acknowledged reports.
func (l *Ledger) Reports() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reports
}

// Verify checks a restarted meshd against everything acknowledged before the last kill and
// returns how many acknowledged changes it checked.
func (l *Ledger) Verify(p *Process) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	live := map[string]map[string]bool{} // domain → group ids
	var checked int64
	for id, g := range l.groups {
		if live[g.domain] == nil {
			list, err := post(p, `query($d: String!) { listGroupsByDomain(domain: $d) { id } }`, map[string]any{"d": g.domain})
			if err != nil {
				return checked, fmt.Errorf("listGroupsByDomain: %w", err)
			}
			live[g.domain] = map[string]bool{}
			for _, e := range list["listGroupsByDomain"].([]any) {
				live[g.domain][e.(map[string]any)["id"].(string)] = true
			}
		}
		if !live[g.domain][id] {
			return checked, fmt.Errorf("acknowledged group %s is gone", id)
		}
		checked++
		n, err := l.verifyGroup(p, id, g)
		checked += n
		if err != nil {
			return checked, err
		}
	}
	return checked, nil
}

func (l *Ledger) verifyGroup(p *Process, id string, g *ledgerGroup) (int64, error) {
	vars := map[string]any{"g": id, "d": g.domain}
	nodes, err := post(p, `query($g: ID!, $d: String!) { listNodesInGroup(groupId: $g, domain: $d) { id } }`, vars)
	if err != nil {
		return 0, fmt.Errorf("group %s: listNodesInGroup: %w", id, err)
	}
	statuses, err := post(p, `query($g: ID!, $d: String!) { listGroupStatuses(groupId: $g, domain: $d) { nodeId data { value } } }`, vars)
	if err != nil {
		return 0, fmt.Errorf("group %s: listGroupStatuses: %w", id, err)
	}
	var checked int64
	present := map[string]bool{}
	for _, n := range nodes["listNodesInGroup"].([]any) {
		present[n.(map[string]any)["id"].(string)] = true
	}
	for node, state := range g.members {
		if state == joined && !present[node] || state == left && present[node] {
			return checked, fmt.Errorf("group %s: %s present=%v, but its last acknowledged change says joined=%v", id, node, present[node], state == joined)
		}
		if state == joined || state == left {
			checked++
		}
		g.members[node] = left
		if present[node] {
			g.members[node] = joined
		}
		delete(present, node)
	}
	if len(present) > 0 {
		return checked, fmt.Errorf("group %s has members nobody tried to join: %v", id, present)
	}
	restored := map[string]string{}
	for _, s := range statuses["listGroupStatuses"].([]any) {
		m := s.(map[string]any)
		if data := m["data"].([]any); len(data) > 0 {
			restored[m["nodeId"].(string)] = data[0].(map[string]any)["value"].(string)
		}
	}
	for node, value := range restored {
		if _, ok := g.reports[node]; !ok {
			return checked, fmt.Errorf("group %s: %s has status %q that nobody reported", id, node, value)
		}
	}
	for node, reports := range g.reports {
		n, err := l.checkStatus(id, node, reports, restored[node])
		checked += n
		if err != nil {
			return checked, err
		}
		if restored[node] == "" {
			delete(g.reports, node)
		} else {
			g.reports[node] = []report{{value: restored[node], acked: l.killedAt}}
		}
	}
	return checked, nil
}

// checkStatus checks one node's restored status against its reports: it must be one of them,
// and the last acknowledged one or a later one when that was acknowledged more than Lag before
// the kill. It counts 1 when an acknowledged report was checked.
func (l *Ledger) checkStatus(group, node string, reports []report, restored string) (int64, error) {
	found := slices.IndexFunc(reports, func(r report) bool { return r.value == restored })
	if restored != "" && found < 0 {
		return 0, fmt.Errorf("%s/%s: restored %q was never reported", group, node, restored)
	}
	lastAcked := -1
	for i, r := range reports {
		if !r.acked.IsZero() {
			lastAcked = i
		}
	}
	if lastAcked < 0 {
		return 0, nil // only a report in flight at the kill: there or not
	}
	last := reports[lastAcked]
	if age := l.killedAt.Sub(last.acked); age > l.Lag && found < lastAcked {
		return 0, fmt.Errorf("%s/%s: restored %q, but %q was acknowledged %v before the kill (%v allowed)", group, node, restored, last.value, age, l.Lag)
	}
	return 1, nil
}
