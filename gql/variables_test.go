package gql_test

import (
	"encoding/json"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/smalruby/meshd/gql"
)

// nested is n objects inside each other under the variable name, about 6 bytes each.
func nested(name string, n int) string {
	return `{"` + name + `":` + strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) + "}"
}

// Issue 20, item 4: variables are measured before they are decoded: too deep, too many values
// or too long is refused with a document error naming the setting, over HTTP and in starts of
// both WebSocket dialects; a variable the document does not name is never decoded.
func TestVariablesAreBoundedBeforeTheyAreDecoded(t *testing.T) {
	e := startRT(t, func(c *gql.Config) { c.MaxRequestBytes = 4 << 20 })
	const doc = `query($d: String!) { listGroupsByDomain(domain: $d) { id } }`
	many := `{"d":"x","v":[` + strings.Repeat(`1,`, 20000) + `1]}`
	tests := []struct {
		name, vars, want string
	}{
		{"deep", nested("d", 5_000), "MESH_MAX_VARIABLE_DEPTH"},
		{"deep and unused", nested("unused", 5_000), "MESH_MAX_VARIABLE_DEPTH"},
		{"many values", many, "MESH_MAX_VARIABLE_VALUES"},
		{"long", `{"d":"` + strings.Repeat("x", 1200<<10) + `"}`, "MESH_MAX_VARIABLE_BYTES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"query":` + quote(doc) + `,"variables":` + tt.vars + `}`
			r := e.raw(t, "POST", e.URL, body, nil)
			if _, msg := r.gqlErr(); r.Status != 200 || !strings.HasPrefix(msg, "Validation error of type QueryComplexity: ") || !strings.Contains(msg, tt.want) {
				t.Fatalf("HTTP: want a QueryComplexity error naming %s, got %d %.300s", tt.want, r.Status, r.Raw)
			}
		})
	}
	// In a start, of either dialect, the frame limit comes first; within it the same bounds hold.
	sub := `subscription($groupId: ID!, $domain: String!) { onGroupDissolve(groupId: $groupId, domain: $domain) { groupId } }`
	deep := `{"groupId":"g","domain":"d","x":` + strings.Repeat("[", 1_000) + strings.Repeat("]", 1_000) + `}`
	c := initialised(t, e)
	data, _ := json.Marshal(map[string]any{"query": sub, "variables": json.RawMessage(deep)})
	c.send(map[string]any{"id": "deep", "type": "start", "payload": map[string]any{"data": string(data), "extensions": map[string]any{"authorization": map[string]any{"host": "h"}}}})
	if f := c.next(); f["type"] != "error" || !strings.Contains(str(f, "payload", "errors", 0, "message"), "MESH_MAX_VARIABLE_DEPTH") {
		t.Fatalf("AppSync start: %.300v", f)
	}
	tw := e.transportWS(t)
	tw.send(map[string]any{"id": "deep", "type": "subscribe", "payload": map[string]any{"query": sub, "variables": json.RawMessage(deep)}})
	if f := tw.next(); f["type"] != "error" || !strings.Contains(str(f, "payload", 0, "message"), "MESH_MAX_VARIABLE_DEPTH") {
		t.Fatalf("graphql-transport-ws subscribe: %.300v", f)
	}
	// A variable the document does not name is skipped, whatever it holds.
	body := `{"query":` + quote(doc) + `,"variables":{"d":"x","unused":{"a":[1,2,3]}}}`
	if r := e.raw(t, "POST", e.URL, body, nil); r.Status != 200 || len(r.Errors) > 0 {
		t.Fatalf("an unused variable: %d %.300s", r.Status, r.Raw)
	}
}

// Issue 20, item 4: 64 requests at once with the most nesting the limits let through cost
// a bounded amount of heap, and it is all returned afterwards (measured in bytes, not time).
func TestABurstOfNestedVariablesCostsLittleAndLeavesNothing(t *testing.T) {
	e := start(t)
	// $v is named (in a comment), so it is decoded; graphql-go then ignores it.
	const doc = "query($d: String!) { listGroupsByDomain(domain: $d) { id } } # $v"
	vars := `{"d":"x","v":[` + strings.Repeat(`[1,[2,[3,[4,{"a":5}]]]],`, 800) + `1]}` // ~9,600 values: under the limit
	body := `{"query":` + quote(doc) + `,"variables":` + vars + `}`
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	spent := measure(t, func() {
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				if r := e.raw(t, "POST", e.URL, body, nil); r.Status != 200 || len(r.Errors) > 0 {
					t.Errorf("%d %.200s", r.Status, r.Raw)
				}
			})
		}
		wg.Wait()
	})
	// Before the bound, one request of 1 MiB of nested objects cost ~45 MB and 64 held 3.1 GB.
	spent.atMost(t, "64 requests with 20 KB of nested variables", cost{bytes: 512 << 20, objects: 10_000_000, goroutines: 2_000})
	if after := heap(); after > before+32<<20 {
		t.Fatalf("the heap grew from %d MB to %d MB and stayed", before>>20, after>>20)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
