package plan

import (
	"errors"
	"strconv"
)

// errUnsupported says that a document uses something the plan compiler leaves to graphql-go
// (fragments, directives, variable defaults, escaped strings, …).
var errUnsupported = errors.New("not supported by the plan compiler")

// pOp is one operation of a parsed document.
type pOp struct {
	kind, name string
	vars       []pVar
	sels       []*pField
}

// pVar is one declared variable.
type pVar struct {
	name string
	typ  string // as written, e.g. "[SensorDataInput!]!"
}

// pField is one selected field.
type pField struct {
	alias, name string
	args        []pArg
	sels        []*pField
}

// pArg is one argument of a field.
type pArg struct {
	name string
	val  pValue
}

// Kinds of pValue.
const (
	vVariable = iota + 1
	vString
	vInt
	vFloat
	vBool
	vNull
	vEnum
	vList
	vObject
)

// pValue is an argument value as written in the document.
type pValue struct {
	kind   int
	text   string // variable name, string contents, number, enum or boolean as written
	list   []pValue
	fields []pArg
}

// maxPlanDepth bounds the nesting the parser follows (graphql-go allows 16 levels of
// selections; values nest too).
const maxPlanDepth = 32

// parseDocument reads the executable subset the plan compiler supports from a document that
// graphql-go has already validated; anything else is errUnsupported.
func parseDocument(toks []token) ([]*pOp, error) {
	p := &parser{toks: toks}
	p.advance()
	var ops []*pOp
	for p.tok.kind != tEOF {
		op, err := p.operation()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, errUnsupported
	}
	return ops, nil
}

// tBad is the parser's token for what plans never accept.
const tBad = -1

type parser struct {
	toks []token
	tok  token
}

// advance moves to the next token; tokens the plans never accept (spreads, non-ASCII bytes,
// strings with escapes) end the document there.
func (p *parser) advance() {
	if len(p.toks) == 0 {
		p.tok = token{kind: tEOF}
		return
	}
	p.tok, p.toks = p.toks[0], p.toks[1:]
	if p.tok.kind == tSpread || p.tok.kind == tOther || p.tok.kind == tString && !p.tok.plain {
		p.tok, p.toks = token{kind: tBad}, nil
	}
}

func (p *parser) expect(kind int, text string) error {
	if p.tok.kind != kind || text != "" && p.tok.text != text {
		return errUnsupported
	}
	p.advance()
	return nil
}

func (p *parser) name() (string, error) {
	if p.tok.kind != tName {
		return "", errUnsupported
	}
	n := p.tok.text
	p.advance()
	return n, nil
}

func (p *parser) operation() (*pOp, error) {
	op := &pOp{kind: "query"}
	if p.tok.kind == tName {
		switch p.tok.text {
		case "query", "mutation", "subscription":
			op.kind = p.tok.text
		default:
			return nil, errUnsupported // fragment definitions and anything else
		}
		p.advance()
		if p.tok.kind == tName {
			op.name = p.tok.text
			p.advance()
		}
		if p.tok.kind == tPunct && p.tok.text == "(" {
			p.advance()
			for !(p.tok.kind == tPunct && p.tok.text == ")") {
				v, err := p.variable()
				if err != nil {
					return nil, err
				}
				op.vars = append(op.vars, v)
			}
			p.advance()
		}
	}
	sels, err := p.selections(0)
	if err != nil {
		return nil, err
	}
	op.sels = sels
	return op, nil
}

func (p *parser) variable() (pVar, error) {
	if err := p.expect(tPunct, "$"); err != nil {
		return pVar{}, err
	}
	n, err := p.name()
	if err != nil {
		return pVar{}, err
	}
	if err := p.expect(tPunct, ":"); err != nil {
		return pVar{}, err
	}
	typ, err := p.typeRef(0)
	if err != nil {
		return pVar{}, err
	}
	if p.tok.kind == tPunct && (p.tok.text == "=" || p.tok.text == "@") {
		return pVar{}, errUnsupported
	}
	return pVar{name: n, typ: typ}, nil
}

func (p *parser) typeRef(depth int) (string, error) {
	if depth > maxPlanDepth {
		return "", errUnsupported
	}
	var t string
	if p.tok.kind == tPunct && p.tok.text == "[" {
		p.advance()
		inner, err := p.typeRef(depth + 1)
		if err != nil {
			return "", err
		}
		if err := p.expect(tPunct, "]"); err != nil {
			return "", err
		}
		t = "[" + inner + "]"
	} else {
		n, err := p.name()
		if err != nil {
			return "", err
		}
		t = n
	}
	if p.tok.kind == tPunct && p.tok.text == "!" {
		p.advance()
		t += "!"
	}
	return t, nil
}

func (p *parser) selections(depth int) ([]*pField, error) {
	if depth > maxPlanDepth {
		return nil, errUnsupported
	}
	if err := p.expect(tPunct, "{"); err != nil {
		return nil, err
	}
	var out []*pField
	for !(p.tok.kind == tPunct && p.tok.text == "}") {
		f, err := p.field(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	p.advance()
	return out, nil
}

func (p *parser) field(depth int) (*pField, error) {
	n, err := p.name()
	if err != nil {
		return nil, err // "..." (fragments) and anything else
	}
	f := &pField{alias: n, name: n}
	if p.tok.kind == tPunct && p.tok.text == ":" {
		p.advance()
		if f.name, err = p.name(); err != nil {
			return nil, err
		}
	}
	if p.tok.kind == tPunct && p.tok.text == "(" {
		p.advance()
		for !(p.tok.kind == tPunct && p.tok.text == ")") {
			a, err := p.argument(depth)
			if err != nil {
				return nil, err
			}
			f.args = append(f.args, a)
		}
		p.advance()
	}
	if p.tok.kind == tPunct && p.tok.text == "@" {
		return nil, errUnsupported
	}
	if p.tok.kind == tPunct && p.tok.text == "{" {
		if f.sels, err = p.selections(depth + 1); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (p *parser) argument(depth int) (pArg, error) {
	n, err := p.name()
	if err != nil {
		return pArg{}, err
	}
	if err := p.expect(tPunct, ":"); err != nil {
		return pArg{}, err
	}
	v, err := p.value(depth + 1)
	return pArg{name: n, val: v}, err
}

func (p *parser) value(depth int) (pValue, error) {
	if depth > maxPlanDepth {
		return pValue{}, errUnsupported
	}
	t := p.tok
	switch {
	case t.kind == tPunct && t.text == "$":
		p.advance()
		n, err := p.name()
		return pValue{kind: vVariable, text: n}, err
	case t.kind == tString:
		p.advance()
		return pValue{kind: vString, text: t.text}, nil
	case t.kind == tNumber:
		p.advance()
		if _, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return pValue{kind: vInt, text: t.text}, nil
		}
		return pValue{kind: vFloat, text: t.text}, nil
	case t.kind == tName:
		p.advance()
		switch t.text {
		case "true", "false":
			return pValue{kind: vBool, text: t.text}, nil
		case "null":
			return pValue{kind: vNull}, nil
		}
		return pValue{kind: vEnum, text: t.text}, nil
	case t.kind == tPunct && t.text == "[":
		p.advance()
		v := pValue{kind: vList}
		for !(p.tok.kind == tPunct && p.tok.text == "]") {
			e, err := p.value(depth + 1)
			if err != nil {
				return pValue{}, err
			}
			v.list = append(v.list, e)
		}
		p.advance()
		return v, nil
	case t.kind == tPunct && t.text == "{":
		p.advance()
		v := pValue{kind: vObject}
		for !(p.tok.kind == tPunct && p.tok.text == "}") {
			a, err := p.argument(depth)
			if err != nil {
				return pValue{}, err
			}
			v.fields = append(v.fields, a)
		}
		p.advance()
		return v, nil
	}
	return pValue{}, errUnsupported
}
