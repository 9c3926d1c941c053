package gql

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	qerrors "github.com/graph-gophers/graphql-go/errors"
)

// Compiled execution plans. graphql-go parses and validates every document and executes
// every document it alone can run; a validated document whose operation is one supported
// root field (the editor's hot operations: reports, events, heartbeats, status lists, polls
// and the subscriptions) is compiled once into a plan, keyed by its text, that calls the
// broker and writes JSON straight from the broker's values — the bytes graphql-go would
// have written, as the differential tests check document by document.

// plan is one compiled operation.
type plan struct {
	field   string // the root field's name, for OnOperation
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

// newEnc starts an output with room for what the plan wrote last time.
func (p *plan) newEnc() enc {
	return enc{b: make([]byte, 0, max(p.size.Load(), 256))}
}

// maxPlans bounds the cache; when it is full it starts over.
const maxPlans = 512

// plans caches compiled plans by document text and operation name; a nil entry marks a
// document no plan can run.
type plans struct {
	mu sync.Mutex
	m  map[string]*plan
}

// get returns the plan of a request, compiling it on first use, or nil.
func (ps *plans) get(s *Server, req request) *plan {
	key := req.OperationName + "\x00" + req.Query
	ps.mu.Lock()
	p, seen := ps.m[key]
	ps.mu.Unlock()
	if seen {
		return p
	}
	final := true
	// Aliases are left to graphql-go, whose answers the response budget bounds: a plan
	// writes every alias of a value out in full.
	if scanShape(req.Query).aliases == 0 {
		p, final = compilePlan(req.Query, req.OperationName)
	}
	if p != nil && len(s.validate(req)) > 0 {
		// Invalid as sent, perhaps only for these variables: graphql-go answers, and the
		// next request tries again.
		return nil
	}
	if p == nil && !final {
		return nil
	}
	ps.mu.Lock()
	if ps.m == nil || len(ps.m) >= maxPlans {
		ps.m = map[string]*plan{}
	}
	ps.m[key] = p
	ps.mu.Unlock()
	return p
}

// compilePlan compiles the operation a request selects; final says that a nil plan is the
// document's fate whatever its variables.
func compilePlan(doc, opName string) (p *plan, final bool) {
	ops, err := parseDocument(doc)
	if err != nil {
		return nil, true
	}
	var op *pOp
	for _, o := range ops {
		if opName == "" && len(ops) == 1 || opName != "" && o.name == opName {
			op = o
			break
		}
	}
	if op == nil || len(op.sels) != 1 {
		return nil, true
	}
	f := op.sels[0]
	root := roots[f.name]
	if root == nil || root.kind != op.kind || len(f.args) != len(root.args) {
		return nil, true
	}
	for _, v := range op.vars {
		if varTypes[v.typ] == nil {
			return nil, true
		}
	}
	for _, a := range f.args {
		if argKinds[a.name] == nil {
			return nil, true
		}
	}
	p = &plan{field: f.name, alias: f.alias, root: root, vars: op.vars, args: f.args}
	if root.sub != nil {
		p.render, err = root.sub(f.sels)
	} else {
		p.run, err = root.run(f.sels)
	}
	if err != nil {
		return nil, true
	}
	p.prefix = []byte(`{"` + f.alias + `":`)
	p.nullOut = []byte(`{"` + f.alias + `":null}`)
	if root.nonNull {
		p.nullOut = []byte("null")
	}
	return p, true
}

// bind coerces a request's variables into the root field's arguments; false leaves the
// request to graphql-go.
func (p *plan) bind(vars map[string]any) (*rootArgs, bool) {
	for _, v := range p.vars {
		x, present := vars[v.name]
		if !varTypes[v.typ](x, present) {
			return nil, false
		}
	}
	a := &rootArgs{}
	for _, arg := range p.args {
		v, ok := argValue(arg.val, vars)
		if !ok || !argKinds[arg.name](a, v) {
			return nil, false
		}
	}
	return a, true
}

// execPlanned runs a query or mutation through its plan; ok is false when graphql-go must run
// it instead. readOnly runs only queries (GET): graphql-go refuses anything else.
func (s *Server) execPlanned(ctx context.Context, req request, readOnly bool) (data []byte, errs []*qerrors.QueryError, ok bool) {
	p := s.plans.get(s, req)
	if p == nil || p.run == nil || readOnly && p.root.kind != "query" {
		return nil, nil, false
	}
	a, ok := p.bind(req.Variables)
	if !ok {
		return nil, nil, false
	}
	start := time.Now()
	e := p.newEnc()
	e.b = append(e.b, p.prefix...)
	err := p.run(ctx, s.res, a, &e)
	var qe *qerrors.QueryError
	switch {
	case err != nil:
		qe = &qerrors.QueryError{Message: err.Error(), Path: []any{p.alias}, ResolverError: err}
		if ex, ok := err.(interface{ Extensions() map[string]any }); ok {
			qe.Extensions = ex.Extensions()
		}
		data, errs = p.nullOut, []*qerrors.QueryError{qe}
	case e.bad && p.root.kind == "query":
		return nil, nil, false // nothing happened yet: graphql-go answers as it would
	case e.bad:
		// Unreachable: a mutation writes back only ids it was given, and bind refuses ids
		// graphql-go cannot write.
		qe = &qerrors.QueryError{Message: "Internal server error", Path: []any{p.alias}}
		data, errs = p.nullOut, []*qerrors.QueryError{qe}
	default:
		data = append(e.b, '}')
		p.size.Store(int64(len(data)))
	}
	if s.cfg.OnOperation != nil {
		s.cfg.OnOperation(p.field, outcome(ctx, qe), time.Since(start))
	}
	return data, errs, true
}
