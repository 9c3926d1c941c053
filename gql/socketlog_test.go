package gql_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
)

// hooks records what the server tells OnSocketOpen, OnSocketClose and OnAuthFailure, and its
// log.
type hooks struct {
	mu       sync.Mutex
	opened   int
	closes   chan int
	failures []string
	log      brokertest.Logs
}

func (h *hooks) logged() string { return h.log.String() }

func (h *hooks) configure(c *gql.Config) {
	c.APIKeys = []string{"k"}
	c.Logger = slog.New(slog.NewTextHandler(&h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c.Realtime.OnSocketOpen = func() { h.mu.Lock(); h.opened++; h.mu.Unlock() }
	c.Realtime.OnSocketClose = func(code int) { h.closes <- code }
	c.OnAuthFailure = func(transport, ip string) {
		h.mu.Lock()
		h.failures = append(h.failures, transport+" "+ip)
		h.mu.Unlock()
	}
}

// closeCode waits for the server to report the end of a socket.
func (h *hooks) closeCode(t *testing.T) int {
	t.Helper()
	select {
	case code := <-h.closes:
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("no socket close reported")
		return 0
	}
}

// TestSocketEndsAreReportedAndLogged ends sockets in the ways a classroom does and checks the
// close code, reason and side in the hooks and the log.
func TestSocketEndsAreReportedAndLogged(t *testing.T) {
	h := &hooks{closes: make(chan int, 10)}
	e := startRT(t, h.configure)

	// A pupil's editor opens, initialises and closes its socket normally.
	c := e.appsync(t, "k")
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_ack")
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
	if code := h.closeCode(t); code != websocket.CloseNormalClosure {
		t.Fatalf("client close reported as %d", code)
	}
	// A laptop that goes to sleep: the connection drops without a close frame.
	c = e.appsync(t, "k")
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_ack")
	c.ws.NetConn().Close()
	if code := h.closeCode(t); code != websocket.CloseAbnormalClosure {
		t.Fatalf("a lost connection reported as %d", code)
	}
	// graphql-transport-ws with the pupils' key wrong: the server closes with 4403.
	g, _ := e.dial(t, "/graphql/realtime", []string{"graphql-transport-ws"}, "")
	g.send(map[string]any{"type": "connection_init", "payload": map[string]string{"x-api-key": "wrong"}})
	if code := g.closed(); code != 4403 {
		t.Fatalf("close code %d", code)
	}
	if code := h.closeCode(t); code != 4403 {
		t.Fatalf("server close reported as %d", code)
	}
	// An AppSync socket with a wrong key, and an HTTP request with none.
	c = e.appsync(t, "wrong")
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_error")
	h.closeCode(t)
	e.Key = ""
	if r := e.raw(t, "POST", e.URL, `{"query":"{ __typename }"}`, nil); r.Status != 401 {
		t.Fatalf("HTTP without a key: %d", r.Status)
	}

	h.mu.Lock()
	opened, failures := h.opened, strings.Join(h.failures, "|")
	h.mu.Unlock()
	if opened != 4 {
		t.Errorf("%d sockets reported open, want 4", opened)
	}
	if failures != "realtime 127.0.0.1|realtime 127.0.0.1|http 127.0.0.1" {
		t.Errorf("auth failures reported: %q", failures)
	}
	log := h.logged()
	for _, want := range []string{
		`level=INFO msg="realtime connection opened" protocol=graphql-ws ip=127.0.0.1`,
		`subscriptions=0 close_code=1000 reason=bye closed_by=client`,
		`subscriptions=0 close_code=1006 reason="connection lost" closed_by=client`,
		// A socket that never initialised ends at debug level: probes are not worth a line.
		`level=DEBUG msg="realtime connection closed" protocol=graphql-transport-ws ip=127.0.0.1`,
		`close_code=4403 reason=Forbidden closed_by=server`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
	if n := strings.Count(log, `msg="realtime connection opened"`); n != 2 {
		t.Errorf("%d opened lines, want 2 (the sockets refused never opened a session):\n%s", n, log)
	}
}
