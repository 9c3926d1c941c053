package gql

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"

	graphql "github.com/graph-gophers/graphql-go"
	qerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/smalruby/meshd/gql/plan"
)

// Views of the schema a document is run against; a document's verdict is kept per view.
const (
	// viewFull is the whole schema: POST and the realtime endpoints.
	viewFull = "full"
	// viewQuery has no mutation root: GET may only read (spec §1).
	viewQuery = "query"
)

// graphql-go's own refusals of an operation type, which it decides from its parsed document.
const (
	refusedMutation     = "no mutations are offered by the schema"
	refusedSubscription = "graphql-ws protocol header is missing"
)

// schemaOf is the executable schema of a view.
func (s *Server) schemaOf(view string) *graphql.Schema {
	if view == viewQuery {
		return s.querySchema
	}
	return s.schema
}

// run executes a query or mutation under the document limits and the request's deadline
// and returns the answer, AppSync-shaped. A document's verdict is remembered, so a refused
// document is refused again without being parsed, and its cost is bounded by the limits
// either way. A document no request was refused for is not looked up: hashing its variables
// would cost more than the plan that runs it.
func (s *Server) run(ctx context.Context, view string, req request) response {
	var key *[sha256.Size]byte
	keyOf := func() [sha256.Size]byte {
		if key == nil {
			k := docKey(view, req.Query, req.OperationName, req.variables())
			key = &k
		}
		return *key
	}
	if s.everRefused(req.Query) {
		if v, ok := s.docs.get(keyOf()); ok && v.errs != nil {
			return response{Data: jsonNull, Errors: v.errs}
		}
	}
	sh, refused := s.precheck(req.Query)
	if refused != nil {
		s.refuse(req.Query, keyOf(), refused)
		return response{Data: jsonNull, Errors: refused}
	}
	if err := ctx.Err(); err != nil {
		return response{Data: jsonNull, Errors: []Error{contextError(err)}}
	}
	ctx, b := withBudget(ctx, s.limits.MaxResponseBytes, sh)
	data, qerrs, planned := s.execPlanned(ctx, req, view == viewQuery)
	if !planned {
		res := s.schemaOf(view).Exec(ctx, req.Query, req.OperationName, req.variables())
		data, qerrs = res.Data, res.Errors
	}
	if err := ctx.Err(); err != nil {
		return response{Data: jsonNull, Errors: []Error{contextError(err)}}
	}
	if b.spent() || len(data) > s.limits.MaxResponseBytes || anyTooLarge(qerrs) {
		return response{Data: jsonNull, Errors: []Error{tooLarge(s.limits.MaxResponseBytes, "MESH_MAX_RESPONSE_BYTES")}}
	}
	out := response{Data: orNull(data), Errors: s.convert(qerrs), planned: planned && len(qerrs) == 0 && len(data) > 0}
	if len(data) == 0 && len(qerrs) > 0 {
		out.Errors = refusal(qerrs, out.Errors)
		if documentErrors(qerrs) {
			s.refuse(req.Query, keyOf(), out.Errors)
		}
		return out
	}
	if !planned {
		s.docs.put(keyOf(), verdict{})
	}
	return out
}

// everRefused reports whether a request of the document may have been refused for the
// document itself: one too long to scan, or one whose scan remembers a refusal.
func (s *Server) everRefused(query string) bool {
	return len(query) > s.limits.MaxQueryBytes || s.scans.get(query).refused.Load()
}

// refuse remembers the errors a document (with its variables, named by key) was refused with.
func (s *Server) refuse(query string, key [sha256.Size]byte, errs []Error) {
	if len(query) <= s.limits.MaxQueryBytes {
		s.scans.get(query).refused.Store(true)
	}
	s.docs.put(key, verdict{errs: errs})
}

// validate checks a document and its variables against the whole schema under the document
// limits, once: the verdict is remembered for HTTP and the realtime endpoints alike. It
// returns the errors to answer with, none when the document is valid.
func (s *Server) validate(req request) []Error {
	vars := req.variables()
	key := docKey(viewFull, req.Query, req.OperationName, vars)
	if v, ok := s.docs.get(key); ok {
		return v.errs
	}
	_, errs := s.precheck(req.Query)
	if errs == nil {
		errs = s.convert(s.schema.ValidateWithVariables(req.Query, vars))
	}
	if len(errs) == 0 {
		s.docs.put(key, verdict{})
		return nil
	}
	s.refuse(req.Query, key, errs)
	return errs
}

// precheck measures a document before graphql-go parses it and refuses one beyond the
// limits that need no parse.
func (s *Server) precheck(query string) (plan.Shape, []Error) {
	if len(query) > s.limits.MaxQueryBytes {
		return plan.Shape{}, []Error{documentError("QueryComplexity", "the document is "+strconv.Itoa(len(query))+" bytes long; at most "+strconv.Itoa(s.limits.MaxQueryBytes)+" are allowed (MESH_MAX_QUERY_BYTES)")}
	}
	sh := s.scans.get(query).doc.Shape()
	if sh.Aliases > s.limits.MaxAliases {
		return sh, []Error{tooManyAliases(sh.Aliases, s.limits.MaxAliases)}
	}
	return sh, nil
}

// convert is ConvertErrors with meshd's own limits named, at most MaxErrors of them.
func (s *Server) convert(qerrs []*qerrors.QueryError) []Error {
	if len(qerrs) == 0 {
		return nil
	}
	errs := ConvertErrors(qerrs)
	for i, qe := range qerrs {
		if errors.Is(qe, graphql.ErrTooManySelections) {
			errs[i] = documentError("QueryComplexity", "the operation expands to more than "+strconv.Itoa(s.limits.MaxSelections)+" selections (MESH_MAX_SELECTIONS)")
		}
	}
	return bounded(errs, s.limits.MaxErrors)
}

// refusal rewords graphql-go's refusal of an operation type the way meshd documents it.
func refusal(qerrs []*qerrors.QueryError, errs []Error) []Error {
	if len(qerrs) != 1 {
		return errs
	}
	switch qerrs[0].Message {
	case refusedMutation:
		return []Error{documentError("OperationNotSupported", "only queries can be sent with GET")}
	case refusedSubscription:
		return []Error{documentError("OperationNotSupported", "subscriptions are served on the realtime endpoint")}
	}
	return errs
}

// documentErrors reports whether errors are about the document itself (its validation or
// its operation type), so that the same document and variables always get them.
func documentErrors(errs []*qerrors.QueryError) bool {
	for _, qe := range errs {
		if qe.Path != nil || qe.ResolverError != nil {
			return false
		}
	}
	return true
}

func anyTooLarge(errs []*qerrors.QueryError) bool {
	for _, qe := range errs {
		if isTooLarge(qe) {
			return true
		}
	}
	return false
}

// contextError is the answer to a request whose context ended before its answer was built:
// AppSync's ExecutionTimeout for the deadline.
func contextError(err error) Error {
	kind, msg := "ExecutionTimeout", "Execution timed out."
	if !errors.Is(err, context.DeadlineExceeded) {
		kind, msg = "RequestCancelled", "The request was cancelled."
	}
	return Error{ErrorType: kind, Message: msg, Data: jsonNull, ErrorInfo: jsonNull, Extensions: map[string]any{"errorType": kind}}
}
