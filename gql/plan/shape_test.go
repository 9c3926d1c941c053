package plan

import (
	"strings"
	"testing"
)

// FuzzScanShape checks the cheap pre-parse scan on any text: it never fails, counts no more
// aliases than the text has colons and no name longer than the text, and sees through
// strings and comments.
func FuzzScanShape(f *testing.F) {
	for _, s := range []string{
		`{ a: id b: name }`,
		`query($d: String = "x: y") { listGroupsByDomain(domain: $d) { id } }`,
		"{ # a: comment\n id }",
		`{ f(s: """a: b""") { ñññ: id } }`,
		"\"unterminated",
		")))::((",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		sh := Scan(doc).Shape()
		if sh.Aliases > strings.Count(doc, ":") || sh.LongestName > len(doc) || sh.Aliases < 0 {
			t.Fatalf("%q: %+v", doc, sh)
		}
	})
}

func TestScanShape(t *testing.T) {
	for doc, want := range map[string]Shape{
		`{ a: id b: name }`: {Aliases: 2, LongestName: 4},
		`query($d: String = "x: y") { listGroupsByDomain(domain: $d) { id } }`: {Aliases: 0, LongestName: 18},
		"{ # a: comment\n id }":            {Aliases: 0, LongestName: 2},
		`{ f(s: """a: b""") { ñññ: id } }`: {Aliases: 1, LongestName: 6},
	} {
		if got := Scan(doc).Shape(); got != want {
			t.Errorf("%q: %+v, want %+v", doc, got, want)
		}
	}
}
