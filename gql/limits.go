package gql

import (
	"strconv"
)

// Limits bound what one document and one answer may cost, so that no request costs more
// than it is worth. Zero values take DefaultConfig's, in parentheses; the real editor's
// documents (testdata/documents) stay far below every one of them.
type Limits struct {
	// MaxQueryBytes bounds a document's length (64 KiB).
	MaxQueryBytes int
	// MaxDepth bounds how deeply fields nest (16).
	MaxDepth int
	// MaxOverlapPairs bounds the pairs of same-named fields validation may compare, which
	// otherwise grow with the square of a document (1000; the editor's documents need 1).
	MaxOverlapPairs int
	// MaxSelections bounds an operation's selections after its fragments are expanded
	// (1000; the editor's largest document has 30).
	MaxSelections int
	// MaxAliases bounds the aliases of a document (100; the editor uses none).
	MaxAliases int
	// MaxResponseBytes bounds the data of one query or mutation answer (8 MiB).
	MaxResponseBytes int
	// MaxFrameBytes bounds the payload of one subscription frame (256 KiB, above AppSync's
	// own 240 KB payload limit).
	MaxFrameBytes int
	// DocumentCache is how many validated documents are remembered (1024).
	DocumentCache int
	// MaxErrors bounds the errors of one answer (100, as graphql-js stops validation at;
	// the editor's documents cause one at most). Each message is cut at
	// maxErrorMessageBytes, so an error answer stays small whatever the document.
	MaxErrors int
	// MaxVariableBytes bounds the JSON text of a request's variables (1 MiB, as a request
	// body; the editor reports statuses of up to 0.9 MB).
	MaxVariableBytes int
	// MaxVariableDepth bounds how deeply the variables nest, the object holding them being
	// the first level (8; the editor's reach 4: variables, list, object, string).
	MaxVariableDepth int
	// MaxVariableValues bounds the JSON values of the variables, named by the document or
	// not, each of which costs heap once decoded (10000; the editor's largest, 1000 events of
	// 5 fields, hold about 6000).
	MaxVariableValues int
}

// tooManyAliases is the document error of a document over MaxAliases.
func tooManyAliases(n, limit int) Error {
	return documentError("QueryComplexity", "the document has "+strconv.Itoa(n)+" aliases; at most "+strconv.Itoa(limit)+" are allowed (MESH_MAX_ALIASES)")
}

// documentError is a document that is refused before it runs: AppSync reports such errors
// without an errorType.
func documentError(rule, detail string) Error {
	return Error{Message: "Validation error of type " + rule + ": " + detail}
}
