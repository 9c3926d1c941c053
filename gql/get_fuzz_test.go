package gql_test

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzGETNeverMutates sends mutations over GET wrapped in whatever the fuzzer finds — names
// and bytes before, inside and after the operation's header, Unicode included — and asserts
// that none of them changes anything: graphql-go's own parse decides the operation's type.
func FuzzGETNeverMutates(f *testing.F) {
	for _, s := range [][3]string{
		{"", "ñ", "ñ"},
		{"\ufeff", "été", ""},
		{"# comment\n", "M", "M"},
		{"query Q { __typename } ", "M", "M"},
		{"", "\u00a0", ""},
		{"\"\"\"block\"\"\" ", "x", "x"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, before, name, operationName string) {
		e := start(t)
		q := before + "mutation " + name + ` { createGroup(name: "g", hostId: "h", domain: "d1", useWebSocket: true) { id } }`
		u := e.URL + "?query=" + url.QueryEscape(q)
		if operationName != "" {
			u += "&operationName=" + url.QueryEscape(operationName)
		}
		var r result
		measure(t, func() { r = e.raw(t, "GET", u, "", nil) }).atMost(t, "a GET mutation", cost{bytes: 64 << 20, objects: 50_000, goroutines: 100})
		if r.Status != 200 && r.Status != 400 {
			t.Fatalf("%q: status %d %s", q, r.Status, r.Raw)
		}
		if strings.Contains(r.Raw, `"createGroup":{`) {
			t.Fatalf("%q over GET created a group: %s", q, r.Raw)
		}
		if got := e.ok(t, `{ listGroupsByDomain(domain: "d1") { id } }`, nil); len(field(got, "listGroupsByDomain").([]any)) != 0 {
			t.Fatalf("%q over GET created a group", q)
		}
	})
}
