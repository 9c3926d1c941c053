package plan

import "strings"

// Token kinds of the lexer.
const (
	tEOF = iota
	tName
	tPunct
	// tString is a string literal; plain marks one without escapes, control or non-ASCII
	// bytes and not a block string, whose text is then its contents.
	tString
	tNumber
	tSpread
	// tOther is a run of non-ASCII bytes outside strings and comments: no GraphQL token.
	tOther
)

// token is one lexeme of a document.
type token struct {
	kind  int
	text  string
	plain bool // tString: written without escapes, control or non-ASCII bytes
	end   int  // the offset just after it
}

// lex splits GraphQL source into tokens, ignoring white space, commas, byte-order marks and
// comments. It is the one scanner of a document: its tokens give the shape, the operations
// and the plan parser's input.
func lex(src string) []token {
	out := make([]token, 0, len(src)/4)
	pos := 0
	for pos < len(src) {
		c := src[pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			pos++
		case c == 0xEF && len(src) >= pos+3 && src[pos:pos+3] == "\uFEFF":
			pos += 3
		case c == '#':
			for pos < len(src) && src[pos] != '\n' && src[pos] != '\r' {
				pos++
			}
		case c == '"':
			var t token
			t, pos = lexString(src, pos)
			t.end = pos
			out = append(out, t)
		case c == '.' && len(src) >= pos+3 && src[pos:pos+3] == "...":
			pos += 3
			out = append(out, token{kind: tSpread, text: "...", end: pos})
		case isNameStart(c):
			start := pos
			for pos < len(src) && isNameByte(src[pos]) {
				pos++
			}
			out = append(out, token{kind: tName, text: src[start:pos], end: pos})
		case c >= 0x80:
			start := pos
			for pos < len(src) && src[pos] >= 0x80 {
				pos++
			}
			out = append(out, token{kind: tOther, text: src[start:pos], end: pos})
		case c == '-' || c >= '0' && c <= '9':
			start := pos
			pos++
			for pos < len(src) {
				d := src[pos]
				if !(d >= '0' && d <= '9' || d == '.' || d == '-' || d == '+' || d == 'e' || d == 'E') {
					break
				}
				pos++
			}
			out = append(out, token{kind: tNumber, text: src[start:pos], end: pos})
		default:
			pos++
			out = append(out, token{kind: tPunct, text: src[pos-1 : pos], end: pos})
		}
	}
	return out
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameByte(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9'
}

// lexString reads the string literal at pos and returns it with the position after it. An
// unterminated string runs to the end of its line (or, for a block string, of the source).
func lexString(src string, pos int) (token, int) {
	if len(src) >= pos+3 && src[pos:pos+3] == `"""` {
		i := pos + 3
		for {
			j := strings.Index(src[i:], `"""`)
			if j < 0 {
				return token{kind: tString}, len(src)
			}
			j += i
			if src[j-1] != '\\' {
				return token{kind: tString}, j + 3
			}
			i = j + 1
		}
	}
	plain := true
	for i := pos + 1; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\\':
			plain = false
			i++
		case c == '"':
			return token{kind: tString, text: src[pos+1 : i], plain: plain}, i + 1
		case c == '\n':
			return token{kind: tString}, i + 1
		case c < 0x20 || c >= 0x80:
			plain = false
		}
	}
	return token{kind: tString}, len(src)
}
