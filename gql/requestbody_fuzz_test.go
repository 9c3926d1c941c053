package gql

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzRequestBody: a POST body reads the same through readRequestBody as through
// json.Unmarshal — the same verdict, the same query, operation name and variables — whatever
// its members, their spelling, order, repetition or escapes.
func FuzzRequestBody(f *testing.F) {
	for _, s := range []string{
		`{"query":"query { a }","operationName":"A","variables":{"x":1}}`,
		`{"operationName":null,"variables":null,"query":"q\n\"\u00e9\""}`,
		`{"query":"a","query":"b"}`, `{"Query":"a"}`, `{"q\u0075ery":"a"}`, `{"query":null}`,
		`{"query":1}`, `{"query":"a","operationName":1}`, `{"query":"a","extensions":{}}`,
		`{"query":"a","variables":[1,{"b":"\ud83d"}]}`, ` {"query" : "a" } `, `[]`, `null`, `{"query":"a"`,
		`{"query":"a","variables":1-2}`, `{"query":"\xff\u0000"}`, `{}`, `{"operationName":"\u0041"}`,
	} {
		f.Add([]byte(s))
	}
	s := &Server{}
	f.Fuzz(func(t *testing.T, body []byte) {
		var want bodyFields
		wantOK := json.Unmarshal(body, &want) == nil
		got, ok := s.readRequestBody(body)
		if ok != wantOK {
			t.Fatalf("%q: read %v, json.Unmarshal %v", body, ok, wantOK)
		}
		same := reflect.DeepEqual(got.Query, want.Query) && reflect.DeepEqual(got.OperationName, want.OperationName) &&
			string(got.Variables) == string(want.Variables) && (got.Variables == nil) == (want.Variables == nil)
		if ok && !same {
			t.Fatalf("%q: read %+v, json.Unmarshal %+v", body, got, want)
		}
	})
}
