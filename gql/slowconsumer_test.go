package gql_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql"
)

// logTo sends a server's logs to l.
func logTo(l *brokertest.Logs) func(*gql.Config) {
	return func(c *gql.Config) { c.Logger = l.Logger() }
}

// overflow subscribes a socket that never reads and another that does to one group, then
// publishes messages of 60 kB, each once the reader has it, until the server counts a slow
// consumer; it returns the socket that never read. The messages must outgrow the kernel's
// socket buffers, or the slow reader never falls behind: up to 400 of them. Publishing stops
// once the queue has overflowed, so the slow reader starts reading while meshd's blocked
// write is still waiting for it.
func (e *env) overflow(t *testing.T) *client {
	t.Helper()
	id := e.group(t, "host", "d")
	vars := map[string]any{"groupId": id, "domain": "d"}
	slow := e.appsync(t, "")
	slow.send(map[string]string{"type": "connection_init"})
	slow.expect("connection_ack")
	slow.start("s", onMessage, vars, "")
	slow.expect("start_ack")
	fast := e.appsync(t, "")
	fast.send(map[string]string{"type": "connection_init"})
	fast.expect("connection_ack")
	fast.start("f", `subscription($groupId: ID!, $domain: String!) { onMessageInGroup(groupId: $groupId, domain: $domain) { nodeStatus { data { value } } } }`, vars, "")
	fast.expect("start_ack")
	for i := 0; e.api.RealtimeStats().SlowConsumers == 0; i++ {
		if i == 400 {
			t.Fatal("the slow consumer's queue never overflowed")
		}
		e.Broker.ReportData(id, "d", "n", []broker.Pair{{Key: "k", Value: fmt.Sprint(i, strings.Repeat("x", 60000))}})
		if got := str(fast.expect("data"), "payload", "data", "onMessageInGroup", "nodeStatus", "data", 0, "value"); !strings.HasPrefix(got, fmt.Sprint(i, "x")) {
			t.Fatalf("reader got %.10q as message %d", got, i)
		}
	}
	return slow
}

// closeFrame waits for the server to close the socket and returns its close frame.
func (c *client) closeFrame() *websocket.CloseError {
	c.t.Helper()
	for {
		c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := c.ws.ReadMessage()
		if ce, ok := err.(*websocket.CloseError); ok {
			return ce
		}
		if err != nil {
			c.t.Fatalf("socket ended without a close frame: %v", err)
		}
	}
}

// Each limit of the slow-consumer policy closes the socket with 1013, counted and logged
// with its reason.
func TestSlowConsumerLimits(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*gql.RealtimeConfig)
		reason    string
	}{
		{"frames", func(c *gql.RealtimeConfig) { c.SendQueue = 16 }, "pending frames"},
		{"bytes", func(c *gql.RealtimeConfig) { c.SendQueueBytes = 512 << 10 }, "pending bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs brokertest.Logs
			e := startRT(t, logTo(&logs), func(c *gql.Config) { tt.configure(&c.Realtime) })
			slow := e.overflow(t)
			if ce := slow.closeFrame(); ce.Code != websocket.CloseTryAgainLater || ce.Text != "slow consumer: "+tt.reason {
				t.Fatalf("slow consumer closed with %d %q", ce.Code, ce.Text)
			}
			if n := e.api.RealtimeStats().SlowConsumers; n != 1 {
				t.Fatalf("%d slow consumers counted", n)
			}
			if want := `msg="realtime slow consumer disconnected" reason="` + tt.reason + `"`; !strings.Contains(logs.String(), want) {
				t.Fatalf("log has no %s:\n%s", want, logs.String())
			}
		})
	}
}

// A socket whose write does not finish within the write timeout is closed as a slow
// consumer, counted and logged, however much room its queue has left.
func TestSlowConsumerWriteDeadline(t *testing.T) {
	var logs brokertest.Logs
	e := startRT(t, logTo(&logs), func(c *gql.Config) {
		c.Realtime.WriteTimeout = 100 * time.Millisecond
		c.Realtime.SendQueue, c.Realtime.SendQueueBytes = 100000, 1<<30
	})
	id := e.group(t, "host", "d")
	// A reader with a tiny receive buffer that never reads: meshd's writes soon block.
	d := websocket.Dialer{Subprotocols: []string{"graphql-ws"}, NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if err == nil {
			err = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}
	ws, _, err := d.Dial(e.ws+"/graphql/realtime", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	slow := &client{t: t, ws: ws}
	slow.send(map[string]string{"type": "connection_init"})
	slow.expect("connection_ack")
	slow.start("s", onMessage, map[string]any{"groupId": id, "domain": "d"}, "")
	slow.expect("start_ack")
	// Far more than any kernel buffers: 24 MB, queued at once.
	for i := range 400 {
		if _, err := e.Broker.ReportData(id, "d", "n", []broker.Pair{{Key: "k", Value: fmt.Sprint(i, strings.Repeat("x", 60000))}}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(time.Minute); e.api.RealtimeStats().SlowConsumers == 0; time.Sleep(10 * time.Millisecond) {
		switch {
		case strings.Contains(logs.String(), "realtime connection closed"):
			t.Fatalf("the socket closed without a slow consumer:\n%s", logs.String())
		case time.Now().After(deadline):
			t.Fatal("the blocked write never timed out")
		}
	}
	if want := `msg="realtime slow consumer disconnected" reason="write deadline"`; !strings.Contains(logs.String(), want) {
		t.Fatalf("log has no %s:\n%s", want, logs.String())
	}
}

// A client's ping is answered with a pong written under a deadline of its own; the frames
// after it still get the write timeout (robots' WebSocket libraries ping every few seconds).
// A writer that trusted the deadline it had set before the pong would find the pong's short
// deadline passed and close a healthy socket as a slow consumer.
func TestPingKeepsTheWriteDeadline(t *testing.T) {
	var logs brokertest.Logs
	e := startRT(t, logTo(&logs))
	id := e.group(t, "host", "d")
	c := initialised(t, e)
	ponged := make(chan struct{}, 1)
	c.ws.SetPongHandler(func(string) error { ponged <- struct{}{}; return nil })
	frames := make(chan []byte, 16)
	c.start("s", onMessage, map[string]any{"groupId": id, "domain": "d"}, "")
	c.expect("start_ack")
	go func() {
		defer close(frames)
		for {
			_, data, err := c.ws.ReadMessage()
			if err != nil {
				return
			}
			frames <- data
		}
	}()
	report := func(v string) {
		t.Helper()
		if _, err := e.Broker.ReportData(id, "d", "n", []broker.Pair{{Key: "k", Value: v}}); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case data, ok := <-frames:
				if !ok {
					t.Fatalf("the socket closed instead of delivering %q:\n%s", v, logs.String())
				}
				if strings.Contains(string(data), `"value":"`+v+`"`) {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%q never arrived", v)
			}
		}
	}
	report("before")
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ponged:
	case <-time.After(10 * time.Second):
		t.Fatal("no pong")
	}
	time.Sleep(1500 * time.Millisecond) // past the pong's own one-second deadline
	report("after")
	if e.api.RealtimeStats().SlowConsumers != 0 {
		t.Fatalf("a slow consumer was counted:\n%s", logs.String())
	}
}

// A reader that falls behind, within the slow-consumer limits, still gets every frame once
// and in order, and each is counted as sent once, when the writer has caught up.
func TestReaderBehindGetsEveryFrameInOrder(t *testing.T) {
	e := startRT(t, func(c *gql.Config) {
		c.Realtime.SendQueue, c.Realtime.SendQueueBytes = 100000, 1<<30
	})
	id := e.group(t, "host", "d")
	c := e.appsync(t, "")
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_ack")
	c.start("s", onMessage, map[string]any{"groupId": id, "domain": "d"}, "")
	c.expect("start_ack")
	before := e.api.RealtimeStats().FramesSent
	// 18 MB while the reader reads nothing: far more than the kernel's buffers hold.
	const messages = 300
	for i := range messages {
		if _, err := e.Broker.ReportData(id, "d", "n", []broker.Pair{{Key: "k", Value: fmt.Sprint(i, "-", strings.Repeat("x", 60000))}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range messages {
		got := str(c.expect("data"), "payload", "data", "onMessageInGroup", "nodeStatus", "data", 0, "value")
		if want := fmt.Sprint(i, "-"); !strings.HasPrefix(got, want) {
			t.Fatalf("frame %d carries %.10q", i, got)
		}
	}
	// A frame is counted once its last byte is with the kernel, which can be just after the
	// reader has it.
	for deadline := time.Now().Add(time.Minute); e.api.RealtimeStats().FramesSent-before < messages && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.api.RealtimeStats().FramesSent - before; n != messages {
		t.Fatalf("%d frames counted as sent, want %d", n, messages)
	}
}
