package console

import (
	"testing"
	"unicode/utf8"
)

func FuzzPreferredLang(f *testing.F) {
	for _, s := range []string{"ja,en-US;q=0.9", "en;q=0.5, ja-JP;q=0.9", "", ";;;,,q=", "ja;q=abc", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if got := preferredLang(accept); got != "ja" && got != "en" {
			t.Fatalf("preferredLang(%q) = %q", accept, got)
		}
	})
}

func FuzzKana(f *testing.F) {
	for _, s := range []string{"0123456789abcdef", "ノード001", "", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, want := utf8.RuneCountInString(Kana(s)), min(6, utf8.RuneCountInString(s)); n != want {
			t.Fatalf("Kana(%q) has %d characters, want %d", s, n, want)
		}
	})
}
