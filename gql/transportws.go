package gql

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// Timers and limits of the graphql-transport-ws dialect.
const (
	// transportInitTimeout is how long a graphql-transport-ws socket may stay without
	// connection_init (the protocol's suggested 3 s).
	transportInitTimeout = 3 * time.Second
	// transportMaxInFlight bounds the queries and mutations running at once on one socket;
	// a subscribe beyond it is answered with an error of typeTooManyRequests.
	transportMaxInFlight = 16
)

// Close codes of graphql-transport-ws.
const (
	closeBadRequest          = 4400
	closeUnauthorized        = 4401
	closeForbidden           = 4403
	closeInitTimeout         = 4408
	closeSubscriberExists    = 4409
	closeTooManyInitRequests = 4429
)

// transportWS is the graphql-transport-ws dialect: subscriptions, and queries and mutations
// that run off the reader, under the socket's context, at most transportMaxInFlight at once.
type transportWS struct {
	mu sync.Mutex
	// running holds the cancel functions of the queries and mutations in flight, by id.
	running map[string]context.CancelFunc
}

func newTransportWS() *transportWS {
	return &transportWS{running: map[string]context.CancelFunc{}}
}

func (*transportWS) subprotocol() string        { return protoTransport }
func (*transportWS) initTimeout() time.Duration { return transportInitTimeout }
func (*transportWS) keepAlive() []byte          { return nil }

func (*transportWS) resultPrefix(id string) []byte { return resultPrefix("next", id) }

func (*transportWS) errorFrame(id string, errs []Error) any {
	return map[string]any{"type": "error", "id": id, "payload": errs}
}

func (*transportWS) initTimedOut(c *conn) {
	c.close(closeInitTimeout, "Connection initialisation timeout")
}

// malformed closes the socket: the protocol allows no unreadable frame.
func (*transportWS) malformed(c *conn, msg string) bool {
	c.close(closeBadRequest, msg)
	return false
}

func (t *transportWS) handle(c *conn, f clientFrame) bool {
	switch f.Type {
	case "connection_init":
		return t.init(c, f.Payload)
	case "ping":
		c.sendJSON(map[string]string{"type": "pong"})
	case "pong":
	case "subscribe":
		if !c.isInited() {
			c.close(closeUnauthorized, "Unauthorized")
			return false
		}
		var req request
		if f.ID == nil || *f.ID == "" || json.Unmarshal(f.Payload, &req) != nil || req.Query == "" {
			c.close(closeBadRequest, "subscribe needs an id and a payload with a query")
			return false
		}
		t.subscribe(c, *f.ID, req)
	case "complete":
		if f.ID != nil && !t.cancel(*f.ID) {
			c.stop(*f.ID)
		}
	default:
		return c.malformed("unknown message type " + strconv.Quote(f.Type))
	}
	return true
}

// init accepts connection_init once, with an API key in its payload, its payload's headers
// or the upgrade request.
func (*transportWS) init(c *conn, payload json.RawMessage) bool {
	if c.isInited() {
		c.close(closeTooManyInitRequests, "Too many initialisation requests")
		return false
	}
	var p map[string]any
	json.Unmarshal(payload, &p)
	key := apiKeyOf(p)
	if h, ok := p["headers"].(map[string]any); ok && key == "" {
		key = apiKeyOf(h)
	}
	if key == "" {
		key = c.key
	}
	if !c.s.authorize(key, "realtime", c.ip) {
		c.close(closeForbidden, "Forbidden")
		return false
	}
	c.setInited()
	c.sendJSON(map[string]string{"type": "connection_ack"})
	return true
}

// subscribe starts operation id: a subscription joins the hub, a query or mutation runs.
func (t *transportWS) subscribe(c *conn, id string, req request) {
	kind, roots, ok := c.check(id, &req)
	switch {
	case !ok:
	case kind != "subscription":
		t.execute(c, id, req)
	case t.isRunning(id) || c.subscribe(id, req, roots, nil):
		duplicate(c, id)
	}
}

// duplicate closes a socket that reused the id of an operation still live.
func duplicate(c *conn, id string) {
	c.close(closeSubscriberExists, "Subscriber for "+id+" already exists")
}

func (t *transportWS) isRunning(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.running[id]
	return ok
}

// execute runs a query or mutation as POST /graphql does (limits, plans, deadline) on its own
// goroutine, under the socket's context and the request timeout, and answers with one next, then complete. A complete from the client
// cancels it and silences its answer.
func (t *transportWS) execute(c *conn, id string, req request) {
	subscribed := c.subscribed(id)
	t.mu.Lock()
	if _, running := t.running[id]; running || subscribed {
		t.mu.Unlock()
		duplicate(c, id)
		return
	}
	if len(t.running) >= transportMaxInFlight {
		t.mu.Unlock()
		c.operationError(id, typeTooManyRequests, "at most "+strconv.Itoa(transportMaxInFlight)+" queries and mutations may run at once on one connection")
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.RequestTimeout)
	t.running[id] = cancel
	t.mu.Unlock()
	c.goWork(func(context.Context) {
		defer cancel()
		out := c.s.run(ctx, viewFull, req)
		if !t.finish(id) {
			return // the client completed it
		}
		payload, _ := json.Marshal(out)
		c.sendResult(id, payload)
		c.sendJSON(map[string]any{"type": "complete", "id": id})
	})
}

// finish forgets running operation id and reports whether it was still running.
func (t *transportWS) finish(id string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.running[id]
	delete(t.running, id)
	return ok
}

// cancel stops running operation id and reports whether there was one.
func (t *transportWS) cancel(id string) bool {
	t.mu.Lock()
	cancel, ok := t.running[id]
	delete(t.running, id)
	t.mu.Unlock()
	if ok {
		cancel()
	}
	return ok
}
