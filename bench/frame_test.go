package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
)

// meshdData is a data frame as meshd sends it.
const meshdData = `{"id":"sub-1","type":"data","payload":{"data":{"onMessageInGroup":{"groupId":"g","domain":"d",` +
	`"nodeStatus":{"nodeId":"n","groupId":"g","domain":"d","data":[{"key":"seq","value":"seq:3:7:1767225600000000000","__typename":"SensorData"},` +
	`{"key":"score","value":"12","__typename":"SensorData"}],"timestamp":"2026-01-01T00:00:00.000Z","__typename":"NodeStatus"},` +
	`"batchEvent":null,"groupDissolve":null,"__typename":"MeshMessage"}}}}`

func TestParseFrame(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		typ, id  string
		tags     []tag
		badTags  int
		dissolve bool
		err      bool
	}{
		{name: "data", in: meshdData, typ: "data", id: "sub-1", tags: []tag{{3, 7, 1767225600000000000}}},
		{name: "ka", in: `{"type":"ka"}`, typ: "ka"},
		{name: "ack", in: ` {"type":"connection_ack","payload":{"connectionTimeoutMs":300000}} `, typ: "connection_ack"},
		{name: "null id", in: `{"id":null,"type":"error","payload":{"errors":[{"message":"x"}]}}`, typ: "error"},
		{name: "escaped id", in: `{"id":"a\u0062c","type":"start_ack"}`, typ: "start_ack", id: "abc"},
		{name: "event batch", in: `{"type":"data","id":"s","payload":{"data":{"onMessageInGroup":{"batchEvent":{"events":[{"name":"go","payload":"seq:1:2:3"},{"payload":"seq:1:3:4"}]},"groupDissolve":null}}}}`,
			typ: "data", id: "s", tags: []tag{{1, 2, 3}, {1, 3, 4}}},
		{name: "dissolve", in: `{"type":"data","id":"s","payload":{"data":{"onMessageInGroup":{"nodeStatus":null,"groupDissolve":{"message":"Group g@d has been dissolved successfully."}}}}}`,
			typ: "data", id: "s", dissolve: true},
		{name: "bad tag", in: `{"type":"data","payload":{"v":["seq:x","seq:1:0:1","seq"]}}`, typ: "data", badTags: 2},
		{name: "escaped tag", in: `{"type":"data","payload":{"v":"seq:1:2:\u0033"}}`, typ: "data", tags: []tag{{1, 2, 3}}},
		{name: "tag as key is ignored", in: `{"type":"data","payload":{"seq:1:2:3":1}}`, typ: "data"},
		{name: "tag outside payload is ignored", in: `{"type":"data","extra":"seq:1:2:3"}`, typ: "data"},
		{name: "numbers", in: `{"type":"x","payload":[0,-1,1.5e10,2E-3,-0.0]}`, typ: "x"},
		{name: "not an object", in: `["type"]`, err: true},
		{name: "type is a number", in: `{"type":1}`, err: true},
		{name: "trailing data", in: `{"type":"ka"}x`, err: true},
		{name: "truncated", in: meshdData[:100], err: true},
		{name: "leading zero", in: `{"payload":01}`, err: true},
		{name: "bad escape", in: `{"type":"\x"}`, err: true},
		{name: "control character", in: "{\"type\":\"a\nb\"}", err: true},
		{name: "trailing comma", in: `{"type":"ka",}`, err: true},
		{name: "empty", in: ``, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f serverFrame
			err := parseFrame([]byte(tc.in), &f)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err != nil {
				if !errors.Is(err, errFrame) {
					t.Fatalf("error %v does not wrap errFrame", err)
				}
				return
			}
			if string(f.typ) != tc.typ || string(f.id) != tc.id || !slices.Equal(f.tags, tc.tags) || f.badTags != tc.badTags || f.dissolve != tc.dissolve {
				t.Fatalf("got type %q id %q tags %v bad %d dissolve %v", f.typ, f.id, f.tags, f.badTags, f.dissolve)
			}
		})
	}
}

func TestParseFrameDepth(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth} {
		in := `{"payload":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
		var f serverFrame
		err := parseFrame([]byte(in), &f)
		if want := json.Valid([]byte(in)); (err == nil) != want {
			t.Fatalf("depth %d: parseFrame error %v, json.Valid %v", depth+1, err, want)
		}
	}
}

// referenceFrame reads a frame with encoding/json's tokenizer: the top-level type and id, and
// every string value inside top-level payload members, in order.
func referenceFrame(b []byte) (typ, id string, strs []string, ok bool) {
	if !json.Valid(b) || bytes.TrimSpace(b)[0] != '{' {
		return "", "", nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type level struct{ object, expectKey bool }
	var stack []level
	var topKey string
	inPayload := 0 // depth at which the current payload value started, 0 when outside
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return typ, id, strs, true
		}
		if err != nil {
			return "", "", nil, false
		}
		depth := len(stack)
		_, isString := tok.(string)
		if isString && depth > 0 && stack[depth-1].object && stack[depth-1].expectKey {
			stack[depth-1].expectKey = false
			if depth == 1 {
				topKey = tok.(string)
			}
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:depth-1]
			if inPayload == depth {
				inPayload = 0
			}
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
			continue
		}
		if depth == 1 {
			switch topKey {
			case "type", "id":
				s, isString := tok.(string)
				if !isString && tok != nil {
					return "", "", nil, false
				}
				if topKey == "type" {
					typ = s
				} else {
					id = s
				}
			case "payload":
				if _, ok := tok.(json.Delim); ok {
					inPayload = depth + 1
				} else if s, ok := tok.(string); ok {
					strs = append(strs, s)
				}
			}
		} else if s, ok := tok.(string); ok && inPayload > 0 {
			strs = append(strs, s)
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, level{object: d == '{', expectKey: d == '{'})
		} else if depth > 0 && stack[depth-1].object {
			stack[depth-1].expectKey = true
		}
	}
}

// FuzzParseFrame checks parseFrame against encoding/json: it accepts exactly the valid JSON
// objects whose type and id are strings or null, and finds the same type, id and tags.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{
		meshdData, `{"type":"ka"}`, `{"id":"a\u0062c","type":"start_ack"}`,
		`{"type":"data","payload":{"v":["seq:x","seq:1:2:3",{"groupDissolve":{}}]}}`,
		`{"payload":[1,-2.5e3,true,false,null,"seq:1:1:1"]}`, `{"type":"\ud800"}`, "{\"type\":\"\xff\"}",
		`[]`, `{"type":{}}`, `{"a":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fr serverFrame
		err := parseFrame(b, &fr)
		typ, id, strs, ok := referenceFrame(b)
		if (err == nil) != ok {
			t.Fatalf("parseFrame error %v, reference ok %v, input %q", err, ok, b)
		}
		if !ok {
			return
		}
		if string(fr.typ) != typ || string(fr.id) != id {
			t.Fatalf("type %q id %q, reference %q %q", fr.typ, fr.id, typ, id)
		}
		var tags []tag
		bad := 0
		for _, s := range strs {
			if !strings.HasPrefix(s, tagPrefix) {
				continue
			}
			if tg, ok := parseTag([]byte(s)); ok {
				tags = append(tags, tg)
			} else {
				bad++
			}
		}
		if !slices.Equal(fr.tags, tags) || fr.badTags != bad {
			t.Fatalf("tags %v (bad %d), reference %v (bad %d)", fr.tags, fr.badTags, tags, bad)
		}
	})
}
