package gql_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
	"github.com/smalruby/meshd/store"
)

// heldStore is a memory store whose commits can be held back, to stand for a slow disk.
type heldStore struct {
	store.Store
	mu      sync.Mutex
	gate    chan struct{} // closed when commits may proceed; nil when nothing is held
	arrived chan struct{} // receives once per commit that is held
}

func newHeldStore() *heldStore {
	return &heldStore{Store: store.NewMemory(), arrived: make(chan struct{}, 100)}
}

// hold makes the next commits wait until release.
func (h *heldStore) hold() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate = make(chan struct{})
}

func (h *heldStore) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
}

func (h *heldStore) Commit(ctx context.Context, ops []store.Op) error {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate != nil {
		h.arrived <- struct{}{}
		<-gate
	}
	return h.Store.Commit(ctx, ops)
}

// transportWS opens an initialised graphql-transport-ws socket.
func (e *env) transportWS(t *testing.T) *client {
	t.Helper()
	c, _ := e.dial(t, "/graphql", []string{"graphql-transport-ws"}, "")
	c.send(map[string]any{"type": "connection_init"})
	c.expect("connection_ack")
	return c
}

func createGroupFrame(id string) map[string]any {
	return map[string]any{"type": "subscribe", "id": id, "payload": map[string]any{"query": createGroup,
		"variables": map[string]any{"name": id, "hostId": id, "domain": "d", "useWebSocket": true}}}
}

// A mutation waiting for a slow commit does not stop the socket being read, and the socket
// runs at most 16 at once.
func TestTransportWSOperationsRunOffTheReader(t *testing.T) {
	held := newHeldStore()
	e := startWith(t, brokertest.Options{Store: held})
	defer held.release() // before the broker's close, which waits for its last commit
	c := e.transportWS(t)
	held.hold()
	const inFlight = 16
	for i := range inFlight {
		c.send(createGroupFrame(fmt.Sprint("m", i)))
	}
	c.send(map[string]string{"type": "ping"})
	c.expect("pong")
	c.send(createGroupFrame("over"))
	f := c.expect("error")
	if f["id"] != "over" || str(f, "payload", 0, "errorType") != "TooManyRequestsException" {
		t.Fatalf("operation beyond the limit: %v", f)
	}
	held.release()
	answered := map[string]bool{}
	for range 2 * inFlight {
		f := c.next()
		id, _ := f["id"].(string)
		switch f["type"] {
		case "next":
			if str(f, "payload", "data", "createGroup", "hostId") != id {
				t.Fatalf("answer %v", f)
			}
		case "complete":
			answered[id] = true
		default:
			t.Fatalf("frame %v", f)
		}
	}
	if len(answered) != inFlight {
		t.Fatalf("completed %v", answered)
	}
	// The slots are free again.
	c.send(createGroupFrame("after"))
	if f := c.expect("next"); f["id"] != "after" {
		t.Fatalf("%v", f)
	}
}

// A socket that closes cancels the mutation it started.
func TestTransportWSCloseCancelsOperations(t *testing.T) {
	held := newHeldStore()
	defer held.release() // before the broker's close, which waits for its last commit
	outcomes := make(chan string, 10)
	e := startWith(t, brokertest.Options{Store: held}, func(c *gql.Config) {
		c.OnOperation = func(op, outcome string, _ time.Duration) { outcomes <- op + " " + outcome }
	})
	c := e.transportWS(t)
	held.hold()
	c.send(createGroupFrame("m"))
	<-held.arrived // the mutation waits for its commit
	c.ws.Close()
	select {
	case got := <-outcomes:
		if got != "createGroup RequestCancelled" {
			t.Fatalf("outcome %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the mutation still runs after its socket closed")
	}
}
