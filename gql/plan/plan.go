// Package plan compiles GraphQL documents into execution plans. graphql-go parses and
// validates every document and executes every document a plan cannot run; a validated
// document whose operation is one supported root field (the editor's hot operations:
// reports, events, heartbeats, status lists, polls and the subscriptions) is compiled once
// into a plan that calls the broker.Service and writes JSON straight from its values — the
// bytes graphql-go would have written, as gql's differential tests check document by
// document.
//
// A document is scanned once (Scan): its tokens give its Shape, its operations' types for
// the realtime endpoints, and its plans. The API is Scan, Document.Plan, Plan.Bind, and
// Plan.Run for queries and mutations or Plan.Render for subscriptions.
package plan

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/smalruby/meshd/broker"
)

// Shape is what the scan of a document tells before graphql-go parses it.
type Shape struct {
	// Aliases counts the ":" outside parentheses: in a selection set only an alias has one.
	Aliases int
	// LongestName is the longest run of names, numbers and non-ASCII bytes, the most one
	// response key can cost.
	LongestName int
}

// Document is what one scan of a document's text tells: its shape, its operations and the
// plans of those a plan can run.
type Document struct {
	shape   Shape
	ops     []opInfo
	walkErr error
	// names and plans are the document's operations in order, when the plan parser reads
	// them all; a plan is nil where graphql-go must run the operation.
	names []string
	plans []*Plan
}

// Scan scans a document once. It accepts any text; what it cannot read has no operations
// and no plans.
func Scan(text string) *Document {
	toks := lex(text)
	d := &Document{}
	depth, run, runEnd := 0, 0, -1
	for _, t := range toks {
		switch {
		case isPunct(t, "("):
			depth++
		case isPunct(t, ")"):
			depth--
		case isPunct(t, ":") && depth <= 0:
			d.shape.Aliases++
		case t.kind == tName || t.kind == tNumber || t.kind == tOther:
			// Adjacent names, numbers and non-ASCII bytes make one run.
			if t.end-len(t.text) != runEnd {
				run = 0
			}
			run += len(t.text)
			runEnd = t.end
			d.shape.LongestName = max(d.shape.LongestName, run)
		}
	}
	d.ops, d.walkErr = operations(toks)
	// Aliases are left to graphql-go, whose answers the response budget bounds: a plan
	// writes every alias of a value out in full.
	if d.shape.Aliases > 0 {
		return d
	}
	ops, err := parseDocument(toks)
	if err != nil {
		return d
	}
	for _, op := range ops {
		d.names = append(d.names, op.name)
		d.plans = append(d.plans, compile(op))
	}
	return d
}

// Shape is the document's shape.
func (d *Document) Shape() Shape { return d.shape }

// Operation reports the type ("query", "mutation" or "subscription") of the operation a
// request names (name, or "" for the only one) and how many root selections it has. Its
// answer means something only for documents that passed validation.
func (d *Document) Operation(name string) (kind string, rootFields int, err error) {
	return operation(d.ops, d.walkErr, name)
}

// Plan is the plan of the operation a request names, or nil when graphql-go must run it.
// The caller validates the document before it runs a plan.
func (d *Document) Plan(name string) *Plan {
	if name == "" {
		if len(d.plans) == 1 {
			return d.plans[0]
		}
		return nil
	}
	for i, n := range d.names {
		if n == name {
			return d.plans[i]
		}
	}
	return nil
}

// Plan is one compiled operation.
type Plan struct {
	field   string // the root field's name
	alias   string // its response key
	root    *rootDef
	vars    []pVar
	args    []pArg
	run     runner
	render  renderer
	prefix  []byte // `{"alias":`
	nullOut []byte // the data when the root field fails
	// size is the length of the last output, so that the next starts with room for it.
	size atomic.Int64
}

// compile compiles one operation, or returns nil.
func compile(op *pOp) *Plan {
	if len(op.sels) != 1 {
		return nil
	}
	f := op.sels[0]
	root := roots[f.name]
	if root == nil || root.kind != op.kind || len(f.args) != len(root.args) {
		return nil
	}
	for _, v := range op.vars {
		if varTypes[v.typ] == nil {
			return nil
		}
	}
	for _, a := range f.args {
		if argKinds[a.name] == nil {
			return nil
		}
	}
	p := &Plan{field: f.name, alias: f.alias, root: root, vars: op.vars, args: f.args}
	var err error
	if root.sub != nil {
		p.render, err = root.sub(f.sels)
	} else {
		p.run, err = root.run(f.sels)
	}
	if err != nil {
		return nil
	}
	p.prefix = []byte(`{"` + f.alias + `":`)
	p.nullOut = []byte(`{"` + f.alias + `":null}`)
	if root.nonNull {
		p.nullOut = []byte("null")
	}
	return p
}

// Field is the name of the plan's root field.
func (p *Plan) Field() string { return p.field }

// Alias is the root field's response key, the path of its errors.
func (p *Plan) Alias() string { return p.alias }

// Kind is the operation's type: "query", "mutation" or "subscription".
func (p *Plan) Kind() string { return p.root.kind }

// NullData is the data of an answer whose root field failed.
func (p *Plan) NullData() []byte { return p.nullOut }

// lastSize is the room for an output: what the plan wrote last time.
func (p *Plan) lastSize() int {
	return int(max(p.size.Load(), 256))
}

// Bind coerces a request's variables into the root field's arguments; false leaves the
// request to graphql-go.
func (p *Plan) Bind(vars map[string]any) (*Args, bool) {
	return p.bind(func(name string) (any, bool) {
		x, ok := vars[name]
		return x, ok
	})
}

// bind coerces the variables lookup finds into the root field's arguments.
func (p *Plan) bind(lookup func(name string) (any, bool)) (*Args, bool) {
	for _, v := range p.vars {
		x, present := lookup(v.name)
		if !varTypes[v.typ](x, present) {
			return nil, false
		}
	}
	a := &Args{}
	for _, arg := range p.args {
		v, ok := argValue(arg.val, lookup)
		if !ok || !argKinds[arg.name](a, v) {
			return nil, false
		}
	}
	return a, true
}

// ErrUnencodable says that a value cannot be written the way graphql-go writes it (see
// appendID): a query that gets it is left to graphql-go, which has nothing to undo.
var ErrUnencodable = errors.New("a value graphql-go cannot encode")

// Run runs a query or mutation plan against b: one broker call, then the answer's data
// ({"alias":value}), or the broker's error, or ErrUnencodable. The caller may Recycle the
// data once it is written.
func (p *Plan) Run(ctx context.Context, b broker.Service, a *Args) ([]byte, error) {
	if p.run == nil {
		return nil, errors.New("plan: Run on a subscription")
	}
	e := enc{b: newBuffer(p.lastSize())}
	e.b = append(e.b, p.prefix...)
	if err := p.run(ctx, b, a, &e); err != nil {
		return nil, err
	}
	if e.bad {
		return nil, ErrUnencodable
	}
	data := append(e.b, '}')
	p.size.Store(int64(len(data)))
	return data, nil
}

// Subscription reports whether the plan is a subscription's, run by Render.
func (p *Plan) Subscription() bool { return p.render != nil }

// Render calls emit with the realtime payload ({"data":{"alias":value}}) of every value the
// subscription emits for message m; ok is false for a value graphql-go cannot encode either.
func (p *Plan) Render(m *broker.Message, emit func(payload []byte, ok bool)) {
	p.render(m, func(write func(*enc)) {
		// A payload is queued to every subscriber: its buffer is never given back.
		out := enc{b: make([]byte, 0, p.lastSize())}
		out.b = append(append(out.b, `{"data":`...), p.prefix...)
		write(&out)
		out.b = append(out.b, "}}"...)
		p.size.Store(int64(len(out.b)))
		emit(out.b, !out.bad)
	})
}
