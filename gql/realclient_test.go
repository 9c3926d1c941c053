package gql_test

import (
	"bufio"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
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

// realClientAPIKey is the key both libraries are configured with; meshd enforces it. The runs
// of '~' and '?' put both '+' and '/' into the standard-base64 header query parameter that
// aws-appsync-subscription-link 2.4.3 sends without percent-encoding, whatever the alignment.
const realClientAPIKey = "da2-meshd~~~~~~realclient??????test"

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

	runNode(t, node, dir, []string{
		"MESHD_HTTP_URL=" + plain.URL + "/graphql",
		"MESHD_HTTPS_URL=" + tlsSrv.URL + "/graphql",
		"MESHD_API_KEY=" + realClientAPIKey,
		"NODE_EXTRA_CA_CERTS=" + caFile,
	}, "appsync.test.mjs", "amplify.test.mjs", "wire.test.mjs")
}

// nodeLimit bounds one node --test run of the real-client test files.
const nodeLimit = 4 * time.Minute

// runNode runs node --test on files of the Node project in dir, with env added to the
// environment and its output streamed into the test log, and fails the test if they fail or
// outlast nodeLimit.
func runNode(t *testing.T, node, dir string, env []string, files ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), nodeLimit)
	defer cancel()
	// --test-force-exit: both libraries leave their 15 s connection_init timer running after the
	// ack (checkAckOk in aws-appsync-subscription-link, the handshake timeout in Amplify), which
	// keeps a finished test file alive for up to 15 s more; the tests close their clients.
	args := append([]string{"--test", "--test-force-exit", "--test-reporter=spec"}, files...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), env...), "NO_COLOR=1")
	start := time.Now()
	err := runLogged(t, cmd)
	t.Logf("node --test %s took %s", strings.Join(files, " "), time.Since(start).Round(time.Millisecond))
	switch {
	case ctx.Err() != nil:
		t.Fatalf("node --test did not finish within %s: %v", nodeLimit, err)
	case err != nil:
		t.Fatalf("node --test: %v (the real client libraries failed against meshd; see the log above)", err)
	}
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

// runLogged runs cmd with its output streamed line by line into the test log.
func runLogged(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	// node --test runs each file in a child process; if the parent is killed on timeout, a
	// child still holding the pipe must not keep Wait from returning.
	cmd.WaitDelay = 10 * time.Second
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			if line := strings.TrimRight(sc.Text(), " \r"); line != "" {
				t.Log(line)
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	wg.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit
	}
	return err
}
