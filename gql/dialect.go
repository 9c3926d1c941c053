package gql

import (
	"encoding/json"
	"time"
)

// dialect is one realtime subprotocol spoken over a socket: it answers the client's frames
// and shapes the frames the socket and the hub send. Every socket has a dialect value of its
// own, which may hold per-socket state.
type dialect interface {
	// subprotocol is the Sec-WebSocket-Protocol the dialect speaks.
	subprotocol() string
	// initTimeout is how long a socket may stay without connection_init when
	// RealtimeConfig.InitTimeout is zero.
	initTimeout() time.Duration
	// initTimedOut ends a socket that did not send connection_init in time.
	initTimedOut(c *conn)
	// keepAlive is the frame written every RealtimeConfig.KeepAlive once the socket is
	// initialised, or nil when the dialect has none.
	keepAlive() []byte
	// handle answers one client frame; false means the socket is being closed.
	handle(c *conn, f clientFrame) bool
	// malformed answers a frame that is not a JSON object with a type; false means the
	// socket is being closed.
	malformed(c *conn, msg string) bool
	// resultPrefix is the start of a result frame of operation id, up to its payload.
	resultPrefix(id string) []byte
	// errorFrame is the answer to operation id that failed with errs.
	errorFrame(id string, errs []Error) any
}

// clientFrame is any inbound frame of either dialect.
type clientFrame struct {
	Type    string          `json:"type"`
	ID      *string         `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// newDialect returns a fresh dialect for subprotocol, or nil for an unknown one.
func newDialect(subprotocol string) dialect {
	switch subprotocol {
	case protoAppSync:
		return &appSync{}
	case protoTransport:
		return newTransportWS()
	}
	return nil
}

// resultPrefix is the start of a result frame of type typ for operation id.
func resultPrefix(typ, id string) []byte {
	quoted, _ := json.Marshal(id)
	return []byte(`{"id":` + string(quoted) + `,"type":"` + typ + `","payload":`)
}
