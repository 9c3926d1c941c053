package gql_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/smalruby/meshd/gql"
)

// grammar builds GraphQL documents from fuzz bytes: every production the schema allows —
// fields, aliases, fragment definitions and spreads, inline fragments, introspection,
// nesting and long repetitions — chosen byte by byte, so that the fuzzer searches the space
// of valid and nearly valid documents rather than of random text.
type grammar struct {
	in      []byte
	pos     int
	aliases int
	defs    map[string]string // fragment name → definition, for every fragment spread
	order   []string
}

func (g *grammar) byte() int {
	if g.pos >= len(g.in) {
		return 0
	}
	b := g.in[g.pos]
	g.pos++
	return int(b)
}

func (g *grammar) pick(n int) int { return g.byte() % n }

// types maps each object type the generator uses to its fields: a field with a type selects
// into it, one without is a leaf.
var types = map[string][][2]string{
	"Query":        {{"listGroupStatuses(groupId: $g, domain: \"d1\")", "NodeStatus"}, {"listGroupsByDomain(domain: \"d1\")", "Group"}, {"getGroup(groupId: $g, domain: \"d1\")", "Group"}, {"__schema", "__Schema"}},
	"NodeStatus":   {{"nodeId", ""}, {"groupId", ""}, {"domain", ""}, {"timestamp", ""}, {"data", "SensorData"}},
	"SensorData":   {{"key", ""}, {"value", ""}},
	"Group":        {{"id", ""}, {"domain", ""}, {"fullId", ""}, {"name", ""}, {"hostId", ""}, {"createdAt", ""}, {"expiresAt", ""}, {"heartbeatIntervalSeconds", ""}, {"useWebSocket", ""}},
	"__Schema":     {{"types", "__Type"}, {"queryType", "__Type"}},
	"__Type":       {{"name", ""}, {"kind", ""}, {"description", ""}, {"fields", "__Field"}, {"ofType", "__Type"}},
	"__Field":      {{"name", ""}, {"description", ""}, {"type", "__Type"}, {"args", "__InputValue"}},
	"__InputValue": {{"name", ""}, {"type", "__Type"}},
}

// fragments is how many fragments the generator may define per type.
const fragments = 3

// selection writes a selection set on typ; a fragment spreads only fragments of a higher
// index than its own (from), so there is no cycle; depth bounds the nesting.
func (g *grammar) selection(typ string, depth, from int) string {
	var b strings.Builder
	b.WriteString("{ __typename")
	for range g.pick(6) {
		switch g.pick(8) {
		case 0: // a long run of one field: overlap validation's worst case
			f := types[typ][g.pick(len(types[typ]))]
			sel := g.field(f, depth, from, false)
			for range g.byte() * 8 {
				b.WriteString(sel)
			}
		case 1: // a fragment spread
			if i := from + g.pick(fragments); i < fragments {
				b.WriteString(" ..." + g.spread(typ, i))
			}
		case 2: // an inline fragment
			b.WriteString(" ... on " + typ + " " + g.selection(typ, depth+1, from))
		default:
			b.WriteString(g.field(types[typ][g.pick(len(types[typ]))], depth, from, g.pick(3) == 0))
		}
	}
	b.WriteString(" }")
	return b.String()
}

func (g *grammar) field(f [2]string, depth, from int, alias bool) string {
	s := " "
	if alias {
		g.aliases++
		s += fmt.Sprintf("a%d: ", g.aliases)
	}
	s += f[0]
	switch {
	case f[1] == "":
		return s
	case depth > 6:
		return s + " { __typename }"
	}
	return s + " " + g.selection(f[1], depth+1, from)
}

// spread names fragment i on typ, defining it on first use.
func (g *grammar) spread(typ string, i int) string {
	name := fmt.Sprintf("F%s%d", strings.Trim(typ, "_"), i)
	if _, ok := g.defs[name]; !ok {
		g.defs[name] = "" // being defined
		g.defs[name] = " fragment " + name + " on " + typ + " " + g.selection(typ, 2, i+1)
		g.order = append(g.order, name)
	}
	return name
}

// document is a query with one operation and the fragments it spreads.
func (g *grammar) document() string {
	g.defs = map[string]string{}
	var b strings.Builder
	b.WriteString(g.selection("Query", 0, 0))
	for _, name := range g.order {
		b.WriteString(g.defs[name])
	}
	if strings.Contains(b.String(), "$g") {
		return "query Q($g: ID!) " + b.String()
	}
	return "query Q " + b.String()
}

// FuzzGrammarDocuments sends grammar-built documents to a live API over a 0.9 MB status
// and asserts that every answer is bounded in bytes and in the CPU and memory it costs.
func FuzzGrammarDocuments(f *testing.F) {
	for _, seed := range []string{
		"\x04\x01\x00\x00",                 // a list of statuses
		"\x05\x00\x00\xff\x00",             // a long run of one root field
		"\x05\x04\x01\x04\x00\xfe",         // a long run inside the data list
		"\x03\x03\x03\x01\x01\x01\x01",     // fragment spreads
		"\x07\x03\x03\x03\x03\x07\x03",     // introspection nested
		"\x06\x00\x04\x00\x80\x01\x01\x01", // aliases over fragments
		"\x05\x05\x00\x04\x05\x00\x04\x03\x00\x05\x05\x00\x01\x05\x05\x00\x01\x03", // statuses, nested
		"\x05\x05\x01\x00\x05\x05\x01\x00\x05\x05\x01\x00\x04\x00\x04\x05\x00\x04", // fragments over data
	} {
		f.Add([]byte(seed))
	}
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, in []byte) {
		e := start(t, func(c *gql.Config) { c.Limits.MaxResponseBytes = limit })
		group := bigStatus(t, e)
		doc := (&grammar{in: in}).document()
		var vars map[string]any
		if strings.Contains(doc, "$g") {
			vars = map[string]any{"g": group}
		}
		var r result
		measure(t, func() { r = e.do(t, doc, vars) }).atMost(t, "a grammar document", cost{bytes: 512 << 20, objects: 5_000_000, goroutines: 10_000})
		if r.Status != 200 && r.Status != 400 {
			t.Fatalf("status %d for %.300q: %.300s", r.Status, doc, r.Raw)
		}
		// The data is bounded by the limit; errors by the document's size and the limits.
		if len(r.Raw) > limit+1<<20 {
			t.Fatalf("a %d-byte document got a %d-byte answer", len(doc), len(r.Raw))
		}
	})
}
