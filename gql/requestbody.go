package gql

import (
	"encoding/json"
	"sync"
)

// Reading a POST body. Every request an editor sends is {"query", "variables",
// "operationName"} with the same few documents; decoding it through encoding/json's
// reflection and unescaping the same document text each time is a tenth of a request's
// cost. readRequestBody reads exactly that shape itself, and any other — a member of another
// name or spelling, one sent twice, a query that is not a string — through json.Unmarshal as
// before, so both read the same requests the same way.

// maxQueryTexts bounds the unescaped documents kept; when full the cache starts over.
const maxQueryTexts = 512

// queryTexts keeps the text of recent documents by their JSON string as sent.
type queryTexts struct {
	mu sync.Mutex
	m  map[string]string
}

// text returns the document a JSON string (quotes included) holds, unescaping it on first
// use; ok is false when it is not a valid JSON string.
func (c *queryTexts) text(quoted []byte) (string, bool) {
	c.mu.Lock()
	q, ok := c.m[string(quoted)]
	c.mu.Unlock()
	if ok {
		return q, true
	}
	if json.Unmarshal(quoted, &q) != nil {
		return "", false
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxQueryTexts {
		c.m = map[string]string{}
	}
	c.m[string(quoted)] = q
	c.mu.Unlock()
	return q, true
}

// bodyFields are the members of a request body, as json.Unmarshal sets them.
type bodyFields struct {
	Query         *string         `json:"query"`
	Variables     json.RawMessage `json:"variables"`
	OperationName *string         `json:"operationName"`
}

// readRequestBody reads a body as json.Unmarshal into bodyFields does; ok is false when it
// is not valid JSON of that type.
func (s *Server) readRequestBody(body []byte) (f bodyFields, ok bool) {
	if !json.Valid(body) {
		return f, false
	}
	if f, ok := s.readPlainBody(body); ok {
		return f, true
	}
	f = bodyFields{}
	return f, json.Unmarshal(body, &f) == nil
}

// readPlainBody reads a valid JSON body that is an object of at most one query (a string),
// one operationName (a string or null) and one variables member, named exactly so; ok is
// false for any other.
func (s *Server) readPlainBody(body []byte) (f bodyFields, ok bool) {
	sc := &scanner{b: body, maxDepth: len(body) + 1, maxValues: len(body) + 1}
	sc.space()
	if !sc.consume('{') {
		return f, false
	}
	var seenQuery, seenName, seenVars bool
	for sc.space(); !sc.consume('}'); sc.space() {
		sc.consume(',')
		sc.space()
		start := sc.i
		if !sc.string() {
			return f, false
		}
		name := body[start+1 : sc.i-1]
		sc.space()
		sc.consume(':')
		sc.space()
		vstart := sc.i
		if !sc.value(1) {
			return f, false
		}
		value := body[vstart:sc.i]
		switch {
		case string(name) == "query" && !seenQuery && value[0] == '"':
			seenQuery = true
			q, ok := s.queryTexts.text(value)
			if !ok {
				return f, false
			}
			f.Query = &q
		case string(name) == "operationName" && !seenName && (value[0] == '"' || value[0] == 'n'):
			seenName = true
			if value[0] == '"' {
				n, ok := unquoteJSON(value)
				if !ok {
					return f, false
				}
				f.OperationName = &n
			}
		case string(name) == "variables" && !seenVars:
			seenVars = true
			f.Variables = value
		default:
			return f, false
		}
	}
	return f, true
}
