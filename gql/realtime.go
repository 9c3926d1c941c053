package gql

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Subprotocols of the realtime endpoints.
const (
	protoAppSync   = "graphql-ws"
	protoTransport = "graphql-transport-ws"
)

// RealtimeConfig sets the limits and timers of the realtime endpoints; New gives every zero
// field its value from DefaultConfig.
type RealtimeConfig struct {
	// KeepAlive is the interval of AppSync "ka" frames.
	KeepAlive time.Duration
	// ConnectionTimeoutMS is advertised in connection_ack.
	ConnectionTimeoutMS int
	// MaxFrameBytes is the largest inbound frame; larger ones close the socket with 1009.
	MaxFrameBytes int64
	// InitTimeout is how long a socket may stay without connection_init; zero takes the
	// dialect's own (30 s for AppSync, 3 s for graphql-transport-ws).
	InitTimeout time.Duration
	// MaxConnections bounds open sockets; upgrades beyond it get HTTP 429.
	MaxConnections int
	// MaxSubscriptions bounds live subscriptions per socket.
	MaxSubscriptions int
	// MaxGroupSubscriptionsPerAddress bounds the live subscriptions to one group from one
	// client address, over all its sockets: every message of a group costs one frame per
	// subscriber (256; the editor opens one per group, older ones three).
	MaxGroupSubscriptionsPerAddress int
	// SendQueue and SendQueueBytes bound the frames and the bytes that may wait for a slow
	// reader; one more closes its socket with 1013, as a slow consumer.
	SendQueue      int
	SendQueueBytes int
	// WriteTimeout bounds the write of one frame; a socket whose write outlasts it is closed
	// as a slow consumer. A frame gets between half of it and all of it: the deadline is
	// moved forward only once less than half is left.
	WriteTimeout time.Duration
	// OnDelivery, when set, is told how long after its publication each message frame was
	// written to a subscriber.
	OnDelivery func(time.Duration)
	// OnSocketOpen and OnSocketClose, when set, are told when a socket opens and when it
	// closes, with the close code it sent or received (1006 when the connection was lost).
	OnSocketOpen  func()
	OnSocketClose func(code int)
}

// RealtimeStats counts the realtime endpoints' work.
type RealtimeStats struct {
	Connections   int64
	Subscriptions int64
	Executions    int64
	FramesSent    uint64
	SlowConsumers uint64
	// LaggedExecutions counts subscription executions ended because they fell behind
	// their group.
	LaggedExecutions uint64
	MalformedFrame   uint64
}

// realtime is the state of the realtime endpoints.
type realtime struct {
	cfg      RealtimeConfig
	upgrader websocket.Upgrader
	hub      hub

	mu       sync.Mutex
	conns    map[*conn]struct{}
	shutdown bool
	// sockets counts the open sockets; each is done once its writer closed it.
	sockets sync.WaitGroup
	// keepAlive starts the one goroutine that sends every socket its keep-alives.
	keepAlive sync.Once
	stop      chan struct{} // closed by Shutdown

	connections   atomic.Int64
	subscriptions atomic.Int64
	framesSent    atomic.Uint64
	slowConsumers atomic.Uint64
	malformed     atomic.Uint64
}

// RealtimeStats reports the realtime endpoints' counters.
func (s *Server) RealtimeStats() RealtimeStats {
	rt := &s.rt
	return RealtimeStats{
		Connections:      rt.connections.Load(),
		Subscriptions:    rt.subscriptions.Load(),
		Executions:       rt.hub.executions.Load(),
		FramesSent:       rt.framesSent.Load(),
		SlowConsumers:    rt.slowConsumers.Load(),
		LaggedExecutions: rt.hub.lagged.Load(),
		MalformedFrame:   rt.malformed.Load(),
	}
}

// isUpgrade reports whether r asks for a WebSocket.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// serveRealtime upgrades a request to a WebSocket without asking for credentials (the editor's
// probe opens and closes a bare socket) and serves the dialect its subprotocol names.
func (s *Server) serveRealtime(w http.ResponseWriter, r *http.Request) {
	if !s.OriginAllowed(r.Header.Get("Origin")) {
		writeTransportError(w, http.StatusForbidden, typeForbiddenOrigin, "Origin "+r.Header.Get("Origin")+" is not allowed to use this server.")
		return
	}
	rt := &s.rt
	rt.mu.Lock()
	full := len(rt.conns) >= rt.cfg.MaxConnections
	closing := rt.shutdown
	rt.mu.Unlock()
	if full || closing {
		writeTransportError(w, http.StatusTooManyRequests, typeTooManyRequests, "Too many realtime connections; try again later.")
		return
	}
	// The editor's probe offers no subprotocol and is served the AppSync dialect.
	offered := websocket.Subprotocols(r)
	d := newDialect(protoAppSync)
	header := http.Header{}
	for _, p := range []string{protoAppSync, protoTransport} {
		if slices.Contains(offered, p) {
			d = newDialect(p)
			header.Set("Sec-WebSocket-Protocol", p)
			break
		}
	}
	ws, err := rt.upgrader.Upgrade(w, r, header)
	if err != nil {
		return // the upgrader has answered the client
	}
	ws.SetReadLimit(rt.cfg.MaxFrameBytes)
	c := newConn(s, ws, d, r)
	rt.mu.Lock()
	if rt.shutdown {
		rt.mu.Unlock()
		ws.Close()
		return
	}
	rt.conns[c] = struct{}{}
	rt.sockets.Add(1)
	if rt.cfg.OnSocketOpen != nil {
		rt.cfg.OnSocketOpen()
	}
	rt.mu.Unlock()
	rt.connections.Add(1)
	rt.keepAlive.Do(func() { go rt.keepAlives() })
	// The socket is read on a goroutine of its own, not on this one: returning lets net/http
	// drop the connection's request buffers and this goroutine's grown stack.
	go c.read()
}

// keepAlives queues the dialects' keep-alive frames on every socket each KeepAlive, until
// Shutdown.
func (rt *realtime) keepAlives() {
	t := time.NewTicker(rt.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-rt.stop:
			return
		case <-t.C:
		}
		rt.mu.Lock()
		conns := make([]*conn, 0, len(rt.conns))
		for c := range rt.conns {
			conns = append(conns, c)
		}
		rt.mu.Unlock()
		for _, c := range conns {
			c.keepAlive()
		}
	}
}

// Shutdown closes every realtime socket with 1001 (going away) once its queued frames are
// written, and waits for them to end (with the operations they run), at most until ctx ends.
// Later upgrades are refused.
func (s *Server) Shutdown(ctx context.Context) error {
	rt := &s.rt
	rt.mu.Lock()
	if !rt.shutdown {
		close(rt.stop)
	}
	rt.shutdown = true
	conns := make([]*conn, 0, len(rt.conns))
	for c := range rt.conns {
		conns = append(conns, c)
	}
	rt.mu.Unlock()
	for _, c := range conns {
		c.close(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		rt.sockets.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range conns {
			c.ws.Close()
		}
		return ctx.Err()
	}
}

// credentials reads the API key and clock a client put in the upgrade request: the AppSync
// `header` query parameter (standard base64 whose '+' arrives unescaped) or a
// `header-<base64url>` subprotocol.
func credentials(r *http.Request) (key, date string) {
	var blobs []string
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		if v, ok := strings.CutPrefix(part, "header="); ok {
			blobs = append(blobs, v)
		}
	}
	for _, p := range websocket.Subprotocols(r) {
		if v, ok := strings.CutPrefix(p, "header-"); ok {
			blobs = append(blobs, v)
		}
	}
	for _, blob := range blobs {
		if h, ok := decodeHeader(blob); ok {
			return apiKeyOf(h), stringOf(h, "x-amz-date")
		}
	}
	return "", ""
}

// decodeHeader decodes a base64 JSON object in any of the alphabets and paddings clients use.
func decodeHeader(blob string) (map[string]any, bool) {
	if unescaped, err := url.PathUnescape(blob); err == nil {
		blob = unescaped
	}
	blob = strings.TrimRight(blob, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		raw, err := enc.DecodeString(blob)
		if err != nil {
			continue
		}
		var h map[string]any
		if json.Unmarshal(raw, &h) == nil {
			return h, true
		}
	}
	return nil, false
}

// apiKeyOf finds an API key in a header object, whatever the case of its name.
func apiKeyOf(h map[string]any) string {
	for _, name := range []string{"x-api-key", "authorization"} {
		if v := stringOf(h, name); v != "" {
			return v
		}
	}
	return ""
}

func stringOf(h map[string]any, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			if s, ok := v.(string); ok {
				return s
			}
		}
	}
	return ""
}

// canonicalJSON renders variables so that equal values give equal keys.
func canonicalJSON(v map[string]any) string {
	b, _ := json.Marshal(v) // maps are written with sorted keys
	return string(bytes.TrimSpace(b))
}
