package gql

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
		sh := scanShape(doc)
		if sh.aliases > strings.Count(doc, ":") || sh.longestName > len(doc) || sh.aliases < 0 {
			t.Fatalf("%q: %+v", doc, sh)
		}
	})
}

func TestScanShape(t *testing.T) {
	for doc, want := range map[string]shape{
		`{ a: id b: name }`: {aliases: 2, longestName: 4},
		`query($d: String = "x: y") { listGroupsByDomain(domain: $d) { id } }`: {aliases: 0, longestName: 18},
		"{ # a: comment\n id }":            {aliases: 0, longestName: 2},
		`{ f(s: """a: b""") { ñññ: id } }`: {aliases: 1, longestName: 6},
	} {
		if got := scanShape(doc); got != want {
			t.Errorf("%q: %+v, want %+v", doc, got, want)
		}
	}
}
