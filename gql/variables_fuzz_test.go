package gql

import (
	"encoding/json"
	"reflect"
	"testing"
)

// shapeOf is the depth and the number of values of a decoded JSON value.
func shapeOf(v any) (depth, values int) {
	values = 1
	children := []any{}
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			children = append(children, c)
		}
	case []any:
		children = x
	}
	for _, c := range children {
		d, n := shapeOf(c)
		depth, values = max(depth, d), values+n
	}
	return depth + 1, values
}

// FuzzScanVariables: the measure of variables never panics, accepts exactly the JSON objects
// (or null) within the limits, and decodes them as encoding/json does.
func FuzzScanVariables(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"a":1,"b":[true,false,null],"c":{"d":"\u00e9\""}}`, `{"data":[{"key":"k","value":"v"}]}`,
		`[1]`, `{"a":[[[[[[[[1]]]]]]]]}`, `{"a":1,}`, `{"a" 1}`, `{"a":"\x"}`, `{"a":1}x`, `{"a":-1.5e3,"a":2}`, `{"a":tru}`, ` { "a" : [ ] } `} {
		f.Add([]byte(s))
	}
	const maxDepth, maxValues = 6, 40
	f.Fuzz(func(t *testing.T, raw []byte) {
		sent, null, err := measureVariables(raw, maxDepth, maxValues, func(string) bool { return true })
		var vars map[string]any
		if err == nil && !null {
			vars, err = decodeVariables(sent)
		}
		var want any
		valid := json.Unmarshal(raw, &want) == nil
		obj, isObj := want.(map[string]any)
		if !valid || (want != nil && !isObj) {
			if err == nil {
				t.Fatalf("accepted %q, which is not a JSON object", raw)
			}
			return
		}
		if want == nil {
			if err != nil || vars != nil || !null {
				t.Fatalf("null: %v %v", vars, err)
			}
			return
		}
		depth, values := shapeOf(obj)
		// Duplicate names are counted by the scan but not in the decoded tree, so the scan
		// may refuse a little more than shapeOf sees; never less.
		if depth <= maxDepth && values <= maxValues && err == nil && !reflect.DeepEqual(vars, obj) {
			t.Fatalf("%q decoded to %v, want %v", raw, vars, obj)
		}
		if err == nil && (depth > maxDepth || values > maxValues) {
			t.Fatalf("%q (depth %d, %d values) passed limits of %d and %d", raw, depth, values, maxDepth, maxValues)
		}
		if err != nil && err.rule != "QueryComplexity" {
			t.Fatalf("%q is valid JSON but was refused as malformed: %v", raw, err)
		}
	})
}
