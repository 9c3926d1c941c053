package plan

import (
	"errors"
)

// opInfo is what operation detection needs of one operation definition.
type opInfo struct {
	kind, name string
	roots      int // its root selections: fields, fragment spreads and inline fragments
}

// walker finds its way through the definitions of a valid document's tokens: it need not
// check the grammar, as graphql-go has validated the document before anyone asks. It passes
// over non-ASCII bytes as over white space.
type walker struct {
	toks []token
	pos  int
}

func (w *walker) next() token {
	t := w.peek()
	if t.kind != tEOF {
		w.pos++
	}
	return t
}

func (w *walker) peek() token {
	for w.pos < len(w.toks) && w.toks[w.pos].kind == tOther {
		w.pos++
	}
	if w.pos >= len(w.toks) {
		return token{kind: tEOF}
	}
	return w.toks[w.pos]
}

// operations lists a document's operation definitions in order, up to the first token no
// definition starts with, which err names.
func operations(toks []token) (ops []opInfo, err error) {
	w := walker{toks: toks}
	for {
		t := w.next()
		switch {
		case t.kind == tEOF:
			return ops, nil
		case isPunct(t, "{"):
			// An anonymous query: "{ ... }".
			ops = append(ops, opInfo{kind: "query", roots: w.rootSelections()})
		case t.kind == tName && (t.text == "query" || t.text == "mutation" || t.text == "subscription"):
			op := opInfo{kind: t.text}
			if n := w.peek(); isName(n) {
				op.name = w.next().text
			}
			w.skipTo("{")
			op.roots = w.rootSelections()
			ops = append(ops, op)
		case t.kind == tName && t.text == "fragment":
			w.skipTo("{")
			w.skipNested("{")
		default:
			return ops, errors.New("unexpected token " + tokenText(t))
		}
	}
}

// operation picks the operation a request names (or the only one) from a document's
// operations: its type and number of root selections.
func operation(ops []opInfo, walkErr error, name string) (kind string, roots int, err error) {
	if name != "" {
		for _, op := range ops {
			if op.name == name {
				return op.kind, op.roots, nil
			}
		}
	}
	if walkErr != nil {
		return "", 0, walkErr
	}
	if len(ops) == 1 && name == "" {
		return ops[0].kind, ops[0].roots, nil
	}
	return "", 0, errors.New("operation not found")
}

func tokenText(t token) string {
	if t.kind == tString {
		return `""`
	}
	return t.text
}

func isPunct(t token, p string) bool { return t.kind == tPunct && t.text == p }

// isName reports whether t is a name, as a field, operation or keyword is written.
func isName(t token) bool { return t.kind == tName }

// skipTo consumes tokens up to and including the punctuator want, skipping bracketed groups.
func (w *walker) skipTo(want string) {
	for t := w.next(); t.kind != tEOF && !isPunct(t, want); t = w.next() {
		if isPunct(t, "(") || isPunct(t, "[") {
			w.skipNested(t.text)
		}
	}
}

// closing pairs each bracket with its closing one.
var closing = map[string]string{"(": ")", "[": "]", "{": "}"}

// skipNested consumes a bracketed group whose opening bracket was already read.
func (w *walker) skipNested(open string) {
	depth := 1
	for t := w.next(); t.kind != tEOF; t = w.next() {
		switch {
		case isPunct(t, open):
			depth++
		case isPunct(t, closing[open]):
			depth--
			if depth == 0 {
				return
			}
		}
	}
}

// rootSelections counts the selections of a set whose "{" was already read: fields,
// fragment spreads and inline fragments each count once.
func (w *walker) rootSelections() int {
	n := 0
	prev, prevPrev := token{kind: tPunct, text: "{"}, token{}
	for {
		t := w.next()
		switch {
		case t.kind == tEOF || isPunct(t, "}"):
			return n
		case isPunct(t, "{") || isPunct(t, "("):
			w.skipNested(t.text)
		case t.kind == tSpread:
			n++
		case !isName(t):
		case isPunct(prev, ":") || isPunct(prev, "@") || prev.kind == tSpread || prev.kind == tName && prev.text == "on" && prevPrev.kind == tSpread:
			// A field after its alias, a directive, a fragment's name or type condition.
		default:
			n++
		}
		prev, prevPrev = t, prev
	}
}
