package plan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/broker/brokertest"
)

// g4 reads one of the G4 editor's documents from gql's fixtures.
func g4(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "documents", "g4_"+name+"_typename.graphql"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStatusEncodedOncePerShape checks that a status reported through a plan keeps its
// encoding for the selection shape, and that listGroupStatuses answers with those bytes.
func TestStatusEncodedOncePerShape(t *testing.T) {
	b := brokertest.New(t, brokertest.Options{})
	ctx := context.Background()
	g, err := b.CreateGroup(ctx, broker.CreateGroupInput{Name: "room", HostID: "host", Domain: "school", UseWebSocket: true})
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{"groupId": g.ID, "domain": "school", "nodeId": "node1-0",
		"data": []any{map[string]any{"key": "x", "value": "<1>"}}}
	run := func(doc, op string) []byte {
		t.Helper()
		p := Scan(doc).Plan(op)
		if p == nil {
			t.Fatalf("%s: no plan", op)
		}
		a, ok := p.Bind(vars)
		if !ok {
			t.Fatalf("%s: variables refused", op)
		}
		data, err := p.Run(ctx, b, a)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return data
	}
	run(g4(t, "ReportDataByNode"), "ReportDataByNode")
	st, err := b.GetNodeStatus("node1-0")
	if err != nil || st == nil {
		t.Fatal(st, err)
	}
	ops, err := parseDocument(lex(g4(t, "ListGroupStatuses")))
	if err != nil {
		t.Fatal(err)
	}
	_, shape, err := nodeStatusType.compile(ops[0].sels[0].sels)
	if err != nil {
		t.Fatal(err)
	}
	enc := st.Memo.Get(shapeID(shape))
	if enc == nil {
		t.Fatal("the report did not keep the status's encoding")
	}
	if data := run(g4(t, "ListGroupStatuses"), "ListGroupStatuses"); !strings.Contains(string(data), string(enc)) {
		t.Fatalf("listGroupStatuses %s does not contain the kept encoding %s", data, enc)
	}
}
