package gql

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	qerrors "github.com/graph-gophers/graphql-go/errors"
	"github.com/graph-gophers/graphql-go/introspection"
	"github.com/graph-gophers/graphql-go/trace/noop"
	"github.com/graph-gophers/graphql-go/trace/tracer"

	"github.com/smalruby/meshd/gql/plan"
)

// A budget bounds the bytes one answer may grow to while graphql-go builds it: every field
// written is charged its key (at most the document's longest name) and punctuation, and the
// resolvers of large strings charge their length. Once the budget is spent, every further
// field resolves to an error instead of being resolved, so an amplifying document stops at
// the limit instead of after building hundreds of megabytes.
//
// A subscription's budget is renewed for every message: the fields of one message are
// traced with the context graphql-go made for that message.
type budget struct {
	limit    int64
	perField int64
	// multiplier is what a list resolved from plain struct fields charges per byte: a field
	// may be written once per alias.
	multiplier int64

	mu      sync.Mutex
	used    int64
	message context.Context // the context of the message being built (subscriptions)
}

type budgetKey struct{}

// errTooLarge is what a field that would overrun the budget resolves to.
var errTooLarge = errors.New("mesh: response budget spent")

// withBudget makes ctx carry a budget of limit bytes for a document of shape sh.
func withBudget(ctx context.Context, limit int, sh plan.Shape) (context.Context, *budget) {
	b := &budget{limit: int64(limit), perField: int64(sh.LongestName) + 8, multiplier: int64(sh.Aliases) + 1}
	return context.WithValue(ctx, budgetKey{}, b), b
}

func budgetOf(ctx context.Context) *budget {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	return b
}

// charge spends n bytes of ctx's budget (if any).
func charge(ctx context.Context, n int) {
	if b := budgetOf(ctx); b != nil {
		b.mu.Lock()
		b.used += int64(n)
		b.mu.Unlock()
	}
}

// chargeList spends what a list of fields-resolved values of n bytes may cost.
func chargeList(ctx context.Context, n int) {
	if b := budgetOf(ctx); b != nil {
		charge(ctx, n*int(b.multiplier))
	}
}

// spent reports whether the budget is exhausted.
func (b *budget) spent() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used > b.limit
}

// field charges one field traced with ctx and reports whether it may still be resolved.
// Fields traced with a context that is not a field's own start a new message.
func (b *budget) field(ctx context.Context, top bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if top && ctx != b.message {
		b.message, b.used = ctx, 0
	}
	b.used += b.perField
	return b.used <= b.limit
}

// budgetTracer charges every field graphql-go writes to the budget of its context and stops
// the fields beyond it. It wraps the tracer that observes operations.
type budgetTracer struct {
	next tracer.Tracer
}

type fieldCtxKey struct{}

func newBudgetTracer(next tracer.Tracer) budgetTracer {
	if next == nil {
		next = noop.Tracer{}
	}
	return budgetTracer{next: next}
}

func (t budgetTracer) TraceQuery(ctx context.Context, queryString, operationName string, variables map[string]any, varTypes map[string]*introspection.Type) (context.Context, tracer.QueryFinishFunc) {
	return t.next.TraceQuery(ctx, queryString, operationName, variables, varTypes)
}

func (t budgetTracer) TraceField(ctx context.Context, label, typeName, fieldName string, trivial bool, args map[string]any) (context.Context, tracer.FieldFinishFunc) {
	b := budgetOf(ctx)
	if b == nil {
		return t.next.TraceField(ctx, label, typeName, fieldName, trivial, args)
	}
	top := ctx.Value(fieldCtxKey{}) == nil
	if !b.field(ctx, top) {
		return spentContext{ctx}, func(*qerrors.QueryError) {}
	}
	ctx, finish := t.next.TraceField(ctx, label, typeName, fieldName, trivial, args)
	if top {
		ctx = context.WithValue(ctx, fieldCtxKey{}, true)
	}
	return ctx, finish
}

// spentContext is done from the start: graphql-go resolves no field traced with it, and
// reports errTooLarge in its place.
type spentContext struct{ context.Context }

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (spentContext) Done() <-chan struct{}       { return closed }
func (spentContext) Err() error                  { return errTooLarge }
func (spentContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// isTooLarge reports whether a graphql-go error is a field the budget stopped.
func isTooLarge(qe *qerrors.QueryError) bool {
	return qe.ResolverError == nil && qe.Message == errTooLarge.Error()
}

// tooLarge is the answer to a document whose answer would exceed limit bytes.
func tooLarge(limit int, setting string) Error {
	return Error{
		ErrorType:  "ValidationError",
		Message:    "The response would be larger than the limit of " + strconv.Itoa(limit) + " bytes (" + setting + "); select less",
		Data:       jsonNull,
		ErrorInfo:  jsonNull,
		Extensions: map[string]any{"errorType": "ValidationError"},
	}
}
