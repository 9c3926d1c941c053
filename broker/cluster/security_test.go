package cluster

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
)

// testCA is a certificate authority that signs loopback certificates for tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "meshd test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// leaf signs a certificate for 127.0.0.1 usable by both ends of a route.
func (ca *testCA) leaf(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "meshd node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *testCA) config(t *testing.T) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca.leaf(t)},
		RootCAs: ca.pool, ClientCAs: ca.pool, ClientAuth: tls.RequireAndVerifyClientCert,
	}
}

// routeAnswer connects to a route port as a peer would, presents user and password, and
// returns the server's first answer after CONNECT.
func routeAnswer(t *testing.T, addr, user, pass string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if info, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(info, "INFO ") {
		t.Fatalf("route port greeting %q, %v", info, err)
	}
	creds := ""
	if user != "" {
		creds = `"user":"` + user + `","pass":"` + pass + `",`
	}
	conn.Write([]byte(`CONNECT {` + creds + `"verbose":false,"pedantic":false,"name":"intruder","cluster":"test"}` + "\r\nPING\r\n"))
	line, _ := r.ReadString('\n')
	return strings.TrimSpace(line)
}

func TestRoutesRequireTheSecret(t *testing.T) {
	nodes := startNodes(t, 3, nil, nil)
	addr := nodes[0].RouteAddr()
	for name, creds := range map[string][2]string{
		"no credentials": {"", ""},
		"wrong secret":   {routeUser, "guess"},
		"other user":     {"admin", "s3cret"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := routeAnswer(t, addr, creds[0], creds[1]); !strings.Contains(got, "Authorization Violation") {
				t.Fatalf("route port answered %q, want an authorization violation", got)
			}
		})
	}
	if got := routeAnswer(t, addr, routeUser, "s3cret"); strings.Contains(got, "Authorization Violation") {
		t.Fatalf("the right secret was refused: %q", got)
	}
}

func TestRoutesOverMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	nodes := startNodes(t, 3, nil, func(o *Options) { o.TLS = ca.config(t) })
	g, err := nodes[0].CreateGroup(context.Background(), broker.CreateGroupInput{Name: "tls", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := nodes[2].GetGroup(g.ID, "d"); err != nil || got == nil {
		t.Fatalf("group over TLS routes = %v, %v", got, err)
	}
	// A peer whose certificate another CA signed is refused; one the CA signed is greeted.
	if info, err := tlsRouteGreeting(t, nodes[0].RouteAddr(), newTestCA(t).config(t)); err == nil {
		t.Fatalf("a certificate from another CA was accepted on a route: %q", info)
	}
	if info, err := tlsRouteGreeting(t, nodes[0].RouteAddr(), ca.config(t)); err != nil || !strings.HasPrefix(info, "INFO ") {
		t.Fatalf("a certificate the CA signed: %q, %v", info, err)
	}
}

// tlsRouteGreeting opens a TLS connection to a route port with cfg and reads the first line.
func tlsRouteGreeting(t *testing.T, addr string, cfg *tls.Config) (string, error) {
	t.Helper()
	cfg.InsecureSkipVerify = true
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Client(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return "", err
	}
	return bufio.NewReader(tc).ReadString('\n')
}
