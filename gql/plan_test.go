package gql

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	graphql "github.com/graph-gophers/graphql-go"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
	"github.com/smalruby/meshd/gql/plan"
)

// twin is two identical meshd API layers over two brokers that receive the same calls at the
// same (frozen) time: a document runs through graphql-go on a and through its plan on b.
type twin struct {
	a, b    *Server
	ba, bb  *brokertest.Broker
	planned map[string]int // root field → requests the plan answered
	// bound counts, by root field, the planned requests whose variables were bound straight
	// from their JSON text.
	bound map[string]int
}

func newTwin(t testing.TB) *twin {
	tw := &twin{planned: map[string]int{}, bound: map[string]int{}}
	for _, dst := range []struct {
		s **Server
		b **brokertest.Broker
	}{{&tw.a, &tw.ba}, {&tw.b, &tw.bb}} {
		tb := brokertest.New(t, brokertest.Options{})
		s, err := New(tb.Broker, Config{DomainMode: broker.DomainFixed, Secret: "s", RequestTimeout: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		*dst.s, *dst.b = s, tb
	}
	return tw
}

// both applies the same broker call to both sides and checks they agree.
func (tw *twin) both(t testing.TB, f func(b *broker.Broker) error) {
	t.Helper()
	ea, eb := f(tw.ba.Broker), f(tw.bb.Broker)
	if fmt.Sprint(ea) != fmt.Sprint(eb) {
		t.Fatalf("the twins diverged: %v / %v", ea, eb)
	}
}

// trickyStrings are values whose encodings differ between careless encoders: HTML
// characters, quotes, control characters, non-ASCII, line separators, empty.
var trickyStrings = []string{"", "plain", `quote " and \ backslash`, "<b>&amp;</b>", "tab\tnew\nline\r", "\x01\x1f", "ユーザー 名前", "😀 emoji", "\u2028\u2029", "'single'", "</script>"}

func tricky(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return fmt.Sprintf("v%d", r.IntN(1000))
	}
	return trickyStrings[r.IntN(len(trickyStrings))]
}

// classroom fills a new group on both sides: a host, members, statuses and events.
type classroom struct{ group, domain, host string }

func (tw *twin) classroom(t testing.TB, r *rand.Rand, n int, plain bool) classroom {
	t.Helper()
	ctx := context.Background()
	c := classroom{domain: fmt.Sprintf("dom%d", n), host: fmt.Sprintf("host%d", n)}
	if r.IntN(4) == 0 && !plain {
		c.domain = "dömain <&> " + c.domain
	}
	var ids [2]string
	in := broker.CreateGroupInput{Name: "room " + tricky(r), HostID: c.host, Domain: c.domain, UseWebSocket: r.IntN(2) == 0}
	for i, b := range []*broker.Broker{tw.ba.Broker, tw.bb.Broker} {
		g, err := b.CreateGroup(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = g.ID
	}
	if ids[0] != ids[1] {
		t.Fatalf("group ids differ: %s %s", ids[0], ids[1])
	}
	c.group = ids[0]
	seed := r.Uint64()
	tw.both(t, func(b *broker.Broker) error {
		r := rand.New(rand.NewPCG(seed, 1))
		for m := range 1 + r.IntN(5) {
			node := fmt.Sprintf("node%d-%d", n, m)
			if _, _, err := b.JoinGroup(ctx, c.group, c.domain, node); err != nil {
				return err
			}
			if r.IntN(4) > 0 {
				if _, err := b.ReportData(c.group, c.domain, node, pairs(r)); err != nil {
					return err
				}
			}
			if r.IntN(2) == 0 {
				if _, err := b.RecordEvents(c.group, c.domain, node, eventsIn(r)); err != nil {
					return err
				}
			}
		}
		_, err := b.ReportData(c.group, c.domain, c.host, pairs(r))
		return err
	})
	return c
}

func pairs(r *rand.Rand) []broker.Pair {
	out := make([]broker.Pair, r.IntN(4))
	for i := range out {
		out[i] = broker.Pair{Key: tricky(r), Value: tricky(r)}
	}
	return out
}

func eventsIn(r *rand.Rand) []broker.EventInput {
	out := make([]broker.EventInput, 1+r.IntN(3))
	for i := range out {
		out[i] = broker.EventInput{Name: tricky(r), FiredAt: brokertest.Epoch}
		if r.IntN(2) == 0 {
			p := tricky(r)
			out[i].Payload = &p
		}
		if r.IntN(2) == 0 {
			k := tricky(r)
			out[i].OrderKey = &k
		}
	}
	return out
}

// run executes one request on both sides and fails on any difference in data or errors.
// The plan's side gets the variables as JSON text, as over HTTP: bound straight into the
// plan's arguments where BindJSON accepts them, decoded otherwise.
func (tw *twin) run(t testing.TB, doc, opName string, vars map[string]any) {
	t.Helper()
	raw, _ := json.Marshal(vars)
	decode := func() map[string]any {
		var v map[string]any
		_ = json.Unmarshal(raw, &v)
		return v
	}
	ctx := context.Background()
	ra := tw.a.schema.Exec(ctx, doc, opName, decode())
	req := request{Query: doc, OperationName: opName, RawVariables: raw}
	if refused, _ := tw.b.bindVariables(&req); refused != nil {
		t.Fatalf("variables %s refused: %v", raw, refused)
	}
	data, errs, ok := tw.b.execPlanned(ctx, req, false)
	if ok {
		field := plan.Scan(doc).Plan(opName).Field()
		tw.planned[field]++
		if req.args != nil {
			tw.bound[field]++
		}
	} else {
		rb := tw.b.schema.Exec(ctx, doc, opName, decode())
		data, errs = rb.Data, rb.Errors
	}
	wantErr, _ := json.Marshal(ConvertErrors(ra.Errors))
	gotErr, _ := json.Marshal(ConvertErrors(errs))
	if string(orNull(ra.Data)) != string(orNull(data)) || string(wantErr) != string(gotErr) {
		t.Fatalf("plan (%v) differs from graphql-go for %s %s\ngraphql-go: %s %s\nplan:       %s %s",
			ok, opName, raw, orNull(ra.Data), wantErr, orNull(data), gotErr)
	}
}

// variants are the variables a document is tried with: as the client sends them, then
// with tricky and wrong values.
func variants(r *rand.Rand, base map[string]any, c classroom) []map[string]any {
	out := []map[string]any{base}
	for k := range base {
		for _, repl := range []any{nil, float64(7), tricky(r), "ghost", c.group, []any{}, map[string]any{}} {
			m := clone(base)
			m[k] = repl
			out = append(out, m)
		}
		m := clone(base)
		delete(m, k)
		out = append(out, m)
		switch k {
		case "data":
			for range 3 {
				m := clone(base)
				items := []any{}
				for range r.IntN(4) {
					items = append(items, map[string]any{"key": tricky(r), "value": tricky(r)})
				}
				m[k] = items
				out = append(out, m)
			}
			m := clone(base)
			m[k] = []any{map[string]any{"key": "k", "value": "v", "extra": "x"}}
			out = append(out, m)
			m = clone(base)
			m[k] = map[string]any{"key": "k", "value": "v"}
			out = append(out, m)
		case "events":
			for range 3 {
				m := clone(base)
				items := []any{}
				for range 1 + r.IntN(3) {
					ev := map[string]any{"eventName": tricky(r), "firedAt": broker.FormatTime(brokertest.Epoch)}
					if r.IntN(2) == 0 {
						ev["payload"] = tricky(r)
					}
					if r.IntN(3) == 0 {
						ev["orderKey"] = nil
					} else if r.IntN(2) == 0 {
						ev["orderKey"] = tricky(r)
					}
					items = append(items, ev)
				}
				m[k] = items
				out = append(out, m)
			}
			for _, bad := range []map[string]any{
				{"eventName": "e", "firedAt": "yesterday"},
				{"eventName": "e", "firedAt": broker.FormatTime(brokertest.Epoch), "extra": 1},
				{"eventName": 5, "firedAt": broker.FormatTime(brokertest.Epoch)},
				{"firedAt": broker.FormatTime(brokertest.Epoch)},
			} {
				m := clone(base)
				m[k] = []any{bad}
				out = append(out, m)
			}
		}
	}
	return out
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

type manifestDoc struct {
	File          string         `json:"file"`
	OperationName *string        `json:"operationName"`
	Kind          string         `json:"kind"`
	Variables     map[string]any `json:"variables"`
}

func manifest(t testing.TB) []manifestDoc {
	raw, err := os.ReadFile(filepath.Join("testdata", "documents", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var docs []manifestDoc
	if err := json.Unmarshal(raw, &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

func (d manifestDoc) text(t testing.TB) string {
	b, err := os.ReadFile(filepath.Join("testdata", "documents", d.File))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (d manifestDoc) opName() string {
	if d.OperationName == nil {
		return ""
	}
	return *d.OperationName
}

func fill(v any, c classroom, node string) any {
	switch x := v.(type) {
	case string:
		return strings.NewReplacer("$GROUP_ID", c.group, "$DOMAIN", c.domain, "$NODE_ID", node, "$HOST_ID", c.host, "$HOST_PREFIX", c.host[:4]).Replace(x)
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = fill(e, c, node)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fill(e, c, node)
		}
		return out
	}
	return v
}

// TestPlanMatchesGraphqlGo runs every query and mutation document of every client
// generation, over generated classrooms and variables, through graphql-go and through the
// plan: data and errors must be byte for byte the same, and the brokers must end alike.
func TestPlanMatchesGraphqlGo(t *testing.T) {
	tw := newTwin(t)
	r := rand.New(rand.NewPCG(16, 16))
	n := 0
	for _, d := range manifest(t) {
		if d.Kind == "subscription" {
			continue
		}
		doc := d.text(t)
		for range 2 {
			n++
			c := tw.classroom(t, r, n, false)
			node := fmt.Sprintf("node%d-0", n)
			if strings.Contains(strings.ToLower(d.File), "heartbeat") && strings.Contains(d.File, "Renew") {
				node = c.host
			}
			base, _ := fill(d.Variables, c, node).(map[string]any)
			for _, vars := range variants(r, base, c) {
				tw.run(t, doc, d.opName(), vars)
			}
			// What the mutations did, read back through graphql-go on both sides.
			tw.same(t, c)
		}
	}
	t.Logf("planned: %v, bound from JSON text: %v", tw.planned, tw.bound)
	for _, root := range []string{"listGroupStatuses", "getEventsSince", "pollGroupData", "renewHeartbeat", "sendMemberHeartbeat", "reportDataByNode", "fireEventsByNode", "recordEventsByNode"} {
		if tw.planned[root] == 0 {
			t.Errorf("no %s request went through a plan", root)
		}
		if tw.bound[root] == 0 {
			t.Errorf("no %s request had its variables bound from their text", root)
		}
	}
}

// same reads both sides' state of a classroom through graphql-go and checks they agree.
func (tw *twin) same(t testing.TB, c classroom) {
	t.Helper()
	const doc = `query($groupId: ID!, $domain: String!) {
  listGroupStatuses(groupId: $groupId, domain: $domain) { nodeId data { key value } timestamp }
  getEventsSince(groupId: $groupId, domain: $domain, since: "") { name payload orderKey firedByNodeId cursor }
}`
	vars := map[string]any{"groupId": c.group, "domain": c.domain}
	ra := tw.a.schema.Exec(context.Background(), doc, "", clone(vars))
	rb := tw.b.schema.Exec(context.Background(), doc, "", clone(vars))
	if string(ra.Data) != string(rb.Data) || len(ra.Errors) != len(rb.Errors) {
		t.Fatalf("the brokers diverged:\n%s %v\n%s %v", ra.Data, ra.Errors, rb.Data, rb.Errors)
	}
}

// TestPlannedSubscriptionsMatchGraphqlGo subscribes with every subscription document through
// graphql-go on one side and through the plan on the other, publishes the same messages on
// both, and compares every payload.
func TestPlannedSubscriptionsMatchGraphqlGo(t *testing.T) {
	tw := newTwin(t)
	r := rand.New(rand.NewPCG(3, 4))
	ctx := t.Context()
	n := 0
	for _, d := range manifest(t) {
		if d.Kind != "subscription" {
			continue
		}
		n++
		doc := d.text(t)
		literal := len(d.Variables) == 0
		c := tw.classroom(t, r, n, literal)
		vars := fill(d.Variables, c, "").(map[string]any)
		if literal {
			// Upstream's examples name their group in the document: name ours instead.
			doc = regexp.MustCompile(`groupId: "[^"]*"`).ReplaceAllString(doc, `groupId: "`+c.group+`"`)
			doc = regexp.MustCompile(`domain: "[^"]*"`).ReplaceAllString(doc, `domain: "`+c.domain+`"`)
		}
		results, err := tw.a.schema.Subscribe(ctx, doc, d.opName(), clone(vars))
		if err != nil {
			t.Fatal(err)
		}
		p := tw.b.planOf(request{Query: doc, OperationName: d.opName(), Variables: vars})
		if p == nil || !p.Subscription() {
			t.Fatalf("%s: no plan", d.File)
		}
		a, ok := p.Bind(vars)
		if !ok {
			t.Fatalf("%s: variables refused", d.File)
		}
		planned := make(chan []byte, 64)
		domain, group := a.Group()
		cancel, err := tw.bb.Subscribe(domain, group, func(m *broker.Message) {
			p.Render(m, func(payload []byte, _ bool) {
				planned <- append([]byte(nil), payload...)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		seed := r.Uint64()
		var events int
		tw.both(t, func(b *broker.Broker) error {
			r := rand.New(rand.NewPCG(seed, 2))
			events = 0
			for range 3 {
				if _, err := b.ReportData(c.group, c.domain, c.host, pairs(r)); err != nil {
					return err
				}
				in := eventsIn(r)
				events += len(in)
				if _, err := b.FireEvents(c.group, c.domain, c.host, in); err != nil {
					return err
				}
			}
			_, err := b.DissolveGroup(ctx, c.group, c.domain, c.host)
			return err
		})
		expect := map[string]int{"onMessageInGroup": 7, "onDataUpdateInGroup": 3, "onBatchEventInGroup": 3, "onGroupDissolve": 1, "onEventInGroup": events}[p.Field()]
		var want, got []string
		timeout := time.After(10 * time.Second)
		for len(want) < expect || len(got) < expect {
			select {
			case res := <-results:
				gr := res.(*graphql.Response)
				payload, _ := json.Marshal(response{Data: orNull(gr.Data), Errors: ConvertErrors(gr.Errors)})
				want = append(want, string(payload))
			case payload := <-planned:
				got = append(got, string(payload))
			case <-timeout:
				t.Fatalf("%s: %d payloads through graphql-go, %d through the plan, want %d", d.File, len(want), len(got), expect)
			}
		}
		cancel()
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Fatalf("%s: plan differs from graphql-go\ngraphql-go:\n%s\nplan:\n%s", d.File, strings.Join(want, "\n"), strings.Join(got, "\n"))
		}
	}
}

// FuzzPlan feeds arbitrary documents and variables to both sides: the plan compiler must
// never panic, and whatever it runs must answer as graphql-go does.
func FuzzPlan(f *testing.F) {
	for _, d := range manifest(f) {
		vars, _ := json.Marshal(d.Variables)
		f.Add(d.text(f), d.opName(), string(vars))
	}
	tw := newTwin(f)
	c := tw.classroom(f, rand.New(rand.NewPCG(1, 2)), 1, true)
	f.Fuzz(func(t *testing.T, doc, opName, rawVars string) {
		var vars map[string]any
		if json.Unmarshal([]byte(rawVars), &vars) != nil {
			return
		}
		vars, _ = fill(vars, c, "node1-0").(map[string]any)
		tw.run(t, doc, opName, vars)
	})
}
