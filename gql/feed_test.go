package gql

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// A graphql-go execution that falls behind its group is ended with an error to its
// subscribers; the group's delivery never waits for it.
func TestLaggingExecutionIsEnded(t *testing.T) {
	tb := brokertest.New(t, brokertest.Options{})
	s, err := New(tb.Broker, Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	g, err := tb.CreateGroup(context.Background(), broker.CreateGroupInput{Name: "h", HostID: "h", Domain: "d", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{Subprotocols: []string{protoAppSync}}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/graphql/realtime", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	next := func() map[string]any {
		t.Helper()
		for {
			var f map[string]any
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatal(err)
			}
			if f["type"] != "ka" {
				return f
			}
		}
	}
	ws.WriteJSON(map[string]any{"type": "connection_init"})
	if f := next(); f["type"] != "connection_ack" {
		t.Fatalf("%v", f)
	}
	// A directive keeps the document from the plan compiler: graphql-go executes it.
	doc := `{"query":"subscription($groupId: ID!, $domain: String!) { onMessageInGroup(groupId: $groupId, domain: $domain) { groupId @include(if: true) } }","variables":{"groupId":"` + g.ID + `","domain":"d"}}`
	ws.WriteJSON(map[string]any{"id": "s", "type": "start", "payload": map[string]any{"data": doc}})
	if f := next(); f["type"] != "start_ack" {
		t.Fatalf("%v", f)
	}
	s.rt.hub.mu.Lock()
	var f *feed
	for _, e := range s.rt.hub.execs {
		f = e.feed
	}
	s.rt.hub.mu.Unlock()
	if f == nil {
		t.Fatal("the subscription does not run on graphql-go")
	}
	var c *conn
	s.rt.mu.Lock()
	for x := range s.rt.conns {
		c = x
	}
	s.rt.mu.Unlock()
	// Holding the socket's lock stops the execution at its first response; the group's
	// delivery goes on and fills the feed.
	c.mu.Lock()
	for i := range subscriptionBuffer + 3 {
		if _, err := tb.ReportData(g.ID, "d", "n", []broker.Pair{{Key: "k", Value: strconv.Itoa(i)}}); err != nil {
			c.mu.Unlock()
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, lagged := f.state(); lagged {
			break
		}
		if time.Now().After(deadline) {
			c.mu.Unlock()
			t.Fatal("the feed never lagged")
		}
	}
	c.mu.Unlock()
	for {
		fr := next()
		if fr["type"] == "data" {
			continue // the values it delivered before it fell behind
		}
		errs, _ := fr["payload"].(map[string]any)["errors"].([]any)
		if fr["type"] != "error" || fr["id"] != "s" || len(errs) != 1 || errs[0].(map[string]any)["errorType"] != typeSlowSubscription {
			t.Fatalf("frame %v", fr)
		}
		break
	}
	if st := s.RealtimeStats(); st.LaggedExecutions != 1 || st.Subscriptions != 0 || st.Executions != 0 {
		t.Fatalf("stats %+v", st)
	}
}
