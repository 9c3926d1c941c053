package console

import "strings"

// kanaDigits is the editor's mapping of a hex digit to the hiragana it shows (spec §2).
const kanaDigits = "いしかたうんてとのつはこになくき"

var kanaOf = func() map[rune]string {
	m := make(map[rune]string, 22)
	for i, k := range []rune(kanaDigits) {
		d := rune("0123456789abcdef"[i])
		m[d] = string(k)
		if d >= 'a' {
			m[d-'a'+'A'] = string(k)
		}
	}
	return m
}()

// Kana is how the editor shows a group name or node id: its first six characters with every
// hex digit mapped to hiragana; other characters are kept as they are.
func Kana(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 6 {
			break
		}
		if k, ok := kanaOf[r]; ok {
			b.WriteString(k)
		} else {
			b.WriteRune(r)
		}
		n++
	}
	return b.String()
}
