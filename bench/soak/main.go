// Command soak kills meshd with SIGKILL at random points under the seed load, over and over,
// and after every restart checks every change meshd acknowledged before: groups, joins,
// leaves and (within one status flush) reports. It is bounded in cycles and time and is not
// part of the default test run:
//
//	go run ./bench/soak            # 100 cycles, writes bench/soak/RESULT.md
//	go run ./bench/soak -cycles 5  # a quick look
//
// The load per cycle is the seed profile's shape: 10 classrooms of 40 editors, each host
// creating its group, 39 members joining, a few leaving, everyone reporting variables.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	cycles := flag.Int("cycles", 100, "how many times meshd is killed and restarted")
	classrooms := flag.Int("classrooms", 10, "classrooms per cycle")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "random seed of the kill points")
	out := flag.String("out", "bench/soak/RESULT.md", "where the summary is written (empty: stdout only)")
	limit := flag.Duration("timeout", 15*time.Minute, "the whole run's bound")
	flag.Parse()
	if err := run(*cycles, *classrooms, *seed, *out, *limit); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// flush is meshd's status flush interval in the soak; reports acknowledged longer than
// flush+slack before a kill must survive it.
const (
	flush = 200 * time.Millisecond
	slack = time.Second
)

func run(cycles, classrooms int, seed uint64, out string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tmp, err := os.MkdirTemp("", "meshd-soak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "meshd")
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/meshd").CombinedOutput(); err != nil {
		return fmt.Errorf("build meshd (run from the repository root): %v\n%s", err, b)
	}
	data := filepath.Join(tmp, "data")
	rng := rand.New(rand.NewPCG(seed, 0))
	l := newLedger()
	start := time.Now()
	var checked, killedAfter int64
	for cycle := range cycles {
		p, err := startMeshd(ctx, bin, data)
		if err != nil {
			return fmt.Errorf("cycle %d: %w", cycle, err)
		}
		n, err := l.verify(p)
		if err != nil {
			p.kill()
			return fmt.Errorf("cycle %d: LOST an acknowledged change: %w\nmeshd's log:\n%s", cycle, err, p.log.String())
		}
		checked += n
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range classrooms {
			wg.Go(func() { l.classroom(p, fmt.Sprintf("c%dr%d", cycle, c), stop) })
		}
		wait := time.Duration(200+rng.IntN(1300)) * time.Millisecond
		time.Sleep(wait)
		p.kill()
		l.mu.Lock()
		l.killedAt = time.Now()
		l.mu.Unlock()
		close(stop)
		wg.Wait()
		killedAfter += wait.Milliseconds()
		fmt.Printf("cycle %3d: killed after %4d ms; %d acknowledged changes checked so far\n", cycle+1, wait.Milliseconds(), checked)
	}
	p, err := startMeshd(ctx, bin, data)
	if err != nil {
		return err
	}
	n, err := l.verify(p)
	p.kill()
	if err != nil {
		return fmt.Errorf("after the last cycle: LOST an acknowledged change: %w", err)
	}
	checked += n
	summary := fmt.Sprintf(`# Soak: SIGKILL under the seed load

`+"`go run ./bench/soak -seed %d`"+` on %s (%d CPUs), %s:

| cycles | classrooms per cycle | kill point | acknowledged changes checked | lost |
|---|---|---|---|---|
| %d | %d (40 editors each) | random, 200–1500 ms into the load (mean %d ms) | %d | 0 |

Every cycle starts the real binary on the same state file, checks every change it acknowledged
in all earlier cycles (groups, joins and leaves exactly, in-flight ones either way; reports
acknowledged more than %v before the kill exactly), runs the load and kills meshd with SIGKILL.
Acknowledged groups %d, memberships %d, reports %d. Took %s.
`, seed, runtime.GOOS+"/"+runtime.GOARCH, runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"),
		cycles, classrooms, killedAfter/int64(max(cycles, 1)), checked, flush+slack,
		len(l.members), l.memberships(), l.reportCount, time.Since(start).Round(time.Second))
	fmt.Print(summary)
	if out != "" {
		return os.WriteFile(out, []byte(summary), 0o644)
	}
	return nil
}

// process is a running meshd.
type process struct {
	cmd    *exec.Cmd
	url    string
	log    *bytes.Buffer
	exited chan struct{}
}

var listening = regexp.MustCompile(`msg="meshd listening" addr=(\S+)`)

func startMeshd(ctx context.Context, bin, data string) (*process, error) {
	cmd := exec.CommandContext(ctx, bin, "-listen-addr", "127.0.0.1:0", "-data-dir", data,
		"-status-flush-interval", flush.String(),
		// The soak outlives the default lifetimes: nothing may expire while it runs.
		"-host-heartbeat-ttl-seconds", "7200", "-member-heartbeat-ttl-seconds", "7200", "-max-connection-time-seconds", "7200")
	cmd.Env = append(os.Environ(), "MESH_LOG_FORMAT=text", "MESH_LOG_LEVEL=info")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, log: &bytes.Buffer{}, exited: make(chan struct{})}
	addr := make(chan string, 1)
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		cmd.Wait()
		close(p.exited)
	}()
	select {
	case a := <-addr:
		p.url = "http://" + a + "/graphql"
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("meshd exited before serving:\n%s", p.log)
	case <-time.After(60 * time.Second):
		p.kill()
		return nil, errors.New("meshd did not start within 60 s")
	}
}

func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

var client = &http.Client{Timeout: 30 * time.Second}

// do sends a document; nil means meshd did not acknowledge it (an error, or the kill).
func (p *process) do(query string, vars map[string]any) map[string]any {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := client.Post(p.url, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil
	}
	var r struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if json.Unmarshal(raw, &r) != nil || len(r.Errors) > 0 {
		return nil
	}
	return r.Data
}

// membership is what the ledger knows of a node: an acknowledged join or leave, or one in
// flight at the kill that may or may not have happened.
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

type ledger struct {
	mu          sync.Mutex
	domain      string
	members     map[string]map[string]membership // group → node → state
	reports     map[string][]report              // group/node → acknowledged reports
	reportCount int
	killedAt    time.Time
}

func newLedger() *ledger {
	return &ledger{members: map[string]map[string]membership{}, reports: map[string][]report{}}
}

func (l *ledger) memberships() int {
	n := 0
	for _, m := range l.members {
		n += len(m)
	}
	return n
}

const (
	qCreate = `mutation($n: String!, $h: ID!, $d: String!) { createGroup(name: $n, hostId: $h, domain: $d, useWebSocket: true) { id } }`
	qJoin   = `mutation($g: ID!, $d: String!, $n: ID!) { joinGroup(groupId: $g, domain: $d, nodeId: $n) { id } }`
	qLeave  = `mutation($g: ID!, $d: String!, $n: ID!) { leaveGroup(groupId: $g, domain: $d, nodeId: $n) { peerId } }`
	qReport = `mutation($g: ID!, $d: String!, $n: ID!, $v: String!) { reportDataByNode(groupId: $g, domain: $d, nodeId: $n, data: [{key: "score", value: $v}]) { groupId } }`
)

// classroom plays one classroom until stop or the first unacknowledged request: the host
// creates the group, 39 members join, two leave, and everyone reports.
func (l *ledger) classroom(p *process, name string, stop <-chan struct{}) {
	d := p.do(`mutation { createDomain }`, nil)
	if d == nil {
		return
	}
	domain := d["createDomain"].(string)
	g := p.do(qCreate, map[string]any{"n": name, "h": name, "d": domain})
	if g == nil {
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
		if p.do(query, map[string]any{"g": id, "d": domain, "n": node}) == nil {
			return false
		}
		l.mu.Lock()
		l.members[id][node] = after
		l.mu.Unlock()
		return true
	}
	for n := range 39 {
		if stopped(stop) || !change(qJoin, fmt.Sprintf("m%02d", n), joining, joined) {
			return
		}
	}
	for _, node := range []string{"m37", "m38"} {
		if stopped(stop) || !change(qLeave, node, leaving, left) {
			return
		}
	}
	// 15 reports a second per classroom, as in the seed profile.
	tick := time.NewTicker(time.Second / 15)
	defer tick.Stop()
	for round := 0; ; round++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		node := fmt.Sprintf("m%02d", round%37)
		value := fmt.Sprintf("%s-%d", node, round)
		if p.do(qReport, map[string]any{"g": id, "d": domain, "n": node, "v": value}) == nil {
			return
		}
		l.mu.Lock()
		l.reports[id+"/"+node] = append(l.reports[id+"/"+node], report{value, time.Now()})
		l.reportCount++
		l.mu.Unlock()
	}
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// verify checks a restarted meshd against everything acknowledged before and returns how
// many acknowledged changes it checked. What is found becomes the truth for the next cycle
// (in-flight changes settle one way or the other; reports within the flush lag may be gone).
func (l *ledger) verify(p *process) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.domain == "" {
		return 0, nil
	}
	list := p.do(`query($d: String!) { listGroupsByDomain(domain: $d) { id } }`, map[string]any{"d": l.domain})
	if list == nil {
		return 0, errors.New("listGroupsByDomain failed")
	}
	live := map[string]bool{}
	for _, g := range list["listGroupsByDomain"].([]any) {
		live[g.(map[string]any)["id"].(string)] = true
	}
	var checked int64
	for id, members := range l.members {
		if !live[id] {
			return checked, fmt.Errorf("group %s is gone", id)
		}
		checked++
		nodes := p.do(`query($g: ID!, $d: String!) { listNodesInGroup(groupId: $g, domain: $d) { id } }`, map[string]any{"g": id, "d": l.domain})
		statuses := p.do(`query($g: ID!, $d: String!) { listGroupStatuses(groupId: $g, domain: $d) { nodeId data { value } } }`, map[string]any{"g": id, "d": l.domain})
		if nodes == nil || statuses == nil {
			return checked, fmt.Errorf("group %s could not be read", id)
		}
		present := map[string]bool{}
		for _, n := range nodes["listNodesInGroup"].([]any) {
			present[n.(map[string]any)["id"].(string)] = true
		}
		for node, state := range members {
			if state == joined && !present[node] || state == left && present[node] {
				return checked, fmt.Errorf("group %s: %s present=%v, but its last acknowledged change says joined=%v", id, node, present[node], state == joined)
			}
			if state == joined || state == left {
				checked++
			}
			members[node] = left
			if present[node] {
				members[node] = joined
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
		for key, reports := range l.reports {
			group, node, _ := strings.Cut(key, "/")
			if group != id {
				continue
			}
			n, err := l.checkStatus(key, reports, restored[node])
			checked += n
			if err != nil {
				return checked, err
			}
		}
	}
	return checked, nil
}

func (l *ledger) checkStatus(key string, reports []report, restored string) (int64, error) {
	last := reports[len(reports)-1]
	if restored == "" || !contains(reports, restored) {
		if l.killedAt.Sub(last.acked) > flush+slack || restored != "" {
			return 0, fmt.Errorf("%s: restored %q, but %q was acknowledged %v before the kill", key, restored, last.value, l.killedAt.Sub(last.acked))
		}
		delete(l.reports, key)
		return 0, nil
	}
	if l.killedAt.Sub(last.acked) > flush+slack && restored != last.value {
		return 0, fmt.Errorf("%s: restored %q, but %q was acknowledged %v before the kill", key, restored, last.value, l.killedAt.Sub(last.acked))
	}
	l.reports[key] = []report{{restored, last.acked}}
	return 1, nil
}

func contains(reports []report, v string) bool {
	for _, r := range reports {
		if r.value == v {
			return true
		}
	}
	return false
}
