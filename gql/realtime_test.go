package gql_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/gql"
)

// startRT is start for realtime tests: HTTP requests carry the first configured key.
func startRT(t *testing.T, configure ...func(*gql.Config)) *env {
	t.Helper()
	e := start(t, configure...)
	if len(e.cfg.APIKeys) > 0 {
		e.Key = e.cfg.APIKeys[0]
	}
	return e
}

// client is a test WebSocket peer.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *env) dial(t *testing.T, path string, protocols []string, query string) (*client, *http.Response) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols}
	url := e.ws + path
	if query != "" {
		url += "?" + query
	}
	ws, resp, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}, resp
}

// appsync opens an AppSync-dialect socket with credentials in the header parameter.
func (e *env) appsync(t *testing.T, key string) *client {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"host": "pi.local:8080", "x-amz-date": e.Broker.Clock.Now().UTC().Format("20060102T150405Z"), "x-api-key": key})
	c, _ := e.dial(t, "/graphql/realtime", []string{"graphql-ws"}, "header="+base64.StdEncoding.EncodeToString(h)+"&payload=e30=")
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one frame, skipping keep-alives.
func (c *client) next() map[string]any {
	c.t.Helper()
	for {
		c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			c.t.Fatalf("server sent a non-JSON frame %q", data)
		}
		if f["type"] != "ka" {
			return f
		}
	}
}

func (c *client) expect(typ string) map[string]any {
	c.t.Helper()
	f := c.next()
	if f["type"] != typ {
		c.t.Fatalf("frame %v, want type %s", f, typ)
	}
	return f
}

// closed waits for the server to close the socket and returns the close code.
func (c *client) closed() int {
	c.t.Helper()
	return c.closeFrame().Code
}

func (c *client) start(id, query string, vars map[string]any, key string) {
	c.t.Helper()
	data, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	c.send(map[string]any{"id": id, "type": "start", "payload": map[string]any{
		"data": string(data), "extensions": map[string]any{"authorization": map[string]any{"host": "pi.local", "x-api-key": key, "X-Api-Key": key}},
	}})
}

const onMessage = `subscription OnMessageInGroup($groupId: ID!, $domain: String!) {
  onMessageInGroup(groupId: $groupId, domain: $domain) {
    groupId domain
    nodeStatus { nodeId data { key value __typename } timestamp __typename }
    batchEvent { events { name firedByNodeId payload timestamp orderKey __typename } firedByNodeId timestamp __typename }
    groupDissolve { groupId domain message __typename }
    __typename
  }
}`

func TestProbeUpgradesWithoutCredentials(t *testing.T) {
	e := startRT(t, func(c *gql.Config) { c.APIKeys = []string{"k"} })
	for _, path := range []string{"/graphql", "/graphql/realtime", "/graphql/connect"} {
		c, resp := e.dial(t, path, []string{"graphql-ws"}, "")
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "graphql-ws" {
			t.Fatalf("%s selected %q", path, got)
		}
		c.ws.Close()
	}
	c, resp := e.dial(t, "/graphql/realtime", []string{"graphql-ws", "header-eyJ4LWFwaS1rZXkiOiJrIn0"}, "")
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "graphql-ws" {
		t.Fatalf("selected %q, never the header entry", got)
	}
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_ack") // the key {"x-api-key":"k"} came in the subprotocol
}

func TestOriginAllowList(t *testing.T) {
	e := startRT(t, func(c *gql.Config) { c.AllowedOrigins = []string{"https://smalruby.app"} })
	d := websocket.Dialer{Subprotocols: []string{"graphql-ws"}}
	_, resp, err := d.Dial(e.ws+"/graphql/realtime", http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	ws, _, err := d.Dial(e.ws+"/graphql/realtime", http.Header{"Origin": {"https://smalruby.app"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	ws.Close()
}

func TestAppSyncSession(t *testing.T) {
	e := startRT(t, func(c *gql.Config) { c.APIKeys = []string{"da2-key+/="} })
	id := e.group(t, "host", "7aff1acb")
	c := e.appsync(t, "da2-key+/=")
	c.send(map[string]string{"type": "connection_init"})
	ack := c.expect("connection_ack")
	if field(ack, "payload", "connectionTimeoutMs") != float64(300000) {
		t.Fatalf("ack %v", ack)
	}
	c.start("sub-1", onMessage, map[string]any{"groupId": id, "domain": "7aff1acb"}, "da2-key+/=")
	if f := c.expect("start_ack"); f["id"] != "sub-1" {
		t.Fatalf("start_ack %v", f)
	}
	// The publisher selects almost nothing; the subscriber still gets its whole selection.
	e.ok(t, `mutation($g: ID!) { reportDataByNode(groupId: $g, domain: "7aff1acb", nodeId: "n1", data: [{key: "score", value: "12"}]) { groupId } }`, map[string]any{"g": id})
	d := c.expect("data")
	m := field(d, "payload", "data", "onMessageInGroup")
	if d["id"] != "sub-1" || str(m, "groupId") != id || str(m, "nodeStatus", "data", 0, "value") != "12" || str(m, "nodeStatus", "data", 0, "__typename") != "SensorData" ||
		field(m, "batchEvent") != nil || str(m, "__typename") != "MeshMessage" {
		t.Fatalf("data frame %v", d)
	}
	e.ok(t, `mutation($g: ID!) { fireEventsByNode(groupId: $g, domain: "7aff1acb", nodeId: "n1", events: [{eventName: "go", payload: "", firedAt: "2026-03-01T08:45:10.214Z", orderKey: "20260301174510-0000001"}]) { groupId } }`, map[string]any{"g": id})
	m = field(c.expect("data"), "payload", "data", "onMessageInGroup")
	if str(m, "batchEvent", "events", 0, "orderKey") != "20260301174510-0000001" || field(m, "batchEvent", "events", 0, "payload") != nil {
		t.Fatalf("batch %v", m)
	}
	e.ok(t, dissolveGroup, map[string]any{"groupId": id, "domain": "7aff1acb", "hostId": "host"})
	m = field(c.expect("data"), "payload", "data", "onMessageInGroup")
	if !strings.Contains(str(m, "groupDissolve", "message"), "dissolved") || str(m, "groupDissolve", "groupId") != id {
		t.Fatalf("dissolve %v", m)
	}
	c.send(map[string]string{"type": "stop", "id": "sub-1"})
	c.expect("complete")
	c.send(map[string]string{"type": "stop", "id": "unknown"})
	if f := c.expect("complete"); f["id"] != "unknown" {
		t.Fatalf("stop of an unknown id: %v", f)
	}
}

func TestAppSyncErrors(t *testing.T) {
	e := startRT(t, func(c *gql.Config) {
		c.APIKeys = []string{"good"}
		c.Realtime.MaxSubscriptions = 3
		c.Realtime.MaxFrameBytes = 4096
	})
	vars := map[string]any{"groupId": "g", "domain": "d"}
	t.Run("bad key at init", func(t *testing.T) {
		c := e.appsync(t, "bad")
		c.send(map[string]string{"type": "connection_init"})
		f := c.expect("connection_error")
		if field(f, "payload", "errors", 0, "errorCode") != float64(401) || str(f, "payload", "errors", 0, "errorType") != "UnauthorizedException" {
			t.Fatalf("%v", f)
		}
		if code := c.closed(); code != 1000 {
			t.Fatalf("close %d", code)
		}
	})
	c := e.appsync(t, "good")
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_ack")
	tests := []struct {
		name, id, query, key, errType, message string
	}{
		{"validation", "v", `subscription { onMessageInGroup(groupId: "g", domain: "d") { nope } }`, "good", "", "Validation error of type"},
		{"mutation", "m", `mutation { createDomain }`, "good", "UnsupportedOperation", "not supported through the realtime channel"},
		{"two root fields", "two", `subscription { a: onMessageInGroup(groupId: "g", domain: "d") { groupId } b: onGroupDissolve(groupId: "g", domain: "d") { groupId } }`, "good", "", "only one top level field"},
		{"bad key in start", "k", onMessage, "bad", "UnauthorizedException", "not authorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.start(tt.id, tt.query, vars, tt.key)
			f := c.expect("error")
			if f["id"] != tt.id || str(f, "payload", "errors", 0, "errorType") != tt.errType || !strings.Contains(str(f, "payload", "errors", 0, "message"), tt.message) {
				t.Fatalf("%v", f)
			}
		})
	}
	t.Run("duplicate id and too many", func(t *testing.T) {
		for i := range 3 {
			c.start(fmt.Sprint("s", i), onMessage, vars, "good")
			c.expect("start_ack")
		}
		c.start("s0", onMessage, vars, "good")
		if f := c.expect("error"); str(f, "payload", "errors", 0, "errorType") != "DuplicatedOperationError" {
			t.Fatalf("%v", f)
		}
		c.start("s3", onMessage, vars, "good")
		if f := c.expect("error"); str(f, "payload", "errors", 0, "errorType") != "MaxSubscriptionsReachedError" {
			t.Fatalf("%v", f)
		}
	})
	t.Run("malformed frames", func(t *testing.T) {
		m := e.appsync(t, "good")
		for i := range 10 {
			m.ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("not json %d", i)))
			if f := m.expect("error"); f["id"] != nil || str(f, "payload", "errors", 0, "errorType") != "MalformedMessage" {
				t.Fatalf("%v", f)
			}
		}
		if code := m.closed(); code != websocket.ClosePolicyViolation {
			t.Fatalf("close %d after 10 malformed frames", code)
		}
	})
	t.Run("oversized frame", func(t *testing.T) {
		m := e.appsync(t, "good")
		m.ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"connection_init","payload":"`+strings.Repeat("x", 5000)+`"}`))
		if code := m.closed(); code != websocket.CloseMessageTooBig {
			t.Fatalf("close %d", code)
		}
	})
	// The server is still there for everyone else.
	e.group(t, "host", "d")
}

func TestStartBeforeInitAndKeepAlive(t *testing.T) {
	e := startRT(t, func(c *gql.Config) { c.Realtime.KeepAlive = 20 * time.Millisecond })
	c := e.appsync(t, "")
	c.start("x", onMessage, map[string]any{"groupId": "g", "domain": "d"}, "")
	var types []string
	read := func() string {
		c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var f map[string]any
		if err := c.ws.ReadJSON(&f); err != nil {
			t.Fatal(err)
		}
		types = append(types, f["type"].(string))
		return types[len(types)-1]
	}
	// An implicit ack and its ka come first; periodic kas may come before the start_ack on a
	// busy machine (every 20 ms), and one comes after it.
	read()
	read()
	for read() == "ka" {
	}
	for read() != "ka" {
	}
	acked := types[len(types)-2]
	if types[0] != "connection_ack" || types[1] != "ka" || acked != "start_ack" {
		t.Fatalf("frames %v: want an implicit ack, a ka, the start_ack (after kas only) and a periodic ka", types)
	}
}

func TestInitTimeout(t *testing.T) {
	e := startRT(t, func(c *gql.Config) { c.Realtime.InitTimeout = 50 * time.Millisecond })
	c := e.appsync(t, "")
	f := c.expect("connection_error")
	if field(f, "payload", "errors", 0, "errorCode") != float64(408) {
		t.Fatalf("%v", f)
	}
	tw, _ := e.dial(t, "/graphql", []string{"graphql-transport-ws"}, "")
	if code := tw.closed(); code != 4408 {
		t.Fatalf("graphql-transport-ws init timeout close %d", code)
	}
}

func TestSharedExecutionAndGenerations(t *testing.T) {
	e := startRT(t)
	id := e.group(t, "host", "d")
	vars := map[string]any{"groupId": id, "domain": "d"}
	var clients []*client
	for range 40 {
		c := e.appsync(t, "")
		c.send(map[string]string{"type": "connection_init"})
		c.expect("connection_ack")
		c.start("s", onMessage, vars, "")
		c.expect("start_ack")
		clients = append(clients, c)
	}
	if st := e.api.RealtimeStats(); st.Executions != 1 || st.Subscriptions != 40 || st.Connections != 40 {
		t.Fatalf("40 identical subscriptions: %+v", st)
	}
	old := e.appsync(t, "")
	old.send(map[string]string{"type": "connection_init"})
	old.expect("connection_ack")
	for _, s := range []struct{ id, doc string }{
		{"data", `subscription($groupId: ID!, $domain: String!) { onDataUpdateInGroup(groupId: $groupId, domain: $domain) { nodeId data { key value } } }`},
		{"batch", `subscription($groupId: ID!, $domain: String!) { onBatchEventInGroup(groupId: $groupId, domain: $domain) { firedByNodeId events { name } } }`},
		{"event", `subscription($groupId: ID!, $domain: String!) { onEventInGroup(groupId: $groupId, domain: $domain) { name } }`},
		{"dissolve", `subscription($groupId: ID!, $domain: String!) { onGroupDissolve(groupId: $groupId, domain: $domain) { message } }`},
	} {
		old.start(s.id, s.doc, vars, "")
		old.expect("start_ack")
	}
	if st := e.api.RealtimeStats(); st.Executions != 5 {
		t.Fatalf("executions %d, want 5", st.Executions)
	}
	e.ok(t, reportData, map[string]any{"groupId": id, "domain": "d", "nodeId": "n", "data": []any{map[string]any{"key": "k", "value": "v"}}})
	e.ok(t, `mutation($g: ID!) { fireEventsByNode(groupId: $g, domain: "d", nodeId: "n", events: [{eventName: "a", firedAt: "2026-03-01T08:45:10.214Z"}, {eventName: "b", firedAt: "2026-03-01T08:45:10.214Z"}]) { groupId } }`, map[string]any{"g": id})
	e.ok(t, dissolveGroup, map[string]any{"groupId": id, "domain": "d", "hostId": "host"})
	for _, c := range clients {
		if str(c.expect("data"), "payload", "data", "onMessageInGroup", "nodeStatus", "nodeId") != "n" {
			t.Fatal("data message")
		}
		c.expect("data")
		c.expect("data")
	}
	got := map[string][]string{}
	for range 5 {
		f := old.expect("data")
		got[f["id"].(string)] = append(got[f["id"].(string)], fmt.Sprint(f["payload"]))
	}
	if len(got["data"]) != 1 || len(got["batch"]) != 1 || len(got["event"]) != 2 || len(got["dissolve"]) != 1 {
		t.Fatalf("legacy subscriptions got %v", got)
	}
}

func TestOrderingAndIsolation(t *testing.T) {
	e := startRT(t)
	a, b := e.group(t, "ha", "d"), e.group(t, "hb", "d")
	subscribe := func(g string) *client {
		c := e.appsync(t, "")
		c.send(map[string]string{"type": "connection_init"})
		c.expect("connection_ack")
		c.start("s", onMessage, map[string]any{"groupId": g, "domain": "d"}, "")
		c.expect("start_ack")
		return c
	}
	subsA := []*client{subscribe(a), subscribe(a)}
	subB := subscribe(b)
	const publishers, each = 4, 50
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				if _, err := e.Broker.ReportData(a, "d", fmt.Sprint("p", p), []broker.Pair{{Key: "i", Value: fmt.Sprint(i)}}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	e.Broker.ReportData(b, "d", "other", nil)
	for _, c := range subsA {
		last := map[string]int{}
		for range publishers * each {
			m := field(c.expect("data"), "payload", "data", "onMessageInGroup", "nodeStatus")
			var i int
			fmt.Sscan(str(m, "data", 0, "value"), &i)
			node := str(m, "nodeId")
			if prev, ok := last[node]; (ok && i != prev+1) || (!ok && i != 0) {
				t.Fatalf("%s: %d after %d", node, i, prev)
			}
			last[node] = i
		}
	}
	if f := subB.expect("data"); str(f, "payload", "data", "onMessageInGroup", "nodeStatus", "nodeId") != "other" {
		t.Fatalf("group b got %v", f)
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	e := startRT(t, func(c *gql.Config) { c.Realtime.SendQueue = 16 })
	slow := e.overflow(t)
	if code := slow.closed(); code != websocket.CloseTryAgainLater {
		t.Fatalf("slow consumer closed with %d", code)
	}
	if e.api.RealtimeStats().SlowConsumers != 1 {
		t.Fatalf("stats %+v", e.api.RealtimeStats())
	}
}

func TestTransportWS(t *testing.T) {
	e := startRT(t, func(c *gql.Config) { c.APIKeys = []string{"k"} })
	id := e.group2(t)
	c, resp := e.dial(t, "/graphql", []string{"graphql-transport-ws"}, "")
	if resp.Header.Get("Sec-WebSocket-Protocol") != "graphql-transport-ws" {
		t.Fatal("subprotocol not selected")
	}
	c.send(map[string]any{"type": "connection_init", "payload": map[string]any{"x-api-key": "k"}})
	c.expect("connection_ack")
	c.send(map[string]string{"type": "ping"})
	c.expect("pong")
	c.send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": `subscription($g: ID!) { onMessageInGroup(groupId: $g, domain: "d") { nodeStatus { nodeId } } }`, "variables": map[string]any{"g": id}}})
	c.send(map[string]any{"type": "subscribe", "id": "q", "payload": map[string]any{"query": `query { listGroupsByDomain(domain: "d") { id } }`}})
	if f := c.expect("next"); f["id"] != "q" || str(f, "payload", "data", "listGroupsByDomain", 0, "id") != id {
		t.Fatalf("%v", f)
	}
	c.expect("complete")
	e.Broker.ReportData(id, "d", "n", nil)
	if f := c.expect("next"); f["id"] != "1" || str(f, "payload", "data", "onMessageInGroup", "nodeStatus", "nodeId") != "n" {
		t.Fatalf("%v", f)
	}
	c.send(map[string]any{"type": "subscribe", "id": "bad", "payload": map[string]any{"query": `subscription { onMessageInGroup(groupId: "g", domain: "d") { nope } }`}})
	if f := c.expect("error"); f["id"] != "bad" {
		t.Fatalf("%v", f)
	}
	c.send(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": `subscription { onMessageInGroup(groupId: "g", domain: "d") { groupId } }`}})
	if code := c.closed(); code != 4409 {
		t.Fatalf("duplicate id close %d", code)
	}
	closes := []struct {
		name   string
		frames []any
		code   int
	}{
		{"subscribe before ack", []any{map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": "{ x }"}}}, 4401},
		{"bad key", []any{map[string]any{"type": "connection_init", "payload": map[string]any{"x-api-key": "no"}}}, 4403},
		{"second init", []any{map[string]any{"type": "connection_init", "payload": map[string]any{"x-api-key": "k"}}, map[string]any{"type": "connection_init"}}, 4429},
		{"malformed", []any{"nonsense"}, 4400},
	}
	for _, tt := range closes {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := e.dial(t, "/graphql/realtime", []string{"graphql-transport-ws"}, "")
			for _, f := range tt.frames {
				c.send(f)
			}
			if code := c.closed(); code != tt.code {
				t.Fatalf("close %d, want %d", code, tt.code)
			}
		})
	}
}

// group2 creates a group in domain "d".
func (e *env) group2(t *testing.T) string {
	t.Helper()
	id, err := e.Broker.CreateGroup(context.Background(), broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	return id.ID
}

func TestShutdownClosesWithGoingAway(t *testing.T) {
	e := startRT(t)
	c := e.appsync(t, "")
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_ack")
	go e.api.Shutdown(context.Background())
	if code := c.closed(); code != websocket.CloseGoingAway {
		t.Fatalf("close %d", code)
	}
}

// The editor's SDK resends a mutation whose answer it lost, and a load balancer in front of
// a cluster resends one whose node crashed: the same event batch sent twice gets the same
// answer and reaches subscribers once.
func TestResentEventBatchIsBroadcastOnce(t *testing.T) {
	e := startRT(t)
	id := e.group(t, "host", "d")
	c := initialised(t, e)
	c.start("s", onMessage, map[string]any{"groupId": id, "domain": "d"}, "")
	c.expect("start_ack")
	fire := `mutation($g: ID!) { fireEventsByNode(groupId: $g, domain: "d", nodeId: "n1", events: [{eventName: "go", payload: "", firedAt: "2026-03-01T08:45:10.214Z", orderKey: "20260301174510-0000001"}]) { groupId batchEvent { timestamp events { name timestamp orderKey } } } }`
	first := e.ok(t, fire, map[string]any{"g": id})
	again := e.ok(t, fire, map[string]any{"g": id})
	if fmt.Sprint(first) != fmt.Sprint(again) {
		t.Fatalf("the resent batch was answered %v, the first %v", again, first)
	}
	e.ok(t, reportData, map[string]any{"groupId": id, "domain": "d", "nodeId": "n1", "data": []any{map[string]any{"key": "k", "value": "after"}}})
	if m := field(c.expect("data"), "payload", "data", "onMessageInGroup"); str(m, "batchEvent", "events", 0, "name") != "go" {
		t.Fatalf("first message %v, want the batch", m)
	}
	if m := field(c.expect("data"), "payload", "data", "onMessageInGroup"); field(m, "nodeStatus") == nil {
		t.Fatalf("second message %v, want the status sent after both batches", m)
	}
}
