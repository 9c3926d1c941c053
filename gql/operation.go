package gql

import (
	"errors"
	"strings"
)

// operation reports the type ("query", "mutation" or "subscription") of the operation a
// document selects and how many root selections it has. It is only called on documents that
// already passed validation, so it need only find its way through valid GraphQL.
func operation(doc, name string) (kind string, rootFields int, err error) {
	lx := lexer{src: doc}
	count := 0
	for {
		tok := lx.next()
		switch tok {
		case "":
			if count == 1 && name == "" {
				return kind, rootFields, nil
			}
			return "", 0, errors.New("operation not found")
		case "{":
			// An anonymous query: "{ ... }".
			count++
			n := lx.rootSelections()
			if name == "" {
				kind, rootFields = "query", n
			}
		case "query", "mutation", "subscription":
			count++
			opName := ""
			if t := lx.peek(); isName(t) {
				opName = lx.next()
			}
			lx.skipTo("{")
			n := lx.rootSelections()
			if name == "" {
				kind, rootFields = tok, n
			} else if opName == name {
				return tok, n, nil
			}
		case "fragment":
			lx.skipTo("{")
			lx.skipNested("{")
		default:
			return "", 0, errors.New("unexpected token " + tok)
		}
	}
}

func isName(t string) bool {
	if t == "" {
		return false
	}
	c := t[0]
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// lexer splits GraphQL source into names, punctuators and skipped strings, ignoring white
// space, commas and comments.
type lexer struct {
	src    string
	pos    int
	peeked *string
}

func (l *lexer) peek() string {
	if l.peeked == nil {
		t := l.scan()
		l.peeked = &t
	}
	return *l.peeked
}

func (l *lexer) next() string {
	t := l.peek()
	l.peeked = nil
	return t
}

func (l *lexer) scan() string {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c >= 0x80:
			// White space, commas and a byte-order mark carry no meaning; other non-ASCII bytes
			// only occur inside strings and comments.
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' && l.src[l.pos] != '\r' {
				l.pos++
			}
		case c == '"':
			l.skipString()
			return `""`
		case strings.HasPrefix(l.src[l.pos:], "..."):
			l.pos += 3
			return "..."
		case isNameByte(c):
			return l.run(isNameByte)
		case c == '-' || c >= '0' && c <= '9':
			return l.run(func(c byte) bool {
				return c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'
			})
		default:
			l.pos++
			return string(c)
		}
	}
	return ""
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (l *lexer) run(in func(byte) bool) string {
	start := l.pos
	for l.pos < len(l.src) && in(l.src[l.pos]) {
		l.pos++
	}
	return l.src[start:l.pos]
}

func (l *lexer) skipString() {
	if strings.HasPrefix(l.src[l.pos:], `"""`) {
		end := strings.Index(l.src[l.pos+3:], `"""`)
		for end >= 0 && l.src[l.pos+3+end-1] == '\\' {
			next := strings.Index(l.src[l.pos+3+end+1:], `"""`)
			if next < 0 {
				end = -1
				break
			}
			end += 1 + next
		}
		if end < 0 {
			l.pos = len(l.src)
			return
		}
		l.pos += 3 + end + 3
		return
	}
	l.pos++
	for l.pos < len(l.src) {
		switch l.src[l.pos] {
		case '\\':
			l.pos += 2
			continue
		case '"', '\n':
			l.pos++
			return
		}
		l.pos++
	}
}

// skipTo consumes tokens up to and including want, skipping bracketed groups.
func (l *lexer) skipTo(want string) {
	for t := l.next(); t != "" && t != want; t = l.next() {
		if t == "(" || t == "[" {
			l.skipNested(t)
		}
	}
}

// skipNested consumes a bracketed group whose opening bracket was already read.
func (l *lexer) skipNested(open string) {
	depth := 1
	for t := l.next(); t != ""; t = l.next() {
		switch t {
		case open:
			depth++
		case map[string]string{"(": ")", "[": "]", "{": "}"}[open]:
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

// rootSelections counts the selections of a set whose "{" was already read: fields,
// fragment spreads and inline fragments each count once.
func (l *lexer) rootSelections() int {
	n := 0
	prev, prevPrev := "{", ""
	for {
		t := l.next()
		switch {
		case t == "" || t == "}":
			return n
		case t == "{" || t == "(":
			l.skipNested(t)
		case t == "...":
			n++
		case !isName(t):
		case prev == ":" || prev == "@" || prev == "..." || prev == "on" && prevPrev == "...":
			// A field after its alias, a directive, a fragment's name or type condition.
		default:
			n++
		}
		prev, prevPrev = t, prev
	}
}
