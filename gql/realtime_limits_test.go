package gql_test

import (
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// initialised opens an AppSync socket and completes connection_init.
func initialised(t *testing.T, e *env) *client {
	t.Helper()
	c := e.appsync(t, "")
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_ack")
	return c
}

// nextIsComplete proves that nothing else was queued before: a stop of an unknown id is
// answered with complete, after everything the server sent before it.
func (c *client) nextIsComplete(t *testing.T) {
	t.Helper()
	c.send(map[string]string{"type": "stop", "id": "probe"})
	if f := c.next(); f["type"] != "complete" || f["id"] != "probe" {
		t.Fatalf("unexpected frame %v", f)
	}
}

// Finding 9: a start with an oversized groupId got start_ack and a data frame with null
// before its error; the spec wants one error and nothing else.
func TestStartRefusedByItsResolverGetsOneErrorOnly(t *testing.T) {
	e := startRT(t)
	c := initialised(t, e)
	long := strings.Repeat("g", 300)
	for _, doc := range []string{onMessage, `subscription($groupId: ID!, $domain: String!) { onGroupDissolve(groupId: $groupId, domain: $domain) { groupId } }`} {
		var f map[string]any
		measure(t, func() {
			c.start("long", doc, map[string]any{"groupId": long, "domain": "d1"}, "")
			f = c.next()
		}).atMost(t, "a refused start", cost{bytes: 16 << 20, objects: 50_000, goroutines: 100})
		if f["type"] != "error" || f["id"] != "long" || str(f, "payload", "errors", 0, "errorType") != "ValidationError" {
			t.Fatalf("first frame %v, want one ValidationError", f)
		}
		c.nextIsComplete(t)
	}
	// The refused subscription is not live: the same id starts again.
	id := e.group(t, "host", "d1")
	c.start("long", onMessage, map[string]any{"groupId": id, "domain": "d1"}, "")
	c.expect("start_ack")
}

// Finding 9: text frames that are not UTF-8 were accepted; RFC 6455 closes with 1007.
func TestInvalidUTF8TextFrameClosesWith1007(t *testing.T) {
	e := startRT(t)
	c := initialised(t, e)
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte("{\"type\":\"ka\xff\"}")); err != nil {
		t.Fatal(err)
	}
	if code := c.closed(); code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("close code %d, want 1007", code)
	}
}

// Finding 1: over the realtime endpoint one start was validated twice, at full quadratic
// cost; now a document is validated once under the overlap limit and its verdict is kept.
func TestRealtimeStartIsValidatedOnceUnderTheLimits(t *testing.T) {
	e := startRT(t)
	c := initialised(t, e)
	doc := `subscription { onGroupDissolve(groupId: "g", domain: "d") {` + strings.Repeat(" groupId", 6000) + " } }"
	var f map[string]any
	measure(t, func() {
		c.start("big", doc, nil, "")
		f = c.next()
	}).atMost(t, "a 6,000-field start", cost{bytes: 256 << 20, objects: 500_000, goroutines: 1_000})
	if f["type"] != "error" || !strings.Contains(str(f, "payload", "errors", 0, "message"), "OverlapValidationLimitExceeded") {
		t.Fatalf("frame %.300v", f)
	}
	again := measure(t, func() {
		c.start("big2", doc, nil, "")
		f = c.next()
	})
	again.atMost(t, "the same start again", cost{bytes: 4 << 20, objects: 20_000, goroutines: 100})
	if f["type"] != "error" || f["id"] != "big2" {
		t.Fatalf("frame %.300v", f)
	}
	// The same verdict serves HTTP.
	if r := e.do(t, doc, nil); !strings.Contains(r.Raw, "OverlapValidationLimitExceeded") {
		t.Fatalf("HTTP: %.300s", r.Raw)
	}
}
