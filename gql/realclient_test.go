package gql_test

import (
	"context"
	"encoding/pem"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/gql/realclient"
)

// realClientAPIKey is the key both libraries are configured with; meshd enforces it.
const realClientAPIKey = realclient.APIKey

// TestRealClients proves that the real AppSync client libraries, unchanged, work against meshd:
// queries, mutations, errors and realtime subscriptions, driven from Node by node --test.
// It needs node and npm; without them it fails rather than skips, because nothing else in the
// suite shows that the real editor can talk to meshd.
func TestRealClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Node and the real client libraries; not with -short")
	}
	node, dir := realclient.Setup(t)

	// One broker behind two listeners: plain HTTP for aws-appsync (ws://) and TLS for Amplify
	// v6, which always derives wss:// for its realtime URL. The broker's clock stands at the
	// real time, as the clients' clocks do, so expiry times look as they would to the editor.
	clock := brokertest.NewClock()
	clock.Advance(time.Since(clock.Now()))
	tb := brokertest.New(t, brokertest.Options{Clock: clock})
	logs := &testLog{t: t}
	api, err := gql.New(tb.Broker, gql.Config{
		APIKeys:         []string{realClientAPIKey},
		DomainMode:      broker.DomainFixed,
		Secret:          "test-secret-key",
		MaxRequestBytes: 1 << 20,
		RequestTimeout:  30 * time.Second,
		Logger:          slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(api.Handler())
	tlsSrv := httptest.NewTLSServer(api.Handler())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := api.Shutdown(ctx); err != nil {
			t.Logf("realtime shutdown: %v", err)
		}
		plain.Close()
		tlsSrv.Close()
		logs.stop()
	})

	// httptest's certificate is its own CA and covers 127.0.0.1, ::1 and example.com; Node
	// trusts it through NODE_EXTRA_CA_CERTS.
	caFile := filepath.Join(t.TempDir(), "meshd-test-ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}

	realclient.Run(t, node, dir, []string{
		"MESHD_HTTP_URL=" + plain.URL + "/graphql",
		"MESHD_HTTPS_URL=" + tlsSrv.URL + "/graphql",
		"MESHD_API_KEY=" + realClientAPIKey,
		"NODE_EXTRA_CA_CERTS=" + caFile,
	}, "appsync.test.mjs", "amplify.test.mjs", "wire.test.mjs")
}

// testLog writes the server's log lines into the test log until stop, so that a realtime
// goroutine finishing late cannot log into a finished test.
type testLog struct {
	mu      sync.Mutex
	t       *testing.T
	stopped bool
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Log("meshd: " + strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}
