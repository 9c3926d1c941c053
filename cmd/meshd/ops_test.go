package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/cmd/meshd/metrics"
)

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// metricValue reads one sample from a Prometheus text exposition.
func metricValue(t *testing.T, exposition, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(exposition)
	if m == nil {
		t.Fatalf("no sample %s in\n%s", series, exposition)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestMetricsMoveWithOperations(t *testing.T) {
	p := startMeshd(t, "-store", "memory")
	base := strings.TrimSuffix(p.URL, "/graphql")
	_, before := get(t, http.DefaultClient, base+"/metrics")
	if metricValue(t, before, "meshd_groups") != 0 {
		t.Fatal("groups before any create")
	}
	g := p.post(t, `mutation { createGroup(name: "n", hostId: "h", domain: "d") { id } }`, nil)
	id := g["createGroup"].(map[string]any)["id"].(string)
	p.post(t, `mutation($g: ID!) { joinGroup(groupId: $g, domain: "d", nodeId: "m") { id } }`, map[string]any{"g": id})
	p.post(t, `mutation($g: ID!) { reportDataByNode(groupId: $g, domain: "d", nodeId: "m", data: []) { groupId } }`, map[string]any{"g": id})
	p.postQuiet(`mutation { joinGroup(groupId: "nope", domain: "d", nodeId: "m") { id } }`, nil)
	_, after := get(t, http.DefaultClient, base+"/metrics")
	for series, want := range map[string]float64{
		"meshd_groups":                   1,
		"meshd_members":                  1,
		"meshd_node_statuses":            1,
		"meshd_messages_published_total": 1,
		`meshd_graphql_operations_total{operation="createGroup",outcome="ok"}`:          1,
		`meshd_graphql_operations_total{operation="joinGroup",outcome="GroupNotFound"}`: 1,
		`meshd_graphql_operation_duration_seconds_count{operation="reportDataByNode"}`:  1,
	} {
		if got := metricValue(t, after, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if metricValue(t, after, "meshd_store_committed_ops_total") < 2 || metricValue(t, after, "meshd_store_commit_duration_seconds_count") < 1 {
		t.Error("store commits not counted")
	}
	if !strings.Contains(after, "process_resident_memory_bytes") || !strings.Contains(after, "go_goroutines") {
		t.Error("process and Go collectors missing")
	}
	if code, body := get(t, http.DefaultClient, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, http.DefaultClient, base+"/readyz"); code != 200 || !strings.HasPrefix(body, "ready\nmeshd ") {
		t.Errorf("/readyz = %d %q", code, body)
	}
}

func TestReadyzReflectsAClosedStore(t *testing.T) {
	tb := brokertest.New(t, brokertest.Options{})
	cfg, _ := parseConfig(nil, env(nil), io.Discard)
	handler, err := routes(cfg, http.NotFoundHandler(), tb.Broker, metrics.New(metrics.Build{}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()
	if code, _ := get(t, http.DefaultClient, srv.URL+"/readyz"); code != 200 {
		t.Fatalf("open store: /readyz = %d", code)
	}
	tb.Store.Close()
	code, body := get(t, http.DefaultClient, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
		t.Fatalf("closed store: /readyz = %d %q", code, body)
	}
	if code, _ := get(t, http.DefaultClient, srv.URL+"/healthz"); code != 200 {
		t.Fatalf("/healthz must stay up: %d", code)
	}
}

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and returns its pool.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.CertPool {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "meshd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

func TestTLSAndReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := writeCert(t, certFile, keyFile, 1)
	p := startMeshd(t, "-store", "memory", "-tls-cert", certFile, "-tls-key", keyFile)
	url := strings.Replace(p.URL, "http://", "https://", 1)
	serial := func(pool *x509.CertPool) int64 {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
		resp, err := c.Post(url, "application/json", strings.NewReader(`{"query":"mutation { createDomain }"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "createDomain") {
			t.Fatalf("over HTTPS: %d %s", resp.StatusCode, body)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serial(pool); got != 1 {
		t.Fatalf("serving certificate %d", got)
	}
	d := websocket.Dialer{Subprotocols: []string{"graphql-ws"}, TLSClientConfig: &tls.Config{RootCAs: pool}}
	ws, _, err := d.Dial(strings.Replace(url, "https://", "wss://", 1)+"/realtime", nil)
	if err != nil {
		t.Fatalf("WSS: %v", err)
	}
	ws.WriteJSON(map[string]string{"type": "connection_init"})
	var ack map[string]any
	if err := ws.ReadJSON(&ack); err != nil || ack["type"] != "connection_ack" {
		t.Fatalf("WSS handshake: %v %v", ack, err)
	}
	ws.Close()
	pool2 := writeCert(t, certFile, keyFile, 2)
	p.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Logs(), "TLS certificate reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload logged:\n%s", p.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := serial(pool2); got != 2 {
		t.Fatalf("after SIGHUP serving certificate %d", got)
	}
}
