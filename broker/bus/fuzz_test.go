package bus

import "testing"

// FuzzDecodeToken checks that DecodeToken accepts only what token produces.
func FuzzDecodeToken(f *testing.F) {
	for _, tok := range []string{"", "_", "7aff1acb", "_YS5i", "_YR", "ABC", "_YS5i\n", "a.b"} {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		s, err := DecodeToken(tok)
		if err != nil {
			return
		}
		if got := token(s); got != tok {
			t.Fatalf("DecodeToken(%q) = %q, which encodes as %q", tok, s, got)
		}
	})
}
