package gql_test

import (
	"fmt"
	"net/url"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/smalruby/meshd/gql"
)

// cost is the work the process did — server and client, both in this process — while f
// ran, in counts the Go runtime keeps: bytes and objects allocated on the heap and goroutines
// started. Counts, unlike CPU or wall time, do not grow when the machine is busy.
type cost struct {
	bytes, objects, goroutines uint64
}

func measure(t *testing.T, f func()) cost {
	t.Helper()
	goroutines := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	read := func() cost {
		// ReadMemStats flushes every P's allocation counts, so the numbers are exact.
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		metrics.Read(goroutines)
		if goroutines[0].Value.Kind() != metrics.KindUint64 {
			t.Fatalf("runtime metric %s is not supported", goroutines[0].Name)
		}
		return cost{m.TotalAlloc, m.Mallocs, goroutines[0].Value.Uint64()}
	}
	before := read()
	f()
	after := read()
	return cost{after.bytes - before.bytes, after.objects - before.objects, after.goroutines - before.goroutines}
}

// atMost fails the test when c exceeds the bounds. The bounds hold under -race with room to
// spare; the attacks they guard against cost gigabytes and tens of millions of objects
// without limits.
func (c cost) atMost(t *testing.T, what string, bound cost) {
	t.Helper()
	t.Logf("%s: %d KB in %d objects allocated, %d goroutines started", what, c.bytes>>10, c.objects, c.goroutines)
	if c.bytes > bound.bytes || c.objects > bound.objects || c.goroutines > bound.goroutines {
		t.Fatalf("%s cost %d KB in %d objects and %d goroutines, want at most %d KB, %d objects and %d goroutines",
			what, c.bytes>>10, c.objects, c.goroutines, bound.bytes>>10, bound.objects, bound.goroutines)
	}
}

// docError is the message of a document error (no errorType, "Validation error of type …").
func docError(t *testing.T, r result, rule string) string {
	t.Helper()
	typ, msg := r.gqlErr()
	if r.Status != 200 || typ != "" || !strings.HasPrefix(msg, "Validation error of type "+rule+":") || len(r.Data) > 0 {
		t.Fatalf("want a %s document error, got status %d: %.400s", rule, r.Status, r.Raw)
	}
	return msg
}

// Finding 1: graphql-go compares every pair of same-named fields; without a limit 6,000
// repeats of one field in an 18 KB query cost about 20 s of CPU and gigabytes.
func TestRepeatedFieldsStopAtTheOverlapLimit(t *testing.T) {
	e := start(t)
	q := `{ listGroupsByDomain(domain: "x") {` + strings.Repeat(" id", 6000) + " } }"
	var r result
	measure(t, func() { r = e.do(t, q, nil) }).atMost(t, "6,000 repeated fields", cost{bytes: 256 << 20, objects: 500_000, goroutines: 1_000})
	docError(t, r, "OverlapValidationLimitExceeded")
	// The same document again is answered from the verdict, without validating it again.
	var again result
	measure(t, func() { again = e.do(t, q, nil) }).atMost(t, "the same document again", cost{bytes: 16 << 20, objects: 20_000, goroutines: 100})
	if again.Raw != r.Raw {
		t.Fatalf("second answer differs: %.300s", again.Raw)
	}
}

// Finding 2: 90 aliases of the whole introspection multiply a 6 KB query into tens of
// megabytes. Without the limit it allocates about 1.9 million objects and 105 MB; at a limit
// of 64 KB it stops at a fraction of that (graphql-go runs the aliases side by side, so how
// far each got when the limit was met varies).
func TestAliasedIntrospectionStopsAtTheResponseLimit(t *testing.T) {
	e := start(t, func(c *gql.Config) {
		c.Limits.MaxResponseBytes = 64 << 10
		c.Limits.MaxSelections = 1 << 20 // so that the response limit is the one met
	})
	var b strings.Builder
	b.WriteString("{")
	for i := range 90 {
		fmt.Fprintf(&b, " s%d: __schema { types { name description fields { name description args { name type { name kind ofType { name } } } type { name kind ofType { name kind } } } } }", i)
	}
	b.WriteString("}")
	var r result
	measure(t, func() { r = e.do(t, b.String(), nil) }).atMost(t, "aliased introspection", cost{bytes: 64 << 20, objects: 1_000_000, goroutines: 60_000})
	typ, msg := r.gqlErr()
	if typ != "ValidationError" || !strings.Contains(msg, "MESH_MAX_RESPONSE_BYTES") || len(r.Raw) > 4096 {
		t.Fatalf("want one ValidationError naming MESH_MAX_RESPONSE_BYTES, got %.400s", r.Raw)
	}
	// One copy of it is a normal answer.
	one := strings.SplitAfterN(b.String(), "} } } } }", 2)[0] + "}"
	if r := e.do(t, one, nil); len(r.Errors) > 0 || r.Data["s0"] == nil {
		t.Fatalf("one introspection: %.300s", r.Raw)
	}
}

// bigStatus stores a 0.9 MB status in a new group and returns the group's id.
func bigStatus(t *testing.T, e *env) string {
	t.Helper()
	id := e.group(t, "host", "d1")
	var data []map[string]any
	for i := range 15 {
		data = append(data, map[string]any{"key": fmt.Sprintf("k%d", i), "value": strings.Repeat("v", 60000)})
	}
	e.ok(t, `mutation($g: ID!, $data: [SensorDataInput!]!) { reportDataByNode(groupId: $g, domain: "d1", nodeId: "n1", data: $data) { groupId } }`, map[string]any{"g": id, "data": data})
	return id
}

// Finding 2: fragments that select a 0.9 MB status again and again multiply it.
func TestFragmentsOverALargeStatusStopAtTheResponseLimit(t *testing.T) {
	e := start(t)
	id := bigStatus(t, e)
	var b strings.Builder
	b.WriteString(`query($g: ID!) {`)
	for i := range 9 {
		fmt.Fprintf(&b, ` s%d: listGroupStatuses(groupId: $g, domain: "d1") { ...F }`, i)
	}
	b.WriteString(` } fragment F on NodeStatus {`)
	for i := range 9 {
		fmt.Fprintf(&b, ` d%d: data { ...V }`, i)
	}
	b.WriteString(` } fragment V on SensorData { key value }`)
	var r result
	measure(t, func() { r = e.do(t, b.String(), map[string]any{"g": id}) }).atMost(t, "81 selections of a 0.9 MB status", cost{bytes: 64 << 20, objects: 100_000, goroutines: 1_000})
	if typ, msg := r.gqlErr(); typ != "ValidationError" || !strings.Contains(msg, "MESH_MAX_RESPONSE_BYTES") {
		t.Fatalf("want the response limit, got %.400s", r.Raw)
	}
	// The editor's own query of the same status is answered.
	if r := e.do(t, listStatuses, map[string]any{"groupId": id, "domain": "d1"}); len(r.Errors) > 0 || len(r.Raw) < 900000 {
		t.Fatalf("listGroupStatuses: %.300s", r.Raw)
	}
}

// Fragments that spread each other twice expand exponentially (graphql-go's own default
// allows 100,000 selections).
func TestFragmentExpansionIsBounded(t *testing.T) {
	e := start(t)
	var b strings.Builder
	b.WriteString(`{ listGroupsByDomain(domain: "d") { ...F0 } }`)
	for i := range 12 {
		fmt.Fprintf(&b, ` fragment F%d on Group { id ...F%d ...F%d }`, i, i+1, i+1)
	}
	b.WriteString(` fragment F12 on Group { id name }`)
	var r result
	measure(t, func() { r = e.do(t, b.String(), nil) }).atMost(t, "2^12 fragment expansion", cost{bytes: 256 << 20, objects: 1_000_000, goroutines: 10_000})
	_, msg := r.gqlErr()
	if !strings.Contains(msg, "MESH_MAX_SELECTIONS") && !strings.Contains(msg, "OverlapValidationLimitExceeded") {
		t.Fatalf("want the selection or overlap limit, got %.400s", r.Raw)
	}
}

func TestAliasLimit(t *testing.T) {
	e := start(t)
	var b strings.Builder
	b.WriteString(`{ listGroupsByDomain(domain: "x") {`)
	for i := range 2000 {
		fmt.Fprintf(&b, " a%d: id", i)
	}
	b.WriteString(" } }")
	var r result
	measure(t, func() { r = e.do(t, b.String(), nil) }).atMost(t, "2,000 aliases", cost{bytes: 64 << 20, objects: 50_000, goroutines: 1_000})
	if msg := docError(t, r, "QueryComplexity"); !strings.Contains(msg, "MESH_MAX_ALIASES") {
		t.Fatalf("message %q does not name the setting", msg)
	}
}

// Finding 4: meshd's own lexer skipped non-ASCII bytes and took this for a query; graphql-go's
// parse, which decides, sees a mutation.
func TestMutationOverGETIsRefusedWhateverItsName(t *testing.T) {
	e := start(t)
	for _, q := range []string{
		`mutation ñ { createGroup(name: "g", hostId: "h", domain: "d1", useWebSocket: true) { id } }`,
		"mutation \u00e9t\u00e9 { createGroup(name: \"g\", hostId: \"h\", domain: \"d1\", useWebSocket: true) { id } }",
		"\ufeffmutation { createGroup(name: \"g\", hostId: \"h\", domain: \"d1\", useWebSocket: true) { id } }",
	} {
		u := e.URL + "?query=" + url.QueryEscape(q)
		if name := strings.Fields(q)[1]; name != "{" {
			u += "&operationName=" + url.QueryEscape(name)
		}
		var r result
		measure(t, func() { r = e.raw(t, "GET", u, "", nil) }).atMost(t, "GET mutation", cost{bytes: 16 << 20, objects: 20_000, goroutines: 100})
		if r.Status != 200 || !strings.Contains(r.Raw, "only queries can be sent with GET") {
			t.Fatalf("%q: %d %s", q, r.Status, r.Raw)
		}
	}
	if got := e.ok(t, `{ listGroupsByDomain(domain: "d1") { id } }`, nil); len(field(got, "listGroupsByDomain").([]any)) != 0 {
		t.Fatalf("a GET created a group: %v", got)
	}
}

// Finding 9: a request past its deadline is an ExecutionTimeout, not a syntax error.
func TestTimeoutIsReportedAsATimeout(t *testing.T) {
	e := start(t, func(c *gql.Config) { c.RequestTimeout = time.Nanosecond })
	r := e.do(t, `{ listGroupsByDomain(domain: "d1") { id } }`, nil)
	if typ, msg := r.gqlErr(); typ != "ExecutionTimeout" || strings.Contains(msg, "InvalidSyntax") {
		t.Fatalf("want ExecutionTimeout, got %s", r.Raw)
	}
}

// Finding 9: messages name GraphQL types, never Go's.
func TestMessagesCarryNoGoTypeNames(t *testing.T) {
	e := start(t)
	for _, c := range []struct {
		query string
		vars  map[string]any
	}{
		{`query($l: Int) { searchGroupsByNamePrefix(namePrefix: "a", limit: $l) { id } }`, map[string]any{"l": 1.5}},
		{`query($l: Int) { searchGroupsByNamePrefix(namePrefix: "a", limit: $l) { id } }`, map[string]any{"l": map[string]any{"a": 1}}},
		{`query($d: String) { listGroupsByDomain(domain: $d) { id } }`, map[string]any{"d": []any{1}}},
		{`query($d: String!) { listGroupsByDomain(domain: $d) { id } }`, map[string]any{"d": true}},
	} {
		r := e.do(t, c.query, c.vars)
		_, msg := r.gqlErr()
		if msg == "" {
			t.Fatalf("%v: no error: %s", c.vars, r.Raw)
		}
		for _, goType := range []string{"float64", "int32", "map[", "[]interface", "interface {}", "bool)", "string)", "(bool", "*"} {
			if strings.Contains(msg, goType) {
				t.Fatalf("%v: message %q names a Go type (%s)", c.vars, msg, goType)
			}
		}
	}
}

// The editor's documents stay far below every limit (checked against their real text).
func TestEditorDocumentsMeetNoLimit(t *testing.T) {
	e := start(t, func(c *gql.Config) {
		// A tenth of every default: the editor's documents still pass.
		c.Limits = gql.Limits{MaxOverlapPairs: 100, MaxSelections: 100, MaxAliases: 1, MaxDepth: 8, MaxQueryBytes: 4096, MaxErrors: 10}
	})
	for _, d := range loadDocuments(t) {
		if d.Kind == "subscription" {
			continue
		}
		r := e.do(t, d.text(t), nil)
		if strings.Contains(r.Raw, "QueryComplexity") || strings.Contains(r.Raw, "OverlapValidationLimit") || strings.Contains(r.Raw, "MaxDepth") || strings.Contains(r.Raw, "MESH_MAX") {
			t.Fatalf("%s meets a limit: %.300s", d.File, r.Raw)
		}
	}
}

// Finding 2: a subscription aliasing data { value } multiplies every report into a frame
// many times its size; the frame limit answers that message with one error instead.
func TestSubscriptionFrameStopsAtTheFrameLimit(t *testing.T) {
	e := startRT(t)
	id := e.group(t, "host", "d1")
	c := e.appsync(t, "")
	c.send(map[string]string{"type": "connection_init"})
	c.expect("connection_ack")
	var b strings.Builder
	b.WriteString(`subscription($g: ID!) { onMessageInGroup(groupId: $g, domain: "d1") { nodeStatus {`)
	for i := range 90 {
		fmt.Fprintf(&b, " d%d: data { value }", i)
	}
	b.WriteString(" } } }")
	c.start("big", b.String(), map[string]any{"g": id}, "")
	c.expect("start_ack")
	c.start("normal", onMessage, map[string]any{"groupId": id, "domain": "d1"}, "")
	c.expect("start_ack")
	data := []map[string]any{{"key": "k", "value": strings.Repeat("v", 30000)}}
	frames := map[string]map[string]any{}
	measure(t, func() {
		e.ok(t, `mutation($g: ID!, $data: [SensorDataInput!]!) { reportDataByNode(groupId: $g, domain: "d1", nodeId: "n1", data: $data) { groupId } }`, map[string]any{"g": id, "data": data})
		for len(frames) < 2 {
			f := c.expect("data")
			frames[f["id"].(string)] = f
		}
	}).atMost(t, "a 30 KB report to 90 aliases", cost{bytes: 64 << 20, objects: 100_000, goroutines: 1_000})
	if typ := str(frames["big"], "payload", "errors", 0, "errorType"); typ != "ValidationError" || !strings.Contains(str(frames["big"], "payload", "errors", 0, "message"), "MESH_MAX_SUBSCRIPTION_FRAME_BYTES") {
		t.Fatalf("big frame %.300v", frames["big"])
	}
	if v := str(frames["normal"], "payload", "data", "onMessageInGroup", "nodeStatus", "data", 0, "value"); len(v) != 30000 {
		t.Fatalf("normal frame lost its value: %.300v", frames["normal"])
	}
}
