package gql

import (
	"context"
	"errors"
	"time"

	qerrors "github.com/graph-gophers/graphql-go/errors"
	"github.com/graph-gophers/graphql-go/introspection"
	"github.com/graph-gophers/graphql-go/trace/tracer"

	"github.com/smalruby/meshd/broker"
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
		t.observe(fieldName, outcome(err), time.Since(start))
	}
}

// outcome names how an operation ended, as its errorType would.
func outcome(err *qerrors.QueryError) string {
	if err == nil {
		return "ok"
	}
	var be *broker.Error
	if errors.As(err.ResolverError, &be) {
		return string(be.Kind)
	}
	return string(broker.InternalError)
}
