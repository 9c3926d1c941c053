package gql

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// frame is one outbound WebSocket message: prefix, then a payload shared by every subscriber
// of an execution, then suffix. A close frame carries a close code instead.
type frame struct {
	prefix, payload, suffix []byte
	published               time.Time
	closeCode               int
	closeText               string
}

// clientFrame is any inbound frame of either dialect.
type clientFrame struct {
	Type    string          `json:"type"`
	ID      *string         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// conn is one realtime socket: a reader (the serving goroutine), a writer goroutine and a
// bounded queue between them. The queue holds only what is pending, so an idle socket costs
// no queue memory however large MESH_SEND_QUEUE_FRAMES is.
type conn struct {
	s     *Server
	ws    *websocket.Conn
	proto string
	wake  chan struct{} // signals the writer that queue is not empty
	batch *batchConn    // the connection under ws, when it can batch writes
	ip    string

	key  string // API key from the upgrade request
	date string // client clock from the upgrade request

	mu        sync.Mutex
	queue     []frame // pending frames, at most SendQueue of them plus a close frame
	inited    bool
	subs      map[string]*subscriber
	closed    bool
	malformed []time.Time
}

func newConn(s *Server, ws *websocket.Conn, proto string, r *http.Request) *conn {
	c := &conn{
		s: s, ws: ws, proto: proto,
		wake:  make(chan struct{}, 1),
		batch: batchConnOf(ws.NetConn()),
		ip:    s.ClientIP(r.RemoteAddr, r.Header.Get("X-Forwarded-For")),
		subs:  map[string]*subscriber{},
	}
	c.key, c.date = credentials(r)
	return c
}

// send queues a frame without ever blocking: a reader too slow to keep its queue from
// overflowing is disconnected with 1013, so it cannot hold up its group.
func (c *conn) send(f frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendLocked(f)
}

// sendLocked is send for callers that hold c.mu.
func (c *conn) sendLocked(f frame) bool {
	if c.closed {
		return false
	}
	if len(c.queue) >= c.s.rt.cfg.SendQueue {
		c.s.rt.slowConsumers.Add(1)
		c.s.log.Warn("realtime slow consumer disconnected", "ip", c.ip, "queued", len(c.queue))
		// Nothing queued will be read in time: the close goes out at once, alone.
		clear(c.queue)
		c.queue = c.queue[:0]
		c.closeLocked(websocket.CloseTryAgainLater, "slow consumer")
		return false
	}
	c.enqueueLocked(f)
	return true
}

// enqueueLocked appends a frame and wakes the writer.
func (c *conn) enqueueLocked(f frame) {
	c.queue = append(c.queue, f)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// sendJSON queues a small control frame.
func (c *conn) sendJSON(v any) {
	b, _ := json.Marshal(v)
	c.send(frame{payload: b})
}

// close queues a close frame after everything already queued.
func (c *conn) close(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, text)
}

func (c *conn) closeLocked(code int, text string) {
	if c.closed {
		return
	}
	c.closed = true
	c.enqueueLocked(frame{closeCode: code, closeText: text})
}

// takeQueue hands the writer everything queued, giving back the slice it has written from.
func (c *conn) takeQueue(spent []frame) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	clear(spent) // drop the payload references of written frames
	c.queue = spent[:0]
	return q
}

// write sends queued frames until a close frame or the connection ends; AppSync sockets also
// get keep-alives.
func (c *conn) write() {
	rt := &c.s.rt
	defer rt.writers.Done()
	defer c.ws.Close()
	var ka <-chan time.Time
	if c.proto == protoAppSync {
		t := time.NewTicker(rt.cfg.KeepAlive)
		defer t.Stop()
		ka = t.C
	}
	ka1 := []frame{{payload: []byte(`{"type":"ka"}`)}}
	var batch []frame
	for {
		select {
		case <-c.wake:
			batch = c.takeQueue(batch)
			if !c.writeBatch(batch) {
				return
			}
		case <-ka:
			if c.isInited() && !c.writeBatch(ka1) {
				return
			}
		}
	}
}

// writeBatch writes frames in order, in one system call when the socket allows it, and counts
// the messages among them as delivered once they are out; false means the socket is finished.
func (c *conn) writeBatch(batch []frame) bool {
	var bc *batchConn
	if len(batch) > 1 && c.batch != nil {
		bc = c.batch
		bc.cork()
	}
	written, open := 0, true
	for _, f := range batch {
		c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if f.closeCode != 0 {
			c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(f.closeCode, f.closeText), time.Now().Add(time.Second))
			open = false
			break
		}
		if err := c.writeFrame(f); err != nil {
			c.close(websocket.CloseAbnormalClosure, "")
			open = false
			break
		}
		written++
	}
	if bc != nil && bc.uncork() != nil {
		c.close(websocket.CloseAbnormalClosure, "")
		return false
	}
	rt := &c.s.rt
	for _, f := range batch[:written] {
		if !f.published.IsZero() {
			rt.framesSent.Add(1)
			if rt.cfg.OnDelivery != nil {
				rt.cfg.OnDelivery(time.Since(f.published))
			}
		}
	}
	return open
}

func (c *conn) writeFrame(f frame) error {
	w, err := c.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	w.Write(f.prefix)
	w.Write(f.payload)
	w.Write(f.suffix)
	return w.Close()
}

func (c *conn) isInited() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inited
}

// read handles inbound frames until the socket closes, then cleans up.
func (c *conn) read() {
	rt := &c.s.rt
	opened := time.Now()
	defer func() {
		c.close(websocket.CloseNormalClosure, "")
		c.mu.Lock()
		subs := c.subs
		inited := c.inited
		c.subs = map[string]*subscriber{}
		c.mu.Unlock()
		for _, sub := range subs {
			rt.hub.remove(sub)
			rt.subscriptions.Add(-1)
		}
		rt.mu.Lock()
		delete(rt.conns, c)
		rt.mu.Unlock()
		rt.connections.Add(-1)
		// One line per connection, when it ends; a probe that never initialised is debug noise.
		level := slog.LevelInfo
		if !inited {
			level = slog.LevelDebug
		}
		c.s.log.Log(context.Background(), level, "realtime connection closed", "protocol", c.proto, "ip", c.ip,
			"duration", time.Since(opened).Round(time.Millisecond).String(), "subscriptions", len(subs))
	}()
	timeout := rt.cfg.InitTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
		if c.proto == protoTransport {
			timeout = 3 * time.Second
		}
	}
	initTimer := time.AfterFunc(timeout, func() {
		if c.isInited() {
			return
		}
		if c.proto == protoTransport {
			c.close(4408, "Connection initialisation timeout")
			return
		}
		c.sendJSON(connectionError("ConnectionInitTimeout", "connection_init was not sent in time", 408))
		c.close(websocket.CloseNormalClosure, "")
	})
	defer initTimer.Stop()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var f clientFrame
		if err := json.Unmarshal(data, &f); err != nil || f.Type == "" {
			if !c.malformedFrame("frame is not a JSON object with a type") {
				return
			}
			continue
		}
		var ok bool
		if c.proto == protoTransport {
			ok = c.transportFrame(f)
		} else {
			ok = c.appsyncFrame(f)
		}
		if !ok {
			return
		}
	}
}

// malformedFrame answers a frame meshd cannot read; false means the socket is being closed.
func (c *conn) malformedFrame(msg string) bool {
	c.s.rt.malformed.Add(1)
	if c.proto == protoTransport {
		c.close(4400, msg)
		return false
	}
	now := time.Now()
	c.mu.Lock()
	recent := c.malformed[:0]
	for _, t := range c.malformed {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	c.malformed = append(recent, now)
	n := len(c.malformed)
	c.mu.Unlock()
	c.sendJSON(map[string]any{"type": "error", "payload": map[string]any{"errors": []Error{{ErrorType: "MalformedMessage", Message: msg}}}})
	if n >= 10 {
		c.close(websocket.ClosePolicyViolation, "too many malformed frames")
		return false
	}
	return true
}

func connectionError(errType, msg string, code int) map[string]any {
	return map[string]any{"type": "connection_error", "payload": map[string]any{
		"errors": []map[string]any{{"errorType": errType, "message": msg, "errorCode": code}},
	}}
}

// acknowledge completes the AppSync handshake; false means the key was refused.
func (c *conn) acknowledge() bool {
	c.mu.Lock()
	if c.inited {
		c.mu.Unlock()
		return true
	}
	c.mu.Unlock()
	if !c.s.Authorized(c.key) {
		c.sendJSON(connectionError(typeUnauthorized, "You are not authorized to make this call.", 401))
		c.close(websocket.CloseNormalClosure, "")
		return false
	}
	if c.date != "" {
		if t, err := time.Parse("20060102T150405Z", c.date); err == nil {
			c.s.res.skew.check(c.s.log, "x-amz-date", c.ip, t, c.s.b.Now())
		}
	}
	c.mu.Lock()
	c.inited = true
	c.mu.Unlock()
	c.sendJSON(map[string]any{"type": "connection_ack", "payload": map[string]any{"connectionTimeoutMs": c.s.rt.cfg.ConnectionTimeoutMS}})
	c.send(frame{payload: []byte(`{"type":"ka"}`)})
	return true
}

// appsyncFrame handles one frame of the AppSync dialect.
func (c *conn) appsyncFrame(f clientFrame) bool {
	switch f.Type {
	case "connection_init":
		return c.acknowledge()
	case "start":
		if !c.acknowledge() {
			return false
		}
		id := ""
		if f.ID != nil {
			id = *f.ID
		}
		req, key, err := parseStart(f.Payload)
		if err != nil {
			c.subscriptionError(id, "MalformedMessage", err.Error())
			return true
		}
		if key == "" {
			key = c.key
		}
		if !c.s.Authorized(key) {
			c.subscriptionError(id, typeUnauthorized, "You are not authorized to make this call.")
			return true
		}
		c.start(id, req)
		return true
	case "stop":
		if f.ID != nil {
			c.stop(*f.ID)
			c.sendJSON(map[string]any{"type": "complete", "id": *f.ID})
		}
		return true
	case "connection_terminate":
		c.close(websocket.CloseNormalClosure, "")
		return false
	}
	return c.malformedFrame("unknown message type " + strconv.Quote(f.Type))
}

// parseStart reads a start payload: data as a JSON string or object (or a legacy top-level
// query), and the authorization object's API key.
func parseStart(raw json.RawMessage) (request, string, error) {
	var p struct {
		Data       json.RawMessage `json:"data"`
		Query      *string         `json:"query"`
		Variables  map[string]any  `json:"variables"`
		Extensions struct {
			Authorization map[string]any `json:"authorization"`
		} `json:"extensions"`
	}
	var req request
	if err := json.Unmarshal(raw, &p); err != nil {
		return req, "", errMalformedStart
	}
	key := apiKeyOf(p.Extensions.Authorization)
	switch {
	case len(p.Data) > 0 && p.Data[0] == '"':
		var s string
		if json.Unmarshal(p.Data, &s) != nil || json.Unmarshal([]byte(s), &req) != nil {
			return req, key, errMalformedStart
		}
	case len(p.Data) > 0 && p.Data[0] == '{':
		if json.Unmarshal(p.Data, &req) != nil {
			return req, key, errMalformedStart
		}
	case p.Query != nil:
		req = request{Query: *p.Query, Variables: p.Variables}
	default:
		return req, key, errMalformedStart
	}
	if req.Query == "" {
		return req, key, errMalformedStart
	}
	return req, key, nil
}

type startError string

func (e startError) Error() string { return string(e) }

const errMalformedStart = startError("start payload needs data: a JSON string {\"query\", \"variables\"}")

// subscriptionError answers a start that failed; the subscription does not exist.
func (c *conn) subscriptionError(id, errType, msg string) {
	c.sendSubError(id, []Error{{ErrorType: errType, Message: msg}})
}

func (c *conn) sendSubError(id string, errs []Error) {
	if c.proto == protoTransport {
		c.sendJSON(map[string]any{"type": "error", "id": id, "payload": errs})
		return
	}
	c.sendJSON(map[string]any{"type": "error", "id": id, "payload": map[string]any{"errors": errs}})
}

// start validates a subscription and joins it to the hub.
func (c *conn) start(id string, req request) {
	if errs := c.s.schema.ValidateWithVariables(req.Query, req.Variables); len(errs) > 0 {
		c.sendSubError(id, ConvertErrors(errs))
		return
	}
	kind, roots, err := operation(req.Query, req.OperationName)
	switch {
	case err != nil:
		c.subscriptionError(id, "ValidationError", err.Error())
		return
	case kind != "subscription":
		if c.proto == protoTransport {
			c.execute(id, req)
			return
		}
		c.subscriptionError(id, "UnsupportedOperation", kind+" not supported through the realtime channel")
		return
	case roots != 1:
		c.subscriptionError(id, "DuplicatedOperationError", "a subscription must have exactly one root field")
		return
	}
	c.mu.Lock()
	_, dup := c.subs[id]
	full := len(c.subs) >= c.s.rt.cfg.MaxSubscriptions
	c.mu.Unlock()
	switch {
	case dup && c.proto == protoTransport:
		c.close(4409, "Subscriber for "+id+" already exists")
		return
	case dup:
		c.subscriptionError(id, "DuplicatedOperationError", "subscription id "+id+" is already in use")
		return
	case full:
		c.subscriptionError(id, "MaxSubscriptionsReachedError", "at most "+strconv.Itoa(c.s.rt.cfg.MaxSubscriptions)+" subscriptions per connection")
		return
	}
	sub := newSubscriber(c, id)
	c.mu.Lock()
	c.subs[id] = sub
	c.mu.Unlock()
	c.s.rt.subscriptions.Add(1)
	var ack []byte
	if c.proto == protoAppSync {
		ack, _ = json.Marshal(map[string]any{"type": "start_ack", "id": id})
	}
	c.s.rt.hub.add(c.s, sub, req, ack)
}

// stop ends a subscription of this connection, if it exists.
func (c *conn) stop(id string) {
	c.mu.Lock()
	sub := c.subs[id]
	delete(c.subs, id)
	c.mu.Unlock()
	if sub != nil {
		c.s.rt.hub.remove(sub)
		c.s.rt.subscriptions.Add(-1)
	}
}

// execute runs a query or mutation sent over graphql-transport-ws: one next, then complete.
func (c *conn) execute(id string, req request) {
	ctx, cancel := context.WithTimeout(withClientIP(context.Background(), c.ip), c.s.cfg.RequestTimeout)
	defer cancel()
	res := c.s.schema.Exec(ctx, req.Query, req.OperationName, req.Variables)
	payload, _ := json.Marshal(response{Data: orNull(res.Data), Errors: ConvertErrors(res.Errors)})
	c.send(frame{prefix: subscriberPrefix(protoTransport, id), payload: payload, suffix: []byte("}")})
	c.sendJSON(map[string]any{"type": "complete", "id": id})
}

// transportFrame handles one frame of graphql-transport-ws.
func (c *conn) transportFrame(f clientFrame) bool {
	switch f.Type {
	case "connection_init":
		if c.isInited() {
			c.close(4429, "Too many initialisation requests")
			return false
		}
		var p map[string]any
		json.Unmarshal(f.Payload, &p)
		key := apiKeyOf(p)
		if h, ok := p["headers"].(map[string]any); ok && key == "" {
			key = apiKeyOf(h)
		}
		if key == "" {
			key = c.key
		}
		if !c.s.Authorized(key) {
			c.close(4403, "Forbidden")
			return false
		}
		c.mu.Lock()
		c.inited = true
		c.mu.Unlock()
		c.sendJSON(map[string]string{"type": "connection_ack"})
	case "ping":
		c.sendJSON(map[string]string{"type": "pong"})
	case "pong":
	case "subscribe":
		if !c.isInited() {
			c.close(4401, "Unauthorized")
			return false
		}
		var req request
		if f.ID == nil || *f.ID == "" || json.Unmarshal(f.Payload, &req) != nil || req.Query == "" {
			c.close(4400, "subscribe needs an id and a payload with a query")
			return false
		}
		c.start(*f.ID, req)
	case "complete":
		if f.ID != nil {
			c.stop(*f.ID)
		}
	default:
		return c.malformedFrame("unknown message type " + strconv.Quote(f.Type))
	}
	return true
}

func orNull(data json.RawMessage) json.RawMessage {
	if len(data) == 0 {
		return jsonNull
	}
	return data
}

// subscriberPrefix is the start of a result frame for subscription id, up to its payload.
func subscriberPrefix(proto, id string) []byte {
	typ := "data"
	if proto == protoTransport {
		typ = "next"
	}
	quoted, _ := json.Marshal(id)
	return []byte(`{"id":` + string(quoted) + `,"type":"` + typ + `","payload":`)
}
