package gql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	qerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/smalruby/meshd/broker"
)

// The operation metric's outcome and the client's errorType come from one mapping, so they
// agree for every kind of failure.
func TestOutcomeIsTheClientsErrorType(t *testing.T) {
	notFound := &broker.Error{Kind: broker.GroupNotFound, Message: "Group not found"}
	tests := []struct {
		name string
		qe   *qerrors.QueryError
		want string
	}{
		{"broker error", &qerrors.QueryError{Message: "x", Path: []any{"joinGroup"}, ResolverError: notFound}, "GroupNotFound"},
		{"wrapped broker error", &qerrors.QueryError{Message: "x", Path: []any{"joinGroup"}, ResolverError: fmt.Errorf("join: %w", notFound)}, "GroupNotFound"},
		{"arguments not read", &qerrors.QueryError{Message: "bad AWSDateTime", Path: []any{"getEventsSince"}}, "ValidationError"},
		{"plain error", &qerrors.QueryError{Message: "disk full", Path: []any{"createGroup"}, ResolverError: errors.New("disk full")}, "InternalError"},
		{"panic", newPanics(slog.New(slog.DiscardHandler)).MakePanicError(context.Background(), "boom"), "InternalError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, client := outcome(context.Background(), tt.qe), convertError(tt.qe)
			if got != tt.want || client.ErrorType != got {
				t.Fatalf("outcome %q, client's errorType %q; want both %q", got, client.ErrorType, tt.want)
			}
			if tt.want == "InternalError" && client.Message != "Internal server error" {
				t.Fatalf("internal details reach the client: %q", client.Message)
			}
		})
	}
	if got := outcome(context.Background(), nil); got != "ok" {
		t.Fatalf("outcome of success %q", got)
	}
	// A request whose deadline passed is answered ExecutionTimeout, whatever its field did.
	ctx, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	if got, client := outcome(ctx, nil), contextError(ctx.Err()).ErrorType; got != client || got != "ExecutionTimeout" {
		t.Fatalf("outcome past the deadline %q, client's errorType %q", got, client)
	}
}
