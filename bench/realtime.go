package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// The AppSync realtime handshake as the editor's SDK performs it (aws-appsync-subscription-link
// 2.4.3): credentials in a base64 `header` query parameter, payload `e30=` ({}),
// subprotocol graphql-ws, connection_init → connection_ack, then one start → start_ack.
const (
	subprotocol = "graphql-ws"
	ackTimeout  = 15 * time.Second // the SDK's wait for connection_ack and for start_ack
)

// newDialer returns the WebSocket dialer every node shares.
func newDialer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		Subprotocols:     []string{subprotocol},
		ReadBufferSize:   4096,
		WriteBufferSize:  1024,
	}
}

// amzDate is the SDK's x-amz-date format.
const amzDate = "20060102T150405Z"

// authHeader is the object the SDK sends as `header` and as extensions.authorization.
func authHeader(host, key string) map[string]string {
	return map[string]string{"host": host, "x-amz-date": time.Now().UTC().Format(amzDate), "x-api-key": key}
}

// rtConn is one node's realtime socket. One goroutine reads it at a time; writes happen
// during the handshake and at the end (gorilla allows closing concurrently with reads).
type rtConn struct {
	ws    *websocket.Conn
	subID string
	buf   bytes.Buffer
	frame serverFrame
}

// probe opens and closes a bare socket, as the editor does before createGroup to learn
// whether WebSockets work: no query string, no credentials.
func probe(ctx context.Context, d *websocket.Dialer, ep endpoints) error {
	ws, _, err := d.DialContext(ctx, ep.realtime, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", ep.realtime, err)
	}
	ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return ws.Close()
}

// subscribe dials the realtime endpoint and subscribes to the group's messages with doc; it
// returns once start_ack has arrived.
func subscribe(ctx context.Context, d *websocket.Dialer, ep endpoints, key, doc, subID, groupID, domain string) (*rtConn, error) {
	header, err := json.Marshal(authHeader(ep.host, key))
	if err != nil {
		return nil, fmt.Errorf("encode header: %w", err)
	}
	// Standard base64, inserted without escaping, exactly as the SDK builds the URL.
	url := ep.realtime + "?header=" + base64.StdEncoding.EncodeToString(header) + "&payload=e30="
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", ep.realtime, err)
	}
	c := &rtConn{ws: ws, subID: subID}
	if err := c.start(ctx, ep.host, key, doc, groupID, domain); err != nil {
		ws.Close()
		return nil, err
	}
	return c, nil
}

func (c *rtConn) start(ctx context.Context, host, key, doc, groupID, domain string) error {
	if got := c.ws.Subprotocol(); got != subprotocol {
		return fmt.Errorf("server selected subprotocol %q, want %q", got, subprotocol)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"connection_init"}`)); err != nil {
		return fmt.Errorf("send connection_init: %w", err)
	}
	if err := c.await(ctx, "connection_ack", ""); err != nil {
		return err
	}
	data, err := json.Marshal(gqlRequest{OperationName: "OnMessageInGroup", Query: doc, Variables: map[string]string{"groupId": groupID, "domain": domain}})
	if err != nil {
		return fmt.Errorf("encode start: %w", err)
	}
	start, err := json.Marshal(map[string]any{
		"id": c.subID, "type": "start",
		"payload": map[string]any{
			"data":       string(data),
			"extensions": map[string]any{"authorization": authHeader(host, key)},
		},
	})
	if err != nil {
		return fmt.Errorf("encode start: %w", err)
	}
	if err := c.ws.WriteMessage(websocket.TextMessage, start); err != nil {
		return fmt.Errorf("send start: %w", err)
	}
	return c.await(ctx, "start_ack", c.subID)
}

// await reads frames until one of type want (with id, if given) arrives, skipping keep-alives;
// an error frame, anything else, or ackTimeout ends the wait with an error.
func (c *rtConn) await(ctx context.Context, want, id string) error {
	deadline := time.Now().Add(ackTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	c.ws.SetReadDeadline(deadline)
	defer c.ws.SetReadDeadline(time.Time{})
	for {
		f, err := c.next()
		if err != nil {
			return fmt.Errorf("wait for %s: %w", want, err)
		}
		switch typ := string(f.typ); {
		case typ == want && string(f.id) == id:
			return nil
		case typ == "ka":
		default:
			return fmt.Errorf("wait for %s: got %s frame: %s", want, typ, c.buf.Bytes())
		}
	}
}

var errTextFrame = errors.New("not a text frame")

// next reads and parses one frame; the result is valid until the next call.
func (c *rtConn) next() (*serverFrame, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if typ != websocket.TextMessage {
		return nil, errTextFrame
	}
	if err := parseFrame(c.buf.Bytes(), &c.frame); err != nil {
		return nil, err
	}
	return &c.frame, nil
}

// close ends the subscription as the SDK does (stop, then a normal close) and gives the
// reader a second to see the server's close before the socket is torn down.
func (c *rtConn) close() {
	deadline := time.Now().Add(time.Second)
	c.ws.SetWriteDeadline(deadline)
	c.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"stop","id":"`+c.subID+`"}`))
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), deadline)
	c.ws.SetReadDeadline(deadline)
}
