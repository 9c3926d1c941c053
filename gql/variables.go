package gql

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/smalruby/meshd/gql/plan"
)

// A request's variables arrive as JSON text. Decoded into Go values, each JSON value costs
// tens of bytes of heap (a 1 MiB object of nested objects costs ~45 MB), so their cost is
// measured on the text first — size, depth, number of values — and only the variables the
// document names are decoded; the others are skipped without becoming values.

// bindVariables checks req's variables against the limits and decodes those its document
// names: a planned query or mutation's straight into its arguments (req.args), any other's
// into req.Variables. It returns the error to answer with, and whether the variables were
// not a JSON object at all (a malformed request rather than a refused one).
func (s *Server) bindVariables(req *request) (refused *Error, malformed bool) {
	raw := req.RawVariables
	if len(raw) == 0 {
		return nil, false
	}
	if len(raw) > s.limits.MaxVariableBytes {
		e := documentError("QueryComplexity", "the variables are "+strconv.Itoa(len(raw))+" bytes long; at most "+strconv.Itoa(s.limits.MaxVariableBytes)+" are allowed (MESH_MAX_VARIABLE_BYTES)")
		return &e, false
	}
	var named map[string]bool
	var p *plan.Plan
	if len(req.Query) > s.limits.MaxQueryBytes {
		named = variableNames(req.Query) // refused later, without a scan
	} else {
		sc := s.scans.get(req.Query)
		named, p = sc.names, sc.doc.Plan(req.OperationName)
	}
	sent, null, err := measureVariables(raw, s.limits.MaxVariableDepth, s.limits.MaxVariableValues, func(name string) bool { return named[name] })
	if err == nil && !null {
		// A subscription's variables also key its execution: they are decoded.
		if p != nil && !p.Subscription() {
			if a, ok := p.BindJSON(sent); ok {
				req.sent, req.args, req.argsOf = sent, a, p
				return nil, false
			}
		}
		req.Variables, err = decodeVariables(sent)
	}
	if err != nil {
		e := documentError(err.rule, err.detail)
		return &e, err.malformed
	}
	return nil, false
}

// variableNames are the names written after a $ anywhere in a document: a superset of the
// variables it can use.
func variableNames(query string) map[string]bool {
	names := map[string]bool{}
	for i := 0; i < len(query); i++ {
		if query[i] != '$' {
			continue
		}
		j := i + 1
		for j < len(query) && isNameByte(query[j], j > i+1) {
			j++
		}
		if j > i+1 {
			names[query[i+1:j]] = true
		}
		i = j - 1
	}
	return names
}

func isNameByte(c byte, notFirst bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || notFirst && c >= '0' && c <= '9'
}

// variablesError says why variables were refused, as a document error's rule and detail.
type variablesError struct {
	rule, detail string
	malformed    bool
}

func malformedVariables() *variablesError {
	return &variablesError{"VariablesOfCorrectType", "the variables are not a JSON object", true}
}

// measureVariables reads raw, a JSON object or null, without decoding it: it refuses values
// nested deeper than maxDepth (the object itself is depth 1) and more than maxValues values in
// all (used or not), and returns the text of the members use accepts, in order.
func measureVariables(raw []byte, maxDepth, maxValues int, use func(string) bool) (sent []plan.Variable, null bool, err *variablesError) {
	sc := &scanner{b: raw, maxDepth: maxDepth, maxValues: maxValues}
	sc.space()
	if sc.literal("null") {
		if sc.space(); sc.i != len(sc.b) {
			return nil, false, malformedVariables()
		}
		return nil, true, nil
	}
	if !sc.consume('{') {
		return nil, false, malformedVariables()
	}
	sc.values = 1
	sc.space()
	if !sc.consume('}') {
		for {
			sc.space()
			start := sc.i
			if !sc.string() {
				return nil, false, sc.failure()
			}
			name, ok := unquoteJSON(sc.b[start:sc.i])
			if !ok {
				return nil, false, malformedVariables()
			}
			sc.space()
			if !sc.consume(':') {
				return nil, false, malformedVariables()
			}
			sc.space()
			vstart := sc.i
			if !sc.value(2) {
				return nil, false, sc.failure()
			}
			if use(name) {
				sent = append(sent, plan.Variable{Name: name, JSON: sc.b[vstart:sc.i]})
			}
			sc.space()
			if sc.consume('}') {
				break
			}
			if !sc.consume(',') {
				return nil, false, malformedVariables()
			}
		}
	}
	if sc.space(); sc.i != len(sc.b) {
		return nil, false, malformedVariables()
	}
	return sent, false, nil
}

// unquoteJSON decodes a JSON string (quotes included) as encoding/json does; one without
// escapes, control characters or invalid UTF-8 stands for itself.
func unquoteJSON(quoted []byte) (string, bool) {
	body := quoted[1 : len(quoted)-1]
	if utf8.Valid(body) && bytes.IndexByte(body, '\\') < 0 && !hasControl(body) {
		return string(body), true
	}
	var name string
	return name, json.Unmarshal(quoted, &name) == nil
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// decodeVariables decodes the measured members of a variables object as encoding/json
// does; a name sent twice keeps the last value.
func decodeVariables(sent []plan.Variable) (map[string]any, *variablesError) {
	vars := make(map[string]any, len(sent))
	for _, m := range sent {
		var v any
		if json.Unmarshal(m.JSON, &v) != nil {
			return nil, malformedVariables()
		}
		vars[m.Name] = v
	}
	return vars, nil
}

// scanner walks JSON text, counting values and depth, without building anything.
type scanner struct {
	b         []byte
	i         int
	maxDepth  int
	maxValues int
	values    int
	// tooDeep and tooMany say why the scan stopped, when it was a limit.
	tooDeep, tooMany bool
}

func (sc *scanner) failure() *variablesError {
	switch {
	case sc.tooDeep:
		return &variablesError{rule: "QueryComplexity", detail: "the variables nest deeper than " + strconv.Itoa(sc.maxDepth) + " levels (MESH_MAX_VARIABLE_DEPTH)"}
	case sc.tooMany:
		return &variablesError{rule: "QueryComplexity", detail: "the variables hold more than " + strconv.Itoa(sc.maxValues) + " values (MESH_MAX_VARIABLE_VALUES)"}
	}
	return malformedVariables()
}

func (sc *scanner) space() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func (sc *scanner) consume(c byte) bool {
	if sc.i < len(sc.b) && sc.b[sc.i] == c {
		sc.i++
		return true
	}
	return false
}

func (sc *scanner) literal(s string) bool {
	if len(sc.b)-sc.i >= len(s) && string(sc.b[sc.i:sc.i+len(s)]) == s {
		sc.i += len(s)
		return true
	}
	return false
}

// string skips a JSON string; its escapes are checked when a used value is decoded.
func (sc *scanner) string() bool {
	if !sc.consume('"') {
		return false
	}
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case '"':
			sc.i++
			return true
		case '\\':
			sc.i += 2
		default:
			sc.i++
		}
	}
	return false
}

// value skips one JSON value at depth.
func (sc *scanner) value(depth int) bool {
	if depth > sc.maxDepth {
		sc.tooDeep = true
		return false
	}
	if sc.values++; sc.values > sc.maxValues {
		sc.tooMany = true
		return false
	}
	if sc.i >= len(sc.b) {
		return false
	}
	switch c := sc.b[sc.i]; {
	case c == '"':
		return sc.string()
	case c == '{':
		sc.i++
		sc.space()
		if sc.consume('}') {
			return true
		}
		for {
			sc.space()
			if !sc.string() {
				return false
			}
			sc.space()
			if !sc.consume(':') {
				return false
			}
			sc.space()
			if !sc.value(depth + 1) {
				return false
			}
			sc.space()
			if sc.consume('}') {
				return true
			}
			if !sc.consume(',') {
				return false
			}
		}
	case c == '[':
		sc.i++
		sc.space()
		if sc.consume(']') {
			return true
		}
		for {
			sc.space()
			if !sc.value(depth + 1) {
				return false
			}
			sc.space()
			if sc.consume(']') {
				return true
			}
			if !sc.consume(',') {
				return false
			}
		}
	case c == 't':
		return sc.literal("true")
	case c == 'f':
		return sc.literal("false")
	case c == 'n':
		return sc.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		start := sc.i
		for sc.i < len(sc.b) && (sc.b[sc.i] >= '0' && sc.b[sc.i] <= '9' || sc.b[sc.i] == '-' || sc.b[sc.i] == '+' || sc.b[sc.i] == '.' || sc.b[sc.i] == 'e' || sc.b[sc.i] == 'E') {
			sc.i++
		}
		return sc.i > start
	}
	return false
}
