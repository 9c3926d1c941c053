// Package broker holds Mesh v2 domain state and rules: groups, members, node statuses and
// polling events, kept in sharded in-memory maps, persisted through a store.Store and
// published to subscribers through the bus.
package broker

import "fmt"

// Kind classifies a rule violation so that the API layer can report it; each kind maps to one
// AppSync errorType.
type Kind string

// The kinds of Error the broker returns.
const (
	GroupNotFound   Kind = "GroupNotFound"
	Unauthorized    Kind = "Unauthorized"
	NodeNotFound    Kind = "NodeNotFound"
	ValidationError Kind = "ValidationError"
	InternalError   Kind = "InternalError"
)

// Error is a rule violation with the exact message clients see.
type Error struct {
	Kind    Kind
	Message string
	// Err is the underlying cause of an InternalError; it is never shown to clients.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.Err }

func errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func internal(err error) *Error {
	return &Error{Kind: InternalError, Message: "Internal server error", Err: err}
}

func groupNotFound(groupID, domain string) *Error {
	return errorf(GroupNotFound, "Group not found: %s@%s", groupID, domain)
}
