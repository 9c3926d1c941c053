package plan

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/smalruby/meshd/broker"
)

// Binding variables from their JSON text. Decoding a request's variables into JSON-like Go
// values (a map per object, an interface per string) and then coercing those into the root
// field's arguments is most of what a planned report allocates; a plan knows its variables'
// types, so it reads each one straight into its argument. It accepts a strict subset of JSON
// — anything it is unsure of (an escaped member name, a member named twice, a value of
// another shape) it declines, and the caller decodes the variables as before and calls Bind.

// maxBoundVars is the most variables BindJSON binds; a plan with more is left to Bind.
const maxBoundVars = 8

// Variable is one variable of a request as sent: its name and its JSON text.
type Variable struct {
	Name string
	JSON []byte
}

// BindJSON binds the variables sent, each as JSON text the caller has measured, into the
// root field's arguments. When it accepts, the text is valid JSON and the Args are those
// Bind returns for the same variables decoded by encoding/json; false leaves the request
// to Bind.
func (p *Plan) BindJSON(sent []Variable) (*Args, bool) {
	if len(sent) != len(p.vars) || len(sent) > maxBoundVars {
		return nil, false
	}
	var vals [maxBoundVars]any
	var seen [maxBoundVars]bool
	for _, v := range sent {
		i := p.varIndex(v.Name)
		if i < 0 || seen[i] {
			return nil, false
		}
		seen[i] = true
		typ := p.vars[i].typ
		x, ok := typedValue(typ, v.JSON)
		if !ok || !varTypes[typ](x, true) {
			return nil, false
		}
		vals[i] = x
	}
	return p.bind(func(name string) (any, bool) {
		if i := p.varIndex(name); i >= 0 {
			return vals[i], true
		}
		return nil, false
	})
}

// varIndex is the position of the declared variable name, or -1.
func (p *Plan) varIndex(name string) int {
	for i, v := range p.vars {
		if v.name == name {
			return i
		}
	}
	return -1
}

// typedValue reads a variable of type typ from its JSON text: a string or nil for the
// scalar types, []broker.Pair or []broker.EventInput for the input lists.
func typedValue(typ string, text []byte) (any, bool) {
	r := &jsonReader{b: text}
	r.space()
	var x any
	var ok bool
	switch typ {
	case "ID!", "String!", "ID", "String":
		if r.literal("null") {
			x, ok = nil, true
		} else {
			x, ok = r.str()
		}
	case "[SensorDataInput!]!":
		x, ok = r.pairs()
	case "[EventInput!]!":
		x, ok = r.events()
	}
	r.space()
	return x, ok && r.i == len(r.b)
}

// jsonReader reads the JSON values BindJSON accepts, strictly.
type jsonReader struct {
	b []byte
	i int
}

func (r *jsonReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) consume(c byte) bool {
	r.space()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

func (r *jsonReader) literal(s string) bool {
	if len(r.b)-r.i >= len(s) && string(r.b[r.i:r.i+len(s)]) == s {
		r.i += len(s)
		return true
	}
	return false
}

// quoted reads a string's text between its quotes; plain is false when it holds escapes,
// control characters or invalid UTF-8, which only encoding/json decodes exactly.
func (r *jsonReader) quoted() (body []byte, plain, ok bool) {
	if !r.consume('"') {
		return nil, false, false
	}
	start, plain := r.i, true
	for r.i < len(r.b) {
		switch c := r.b[r.i]; {
		case c == '"':
			body = r.b[start:r.i]
			r.i++
			return body, plain && utf8.Valid(body), true
		case c == '\\':
			plain = false
			r.i += 2
		case c < 0x20:
			return nil, false, false
		default:
			r.i++
		}
	}
	return nil, false, false
}

// str reads a string value.
func (r *jsonReader) str() (string, bool) {
	r.space()
	start := r.i
	body, plain, ok := r.quoted()
	switch {
	case !ok:
		return "", false
	case plain:
		return string(body), true
	}
	var s string
	if json.Unmarshal(r.b[start:r.i], &s) != nil {
		return "", false
	}
	return s, true
}

// optStr reads a string or null.
func (r *jsonReader) optStr() (*string, bool) {
	r.space()
	if r.literal("null") {
		return nil, true
	}
	s, ok := r.str()
	return &s, ok
}

// name reads an object member's name and its colon; only names without escapes are read.
func (r *jsonReader) name() ([]byte, bool) {
	body, plain, ok := r.quoted()
	return body, ok && plain && r.consume(':')
}

// list reads a JSON array, calling item for each element.
func (r *jsonReader) list(item func() bool) bool {
	if !r.consume('[') {
		return false
	}
	if r.consume(']') {
		return true
	}
	for {
		if !item() {
			return false
		}
		if r.consume(']') {
			return true
		}
		if !r.consume(',') {
			return false
		}
	}
}

// object reads a JSON object, calling member for each member once its name is read.
func (r *jsonReader) object(member func(name []byte) bool) bool {
	if !r.consume('{') {
		return false
	}
	if r.consume('}') {
		return true
	}
	for {
		name, ok := r.name()
		if !ok || !member(name) {
			return false
		}
		if r.consume('}') {
			return true
		}
		if !r.consume(',') {
			return false
		}
	}
}

// pairs reads a [SensorDataInput!]! value: objects of exactly a key and a value, strings.
func (r *jsonReader) pairs() ([]broker.Pair, bool) {
	out := make([]broker.Pair, 0, 16)
	ok := r.list(func() bool {
		var p broker.Pair
		var hasKey, hasValue bool
		ok := r.object(func(name []byte) bool {
			var ok bool
			switch {
			case string(name) == "key" && !hasKey:
				hasKey = true
				p.Key, ok = r.str()
			case string(name) == "value" && !hasValue:
				hasValue = true
				p.Value, ok = r.str()
			}
			return ok
		})
		out = append(out, p)
		return ok && hasKey && hasValue
	})
	return out, ok
}

// events reads an [EventInput!]! value: objects of an eventName and a firedAt (strings, the
// latter an AWSDateTime) and optionally a payload and an orderKey (strings or null).
func (r *jsonReader) events() ([]broker.EventInput, bool) {
	out := make([]broker.EventInput, 0, 1)
	ok := r.list(func() bool {
		var in broker.EventInput
		var hasName, hasFired, hasPayload, hasOrder bool
		ok := r.object(func(name []byte) bool {
			var ok bool
			switch {
			case string(name) == "eventName" && !hasName:
				hasName = true
				in.Name, ok = r.str()
			case string(name) == "firedAt" && !hasFired:
				hasFired = true
				var s string
				if s, ok = r.str(); ok {
					t, err := broker.ParseTime(s)
					in.FiredAt, ok = t, err == nil
				}
			case string(name) == "payload" && !hasPayload:
				hasPayload = true
				in.Payload, ok = r.optStr()
			case string(name) == "orderKey" && !hasOrder:
				hasOrder = true
				in.OrderKey, ok = r.optStr()
			}
			return ok
		})
		out = append(out, in)
		return ok && hasName && hasFired
	})
	return out, ok
}
