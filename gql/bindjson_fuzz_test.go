package gql

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/smalruby/meshd/gql/plan"
)

// FuzzBindJSON: whatever variables text a planned query or mutation of any client generation
// gets, binding it straight from the text (Plan.BindJSON) either declines or gives exactly
// the arguments that decoding it with encoding/json and binding the values (Plan.Bind) gives
// — and then encoding/json accepts the text too, so no malformed request is answered.
func FuzzBindJSON(f *testing.F) {
	type planned struct {
		p     *plan.Plan
		named map[string]bool
	}
	var plans []planned
	for _, d := range manifest(f) {
		if d.Kind == "subscription" {
			continue
		}
		doc := d.text(f)
		if p := plan.Scan(doc).Plan(d.opName()); p != nil {
			plans = append(plans, planned{p, variableNames(doc)})
		}
		vars, _ := json.Marshal(d.Variables)
		f.Add(vars)
	}
	for _, s := range []string{
		`{"groupId":"g","domain":"d","nodeId":"n","data":[{"key":"k","value":"v"},{"value":"\u00e9\n","key":"\ud83d\ude00"}]}`,
		`{"groupId":"g","domain":"d","nodeId":"n","data":[]}`,
		`{"groupId":"g","domain":"d","nodeId":"n","data":[{"key":"k","value":"v","key":"k2"}]}`,
		`{"groupId":"g","domain":"d","nodeId":"n","data":[{"k\u0065y":"k","value":"v"}]}`,
		`{"groupId":"g","domain":"d","nodeId":"n","data":[{"key":"\xff","value":"\u0000"}]}`,
		`{"groupId":"g","domain":"d","nodeId":"n","data":[{"key":"k","value":null}]}`,
		`{"groupId":"g","domain":"d","nodeId":"n","data":{"key":"k","value":"v"}}`,
		`{"groupId":"g","domain":"d","nodeId":"n","events":[{"eventName":"e","firedAt":"2026-12-06T10:00:00.000Z","payload":null,"orderKey":"1"}]}`,
		`{"groupId":"g","domain":"d","nodeId":"n","events":[{"eventName":"e","firedAt":"yesterday"}]}`,
		`{"groupId":"g","domain":"d","nodeId":"n","events":[{"eventName":"e","firedAt":"2026-12-06T10:00:00Z","extra":1}]}`,
		` { "groupId" : "g" , "domain" : "d\"" , "hostId" : null } `,
		`{"groupId":"g","groupId":"h","domain":"d","since":""}`,
		`{"groupId":"g\\","domain":"d","since":"2026-12-06T10:00:00Z","nodeId":"x"}`,
		`{"groupId":"g","domain":"d","since":"1-2"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, pl := range plans {
			sent, null, err := measureVariables(raw, 16, 1000, func(name string) bool { return pl.named[name] })
			if err != nil || null {
				return
			}
			typed, ok := pl.p.BindJSON(sent)
			if !ok {
				continue
			}
			vars, derr := decodeVariables(sent)
			if derr != nil {
				t.Fatalf("%s: BindJSON accepted %q, which encoding/json refuses", pl.p.Field(), raw)
			}
			decoded, ok := pl.p.Bind(vars)
			if !ok || !reflect.DeepEqual(typed, decoded) {
				t.Fatalf("%s: %q bound from its text to %+v, decoded to %+v (%v)", pl.p.Field(), raw, typed, decoded, ok)
			}
		}
	})
}
