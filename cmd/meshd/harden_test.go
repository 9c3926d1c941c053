package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/smalruby/meshd/cmd/meshd/connbudget"
)

// processCPU is a process's user and system CPU time from /proc/<pid>/stat (100 ticks a
// second in Linux's ABI).
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// from dials addr from a loopback address of its own (Linux routes all of 127/8 to lo).
func from(local string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 10 * time.Second}
}

func clientFrom(local string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: from(local).DialContext}, Timeout: 30 * time.Second}
}

// Finding 3: only ReadHeaderTimeout was set and nothing capped connections, so 1,100
// connections trickling request bodies exhausted a 1,024-descriptor meshd and /healthz with it.
// Now they draw from the connection budget (1,024 less 128): what it cannot hold is answered
// 429 at once, a classroom behind another address still connects — each of its connections
// takes the place of one of the flood's, the address holding the most — and the trickled
// bodies left are cut at the read timeout.
func TestConnectionFloodLeavesRoomForOthers(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		t.Fatalf("prlimit (util-linux) is needed to give meshd 1,024 descriptors: %v", err)
	}
	// A read timeout long enough for meshd to accept the whole flood before it cuts any.
	p := startCommand(t, []string{"prlimit", "--nofile=1024:1024", "--"}, nil, "-store", "memory", "-read-timeout", "10s")
	base := strings.TrimSuffix(p.URL, "/graphql")
	host := strings.TrimPrefix(base, "http://")
	cpu0 := processCPU(t, p.Pid())

	const flood = 1100
	conns := make([]net.Conn, 0, flood)
	for range flood {
		c, err := from("127.0.0.1").Dial("tcp", host)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		// Headers complete, a body promised and never sent but for one byte.
		fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", host)
		conns = append(conns, c)
	}
	// Each connection's first answer, read concurrently: 429 at once for those beyond the
	// address's cap, 400 at the read timeout for the trickled bodies meshd held.
	answers := make(chan string, flood)
	for _, c := range conns {
		go func() {
			c.SetReadDeadline(time.Now().Add(2 * time.Minute))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				line = err.Error()
			}
			answers <- strings.TrimSpace(line)
		}()
	}

	// Meanwhile others still reach meshd: /healthz, and a classroom of 40 editors behind one
	// NAT address, each with a realtime socket, plus 200 more connections from that address.
	if code, _ := get(t, clientFrom("127.0.0.2"), base+"/healthz"); code != 200 {
		t.Fatalf("/healthz during the flood: %d", code)
	}
	dialer := websocket.Dialer{NetDialContext: from("127.0.0.3").DialContext, Subprotocols: []string{"graphql-ws"}}
	for i := range 40 {
		ws, _, err := dialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/graphql/realtime?header=e30=&payload=e30=", nil)
		if err != nil {
			t.Fatalf("editor %d's socket during the flood: %v", i, err)
		}
		defer ws.Close()
		if err := ws.WriteJSON(map[string]string{"type": "connection_init"}); err != nil {
			t.Fatal(err)
		}
		ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		var ack map[string]any
		if err := ws.ReadJSON(&ack); err != nil || ack["type"] != "connection_ack" {
			t.Fatalf("editor %d: %v %v", i, ack, err)
		}
	}
	for range 200 {
		c, err := from("127.0.0.3").Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	if code, _ := get(t, clientFrom("127.0.0.3"), base+"/healthz"); code != 200 {
		t.Fatalf("the classroom's 241st connection: %d", code)
	}
	code, body := get(t, clientFrom("127.0.0.3"), base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics during the flood: %d", code)
	}
	open := metricValue(t, body, "meshd_connections_open")

	count := map[string]int{}
	for range flood {
		a := <-answers
		if a == "EOF" || strings.Contains(a, "connection reset by peer") {
			a = "closed to make room"
		}
		count[a]++
	}
	// The classroom holds 242 connections (40 sockets, 200 more, one /healthz) and 127.0.0.2's
	// /healthz one more while it ran: the flood kept at most the rest of the budget.
	const budget = 1024 - connbudget.ReservedDescriptors
	tooMany, cut, made := count["HTTP/1.1 429 Too Many Requests"], count["HTTP/1.1 400 Bad Request"], count["closed to make room"]
	if tooMany+cut+made != flood || open > budget {
		t.Fatalf("answers to the flood: %v, %v connections open at its height; want each answered 429 at once, held to the read timeout (400) or closed to make room, and at most %d open", count, open, budget)
	}
	if code, _ := get(t, clientFrom("127.0.0.1"), base+"/healthz"); code != 200 {
		t.Fatalf("/healthz from the flooding address once its connections ended: %d", code)
	}
	if strings.Contains(p.Logs(), "too many open files") {
		t.Fatalf("meshd ran out of descriptors:\n%s", p.Logs())
	}
	// The flood cost meshd little: every refused connection is one accept, write and close.
	if cpu := processCPU(t, p.Pid()) - cpu0; cpu > 5*time.Second {
		t.Fatalf("the flood cost meshd %v of CPU", cpu)
	}
}

// Finding 8 of Hardening II: the side listeners had no idle timeout and no cap, so 1,014 idle
// connections to them left the main API unable to accept anyone. They draw from the one
// connection budget now, with the main listener's timeouts: 1,100 idle connections to
// -metrics-addr cost meshd no more than the budget, the API and the console still answer,
// and an idle keep-alive on the console's listener closes after MESH_IDLE_TIMEOUT.
func TestSideListenersShareTheBudget(t *testing.T) {
	const key = "a-long-enough-admin-key"
	p := startCommand(t, []string{"prlimit", "--nofile=1024:1024", "--"}, nil, "-store", "memory",
		"-metrics-addr", "127.0.0.1:0", "-console-addr", "127.0.0.1:0", "-admin-keys", key, "-idle-timeout", "1s")
	base := strings.TrimSuffix(p.URL, "/graphql")
	metricsAddr := logLine(t, p, regexp.MustCompile(`msg="metrics listening" addr=(\S+)`))[1]
	console := logLine(t, p, regexp.MustCompile(`msg="console listening" url=(http://127\.0\.0\.1:\d+)/console/`))[1]
	for range 1100 {
		c, err := from("127.0.0.1").Dial("tcp", metricsAddr)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
	}
	if code, _ := get(t, clientFrom("127.0.0.2"), base+"/healthz"); code != 200 {
		t.Fatalf("/healthz after 1,100 idle connections to the metrics listener: %d", code)
	}
	if code, body := get(t, clientFrom("127.0.0.2"), "http://"+metricsAddr+"/metrics"); code != 200 || metricValue(t, body, "meshd_connections_open") > 1024-connbudget.ReservedDescriptors {
		t.Fatalf("/metrics: %d, %v connections open", code, metricValue(t, body, "meshd_connections_open"))
	}
	if strings.Contains(p.Logs(), "too many open files") {
		t.Fatalf("meshd ran out of descriptors:\n%s", p.Logs())
	}

	host := strings.TrimPrefix(console, "http://")
	c, err := from("127.0.0.3").Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /statusz HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", host, key)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/statusz on the console listener: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("the idle keep-alive connection to the console was not closed: %v", err)
	}
}

// An idle keep-alive connection is closed after MESH_IDLE_TIMEOUT.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	p := startMeshd(t, "-store", "memory", "-idle-timeout", "1s")
	host := strings.TrimPrefix(strings.TrimSuffix(p.URL, "/graphql"), "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("the idle keep-alive connection was not closed: %v", err)
	}
}

// Finding 7: SIGHUP stopped a plain-HTTP meshd (systemctl reload sends it).
func TestSIGHUPWithoutTLSKeepsServing(t *testing.T) {
	p := startMeshd(t, "-store", "memory")
	for i := range 3 {
		if err := p.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(p.Logs(), "nothing to reload") <= i {
			if time.Now().After(deadline) {
				t.Fatalf("SIGHUP %d was not handled:\n%s", i+1, p.Logs())
			}
			select {
			case <-p.Exited():
				t.Fatalf("SIGHUP stopped meshd:\n%s", p.Logs())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	p.post(t, `mutation { createDomain }`, nil)
}

// Finding 8: -nats-listen opened NATS without authentication; now it needs a token, and -h
// says so.
func TestNATSListenNeedsAToken(t *testing.T) {
	out, err := exec.Command(meshdBinary(t), "-store", "memory", "-data-dir", t.TempDir(), "-nats-listen", "127.0.0.1:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "-nats-listen needs -nats-token") {
		t.Fatalf("meshd -nats-listen without a token: %v\n%s", err, out)
	}
	help, _ := exec.Command(meshdBinary(t), "-h").Output()
	if !regexp.MustCompile(`(?s)-nats-token.*required`).Match(help) {
		t.Fatalf("-h does not say that -nats-listen needs a token:\n%s", help)
	}
	p := startMeshd(t, "-store", "memory", "-nats-listen", "127.0.0.1:0", "-nats-token", "nats-token-0123456789")
	p.post(t, `mutation { createDomain }`, nil)
}

// Finding 9: the README promises that a damaged state file stops meshd; an empty one was
// started over.
func TestBinaryRefusesAnEmptyStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "meshd.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(meshdBinary(t), "-listen-addr", "127.0.0.1:0", "-data-dir", dir)
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "empty (0 bytes)") {
		t.Fatalf("meshd on an empty state file: %v\n%s", err, out)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the refused file was changed: %v %v", fi, err)
	}
}

var pprofListening = regexp.MustCompile(`msg="pprof listening" addr=(\S+)`)

// Finding 9: pprof's cmdline showed -api-keys; secrets are redacted (and the README says to
// pass them as MESH_API_KEYS).
func TestPprofCmdlineHidesSecrets(t *testing.T) {
	p := startMeshd(t, "-store", "memory", "-pprof-addr", "127.0.0.1:0", "-api-keys", "k1,k2", "-admin-keys=admin-key-0123456789", "-secret-key", "s1")
	m := pprofListening.FindStringSubmatch(p.Logs())
	if m == nil {
		t.Fatalf("no pprof address in the log:\n%s", p.Logs())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+m[1]+"/debug/pprof/cmdline", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, secret := range []string{"k1", "admin-key-0123456789", "s1"} {
		if bytes.Contains(body, []byte(secret)) {
			t.Fatalf("cmdline shows a secret: %q", body)
		}
	}
	if !bytes.Contains(body, []byte("-api-keys\x00REDACTED")) || !bytes.Contains(body, []byte("-admin-keys=REDACTED")) {
		t.Fatalf("cmdline: %q", body)
	}
}
