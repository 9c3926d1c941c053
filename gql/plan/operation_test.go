package plan

import "testing"

func TestOperation(t *testing.T) {
	tests := []struct {
		name, doc, op string
		kind          string
		roots         int
	}{
		{"anonymous query", `{ a b }`, "", "query", 2},
		{"named mutation", `mutation M($x: Int = 1) { createDomain }`, "", "mutation", 1},
		{"subscription with alias and args", `subscription S($g: ID!) { x: onMessageInGroup(groupId: $g, domain: "a{b}") { groupId nodeStatus { data { key } } } }`, "", "subscription", 1},
		{"two root fields", `subscription { a(x: 1) { b } c { d } }`, "", "subscription", 2},
		{"directives and fragments", `subscription @d(if: true) { a @include(if: true) { ...F } ... on Subscription { b } ...G } fragment F on X { y }`, "", "subscription", 3},
		{"comments and strings", "# { not a block }\nquery { a(s: \"}\\\"{\") b(s: \"\"\"\n}\"\"\") }", "", "query", 2},
		{"pick by name", `query A { a } mutation B { b c } subscription C { d }`, "B", "mutation", 2},
		{"pick subscription by name", `query A { a } subscription C { d }`, "C", "subscription", 1},
		{"no spaces", `{a{b}c...F}`, "", "query", 3},
		{"field named on", `{ on x }`, "", "query", 2},
		{"object default values", `query Q($v: In = {a: {b: [1, -2.5e+3]}}) { a }`, "", "query", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, roots, err := Scan(tt.doc).Operation(tt.op)
			if err != nil || kind != tt.kind || roots != tt.roots {
				t.Fatalf("operation = %q %d %v; want %q %d", kind, roots, err, tt.kind, tt.roots)
			}
		})
	}
	for _, bad := range [][2]string{{`query A { a } query B { b }`, ""}, {`query A { a }`, "Z"}, {``, ""}} {
		if _, _, err := Scan(bad[0]).Operation(bad[1]); err == nil {
			t.Errorf("operation(%q, %q) found an operation", bad[0], bad[1])
		}
	}
}

func FuzzOperation(f *testing.F) {
	for _, seed := range []string{`{ a }`, `subscription S { a { b } }`, `query Q($v: In = {a: [1]}) @d { ...F } fragment F on Q { x }`, "\"\"\"", `{ a(s: "\\"`} {
		f.Add(seed, "")
	}
	f.Fuzz(func(t *testing.T, doc, name string) {
		kind, roots, err := Scan(doc).Operation(name)
		if err == nil && (roots < 0 || (kind != "query" && kind != "mutation" && kind != "subscription")) {
			t.Fatalf("operation(%q) = %q %d", doc, kind, roots)
		}
	})
}
