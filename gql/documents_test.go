package gql_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smalruby/meshd/gql"
)

// document is one real client document of testdata/documents/manifest.json.
type document struct {
	File          string         `json:"file"`
	Generation    string         `json:"generation"`
	OperationName *string        `json:"operationName"`
	Kind          string         `json:"kind"`
	Variables     map[string]any `json:"variables"`
	// Rejected is the validation error a document that never worked upstream either must get.
	Rejected string `json:"rejected"`
}

func loadDocuments(t *testing.T) []document {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "documents", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var docs []document
	if err := json.Unmarshal(raw, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) < 100 {
		t.Fatalf("only %d documents in the manifest", len(docs))
	}
	return docs
}

func (d document) text(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "documents", d.File))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// substitute fills the manifest's placeholders with a live group's ids.
func substitute(v any, values map[string]string) any {
	switch x := v.(type) {
	case string:
		for k, val := range values {
			x = strings.ReplaceAll(x, k, val)
		}
		return x
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = substitute(e, values)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substitute(e, values)
		}
		return out
	}
	return v
}

// TestRealClientDocumentsValidate checks every document any client generation ever sent
// against the one schema.
func TestRealClientDocumentsValidate(t *testing.T) {
	e := start(t)
	api, err := gql.New(e.Broker.Broker, gql.Config{})
	if err != nil {
		t.Fatal(err)
	}
	generations := map[string]int{}
	for _, d := range loadDocuments(t) {
		generations[d.Generation]++
		errs := api.Schema().ValidateWithVariables(d.text(t), d.Variables)
		switch {
		case d.Rejected != "" && (len(errs) != 1 || !strings.Contains(errs[0].Message, d.Rejected)):
			t.Errorf("%s (%s): errors %v, want one containing %q", d.File, d.Generation, errs, d.Rejected)
		case d.Rejected == "" && len(errs) > 0:
			t.Errorf("%s (%s): %v", d.File, d.Generation, errs)
		}
	}
	for _, g := range []string{"G0", "G1", "G2", "G3", "G4", "seed", "spec"} {
		if generations[g] == 0 {
			t.Errorf("no %s documents", g)
		}
	}
}

// TestRealClientDocumentsExecute runs every real query and mutation over HTTP against a live
// group: none may fail.
func TestRealClientDocumentsExecute(t *testing.T) {
	e := start(t)
	for i, d := range loadDocuments(t) {
		if d.Kind == "subscription" {
			continue
		}
		t.Run(d.File, func(t *testing.T) {
			host, node := "host"+strings.Repeat("0", 3)+string(rune('a'+i%26))+d.File, "node-"+d.File
			domain := "dom" + d.File
			id := e.group(t, host, domain)
			e.ok(t, joinGroup, map[string]any{"groupId": id, "domain": domain, "nodeId": node})
			vars := substitute(d.Variables, map[string]string{
				"$GROUP_ID": id, "$DOMAIN": domain, "$NODE_ID": node, "$HOST_ID": host, "$HOST_PREFIX": host[:6],
			}).(map[string]any)
			body := map[string]any{"query": d.text(t), "variables": vars}
			if d.OperationName != nil {
				body["operationName"] = *d.OperationName
			}
			raw, _ := json.Marshal(body)
			r := e.raw(t, "POST", e.URL, string(raw), nil)
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Raw)
			}
			if d.Rejected != "" {
				if _, msg := r.gqlErr(); len(r.Errors) != 1 || !strings.HasPrefix(msg, "Validation error of type") || !strings.Contains(msg, d.Rejected) {
					t.Fatalf("want the validation error %q: %s", d.Rejected, r.Raw)
				}
				return
			}
			for _, err := range r.Errors {
				// Upstream's sample queries name groups by literal ids that do not exist here;
				// the rules may refuse them, but the document itself must be served.
				typ, _ := err["errorType"].(string)
				literal := len(d.Variables) == 0 && (typ == "GroupNotFound" || typ == "NodeNotFound" || typ == "Unauthorized")
				if !literal {
					t.Fatalf("%s", r.Raw)
				}
			}
		})
	}
}
