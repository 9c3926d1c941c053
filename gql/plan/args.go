package plan

import (
	"github.com/smalruby/meshd/broker"
)

// Argument coercion for compiled plans. It accepts only values that graphql-go's validation
// accepts and that mean the same thing to its resolvers; for anything else (a missing or
// mistyped variable, an ill-formed AWSDateTime, an ID graphql-go could not write back) it
// declines, and the request is left to graphql-go, which then reports the error itself.

// varTypes are the variable types plans accept, with a check of a value against each.
var varTypes = map[string]func(v any, present bool) bool{
	"ID!":     func(v any, ok bool) bool { _, s := v.(string); return ok && s },
	"String!": func(v any, ok bool) bool { _, s := v.(string); return ok && s },
	"ID":      optionalString,
	"String":  optionalString,
	// Lists are only allowed where the same list type is expected, where they are read
	// strictly.
	"[SensorDataInput!]!": func(v any, ok bool) bool { return ok && v != nil },
	"[EventInput!]!":      func(v any, ok bool) bool { return ok && v != nil },
}

func optionalString(v any, ok bool) bool {
	if !ok || v == nil {
		return ok
	}
	_, s := v.(string)
	return s
}

// argValue resolves an argument as written against the request's variables (as lookup finds
// them) into a JSON-like Go value, or the typed value BindJSON read; ok is false for what
// plans leave to graphql-go.
func argValue(v pValue, lookup func(name string) (any, bool)) (any, bool) {
	switch v.kind {
	case vVariable:
		return lookup(v.text)
	case vString:
		return v.text, true
	case vNull:
		return nil, true
	case vList:
		out := make([]any, len(v.list))
		for i, e := range v.list {
			x, ok := argValue(e, lookup)
			if !ok {
				return nil, false
			}
			out[i] = x
		}
		return out, true
	case vObject:
		out := make(map[string]any, len(v.fields))
		for _, f := range v.fields {
			x, ok := argValue(f.val, lookup)
			if !ok {
				return nil, false
			}
			out[f.name] = x
		}
		return out, true
	}
	return nil, false
}

// stringArg reads an ID! or String! argument.
func stringArg(v any, isID bool) (string, bool) {
	s, ok := v.(string)
	if !ok || isID && !idSafe(s) {
		return "", false
	}
	return s, true
}

// sensorData reads a [SensorDataInput!]! value.
func sensorData(v any) ([]broker.Pair, bool) {
	if typed, ok := v.([]broker.Pair); ok {
		return typed, true
	}
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]broker.Pair, len(items))
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok || len(m) != 2 {
			return nil, false
		}
		k, ok1 := m["key"].(string)
		val, ok2 := m["value"].(string)
		if !ok1 || !ok2 {
			return nil, false
		}
		out[i] = broker.Pair{Key: k, Value: val}
	}
	return out, true
}

// eventInputs reads an [EventInput!]! value.
func eventInputs(v any) ([]broker.EventInput, bool) {
	if typed, ok := v.([]broker.EventInput); ok {
		return typed, true
	}
	items, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]broker.EventInput, len(items))
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, false
		}
		known := 0
		name, ok := m["eventName"].(string)
		if !ok {
			return nil, false
		}
		known++
		firedAt, ok := m["firedAt"].(string)
		if !ok {
			return nil, false
		}
		known++
		t, err := broker.ParseTime(firedAt)
		if err != nil {
			return nil, false
		}
		in := broker.EventInput{Name: name, FiredAt: t}
		for _, f := range []struct {
			key string
			dst **string
		}{{"payload", &in.Payload}, {"orderKey", &in.OrderKey}} {
			x, present := m[f.key]
			if !present {
				continue
			}
			known++
			if x == nil {
				continue
			}
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			*f.dst = &s
		}
		if known != len(m) {
			return nil, false
		}
		out[i] = in
	}
	return out, true
}
