package gql

import (
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"unicode/utf8"

	qerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/smalruby/meshd/broker"
)

// Error is one entry of a response's errors list, in AppSync's shape: the client decides
// whether to disconnect by reading errorType at the top level.
type Error struct {
	Path       []any           `json:"path"`
	Data       json.RawMessage `json:"data,omitempty"`
	ErrorType  string          `json:"errorType,omitempty"`
	ErrorInfo  json.RawMessage `json:"errorInfo,omitempty"`
	Locations  []Location      `json:"locations,omitempty"`
	Message    string          `json:"message"`
	Extensions map[string]any  `json:"extensions,omitempty"`
}

// Location is where in the document an error points.
type Location struct {
	Line       int     `json:"line"`
	Column     int     `json:"column"`
	SourceName *string `json:"sourceName"`
}

var jsonNull = json.RawMessage("null")

// Error types of the transport, beside the broker's kinds.
const (
	typeMalformedRequest = "MalformedHttpRequestException"
	typeUnauthorized     = "UnauthorizedException"
	typePayloadTooLarge  = "PayloadTooLargeException"
	typeMethodNotAllowed = "MethodNotAllowed"
	typeForbiddenOrigin  = "ForbiddenOrigin"
	typeTooManyRequests  = "TooManyRequestsException"
	typeSlowSubscription = "SlowConsumerError"
)

// ConvertErrors turns graphql-go errors into AppSync-shaped errors, their errorTypes from
// errorType, their messages cut at maxErrorMessageBytes.
func ConvertErrors(errs []*qerrors.QueryError) []Error {
	out := make([]Error, len(errs))
	for i, qe := range errs {
		out[i] = convertError(qe)
		out[i].Message = cut(out[i].Message, maxErrorMessageBytes)
	}
	return out
}

// maxErrorMessageBytes is the longest message an error carries: graphql-go repeats a
// document's names in its messages, and a name may be as long as the document.
const maxErrorMessageBytes = 1024

func convertError(qe *qerrors.QueryError) Error {
	e := Error{Path: qe.Path, Message: withoutGoTypes(qe.Message)}
	for _, l := range qe.Locations {
		e.Locations = append(e.Locations, Location{Line: l.Line, Column: l.Column})
	}
	if qe.ResolverError == nil && qe.Path == nil {
		// A document that does not validate: AppSync reports it without an errorType.
		rule := qe.Rule
		switch {
		case rule == "" && goUnmarshal.MatchString(qe.Message):
			rule = "VariablesOfCorrectType"
		case rule == "":
			rule = "InvalidSyntax"
		}
		e.Message = "Validation error of type " + rule + ": " + e.Message
		return e
	}
	kind, msg := errorType(qe)
	if msg != "" {
		e.Message = msg
	}
	e.ErrorType = string(kind)
	e.Data, e.ErrorInfo = jsonNull, jsonNull
	e.Extensions = map[string]any{"errorType": string(kind)}
	return e
}

// cut shortens s to at most n bytes, at a character boundary, marking the cut with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	i := n - len(mark)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}

// bounded keeps the first max errors of errs and says how many more there were in one last
// error of the same kind as the first, so that the client decides as it would on all of them.
func bounded(errs []Error, max int) []Error {
	if len(errs) <= max {
		return errs
	}
	more := "Validation error of type TooManyErrors: " + strconv.Itoa(len(errs)-max) + " more errors are not shown; at most " + strconv.Itoa(max) + " are (MESH_MAX_ERRORS)"
	last := Error{Message: more}
	if first := errs[0]; first.ErrorType != "" {
		last = Error{ErrorType: first.ErrorType, Message: more, Data: jsonNull, ErrorInfo: jsonNull, Extensions: map[string]any{"errorType": first.ErrorType}}
	}
	return append(errs[:max:max], last)
}

// errorType is the errorType of a field that failed with qe and, when the client is to read
// another message than qe's, that message: a broker.Error's kind and message, ValidationError
// for arguments graphql-go could not read, InternalError (its details hidden) for anything
// else. It is the one place where failures become errorTypes: the client's errors
// (convertError) and the operation metric (outcome) both read it.
func errorType(qe *qerrors.QueryError) (broker.Kind, string) {
	var be *broker.Error
	switch {
	case errors.As(qe.ResolverError, &be):
		return be.Kind, be.Message
	case qe.ResolverError == nil:
		// Arguments that could not be read (an ill-formed AWSDateTime, say).
		return broker.ValidationError, ""
	}
	return broker.InternalError, "Internal server error"
}

// orNull is data, or JSON null when there is none.
func orNull(data json.RawMessage) json.RawMessage {
	if len(data) == 0 {
		return jsonNull
	}
	return data
}

// Go's names of types and values leak into some of graphql-go's messages ("could not
// unmarshal 1.5 (float64) into int32", "has invalid type map[string]interface {}"); clients
// are told about their GraphQL values instead.
var (
	goUnmarshal   = regexp.MustCompile(`(?s)^could not unmarshal .* into [^:]+: `)
	goInvalidType = regexp.MustCompile(`(?s)has invalid type [^\n]*\.\n(Expected type "[^"]*"), found .*$`)
)

func withoutGoTypes(msg string) string {
	if goUnmarshal.MatchString(msg) {
		return "A variable or argument has a value that does not match its GraphQL type."
	}
	return goInvalidType.ReplaceAllString(msg, "has an invalid value.\n$1.")
}
