package cluster

import (
	"reflect"
	"testing"
	"time"

	"github.com/smalruby/meshd/broker"
)

func TestEntryRoundTrip(t *testing.T) {
	payload := "p"
	tests := []struct {
		name string
		e    entry
	}{
		{"create", entry{Origin: "a/1", Proposal: 1, At: 1, Change: broker.Change{Op: broker.OpCreate, At: time.UnixMilli(1), NewID: "id", Create: &broker.CreateGroupInput{Name: "n", HostID: "h", Domain: "教室", UseWebSocket: true}}}},
		{"report", entry{Origin: "a/1", Proposal: 2, At: 2, Change: broker.Change{Op: broker.OpReport, At: time.UnixMilli(2), GroupID: "g", Domain: "d", NodeID: "n", Data: []broker.Pair{{Key: "k", Value: "v"}}}}},
		{"fire", entry{Origin: "a/1", Proposal: 3, At: 3, Change: broker.Change{Op: broker.OpFire, At: time.UnixMilli(3), GroupID: "g", Domain: "d", NodeID: "n", Events: []broker.EventInput{{Name: "e", Payload: &payload}}}}},
		{"sweep", entry{Origin: "b/2", Proposal: 4, At: 4, Change: broker.Change{Op: broker.OpSweep, At: time.UnixMilli(4)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := tt.e.encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeEntry(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.e) {
				t.Fatalf("round trip = %+v, want %+v", *got, tt.e)
			}
		})
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	for name, data := range map[string]string{
		"not json":              `{`,
		"no origin":             `{"op":"join"}`,
		"unknown op":            `{"op":"drop","origin":"a"}`,
		"create without input":  `{"op":"create","origin":"a","newId":"x"}`,
		"create without new id": `{"op":"create","origin":"a","create":{}}`,
		"join with create args": `{"op":"join","origin":"a","create":{}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if e, err := decodeEntry([]byte(data)); err == nil {
				t.Fatalf("decoded %+v", e)
			}
		})
	}
}

// FuzzDecodeEntry checks that whatever decodes re-encodes to an entry that decodes and
// encodes the same again.
func FuzzDecodeEntry(f *testing.F) {
	f.Add([]byte(`{"op":"create","origin":"a/1","proposal":1,"at":5,"newId":"x","create":{"Name":"n","HostID":"h","Domain":"d"}}`))
	f.Add([]byte(`{"op":"report","origin":"a/1","groupId":"g","domain":"d","nodeId":"n","data":[{"Key":"k","Value":"v"}]}`))
	f.Add([]byte(`{"op":"sweep","origin":"b"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEntry(data)
		if err != nil {
			return
		}
		again, err := e.encode()
		if err != nil {
			t.Fatal(err)
		}
		e2, err := decodeEntry(again)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", again, err)
		}
		if third, _ := e2.encode(); string(third) != string(again) {
			t.Fatalf("encodings differ: %s then %s", again, third)
		}
	})
}
