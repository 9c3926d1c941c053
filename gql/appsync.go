package gql

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// Timers and limits of the AppSync realtime dialect.
const (
	// appSyncInitTimeout is how long an AppSync socket may stay without connection_init.
	appSyncInitTimeout = 30 * time.Second
	// appSyncMalformedWindow and appSyncMalformedLimit: a socket that sends
	// appSyncMalformedLimit unreadable frames within appSyncMalformedWindow is closed with 1008.
	appSyncMalformedWindow = time.Minute
	appSyncMalformedLimit  = 10
)

// appSync is the AppSync realtime dialect (subprotocol graphql-ws) that the Smalruby editor
// speaks: start/stop, data frames, keep-alives, errors answered in frames rather than closes.
type appSync struct {
	// malformed holds the times of recent unreadable frames; only the reader touches it.
	recentMalformed []time.Time
}

var kaFrame = []byte(`{"type":"ka"}`)

func (*appSync) subprotocol() string        { return protoAppSync }
func (*appSync) initTimeout() time.Duration { return appSyncInitTimeout }
func (*appSync) keepAlive() []byte          { return kaFrame }

func (*appSync) resultPrefix(id string) []byte { return resultPrefix("data", id) }

func (*appSync) errorFrame(id string, errs []Error) any {
	return map[string]any{"type": "error", "id": id, "payload": map[string]any{"errors": errs}}
}

func (*appSync) initTimedOut(c *conn) {
	c.sendJSON(connectionError("ConnectionInitTimeout", "connection_init was not sent in time", 408))
	c.close(websocket.CloseNormalClosure, "")
}

// malformed answers with an error frame and closes the socket only once unreadable frames
// keep coming.
func (a *appSync) malformed(c *conn, msg string) bool {
	now := time.Now()
	recent := a.recentMalformed[:0]
	for _, t := range a.recentMalformed {
		if now.Sub(t) < appSyncMalformedWindow {
			recent = append(recent, t)
		}
	}
	a.recentMalformed = append(recent, now)
	c.sendJSON(map[string]any{"type": "error", "payload": map[string]any{"errors": []Error{{ErrorType: "MalformedMessage", Message: msg}}}})
	if len(a.recentMalformed) >= appSyncMalformedLimit {
		c.close(websocket.ClosePolicyViolation, "too many malformed frames")
		return false
	}
	return true
}

func (a *appSync) handle(c *conn, f clientFrame) bool {
	switch f.Type {
	case "connection_init":
		return a.acknowledge(c)
	case "start":
		if !a.acknowledge(c) {
			return false
		}
		id := ""
		if f.ID != nil {
			id = *f.ID
		}
		a.start(c, id, f.Payload)
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
	return c.malformed("unknown message type " + strconv.Quote(f.Type))
}

// acknowledge completes the handshake, once; false means the key was refused.
func (*appSync) acknowledge(c *conn) bool {
	if c.isInited() {
		return true
	}
	if !c.s.authorize(c.key, "realtime", c.ip) {
		c.sendJSON(connectionError(typeUnauthorized, "You are not authorized to make this call.", 401))
		c.close(websocket.CloseNormalClosure, "")
		return false
	}
	if c.date != "" {
		if t, err := time.Parse("20060102T150405Z", c.date); err == nil {
			c.s.res.skew.check(c.s.log, "x-amz-date", c.ip, t, c.s.b.Now())
		}
	}
	c.setInited()
	c.sendJSON(map[string]any{"type": "connection_ack", "payload": map[string]any{"connectionTimeoutMs": c.s.rt.cfg.ConnectionTimeoutMS}})
	c.send(frame{payload: kaFrame})
	return true
}

// start subscribes id to the document in a start payload: only subscriptions run here.
func (*appSync) start(c *conn, id string, payload json.RawMessage) {
	req, key, err := parseStart(payload)
	if err != nil {
		c.operationError(id, "MalformedMessage", err.Error())
		return
	}
	if key == "" {
		key = c.key
	}
	if !c.s.authorize(key, "realtime", c.ip) {
		c.operationError(id, typeUnauthorized, "You are not authorized to make this call.")
		return
	}
	kind, roots, ok := c.check(id, &req)
	switch {
	case !ok:
	case kind != "subscription":
		c.operationError(id, "UnsupportedOperation", kind+" not supported through the realtime channel")
	default:
		ack, _ := json.Marshal(map[string]any{"type": "start_ack", "id": id})
		if c.subscribe(id, req, roots, ack) {
			c.operationError(id, "DuplicatedOperationError", "subscription id "+id+" is already in use")
		}
	}
}

func connectionError(errType, msg string, code int) map[string]any {
	return map[string]any{"type": "connection_error", "payload": map[string]any{
		"errors": []map[string]any{{"errorType": errType, "message": msg, "errorCode": code}},
	}}
}

// parseStart reads a start payload: data as a JSON string or object (or a legacy top-level
// query), and the authorization object's API key.
func parseStart(raw json.RawMessage) (request, string, error) {
	var p struct {
		Data       json.RawMessage `json:"data"`
		Query      *string         `json:"query"`
		Variables  json.RawMessage `json:"variables"`
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
		req = request{Query: *p.Query, RawVariables: p.Variables}
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
