package gql

import (
	"context"
	"time"

	qerrors "github.com/graph-gophers/graphql-go/errors"
	"github.com/graph-gophers/graphql-go/introspection"
	"github.com/graph-gophers/graphql-go/trace/tracer"
)

// operationTracer reports each root query and mutation field — an API operation — with its
// outcome ("ok" or the errorType it failed with) and how long it took.
type operationTracer struct {
	observe func(operation, outcome string, d time.Duration)
}

func (operationTracer) TraceQuery(ctx context.Context, _, _ string, _ map[string]any, _ map[string]*introspection.Type) (context.Context, tracer.QueryFinishFunc) {
	return ctx, func([]*qerrors.QueryError) {}
}

func (t operationTracer) TraceField(ctx context.Context, _, typeName, fieldName string, _ bool, _ map[string]any) (context.Context, tracer.FieldFinishFunc) {
	if typeName != "Query" && typeName != "Mutation" {
		return ctx, func(*qerrors.QueryError) {}
	}
	start := time.Now()
	return ctx, func(err *qerrors.QueryError) {
		t.observe(fieldName, outcome(ctx, err), time.Since(start))
	}
}

// outcome names how an operation run under ctx ended, as its client reads it: "ok" or the
// errorType of its failure; once ctx has ended, the answer says so whatever the field did
// (contextError).
func outcome(ctx context.Context, err *qerrors.QueryError) string {
	if cerr := ctx.Err(); cerr != nil {
		return contextError(cerr).ErrorType
	}
	if err == nil {
		return "ok"
	}
	kind, _ := errorType(err)
	return string(kind)
}
