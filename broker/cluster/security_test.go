package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/broker/bus"
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

// routeAnswer connects to a route port as a peer would, over TLS with cfg or in plain text
// when cfg is nil, presents user and password, and returns what the server answered until a
// PONG, an error or the end of the connection; from is the address it connected from.
func routeAnswer(t *testing.T, addr string, cfg *tls.Config, user, pass string) (answer, from string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	from = conn.LocalAddr().String()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		if err := tc.Handshake(); err != nil {
			return "TLS handshake: " + err.Error(), from
		}
		conn = tc
	}
	creds := ""
	if user != "" {
		creds = `"user":"` + user + `","pass":"` + pass + `",`
	}
	conn.Write([]byte(`CONNECT {` + creds + `"verbose":false,"pedantic":false,"name":"intruder","cluster":"test"}` + "\r\nPING\r\n"))
	r := bufio.NewReader(conn)
	var got strings.Builder
	for got.Len() < 1<<16 {
		line, err := r.ReadString('\n')
		got.WriteString(line)
		if err != nil || strings.HasPrefix(line, "PONG") || strings.HasPrefix(line, "-ERR") {
			break
		}
	}
	return got.String(), from
}

// Routes take only a peer that holds the secret: in plain text nothing, over TLS only with
// the certificate the secret derives and then only with the secret itself. Each refusal is
// logged with the peer's address.
func TestRoutesRequireTheSecret(t *testing.T) {
	var logs brokertest.Logs
	nodes := startNodes(t, 3, nil, func(o *Options) {
		if o.NodeName == "n0" {
			o.Logger = logs.Logger()
		}
	})
	addr := nodes[0].RouteAddr()
	right, err := secretTLS(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	other, err := secretTLS("another-cluster-secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		cfg        *tls.Config
		user, pass string
		want       string
		logged     bool
	}{
		{"plain text with the secret", nil, routeUser, testSecret, "", true},
		{"certificate of another secret", other, routeUser, testSecret, "TLS handshake", true},
		{"no credentials", right, "", "", "Authorization Violation", true},
		{"wrong secret", right, routeUser, "guess", "Authorization Violation", true},
		{"other user", right, "admin", testSecret, "Authorization Violation", true},
		{"the secret", right, routeUser, testSecret, "PONG", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, from := routeAnswer(t, addr, tt.cfg, tt.user, tt.pass)
			if !strings.Contains(got, tt.want) || (tt.want == "" && got != "") {
				t.Fatalf("route port answered %q, want %q", got, tt.want)
			}
			if !tt.logged {
				return
			}
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(logs.String(), "peer="+from) {
				if time.Now().After(deadline) {
					t.Fatalf("the refused peer %s is not in the log:\n%s", from, logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
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

// impostor listens where a peer's route should be and records what each connection sends
// it: what a process on a stopped node's address would receive.
type impostor struct {
	l     net.Listener
	conns chan []byte
}

func newImpostor(t *testing.T) *impostor {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	im := &impostor{l: l, conns: make(chan []byte, 16)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				// A route's greeting, as a real node's would be, inviting credentials.
				c.Write([]byte(`INFO {"server_id":"NIMPOSTOR","name":"n9","host":"127.0.0.1","port":1,"cluster":"test","auth_required":true}` + "\r\n"))
				got, _ := io.ReadAll(io.LimitReader(c, 1<<16))
				im.conns <- got
			}()
		}
	}()
	return im
}

// A process that answers on a peer's route address never receives the cluster secret in a
// form it could reuse (today's routes send it in CONNECT), and the node logs the refusal.
func TestRouteSecretNeverReachesAnImpostor(t *testing.T) {
	im := newImpostor(t)
	var logs brokertest.Logs
	const secret = "a-cluster-secret-0123456789"
	bs, err := bus.New(bus.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bs.Close)
	// The node need not become ready: it dials its routes from the start.
	node, err := Start(context.Background(), Options{
		Name: "test", NodeName: "n0", Listen: freePorts(t, 1)[0], Secret: secret,
		Routes: []string{"nats://" + im.l.Addr().String()}, Replicas: 1, DataDir: t.TempDir(),
		Broker: broker.Options{Config: brokertest.Config(), Bus: bs, Logger: testLogger()},
		Logger: logs.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	for i := range 2 {
		select {
		case got := <-im.conns:
			if bytes.Contains(got, []byte(secret)) || bytes.Contains(got, []byte("CONNECT")) {
				t.Fatalf("connection %d: the impostor received %q", i, got)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("the node dialled the impostor's route address %d times in a minute, want 2", i)
		}
	}
	if !strings.Contains(logs.String(), "peer="+im.l.Addr().String()) {
		t.Fatalf("the refused route peer %s is not in the log:\n%s", im.l.Addr(), logs.String())
	}
}
