package cluster_test

import (
	"bufio"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker/cluster/clustertest"
	"github.com/smalruby/meshd/cmd/meshd/meshdtest"
	"github.com/smalruby/meshd/deploy/apttest"
)

// haproxy is a real haproxy process running deploy/haproxy/meshd.cfg in front of a cluster.
type haproxy struct {
	// LB posts through the load balancer.
	LB *clustertest.Node
	// TLSURL is the load balancer's GraphQL endpoint over TLS, whose certificate CAFile (a
	// PEM file) trusts.
	TLSURL, CAFile string
	mu             sync.Mutex
	// failed counts the requests haproxy logged with a status of 500 and above or none, by
	// the node it sent them to ("<NOSRV>" when it had no node to send them to).
	failed map[string]int
	// retried counts the requests haproxy sent again (L7 retries) and that then succeeded or
	// failed.
	retried int
	lines   []string
}

// httpLogLine is haproxy's httplog line: the server that answered, the timers, the status
// (-1 when the request ended without one), the bytes, cookies and termination state, the
// connection counts and how many times the request was tried again (+ when on another node).
var httpLogLine = regexp.MustCompile(`meshd_nodes/(\S+) \S+ (-1|\d{3}) \S+ \S+ \S+ \S+ \d+/\d+/\d+/\d+/\+?(\d+) `)

// startHAProxy runs the shipped configuration with its bind address and server lines set to
// the test's nodes, and waits until it forwards requests.
func startHAProxy(t *testing.T, nodes []*clustertest.Node) *haproxy {
	t.Helper()
	bin := apttest.Tool(t, "haproxy", "haproxy")
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "haproxy", "meshd.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	addr, tlsAddr := freeLoopback(t), freeLoopback(t)
	crtFile, ca := tlsFiles(t)
	var cfg []string
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "bind":
			line = "    bind " + addr + "\n    bind " + tlsAddr + " ssl crt " + crtFile
		case len(f) >= 3 && f[0] == "server":
			line = ""
		case len(f) >= 2 && f[0] == "log" && f[1] == "stdout":
			line = strings.Replace(line, "warning", "info", 1)
		}
		cfg = append(cfg, line)
	}
	for _, n := range nodes {
		cfg = append(cfg, fmt.Sprintf("    server %s %s", n.Name, strings.TrimSuffix(strings.TrimPrefix(n.URL(), "http://"), "/graphql")))
	}
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(strings.Join(cfg, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy rejects the shipped configuration: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &haproxy{LB: &clustertest.Node{Name: "haproxy", Process: meshdtest.At(addr)}, TLSURL: "https://" + tlsAddr + "/graphql", CAFile: ca, failed: map[string]int{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			h.mu.Lock()
			h.lines = append(h.lines, line)
			if m := httpLogLine.FindStringSubmatch(line); m != nil {
				if m[2] == "-1" || m[2] >= "500" {
					h.failed[m[1]]++
				}
				if m[3] != "0" {
					h.retried++
				}
			}
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h
			}
		}
		if time.Now().After(deadline) {
			h.mu.Lock()
			t.Fatalf("haproxy does not forward requests: %v\n%s", err, strings.Join(h.lines, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// freeLoopback returns a loopback address with a free port.
func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// tlsFiles writes httptest's certificate for 127.0.0.1 with its key, as haproxy's crt file
// wants them, and the certificate alone, for clients to trust.
func tlsFiles(t *testing.T) (pemFile, caFile string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	cert := srv.TLS.Certificates[0]
	srv.Close()
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	dir := t.TempDir()
	pemFile, caFile = filepath.Join(dir, "haproxy.pem"), filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(pemFile, append(crt, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(caFile, crt, 0o600); err != nil {
		t.Fatal(err)
	}
	return pemFile, caFile
}

// failures returns and resets the failed answers haproxy logged, by node, and how many
// requests it sent again.
func (h *haproxy) failures() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	f, r := h.failed, h.retried
	h.failed, h.retried = map[string]int{}, 0
	return f, r
}
