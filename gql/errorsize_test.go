package gql_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// manyErrors are documents just under the 64 KiB document limit that each cause thousands
// of validation errors; without a bound their answers were 14–39 times their size.
func manyErrors() map[string]string {
	build := func(open, close string, part func(int) string) string {
		var b strings.Builder
		b.WriteString(open)
		for i := 0; b.Len() < 60000; i++ {
			b.WriteString(part(i))
		}
		return b.String() + close
	}
	return map[string]string{
		"undefined fields":  build("{", "}", func(i int) string { return fmt.Sprintf(" a%d", i) }),
		"unused variables":  build("query(", ") { __typename }", func(i int) string { return fmt.Sprintf("$v%d: Int ", i) }),
		"unknown arguments": build("{ listGroupsByDomain(", ") { id } }", func(i int) string { return fmt.Sprintf("x%d: 1 ", i) }),
		"unknown fragments": build("{ ", "}", func(i int) string { return fmt.Sprintf("...F%d ", i) }),
		"a long name":       "{ " + strings.Repeat("n", 60000) + " }",
	}
}

// Issue 20, item 11: an error answer is bounded like any other: at most MESH_MAX_ERRORS
// errors (the rest counted in one last error) of at most 1 KiB of message each, over HTTP and
// in a WebSocket start's error frame.
func TestErrorAnswersAreBounded(t *testing.T) {
	e := startRT(t)
	c := initialised(t, e)
	const bound = 128 << 10 // 100 errors of at most 1 KiB of message and their locations
	for name, doc := range manyErrors() {
		t.Run(name, func(t *testing.T) {
			r := e.do(t, doc, nil)
			if len(r.Raw) > bound || len(r.Errors) > 101 || len(r.Errors) == 0 {
				t.Fatalf("a %d-byte document got a %d-byte answer with %d errors", len(doc), len(r.Raw), len(r.Errors))
			}
			for _, err := range r.Errors {
				if msg, _ := err["message"].(string); len(msg) > 1024 {
					t.Fatalf("a message of %d bytes: %.200s…", len(msg), msg)
				}
			}
			if len(r.Errors) == 101 {
				if msg, _ := r.Errors[100]["message"].(string); !strings.Contains(msg, "more errors are not shown; at most 100 are (MESH_MAX_ERRORS)") {
					t.Fatalf("the last error does not count the rest: %q", msg)
				}
			}
			c.start("s", doc, nil, "")
			var frame []byte
			var f struct {
				Type    string
				Payload struct{ Errors []json.RawMessage }
			}
			for f.Type == "" || f.Type == "ka" {
				c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				var err error
				if _, frame, err = c.ws.ReadMessage(); err != nil {
					t.Fatal(err)
				}
				f.Type = ""
				if err := json.Unmarshal(frame, &f); err != nil {
					t.Fatal(err)
				}
			}
			if f.Type != "error" || len(frame) > bound || len(f.Payload.Errors) > 101 {
				t.Fatalf("start: a %d-byte %q frame with %d errors", len(frame), f.Type, len(f.Payload.Errors))
			}
		})
	}
}
